"""Mirrors over a real HTTP server (issue 28): a publisher pushes an artifact into a folder with `kerazoo push`,
the standard library's http.server serves that folder on 127.0.0.1 from a thread (`kerazoo.loopback`, which
adds Range requests, a request log and a cut switch), and a consumer with another user store pulls it as a
user would. Copies of shipped artifacts verify against the package index."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import kerazoo
from kerazoo import artifacts, cli
from kerazoo.loopback import LoopbackServer

SHIPPED = artifacts.shipped_dir() / "lenet5.mnist"
HASH = r"[0-9a-f]{64}"


def _artifact(store: Path, name="lenet5.mine", notes="v1", extra: bytes | None = None) -> Path:
    """A copy of the shipped lenet5.mnist in a user store as `kerazoo export` leaves it (card stamped by
    card.sha256), under another name and notes; `extra` adds a listed file (a bigger artifact)."""
    folder = store / name
    shutil.copytree(SHIPPED, folder)
    card = json.loads((folder / "card.json").read_text())
    if extra is not None:
        (folder / "extra.bin").write_bytes(extra)
        card["files"] = artifacts.file_table(folder)
    card.update(name=name, tag=name.split(".")[1], notes=notes)
    (folder / "card.json").write_text(json.dumps(card, indent=2))
    (folder / "card.sha256").write_text(artifacts.sha256(folder / "card.json") + "  card.json\n")
    return folder


def _run(argv, capsys):
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A publisher's store with lenet5.mine pushed to `mirror/` by the CLI; the user store is then the
    consumer's, empty. Returns the folders."""
    publisher, consumer, mirror = tmp_path / "publisher", tmp_path / "consumer", tmp_path / "mirror"
    publisher.mkdir()
    consumer.mkdir()
    monkeypatch.setenv("KERAZOO_MODELS", str(publisher))
    for var in ("KERAZOO_OFFLINE", "HF_HUB_OFFLINE", "KERAZOO_MIRRORS"):
        monkeypatch.delenv(var, raising=False)
    _artifact(publisher)
    assert cli.main(["push", "lenet5.mine", str(mirror)]) == 0
    monkeypatch.setenv("KERAZOO_MODELS", str(consumer))
    return {"publisher": publisher, "consumer": consumer, "mirror": mirror, "tmp": tmp_path}


def _gets(server, suffix):
    return [r for r in server.log if r["method"] == "GET" and r["path"].endswith(suffix)]


def test_push_writes_an_index_of_every_file(world):
    index = json.loads((world["mirror"] / "index.json").read_text())
    entry = index["artifacts"]["lenet5.mine"]
    folder = world["mirror"] / "lenet5.mine"
    assert entry["card"] == {"bytes": (folder / "card.json").stat().st_size,
                             "sha256": artifacts.sha256(folder / "card.json")}
    card = json.loads((folder / "card.json").read_text())
    assert set(entry["files"]) == set(card["files"]) | {"README.md"}
    for rel, rec in entry["files"].items():
        assert rec == {"bytes": (folder / rel).stat().st_size, "sha256": artifacts.sha256(folder / rel)}, rel
    assert not (folder / "card.sha256").exists()  # the mirror's index pins the card


def test_pull_over_http_and_use(world, capsys):
    with LoopbackServer(world["mirror"]) as server:
        code, out, err = _run(["pull", server.url, "lenet5.mine"], capsys)
        assert code == 0, err
        files = json.loads((world["mirror"] / "index.json").read_text())["artifacts"]["lenet5.mine"]["files"]
        for rel, rec in files.items():  # every file requested once, whole
            assert [r["sent"] for r in _gets(server, f"/lenet5.mine/{rel}")] == [rec["bytes"]], rel
    folder = world["consumer"] / "lenet5.mine"
    assert str(folder) in out and (folder / "mirror.json").is_file()
    assert json.loads((folder / "mirror.json").read_text())["mirror"] == server.url
    assert kerazoo.verify("lenet5.mine") == {"lenet5.mine": None}
    (x, _), _ = kerazoo.data.load_numpy("digits")
    pulled, original = kerazoo.get("lenet5.mine"), kerazoo.get("lenet5.mnist")
    np.testing.assert_array_equal(pulled.predict(x[:64], verbose=0), original.predict(x[:64], verbose=0))


def test_a_cut_download_resumes_from_where_it_stopped(world):
    """The server drops the connection after 100,000 bytes of model.keras once: the pull asks for the rest
    with `Range: bytes=100000-` and nothing is fetched twice."""
    size = (SHIPPED / "model.keras").stat().st_size
    with LoopbackServer(world["mirror"]) as server:
        server.cut["/lenet5.mine/model.keras"] = 100_000
        kerazoo.pull(server.url, "lenet5.mine")
        got = _gets(server, "/lenet5.mine/model.keras")
    assert [(r["range"], r["sent"]) for r in got] == [(None, 100_000), ("bytes=100000-", size - 100_000)]
    assert kerazoo.verify("lenet5.mine") == {"lenet5.mine": None}


def test_a_server_without_range_support_restarts_the_file(world):
    """`python -m http.server` ignores Range: the cut file comes again whole (and still verifies)."""
    size = (SHIPPED / "model.keras").stat().st_size
    with LoopbackServer(world["mirror"], ranges=False) as server:
        server.cut["/lenet5.mine/model.keras"] = 100_000
        kerazoo.pull(server.url, "lenet5.mine")
        assert [r["sent"] for r in _gets(server, "/lenet5.mine/model.keras")] == [100_000, size]
    assert kerazoo.verify("lenet5.mine") == {"lenet5.mine": None}


def test_a_flipped_byte_is_refused_and_nothing_is_kept(world):
    served = world["mirror"] / "lenet5.mine" / "model.tflite"
    data = bytearray(served.read_bytes())
    data[len(data) // 2] ^= 0x01
    served.write_bytes(bytes(data))
    with LoopbackServer(world["mirror"]) as server:
        with pytest.raises(kerazoo.ArtifactError) as caught:
            kerazoo.pull(server.url, "lenet5.mine")
    message = str(caught.value)
    assert f"{server.url}/lenet5.mine/model.tflite from mirror {server.url}" in message
    first, second = re.search(rf"sha256 ({HASH}), index says ({HASH})", message).groups()
    assert first == artifacts.sha256(served) and first != second
    consumer = world["consumer"]
    assert not (consumer / "lenet5.mine").exists()
    assert sorted(p.name for p in (consumer / ".downloads").iterdir()) == [".lock"]  # not even the good files
    assert not any((consumer / ".versions").iterdir()) if (consumer / ".versions").exists() else True


def test_a_missing_file_and_a_missing_artifact_are_named(world):
    (world["mirror"] / "lenet5.mine" / "model.onnx").unlink()
    with LoopbackServer(world["mirror"]) as server:
        with pytest.raises(kerazoo.ArtifactError, match=re.escape(f"{server.url}/lenet5.mine/model.onnx is missing "
                                                                  f"from mirror {server.url} (HTTP 404")):
            kerazoo.pull(server.url, "lenet5.mine")
        with pytest.raises(kerazoo.ArtifactError, match=re.escape(f"mirror {server.url} has no artifact lenet5.other: "
                                                                  f"its index.json ({server.url}/index.json) lists "
                                                                  "lenet5.mine")):
            kerazoo.pull(server.url, "lenet5.other")
    assert not (world["consumer"] / "lenet5.mine").exists()


@pytest.mark.parametrize("variable", ["KERAZOO_OFFLINE", "HF_HUB_OFFLINE"])
def test_offline_never_touches_the_network_and_names_the_missing_file(world, monkeypatch, capsys, variable):
    with LoopbackServer(world["mirror"]) as server:
        monkeypatch.setenv(variable, "1")
        code, _, err = _run(["pull", server.url, "lenet5.mine"], capsys)  # never online before: not even the index
        assert code == 2 and f"{variable}=1 forbids the network" in err and f"{server.url}/index.json" in err
        assert server.log == []
        monkeypatch.delenv(variable)
        kerazoo.push("lenet5.mnist", world["mirror"])
        assert kerazoo.pull(server.url, "lenet5.mnist") == SHIPPED  # online: the index is read; nothing to fetch
        requests = len(server.log)
        monkeypatch.setenv(variable, "1")
        code, _, err = _run(["pull", server.url, "lenet5.mine"], capsys)
        assert code == 2 and f"{variable}=1 forbids the network: {server.url}/lenet5.mine/card.json" in err
        monkeypatch.setenv("KERAZOO_MIRRORS", server.url)  # kerazoo.get's download on first use: offline too
        with pytest.raises(kerazoo.WeightsError, match=f"{variable}=1 forbids the network: .*lenet5.mine/card.json"):
            kerazoo.get("lenet5.mine")
        assert len(server.log) == requests, server.log[requests:]


def test_kerazoo_mirrors_downloads_on_first_use(world, monkeypatch):
    with LoopbackServer(world["mirror"]) as server:
        monkeypatch.setenv("KERAZOO_MIRRORS", f"{world['tmp'] / 'nowhere'}, {server.url}")
        model = kerazoo.get("lenet5.mine")
        assert model.count_params() == 62132 and (world["consumer"] / "lenet5.mine" / "mirror.json").is_file()
        requests = len(server.log)
        kerazoo.get("lenet5.mine")  # now in the user store: no network
        assert len(server.log) == requests
        with pytest.raises(kerazoo.WeightsError) as caught:
            kerazoo.get("lenet5.absent")
    message = str(caught.value)
    assert "KERAZOO_MIRRORS" in message and f"{server.url} lists lenet5.mine" in message
    assert f"{world['tmp'] / 'nowhere' / 'index.json'} does not exist" in message


def test_a_kill_during_a_pull_leaves_the_old_artifact_and_the_rerun_resumes(world, monkeypatch):
    """The consumer has v1; the mirror now holds v2 with a 3 MB file. `kerazoo pull --overwrite` is killed
    while that file arrives (a slow server): v1 is still there and verifies; the next pull asks only for
    the rest of the file."""
    consumer, mirror = world["consumer"], world["mirror"]
    with LoopbackServer(mirror) as server:
        kerazoo.pull(server.url, "lenet5.mine")
    monkeypatch.setenv("KERAZOO_MODELS", str(world["publisher"]))
    shutil.rmtree(world["publisher"] / "lenet5.mine")
    _artifact(world["publisher"], notes="v2", extra=np.random.default_rng(0).bytes(3_000_000))
    assert cli.main(["push", "lenet5.mine", str(mirror), "--overwrite"]) == 0
    monkeypatch.setenv("KERAZOO_MODELS", str(consumer))
    with LoopbackServer(mirror) as server:
        server.delay = 0.01  # 16 KiB per 10 ms: about 2 s for the big file
        proc = subprocess.Popen([sys.executable, "-m", "kerazoo.cli", "pull", server.url, "lenet5.mine", "--overwrite"],
                                env={**os.environ, "KERAZOO_MODELS": str(consumer)},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while not any(r["path"].endswith("extra.bin") and r["sent"] > 500_000 for r in server.log):
            assert proc.poll() is None and time.time() < deadline, "the pull ended before it could be killed"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        card = json.loads((consumer / "lenet5.mine" / "card.json").read_text())
        assert card["notes"] == "v1" and kerazoo.verify("lenet5.mine") == {"lenet5.mine": None}
        part = next((consumer / ".downloads").glob("*.part"))
        kept = part.stat().st_size
        server.delay = 0.0
        kerazoo.pull(server.url, "lenet5.mine", overwrite=True)
        last = _gets(server, "/lenet5.mine/extra.bin")[-1]
    assert last["range"] == f"bytes={kept}-" and last["sent"] == 3_000_000 - kept
    assert json.loads((consumer / "lenet5.mine" / "card.json").read_text())["notes"] == "v2"
    assert kerazoo.verify("lenet5.mine") == {"lenet5.mine": None}
    assert not list((consumer / ".downloads").glob("*.part"))


def test_an_update_downloads_only_what_changed(world, monkeypatch):
    with LoopbackServer(world["mirror"]) as server:
        kerazoo.pull(server.url, "lenet5.mine")
        monkeypatch.setenv("KERAZOO_MODELS", str(world["publisher"]))
        shutil.rmtree(world["publisher"] / "lenet5.mine")
        _artifact(world["publisher"], notes="v2")
        assert cli.main(["push", "lenet5.mine", str(world["mirror"]), "--overwrite"]) == 0
        monkeypatch.setenv("KERAZOO_MODELS", str(world["consumer"]))
        before = len(server.log)
        with pytest.raises(kerazoo.ArtifactError, match=r"differs from lenet5.mine of mirror .*--overwrite"):
            kerazoo.pull(server.url, "lenet5.mine")
        kerazoo.pull(server.url, "lenet5.mine", overwrite=True)
        fetched = sorted(r["path"] for r in server.log[before:] if r["method"] == "GET")
    assert fetched == ["/index.json", "/index.json", "/lenet5.mine/README.md", "/lenet5.mine/card.json"]
    assert json.loads((world["consumer"] / "lenet5.mine" / "card.json").read_text())["notes"] == "v2"


def test_an_index_cannot_write_outside_the_artifact(world):
    index = json.loads((world["mirror"] / "index.json").read_text())
    files = index["artifacts"]["lenet5.mine"]["files"]
    files["../../escaped.txt"] = files.pop("model.onnx")
    (world["mirror"] / "index.json").write_text(json.dumps(index))
    with LoopbackServer(world["mirror"]) as server:
        with pytest.raises(kerazoo.ArtifactError, match=r"lists '\.\./\.\./escaped\.txt'.*plain relative paths"):
            kerazoo.pull(server.url, "lenet5.mine")
        assert not _gets(server, "escaped.txt")
    assert not list(world["tmp"].rglob("escaped.txt"))


def test_push_refuses_to_replace_another_artifact_unless_asked(world, monkeypatch, capsys):
    monkeypatch.setenv("KERAZOO_MODELS", str(world["publisher"]))
    old = json.loads((world["mirror"] / "index.json").read_text())["artifacts"]["lenet5.mine"]["card"]["sha256"]
    shutil.rmtree(world["publisher"] / "lenet5.mine")
    _artifact(world["publisher"], notes="v2", extra=b"x" * 10)
    code, _, err = _run(["push", "lenet5.mine", str(world["mirror"])], capsys)
    assert code == 2 and f"holds another lenet5.mine (card sha256 {old}" in err and "--overwrite" in err
    assert not (world["mirror"] / "lenet5.mine" / "extra.bin").exists()
    assert _run(["push", "lenet5.mine", str(world["mirror"]), "--overwrite"], capsys)[0] == 0
    entry = json.loads((world["mirror"] / "index.json").read_text())["artifacts"]["lenet5.mine"]
    assert entry["files"]["extra.bin"]["bytes"] == 10 and (world["mirror"] / "lenet5.mine" / "extra.bin").is_file()
    code, _, err = _run(["push", "lenet5.mine", "http://127.0.0.1:9/zoo"], capsys)
    assert code == 2 and "read-only" in err


def test_stores_are_not_mirrors(world, monkeypatch, capsys):
    """Neither push nor pull ever writes into the installed package, and a store is not a mirror."""
    package = artifacts.shipped_dir()
    before = {p.name: artifacts.sha256(p) if p.is_file() else None for p in package.iterdir()}
    code, _, err = _run(["push", "lenet5.mnist", str(package)], capsys)
    assert code == 2 and "shipped artifacts" in err and "not a mirror" in err
    code, _, err = _run(["push", "lenet5.mnist", str(world["consumer"] / "zoo")], capsys)  # in the user store
    assert code == 2 and "your user store" in err and not (world["consumer"] / "zoo").exists()
    with LoopbackServer(world["mirror"]) as server:
        code, _, err = _run(["pull", server.url, "lenet5.mine", "--destination", str(package)], capsys)
    assert code == 2 and "pulls never write" in err
    assert {p.name: artifacts.sha256(p) if p.is_file() else None for p in package.iterdir()} == before


def test_push_refuses_a_damaged_artifact(world, monkeypatch, capsys):
    monkeypatch.setenv("KERAZOO_MODELS", str(world["publisher"]))
    (world["publisher"] / "lenet5.mine" / "model.tflite").write_bytes(b"changed")
    code, _, err = _run(["push", "lenet5.mine", str(world["tmp"] / "other")], capsys)
    assert code == 2 and "model.tflite does not match its card" in err
    assert not (world["tmp"] / "other" / "index.json").exists()


def test_a_copy_of_a_shipped_artifact_verifies_against_the_package_index(tmp_path, capsys):
    copy = tmp_path / "copies" / "lenet5.mnist"
    shutil.copytree(SHIPPED, copy)
    code, out, _ = _run(["verify", str(copy)], capsys)
    assert code == 0 and "lenet5.mnist: ok" in out
    renamed = tmp_path / "copies" / "digits-model"  # the card's name finds its index entry
    shutil.copytree(SHIPPED, renamed)
    assert _run(["verify", str(renamed)], capsys)[0] == 0
    card = json.loads((copy / "card.json").read_text())
    card["metrics"]["test_accuracy"] = 0.999
    (copy / "card.json").write_text(json.dumps(card, indent=2))
    code, out, _ = _run(["verify", str(copy)], capsys)
    index = artifacts.shipped_dir() / "index.json"
    recorded = json.loads(index.read_text())["lenet5.mnist"]["card_sha256"]
    assert code == 1 and f"(sha256 {artifacts.sha256(copy / 'card.json')}, recorded {recorded} in {index}" in out
    tflite = renamed / "model.tflite"
    tflite.write_bytes(tflite.read_bytes()[:-1] + b"\x00")
    code, out, _ = _run(["verify", str(renamed)], capsys)
    listed = json.loads((SHIPPED / "card.json").read_text())["files"]["model.tflite"]["sha256"]
    assert code == 1 and f"model.tflite does not match its card (sha256 {artifacts.sha256(tflite)}, card says " \
                         f"{listed})" in out


def test_a_pulled_artifact_verifies_against_its_mirror_index(world, capsys):
    with LoopbackServer(world["mirror"]) as server:
        kerazoo.pull(server.url, "lenet5.mine")
    folder = world["consumer"] / "lenet5.mine"
    assert not (folder / "card.sha256").exists()
    card = json.loads((folder / "card.json").read_text())
    card["notes"] = "edited"
    (folder / "card.json").write_text(json.dumps(card, indent=2))
    code, out, _ = _run(["verify", "lenet5.mine"], capsys)
    published = json.loads((world["mirror"] / "index.json").read_text())["artifacts"]["lenet5.mine"]["card"]["sha256"]
    assert code == 1 and f"recorded {published} in {folder / 'mirror.json'} (the index of {server.url})" in out
