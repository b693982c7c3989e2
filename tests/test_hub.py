"""`hf://` mirrors and Hub model cards (issue 28). Pulls go through huggingface_hub's own download code against
a Hub-like endpoint on 127.0.0.1 (`HF_ENDPOINT`, `kerazoo.loopback` with hub=True); pushes run to the point
where huggingface_hub would reach the Hub: `HfApi.create_repo`, `repo_info` and `create_commit` are recorded
and the commit applied to the folder that endpoint serves, so a push is then pulled back for real. The online
round trip runs only with `HF_TOKEN` and network (`pytest -m online`)."""
import hashlib
import json
import os
import re
import socket
import subprocess
import sys

import pytest
from conftest import copy_shipped

import kerazoo
from kerazoo import artifacts, modelcard
from kerazoo.loopback import LoopbackServer

hf = pytest.importorskip("huggingface_hub")  # the kerazoo[hub] extra (in kerazoo[test])

SHIPPED = artifacts.shipped_dir() / "lenet5.mnist"
COMMIT = "ab" * 20
HASH = r"[0-9a-f]{64}"


def _cli(*args, env):
    clean = {k: v for k, v in os.environ.items() if k not in ("KERAZOO_OFFLINE", "HF_HUB_OFFLINE", "KERAZOO_MIRRORS")}
    return subprocess.run([sys.executable, "-m", "kerazoo.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**clean, **env})


def _repo_requests(server):
    return [r for r in server.log if r["path"].startswith("/org/repo/")]


PUSH_SCRIPT = '''
import json, sys, types
from pathlib import Path
import huggingface_hub as hf
repo_dir, record = Path(sys.argv[1]), Path(sys.argv[2])
calls = []
def create_repo(self, repo_id, **kw):
    calls.append({"call": "create_repo", "repo_id": repo_id, **kw})
def repo_info(self, repo_id, revision=None, **kw):
    calls.append({"call": "repo_info", "repo_id": repo_id, "revision": revision})
    return types.SimpleNamespace(sha=sys.argv[3])
def create_commit(self, repo_id, operations, *, commit_message, revision=None, parent_commit=None, **kw):
    calls.append({"call": "create_commit", "repo_id": repo_id, "revision": revision, "parent_commit": parent_commit,
                  "message": commit_message, "operations": [[type(op).__name__, op.path_in_repo] for op in operations]})
    for op in operations:  # what the Hub would store
        target = repo_dir / op.path_in_repo
        if isinstance(op, hf.CommitOperationDelete):
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        source = op.path_or_fileobj
        target.write_bytes(source if isinstance(source, bytes) else Path(source).read_bytes())
hf.HfApi.create_repo, hf.HfApi.repo_info, hf.HfApi.create_commit = create_repo, repo_info, create_commit
from kerazoo import cli
code = cli.main(sys.argv[4:])
record.write_text(json.dumps(calls))
sys.exit(code)
'''


@pytest.fixture
def hub(tmp_path):
    """A Hub-like endpoint serving `repo/` (as hf://org/repo), an HF_HOME, and the publisher's store."""
    (tmp_path / "repo").mkdir()
    publisher = tmp_path / "publisher"
    publisher.mkdir()
    copy_shipped(publisher, "lenet5.mine", notes="on the Hub")
    with LoopbackServer(tmp_path / "repo", hub=True, commit=COMMIT) as server:
        env = {"HF_ENDPOINT": server.url, "HF_HOME": str(tmp_path / "hf-home"), "KERAZOO_MODELS": str(publisher)}
        yield {"server": server, "env": env, "tmp": tmp_path, "repo": tmp_path / "repo"}


def _push(hub, *args):
    """`kerazoo push ARGS` with HfApi's writes recorded and applied to the served repository, which then
    answers with a new head commit, as the Hub does after a commit."""
    script = hub["tmp"] / "push.py"
    script.write_text(PUSH_SCRIPT)
    record, server = hub["tmp"] / "calls.json", hub["server"]
    clean = {k: v for k, v in os.environ.items() if k not in ("KERAZOO_OFFLINE", "HF_HUB_OFFLINE")}
    out = subprocess.run([sys.executable, str(script), str(hub["repo"]), str(record), server.commit, "push", *args],
                         capture_output=True, text=True, timeout=300, env={**clean, **hub["env"]})
    calls = json.loads(record.read_text())
    if any(c["call"] == "create_commit" for c in calls):
        server.commit = hashlib.sha1((server.commit + json.dumps(calls)).encode()).hexdigest()
    return out, calls


def test_push_to_the_hub_is_one_commit_then_pulls_back(hub):
    out, calls = _push(hub, "lenet5.mine", "hf://org/repo")
    assert out.returncode == 0, out.stderr
    assert [c["call"] for c in calls] == ["create_repo", "repo_info", "create_commit"]
    assert calls[0]["repo_id"] == "org/repo" and calls[0]["exist_ok"] and calls[0]["private"]
    commit = calls[2]
    card = json.loads((SHIPPED / "card.json").read_text())
    expected = {f"lenet5.mine/{rel}" for rel in [*card["files"], "card.json", "README.md"]} | {"index.json", "README.md"}
    assert commit["parent_commit"] == COMMIT and commit["revision"] is None  # the head the index was read at
    assert {path for kind, path in commit["operations"] if kind == "CommitOperationAdd"} == expected
    consumer = hub["tmp"] / "consumer"
    pulled = _cli("pull", "hf://org/repo", "lenet5.mine", env={**hub["env"], "KERAZOO_MODELS": str(consumer)})
    assert pulled.returncode == 0, pulled.stderr
    record = json.loads((consumer / "lenet5.mine" / "mirror.json").read_text())
    assert record["mirror"] == "hf://org/repo" and record["entry"]["card"]["sha256"] == artifacts.sha256(
        hub["repo"] / "lenet5.mine" / "card.json")
    head = hub["server"].commit
    gets = [r["path"] for r in _repo_requests(hub["server"]) if r["method"] == "GET"]
    assert gets[0] == "/org/repo/resolve/main/index.json"  # the revision asked, then the commit it resolved to
    assert len(gets) == 3 + len(card["files"]) and all(p.startswith(f"/org/repo/resolve/{head}/lenet5.mine/") for p in gets[1:])
    assert _cli("verify", str(consumer / "lenet5.mine"), env={}).returncode == 0
    root = hf.ModelCard((hub["repo"] / "README.md").read_text())  # the repository's model card, as the Hub reads it
    assert root.data.library_name == "kerazoo" and root.data.datasets == ["ylecun/mnist"]


@pytest.mark.long  # the default run pushes once (test_push_to_the_hub_is_one_commit_then_pulls_back)
def test_a_second_push_keeps_the_first_and_merges_the_repository_card(hub):
    assert _push(hub, "lenet5.mine", "hf://org/repo")[0].returncode == 0
    out, calls = _push(hub, "lenet5.mnist", "hf://org/repo")
    assert out.returncode == 0, out.stderr
    index = json.loads((hub["repo"] / "index.json").read_text())
    assert sorted(index["artifacts"]) == ["lenet5.mine", "lenet5.mnist"]
    text = (hub["repo"] / "README.md").read_text()
    assert [entry["name"] for entry in modelcard.read_front_matter(text)["model-index"]] == ["lenet5.mine", "lenet5.mnist"]
    assert len(hf.ModelCard(text).data.eval_results) == 8  # both artifacts' 4 metrics parse
    out, _ = _push(hub, str(copy_shipped(hub["tmp"], "lenet5.mnist", notes="changed")), "hf://org/repo")
    assert out.returncode == 2 and "holds another lenet5.mnist" in out.stderr and "--overwrite" in out.stderr


def test_a_hub_file_that_differs_from_the_index_is_refused(hub):
    assert _push(hub, "lenet5.mine", "hf://org/repo")[0].returncode == 0
    served = hub["repo"] / "lenet5.mine" / "model.tflite"
    served.write_bytes(served.read_bytes()[:-1] + b"\x00")
    consumer = hub["tmp"] / "consumer"
    out = _cli("pull", "hf://org/repo", "lenet5.mine", env={**hub["env"], "KERAZOO_MODELS": str(consumer)})
    assert out.returncode == 2
    assert re.search(rf"hf://org/repo/lenet5.mine/model.tflite \(revision {hub['server'].commit}\) from mirror hf://org/repo does "
                     rf"not match the mirror's index \(sha256 {artifacts.sha256(served)}, index says {HASH}", out.stderr)
    assert not (consumer / "lenet5.mine").exists()


@pytest.mark.parametrize("variable", ["KERAZOO_OFFLINE", "HF_HUB_OFFLINE"])
def test_hub_offline_reads_only_the_cache(hub, variable):
    assert _push(hub, "lenet5.mine", "hf://org/repo")[0].returncode == 0
    server, env = hub["server"], hub["env"]
    first, seen = hub["tmp"] / "first", len(hub["server"].log)
    out = _cli("pull", "hf://org/repo", "lenet5.mine", env={**env, variable: "1", "KERAZOO_MODELS": str(first)})
    assert out.returncode == 2 and f"{variable}=1 forbids the network: hf://org/repo/index.json" in out.stderr
    assert len(server.log) == seen
    assert _cli("pull", "hf://org/repo", "lenet5.mine", env={**env, "KERAZOO_MODELS": str(first)}).returncode == 0
    seen = len(server.log)
    second = hub["tmp"] / "second"  # another store, the same huggingface_hub cache: offline works from it
    out = _cli("pull", "hf://org/repo", "lenet5.mine", env={**env, variable: "1", "KERAZOO_MODELS": str(second)})
    assert out.returncode == 0, out.stderr
    assert len(server.log) == seen and (second / "lenet5.mine" / "mirror.json").is_file()


def test_hub_addresses_are_checked():
    with pytest.raises(kerazoo.ArtifactError, match=r"accepted hf://ORG/REPO or hf://ORG/REPO@REVISION"):
        kerazoo.pull("hf://just-a-name", "lenet5.mine")


def _online() -> bool:
    if not os.environ.get("HF_TOKEN"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
        return True
    except OSError:
        return False


@pytest.mark.online
@pytest.mark.skipif(not _online(), reason="needs HF_TOKEN and a connection to huggingface.co")
def test_online_round_trip_through_the_hub(tmp_path, monkeypatch):
    """Push a copy of lenet5.mnist to a private repository (KERAZOO_HF_TEST_REPO, default
    <user>/kerazoo-mirror-test), pull it into an empty store, and verify it."""
    repo = os.environ.get("KERAZOO_HF_TEST_REPO") or f"{hf.HfApi().whoami()['name']}/kerazoo-mirror-test"
    publisher, consumer = tmp_path / "publisher", tmp_path / "consumer"
    copy_shipped(publisher, "lenet5.online", notes=f"kerazoo online test {os.getpid()}")
    monkeypatch.setenv("KERAZOO_MODELS", str(publisher))
    kerazoo.push("lenet5.online", f"hf://{repo}", overwrite=True)
    monkeypatch.setenv("KERAZOO_MODELS", str(consumer))
    folder = kerazoo.pull(f"hf://{repo}", "lenet5.online")
    assert kerazoo.verify("lenet5.online") == {"lenet5.online": None}
    assert json.loads((folder / "card.json").read_text())["notes"] == f"kerazoo online test {os.getpid()}"
