"""The artifact store as a user and an attacker meet it (issue 12, section 1): shipped artifacts are
read-only, names are not paths, every file that decides a result is verified, a kill never leaves
a half-written artifact, one bad card breaks only its own artifact."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import copy_shipped

import kerazoo
from kerazoo import artifacts


def _cli(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "kerazoo.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("name", ["lenet5./etc/passwd", "lenet5.", "../../etc/passwd", "lenet5.MNIST", "lenet5.a/b"])
def test_names_are_names_not_paths(name):
    with pytest.raises(ValueError, match=r"\[a-z0-9\]"):
        kerazoo.get(name)


@pytest.mark.long  # the default run refuses package destinations in tests/test_export_safety.py
def test_export_never_writes_into_the_package_and_tags_are_not_paths(run_dir, store, tmp_path):
    before = sorted(p.name for p in artifacts.shipped_dir().iterdir())
    out = _cli("export", str(run_dir), "--tag", "../../../victim", "--destination", str(tmp_path / "d"))
    assert out.returncode == 2 and "Artifact tags match" in out.stderr and not (tmp_path / "victim").exists()
    out = _cli("export", str(run_dir), "--destination", str(artifacts.shipped_dir()), "--tag", "x")
    assert out.returncode == 2 and "shipped artifacts folder" in out.stderr
    out = _cli("export", str(run_dir))  # tag 'mnist': the name of a shipped artifact
    assert out.returncode == 2 and "is a shipped artifact" in out.stderr and "--shadow" in out.stderr
    assert sorted(p.name for p in artifacts.shipped_dir().iterdir()) == before
    out = _cli("export", str(run_dir), "--tag", "mine")
    assert out.returncode == 0, out.stderr
    assert (store / "lenet5.mine" / "card.json").is_file() and kerazoo.get("lenet5.mine").count_params() == 62132
    out = _cli("export", str(run_dir), "--tag", "mine")
    assert out.returncode == 2 and "--overwrite" in out.stderr


@pytest.mark.long  # the default run kills exports in tests/test_export_safety.py
def test_a_killed_export_leaves_the_old_or_the_new_artifact(run_dir, store):
    """`kerazoo export --overwrite` killed at several moments: the tag always loads and verifies."""
    assert _cli("export", str(run_dir), "--tag", "kill").returncode == 0
    for delay in (1.0, 4.0, 7.0, 10.0, 14.0):
        proc = subprocess.Popen([sys.executable, "-m", "kerazoo.cli", "export", str(run_dir), "--tag", "kill",
                                 "--overwrite"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert kerazoo.verify("lenet5.kill") == {"lenet5.kill": None}, f"killed after {delay} s"
        assert kerazoo.get("lenet5.kill").count_params() == 62132
    # a kill before the switch leaves its staging folder; one is planted too, in case every kill came late, and one
    # of another name (an export of lenet5.other may be in progress: exports of one name take turns, not of two)
    planted = store / ".versions" / "lenet5.kill.deadbeef"
    shutil.copytree((store / "lenet5.kill").resolve(), planted)
    other = store / ".versions" / "lenet5.other.deadbeef"
    shutil.copytree((store / "lenet5.kill").resolve(), other)
    current = lambda: (store / "lenet5.kill").resolve()  # noqa: E731
    leftovers = [p for p in (store / ".versions").iterdir() if p.resolve() != current() and p != other]
    assert planted in leftovers
    # the next export of the name holds its lock: what kills of this name left is collected at once
    assert _cli("export", str(run_dir), "--tag", "kill", "--overwrite").returncode == 0
    assert not any(p.exists() for p in leftovers), "the next export of the name left its killed exports' folders"
    assert other.exists(), "a staging folder of another name younger than an hour was removed"
    hours_ago = time.time() - 2 * 3600
    os.utime(other, (hours_ago, hours_ago))
    assert _cli("export", str(run_dir), "--tag", "kill", "--overwrite").returncode == 0
    assert [p.name for p in (store / ".versions").iterdir()] == [current().name], \
        "staging folders of other names untouched for an hour are collected by the next export"
    assert kerazoo.verify("lenet5.kill") == {"lenet5.kill": None}


def test_an_edited_card_is_refused(store):
    folder = copy_shipped(store)
    card = json.loads((folder / "card.json").read_text())
    card["model"]["rescaling"] = 1.0  # the silent 0.989 -> 0.668
    (folder / "card.json").write_text(json.dumps(card, indent=2))
    with pytest.raises(kerazoo.WeightsError, match=r"card.json does not match its recorded hash"):
        kerazoo.get("lenet5", weights="mine", classes=10)
    out = _cli("verify", "lenet5.mine")
    assert out.returncode == 1 and "card.json does not match its recorded hash" in out.stdout


def test_card_arguments_must_rebuild_the_stored_network(store):
    """Even with its hash updated, a card whose builder arguments do not match model.keras is refused."""
    folder = copy_shipped(store)
    card = json.loads((folder / "card.json").read_text())
    card["model"]["rescaling"] = 1.0
    (folder / "card.json").write_text(json.dumps(card, indent=2))
    (folder / "card.sha256").write_text(artifacts.sha256(folder / "card.json"))
    with pytest.raises(kerazoo.WeightsError, match=r"do not rebuild the stored network.*rescaling"):
        kerazoo.get("lenet5", weights="mine", classes=10)


def test_a_flipped_byte_in_the_saved_model_is_refused(store):
    folder = copy_shipped(store)
    pb = bytearray((folder / "saved_model" / "saved_model.pb").read_bytes())
    pb[len(pb) // 3] ^= 0x01
    (folder / "saved_model" / "saved_model.pb").write_bytes(bytes(pb))
    with pytest.raises(kerazoo.WeightsError, match=r"saved_model.pb does not match its card \(sha256 (\w+), "
                                                   r"card says (?!\1)\w+\)"):
        kerazoo.load_saved_model("lenet5.mine")


def test_reexporting_a_changed_folder_refuses_to_resign_it(store, tmp_path):
    folder = copy_shipped(store)
    other = kerazoo.get("lenet5", variant="modern", input_shape=(28, 28), rescaling=1 / 255)
    other.save(folder / "model.keras")  # swapped weights; the card still claims the old metrics
    out = _cli("export", str(folder), "--destination", str(tmp_path / "elsewhere"))
    assert out.returncode == 2 and "model.keras does not match its card" in out.stderr
    assert not (tmp_path / "elsewhere" / "lenet5.mine").exists()


def test_one_truncated_card_breaks_only_its_artifact(store):
    folder = copy_shipped(store, "lenet5.broken")
    text = (folder / "card.json").read_text()
    (folder / "card.json").write_text(text[: len(text) // 2])
    out = _cli("list", "--pretrained")
    assert out.returncode == 0 and "lenet5.broken" in out.stdout and "BROKEN" in out.stdout
    assert "lenet5.mnist" in out.stdout and "ok" in out.stdout
    assert _cli("info", "lenet5").returncode == 0
    assert kerazoo.get("lenet5.mnist").count_params() == 62132
    with pytest.raises(kerazoo.WeightsError, match=r"lenet5.broken.*card.json is not valid JSON"):
        kerazoo.get("lenet5.broken")


def test_verify_checks_every_shipped_artifact():
    report = kerazoo.verify()
    assert report and all(problem is None for problem in report.values()), report


def test_store_commands_start_without_tensorflow_and_the_others_keep_its_logs_quiet(tmp_path):
    """`kerazoo verify`, `push` and `pull` read and copy files: they import neither TensorFlow nor Keras, so they
    answer at once (verify imported both through the export module, push through the family's builder for its
    task: 7-20 s). `list` (and `info`) count parameters with Keras: TensorFlow's start-up lines stay off their stderr
    (they were listed as commands without TensorFlow, so its logs went unquieted)."""
    code = ("import sys; from kerazoo import cli; "
            f"mirror, store = {str(tmp_path / 'mirror')!r}, {str(tmp_path / 'store')!r}; "
            "codes = [cli.main(['verify']), cli.main(['verify', 'lenet5']), cli.main(['push', 'lenet5.mnist', mirror]), "
            "cli.main(['pull', mirror, 'lenet5.mnist', '--destination', store]), "
            "cli.main(['verify', store + '/lenet5.mnist'])]; "
            "assert codes == [0] * 5, codes; "
            "assert not {'tensorflow', 'keras', 'jax'} & set(sys.modules), sorted(m for m in sys.modules if 'keras' in m)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "KERAZOO_MODELS": str(tmp_path / "home")})  # the shipped ones and no other
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"\b(\d+) of \1 artifacts verify\.", done.stdout) and "FAILED" not in done.stdout, done.stdout
    assert (tmp_path / "store" / "lenet5.mnist" / "card.json").is_file()
    assert "absl" not in done.stderr and "cuda" not in done.stderr.lower(), done.stderr
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user's shell has it
    out = subprocess.run([sys.executable, "-m", "kerazoo.cli", "list"], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and "lenet5.mnist" in out.stdout, out.stderr
    assert "absl" not in out.stderr and "cuda" not in out.stderr.lower(), out.stderr  # TensorFlow's start-up lines
