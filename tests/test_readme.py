"""The README runs as written: every ```python block, every `kerazoo ...` command line, every `>>>`
transcript and every YAML block, so the README cannot drift from the code.

Each block runs on its own (a fresh namespace, like a reader pasting it) in a temporary working
directory whose `data/` folder holds small files in the real formats (`data/mnist/mnist.npz`: real
digits when ../shared/data is there, else random ones; `data/aclImdb/`: a few generated reviews),
with `fit` capped at one epoch (`keras.config.set_max_epochs(1)`), so a block that trains for
real on a user's machine takes seconds here.

A block the test cannot run says why in an HTML comment on the line before its fence, and blocks
that train are marked slow (they run with `pytest -m long`, not in the default run):

    <!-- readme-test: skip (needs GPUs) -->
    <!-- readme-test: slow -->

A ```yaml block marked `<!-- readme-test: file NAME -->` is also written as NAME into every block's
working directory (a config overlay the commands after it name), and `letters/` (letter images in
class subfolders) and `new/` (more of them) are there for the "Your own data" commands.

A shell block may hold `pip install ...` lines (not run) and `kerazoo ...` lines (run, in-process);
anything else (exports, srun, placeholders like `...`) needs the skip comment. ```text blocks
(listings) are not run.
"""
from __future__ import annotations

import dataclasses
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.filterwarnings("ignore:Limiting epochs:UserWarning")  # our cap, keras.config.set_max_epochs

README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = re.compile(r"<!--\s*readme-test:\s*(skip|slow|file)\b\s*(.*?)\s*-->")
SHELL = {"", "bash", "sh", "shell", "console"}


@dataclasses.dataclass
class Block:
    line: int      # of the opening fence, 1-based
    lang: str
    code: str
    marker: str | None = None   # "skip" or "slow"
    reason: str = ""

    @property
    def id(self) -> str:
        return f"README.md:{self.line}:{self.lang or 'text'}"


def readme_blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, with the readme-test marker of the line before each."""
    lines, blocks, i = text.splitlines(), [], 0
    while i < len(lines):
        opening = re.match(r"^```(\w*)\s*$", lines[i])
        if not opening:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        marker = MARKER.search(lines[i - 1]) if i else None
        blocks.append(Block(i + 1, opening.group(1), "\n".join(lines[i + 1:end]),
                            marker and marker.group(1), marker.group(2).strip(" ()") if marker else ""))
        i = end + 1
    return blocks


def shell_commands(code: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, comments and blank lines dropped,
    `a && b` split."""
    joined = re.sub(r"\\\n\s*", " ", code)
    commands = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            commands += [c.strip() for c in line.split("&&")]
    return commands


BLOCKS = readme_blocks(README.read_text())


def _params(kind):
    out = []
    for block in BLOCKS:
        if kind(block):
            marks = [pytest.mark.slow, pytest.mark.long] if block.marker == "slow" else []  # pytest -m long
            out.append(pytest.param(block, id=block.id, marks=marks))
    return out


def _is_transcript(block):
    return block.lang in SHELL and block.code.lstrip().startswith(">>>")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A working directory with `data/`: small MNIST (real digits when available) and aclImdb files."""
    from conftest import SHARED_DATA

    root = tmp_path_factory.mktemp("readme")
    (root / "data" / "mnist").mkdir(parents=True)
    real = SHARED_DATA / "mnist" / "mnist.npz"
    if real.is_file():
        with np.load(real) as d:
            arrays = {"x_train": d["x_train"][:1200], "y_train": d["y_train"][:1200],
                      "x_test": d["x_test"][:300], "y_test": d["y_test"][:300]}
    else:
        rng = np.random.default_rng(0)
        arrays = {"x_train": rng.integers(0, 256, (1200, 28, 28), dtype=np.uint8),
                  "y_train": rng.integers(0, 10, 1200).astype(np.uint8),
                  "x_test": rng.integers(0, 256, (300, 28, 28), dtype=np.uint8),
                  "y_test": rng.integers(0, 10, 300).astype(np.uint8)}
    np.savez(root / "data" / "mnist" / "mnist.npz", **arrays)
    rng = np.random.default_rng(1)
    words = {1: ["great", "wonderful", "loved", "superb", "brilliant"], 0: ["awful", "boring", "hated", "dull", "bad"]}
    filler = ["the", "film", "was", "and", "plot", "actors", "a", "movie", "story", "good", "man", "woman", "king"]
    for split, n in (("train", 80), ("test", 40)):
        for label, folder in ((1, "pos"), (0, "neg")):
            path = root / "data" / "aclImdb" / split / folder
            path.mkdir(parents=True)
            for i in range(n):
                text = " ".join(list(rng.choice(filler, 12)) + [str(rng.choice(words[label]))] * 2)
                (path / f"{i}_{9 if label else 1}.txt").write_text(text)
            (root / "data" / "aclImdb" / split / f"urls_{folder}.txt").write_text(  # 4 reviews per movie
                "".join(f"http://www.imdb.com/title/tt{1000 * label + i // 4:07d}/usercomments\n" for i in range(n)))
    (root / "data" / "aclImdb" / "train" / "unsup").mkdir()
    from kerazoo.testing import letter_images

    letter_images(root / "letters", "ABCD", per_class=8, seed=3)
    letter_images(root / "new", "ABCD", per_class=2, seed=9)
    for block in BLOCKS:
        if block.marker == "file":
            (root / block.reason).write_text(block.code)
    return root


@pytest.fixture
def in_workdir(workdir, tmp_path, monkeypatch):
    """A fresh working directory per block (its runs, searches and plots) with the shared `data/`."""
    import keras

    for entry in workdir.iterdir():  # data/, letters/, new/ and the overlays
        (tmp_path / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KERAZOO_DATA_DIR", raising=False)
    keras.config.set_max_epochs(1)
    yield tmp_path
    keras.config.set_max_epochs(None)


def test_every_block_is_run_or_says_why_not():
    assert BLOCKS, "no fenced blocks found in README.md"
    for block in BLOCKS:
        if block.marker == "skip":
            assert block.reason, f"{block.id}: a skipped block says why: <!-- readme-test: skip (reason) -->"
        elif block.lang in SHELL and not _is_transcript(block):
            for command in shell_commands(block.code):
                runnable = command.startswith("kerazoo ") and "..." not in command or command.startswith("pip install")
                assert runnable, (f"{block.id}: `{command}` cannot be run by tests/test_readme.py: mark the block "
                                  "<!-- readme-test: skip (why) --> or write a runnable `kerazoo ...` line")
        else:
            assert block.lang in {"python", "yaml", "text"} | SHELL, f"{block.id}: no runner for ```{block.lang} blocks"


@pytest.mark.parametrize("block", _params(lambda b: b.lang == "python" and b.marker != "skip"))
def test_python_block_runs(block, in_workdir):
    exec(compile("\n" * block.line + block.code, str(README), "exec"), {"__name__": "__readme__"})


@pytest.mark.parametrize("block", _params(lambda b: b.lang in SHELL and not _is_transcript(b) and b.marker != "skip"))
def test_command_lines_run(block, in_workdir, capsys):
    from kerazoo import cli

    for command in shell_commands(block.code):
        if command.startswith("pip install"):
            continue
        code = cli.main(shlex.split(command, comments=True)[1:])
        assert code == 0, f"{block.id}: `{command}` exited {code}: {capsys.readouterr().err}"


@pytest.mark.parametrize("block", _params(lambda b: _is_transcript(b) and b.marker != "skip"))
def test_transcripts_show_what_kerazoo_says(block, in_workdir):
    """`>>> expression` then the line printed: the error (`Type: message`) or the value's repr; `...` stands
    for any text."""
    import kerazoo

    namespace = {"kerazoo": kerazoo}
    lines = block.code.strip().splitlines()
    for i, line in enumerate(lines):
        if not line.startswith(">>> "):
            continue
        expected = "\n".join(lines[i + 1:next((j for j in range(i + 1, len(lines)) if lines[j].startswith(">>>")),
                                              len(lines))]).strip()
        try:
            shown = repr(eval(line[4:], namespace))
        except Exception as e:  # noqa: BLE001 -- the transcript shows the error
            shown = f"{type(e).__name__}: {e}"
        pattern = ".*".join(re.escape(part) for part in expected.split("..."))
        assert re.fullmatch(pattern, shown, flags=re.DOTALL), f"{block.id}: `{line}` printed\n{shown}\nnot\n{expected}"


@pytest.mark.parametrize("block", _params(lambda b: b.lang == "yaml" and b.marker != "skip"))
def test_yaml_blocks_parse(block):
    assert list(yaml.safe_load_all(block.code))
