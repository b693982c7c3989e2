"""Artifact folders: where they live, what they hold, how they are verified and written.

An artifact `<arch>.<tag>/` holds `model.keras`, `saved_model/` (and any exported format),
`card.json` (data set, held-out metrics, builder arguments, recipe, versions, and the size and
sha256 of every other file) and a `README.md` rendered from the card.

Two stores are searched by name (`kerazoo.get("lenet5.mnist")`), user first:
- the user store, `$KERAZOO_MODELS` (default `~/.kerazoo/models`), where `kerazoo export` writes;
- the shipped artifacts inside the package (`kerazoo/saved_models`), read-only, their cards
  covered by `saved_models/index.json`.
Anything else is loaded by path only (`weights=<folder or .keras file>`).

Integrity: every file the card lists is checked before it is used; the card itself is covered by
the index that published it: the package's `saved_models/index.json` (shipped artifacts, and copies
of them anywhere), `card.sha256` beside it (exports), or the mirror index recorded in `mirror.json`
beside it (artifacts pulled by `kerazoo.mirrors`). Writes are atomic: an artifact
is written and verified in a hidden folder beside the store, and the name `<arch>.<tag>` is a
symlink switched to it in one `rename`, so a kill at any moment leaves the old or the new
artifact, never a mix. Importing this module imports neither TensorFlow nor Keras.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib.resources
import json
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Callable

from kerazoo import modelcard
from kerazoo.errors import ArtifactError, WeightsError

__all__ = ["ARCH_PATTERN", "TAG_PATTERN", "Artifact", "shipped_dir", "user_dir", "split_name", "check_tag",
           "artifacts", "available", "find", "sha256", "file_table", "read_card", "verify", "write_artifact",
           "card_readme", "staging", "install"]

ARCH_PATTERN = r"[a-z][a-z0-9_]*"
TAG_PATTERN = r"[a-z0-9][a-z0-9_-]{0,63}"
CARD, CARD_HASH, INDEX, README = "card.json", "card.sha256", "index.json", "README.md"
MIRROR = "mirror.json"  # beside a pulled artifact: the mirror it came from and that mirror's index entry for it
_NOT_LISTED = (CARD, CARD_HASH, README, MIRROR)  # files the card cannot list (it describes them or is them)


def shipped_dir() -> Path:
    """The artifacts shipped inside the installed package (read-only)."""
    return Path(str(importlib.resources.files("kerazoo.saved_models")))


def user_dir() -> Path:
    """The user store `kerazoo export` writes to: `$KERAZOO_MODELS`, default `~/.kerazoo/models`."""
    return Path(os.environ.get("KERAZOO_MODELS") or Path.home() / ".kerazoo" / "models").expanduser()


def check_tag(tag: str) -> str:
    """`tag` if it is a valid artifact tag (lower-case letters, digits, `_` and `-`), else an error."""
    if not isinstance(tag, str) or not re.fullmatch(TAG_PATTERN, tag):
        raise WeightsError(f"Artifact tags match {TAG_PATTERN} (e.g. 'mnist', 'my-letters_2'); received {tag!r}. "
                           "To load a file, pass its path as weights=PATH.")
    return tag


def split_name(name: str) -> tuple[str, str | None]:
    """`"lenet5.mnist"` -> `("lenet5", "mnist")`; `"lenet5"` -> `("lenet5", None)`; anything else is an error."""
    if not isinstance(name, str):
        raise WeightsError(f"A model name is a string such as 'lenet5' or 'lenet5.mnist'; received {name!r}")
    arch, dot, tag = name.partition(".")
    if not re.fullmatch(ARCH_PATTERN, arch):
        from kerazoo.errors import UnknownModelError

        raise UnknownModelError(f"{name!r} is not a model name: names are ARCH or ARCH.TAG, ARCH matching "
                                f"{ARCH_PATTERN} and TAG {TAG_PATTERN} (e.g. 'lenet5.mnist'). To load a file, "
                                "pass its path as weights=PATH.")
    return arch, (check_tag(tag) if dot else None)


@dataclasses.dataclass(frozen=True)
class Artifact:
    """An artifact folder found in a store (its card may be unreadable: `error` says why)."""

    name: str                  # "lenet5.mnist"
    folder: Path
    shipped: bool
    card: dict | None = None
    error: str | None = None   # why the card cannot be used (the artifact is listed as broken)

    @property
    def arch(self) -> str:
        return split_name(self.name)[0]

    @property
    def tag(self) -> str:
        return split_name(self.name)[1]

    def checked_card(self) -> dict:
        """The card, or the error that makes this artifact unusable."""
        if self.error:
            raise ArtifactError(f"{self.name}: {self.error}")
        return self.card


# === Reading ===

def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_table(folder: Path) -> dict[str, dict]:
    """`{relative path: {"bytes", "sha256"}}` of every file of an artifact but the card's own files."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "sha256": sha256(p)}
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name not in _NOT_LISTED}


def read_card(folder: Path) -> dict:
    """The parsed `card.json` of an artifact folder; an `ArtifactError` naming the file if it is unreadable."""
    path = Path(folder) / CARD
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing: not an artifact folder") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"{path} is not valid JSON ({e}); the artifact is damaged") from None
    if not isinstance(card, dict) or not isinstance(card.get("files"), dict) or "model" not in card:
        raise ArtifactError(f"{path} lacks the `files` table or `model` arguments of an artifact card")
    return card


@functools.cache
def _shipped_index() -> dict:
    path = shipped_dir() / INDEX
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _expected_card_hash(folder: Path, shipped: bool, name: str | None = None) -> tuple[str | None, str]:
    """`(the card's recorded sha256 or None, where it is recorded)`: the package index for shipped artifacts;
    else `card.sha256` (an export), else the mirror index entry in `mirror.json` (a pull), else the package
    index entry of the card's name (a copy of a shipped artifact)."""
    index = shipped_dir() / INDEX
    if shipped:
        return _shipped_index().get(folder.name, {}).get("card_sha256"), str(index)
    stamp = folder / CARD_HASH
    if stamp.is_file() and stamp.read_text().strip():
        return stamp.read_text().split()[0], str(stamp)
    if (folder / MIRROR).is_file():
        try:
            record = json.loads((folder / MIRROR).read_text(encoding="utf-8"))
            return str(record["entry"]["card"]["sha256"]), f"{folder / MIRROR} (the index of {record['mirror']})"
        except (ValueError, KeyError, TypeError):
            return None, f"{folder / MIRROR} (unreadable)"
    published = _shipped_index().get(name or folder.name, {}).get("card_sha256")
    if published:
        return published, f"{index} (entry {name or folder.name})"
    return None, f"{stamp}, {folder / MIRROR} or {index}"


def _scan(root: Path, shipped: bool) -> dict[str, Artifact]:
    found = {}
    if not root.is_dir():
        return found
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or not (folder / CARD).exists():
            continue
        try:
            split_name(folder.name)
        except (WeightsError, ValueError):
            continue  # not an artifact name: never loaded by name
        try:
            card, error = read_card(folder), None
        except ArtifactError as e:
            card, error = None, str(e)
        found[folder.name] = Artifact(folder.name, folder, shipped, card, error)
    return found


@functools.cache
def _shipped() -> dict[str, Artifact]:
    return _scan(shipped_dir(), shipped=True)


def artifacts(arch: str | None = None) -> dict[str, Artifact]:
    """Every artifact by name (`"lenet5.mnist"`): shipped ones, then the user store's (which win)."""
    found = {**_shipped(), **_scan(user_dir(), shipped=False)}
    return {name: a for name, a in found.items() if arch is None or a.arch == arch}


def available(arch: str) -> dict[str, dict]:
    """`{tag: card}` of the usable artifacts of model `arch` (broken ones left out)."""
    return {a.tag: a.card for a in artifacts(arch).values() if a.error is None}


def find(arch: str, tag: str) -> Artifact | None:
    """The artifact `<arch>.<tag>` from the user store or the shipped ones, or None."""
    return artifacts(arch).get(f"{arch}.{check_tag(tag)}")


def verify(folder: str | Path, *, files: tuple | None = None, shipped: bool | None = None) -> dict:
    """Checks an artifact folder against its card; returns the card.

    The card must match its recorded hash (package index, `card.sha256` or the `mirror.json` of a
    pull: see `_expected_card_hash`), and each listed file
    (`files`, default all) must exist with the recorded sha256. Raises `ArtifactError` naming every
    file that differs, with both hashes.
    """
    folder = Path(folder)
    shipped = folder.resolve().parent == shipped_dir().resolve() if shipped is None else shipped
    card = read_card(folder)
    expected, where = _expected_card_hash(folder, shipped, card.get("name") if isinstance(card.get("name"), str) else None)
    problems = []
    if expected is None:
        problems.append(f"{folder / CARD} has no recorded hash in {where}")
    elif (actual := sha256(folder / CARD)) != expected:
        problems.append(f"{folder / CARD} does not match its recorded hash (sha256 {actual}, recorded {expected} in "
                        f"{where})")
    for rel in card["files"] if files is None else files:
        path, recorded = folder / rel, card["files"].get(rel, {}).get("sha256")
        if recorded is None:
            problems.append(f"{path} is not listed in its card")
        elif not path.is_file():
            problems.append(f"{path} is missing")
        elif (actual := sha256(path)) != recorded:
            problems.append(f"{path} does not match its card (sha256 {actual}, card says {recorded})")
    if files is None:
        extra = sorted(set(file_table_names(folder)) - set(card["files"]))
        problems += [f"{folder / rel} is not listed in its card" for rel in extra]
    if problems:
        raise ArtifactError(f"{folder.name}: {'; '.join(problems)}. The artifact is damaged or was changed. "
                            "Nothing was loaded.")
    return card


def file_table_names(folder: Path) -> list[str]:
    return [p.relative_to(folder).as_posix() for p in Path(folder).rglob("*")
            if p.is_file() and p.name not in _NOT_LISTED]


# === Writing ===

def write_artifact(parent: str | Path, name: str, fill: Callable[[Path], dict], *, overwrite: bool = False) -> Path:
    """Writes artifact `name` into the store `parent` atomically; returns `parent/name`.

    `fill(folder)` writes the files into an empty staging folder and returns the card (without its
    `files` table, which is computed here). The staging folder is verified, then `parent/name` is
    switched to it: in a user store `parent/name` is a symlink to a folder under `parent/.versions/`,
    replaced by one rename, so a kill at any moment leaves the old or the new artifact. The shipped
    store (the package's `saved_models/`, written by maintainers) holds plain folders, listed in its
    `index.json`. An existing artifact is replaced only with `overwrite=True`.
    """
    split_name(name)
    parent = Path(parent).expanduser()
    parent.mkdir(parents=True, exist_ok=True)
    shipped = parent.resolve() == shipped_dir().resolve()
    link = parent / name
    if (link.exists() or link.is_symlink()) and not overwrite:
        raise ArtifactError(f"{link} exists; pass overwrite=True (CLI: --overwrite) to replace it.")
    versions = parent / ".versions"
    versions.mkdir(exist_ok=True)
    stage = versions / f"{name}.{secrets.token_hex(4)}"
    stage.mkdir()
    try:
        card = fill(stage)
        card = {**card, "files": file_table(stage)}
        (stage / CARD).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        (stage / README).write_text(card_readme(card), encoding="utf-8")
        (stage / CARD_HASH).write_text(f"{sha256(stage / CARD)}  {CARD}\n")
        verify(stage, shipped=False)
        if shipped:
            _replace_folder(link, stage)
            _index_update(parent, name, sha256(link / CARD))
        else:
            old = link.resolve() if link.is_symlink() else None
            _switch(link, stage)
            if old is not None and old.parent == versions.resolve():
                shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _collect(versions, keep={p.resolve() for p in parent.iterdir() if p.is_symlink()})
    return link


def staging(parent: str | Path, name: str) -> Path:
    """A fresh empty folder in user store `parent` to assemble artifact `name` in, for `install`."""
    split_name(name)
    versions = Path(parent).expanduser() / ".versions"
    versions.mkdir(parents=True, exist_ok=True)
    stage = versions / f"{name}.{secrets.token_hex(4)}"
    stage.mkdir()
    return stage


def install(parent: str | Path, name: str, stage: Path, *, overwrite: bool = False) -> Path:
    """Makes a complete folder from `staging(parent, name)` the artifact `parent/name`, atomically.

    `stage` is verified first (its card against the index that published it: `card.sha256` or
    `mirror.json`), then the name is switched to it as `write_artifact` does for a user store, so a
    kill leaves the old artifact or the new one. An existing artifact is replaced only with
    `overwrite=True`. On failure the stage is removed and the old artifact is untouched.
    """
    parent, stage = Path(parent).expanduser(), Path(stage)
    link, versions = parent / name, parent / ".versions"
    try:
        if stage.parent.resolve() != versions.resolve():
            raise ArtifactError(f"{stage} is not a staging folder of {parent} (make it with artifacts.staging)")
        if (link.exists() or link.is_symlink()) and not overwrite:
            raise ArtifactError(f"{link} exists; pass overwrite=True (CLI: --overwrite) to replace it.")
        verify(stage, shipped=False)
        old = link.resolve() if link.is_symlink() else None
        _switch(link, stage)
        if old is not None and old.parent == versions.resolve():
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _collect(versions, keep={p.resolve() for p in parent.iterdir() if p.is_symlink()})
    return link


def _switch(link: Path, target: Path) -> None:
    """Points `link` at `target` atomically (a fresh symlink renamed over the old name)."""
    tmp = link.parent / f".{link.name}.{secrets.token_hex(4)}.link"
    os.symlink(os.path.relpath(target, link.parent), tmp)
    if link.is_dir() and not link.is_symlink():  # a plain folder (copied in by hand): moved aside first
        os.rename(link, link.parent / ".versions" / f"{link.name}.replaced-{secrets.token_hex(4)}")
    os.replace(tmp, link)


def _replace_folder(folder: Path, new: Path) -> None:
    """Shipped store: the new folder takes the old one's place (old moved aside, then removed)."""
    aside = folder.parent / ".versions" / f"{folder.name}.replaced-{secrets.token_hex(4)}"
    if folder.exists():
        os.rename(folder, aside)
    os.rename(new, folder)
    (folder / CARD_HASH).unlink()  # shipped cards are covered by the package index instead
    shutil.rmtree(aside, ignore_errors=True)


def _index_update(parent: Path, name: str, card_hash: str) -> None:
    _shipped_index.cache_clear()  # read it again: another export may have changed it since this process started
    index = {**_shipped_index(), name: {"card_sha256": card_hash}}
    tmp = parent / f".{INDEX}.{secrets.token_hex(4)}"
    tmp.write_text(json.dumps(dict(sorted(index.items())), indent=2) + "\n")
    os.replace(tmp, parent / INDEX)
    _shipped_index.cache_clear()
    _shipped.cache_clear()


def _collect(versions: Path, keep: set, *, age: float = 3600.0) -> None:
    """Removes version folders no name points at and untouched for `age` seconds (left by kills; a
    younger one may be another process's export in progress)."""
    import time

    for folder in versions.iterdir():
        with contextlib.suppress(OSError):
            if folder.resolve() not in keep and time.time() - folder.stat().st_mtime > age:
                shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        versions.rmdir()  # only when empty (a shipped store keeps no versions)


def _formats_readme(card: dict) -> str:
    """The README's table of exported formats (LiteRT, ONNX, ...), from the card's `formats`."""
    formats = card.get("formats", {})
    if set(formats) <= {"saved_model"}:
        return ""

    def metrics(entry):
        shown = ", ".join(f"{k} {v:.4f}" for k, v in entry.get("metrics", {}).items())
        delta = ", ".join(f"{v:+.4f}" for v in entry.get("delta_vs_float", {}).values())
        return shown + (f" ({delta} vs float)" if delta else "")

    def agreement(entry):
        a = entry.get("agreement")
        if a is None:
            return "reference"
        parts = [f"max abs diff {a['max_abs_diff']:.1e}" if "max_abs_diff" in a else "",
                 f"same top-1 {100 * a['top1']:.2f} %" if "top1" in a else "",
                 f"equal {100 * a['equal']:.2f} %" if "equal" in a else ""]
        return ", ".join(p for p in parts if p) + f" (n={a['n']:,})"

    rows = "\n".join(f"| `{f}` | not exported: {e['unsupported']} | | | | |" if "unsupported" in e else
                     f"| `{f}` | `{e['file']}` | {e.get('bytes', 0):,} | {e.get('runtime', '')} | {metrics(e)} | "
                     f"{agreement(e)} |" for f, e in formats.items())
    core = card.get("core", {})
    tokenizer = (" The files take token ids: `kerazoo.text.Tokenizer.from_folder(folder)` (pure Python) makes them "
                 "from raw strings (`tokenizer.json`, `vocabulary.txt`), as the runner does.") if core.get("tokenizer") else ""
    quantization = next((e["quantization"] for e in formats.values() if "quantization" in e), "")
    return f"""
## Formats

`kerazoo.get("{card['name']}", format=F)` gives a runner of format F (raw inputs in, NumPy out), opened after
its files verify. Measured on {card.get('formats_measured_on', 'nothing')}, each by its own runtime; the
agreement is with the SavedModel's outputs on the same inputs. LiteRT/ONNX input: {core.get('input', '')}.{tokenizer}
{f"int8: {quantization}." if quantization else ""}

| format | file | bytes | runtime | held-out metrics | agreement with the SavedModel |
|---|---|---|---|---|---|
{rows}
"""


def _finetune_lines(card: dict) -> str:
    """README lines of a model fine-tuned on the user's data: where it started, how its inputs were read."""
    if "source" not in card:
        return ""
    source, data, steps = card["source"], card.get("data", {}), card.get("finetune", {})
    lines = [f"- Fine-tuned from `{source.get('name') or source.get('path')}` (card sha256 "
             f"`{source.get('card_sha256', '-')}`, model.keras sha256 `{source.get('model_keras_sha256')}`).",
             f"- Classes: {', '.join(f'{k} ({n})' for k, n in data.get('classes', {}).items())}; examples "
             f"{json.dumps(data.get('examples', {}))}; held out: {json.dumps(data.get('held_out', {}))} (the files: "
             "`data.held_out_examples` in card.json)."]
    lines += [f"- Preprocessing, {k}: {v}" for k, v in card.get("preprocessing", {}).items()]
    if steps.get("baseline_from_scratch"):
        lines.append(f"- Same architecture from scratch, same data and epochs: `{json.dumps(steps['baseline_from_scratch'])}`.")
    return "".join(line + "\n" for line in lines)


def card_readme(card: dict, *, task: str | None = None, base_model: str | None = None) -> str:
    """The `README.md` of an artifact, rendered from its card: Hub front matter (`kerazoo.modelcard`;
    `task` defaults to the card's, `base_model` is a fine-tune's source on the Hub), then the card."""
    metrics = "\n".join(f"| {k} | {v:.4f} |" for k, v in card["metrics"].items())
    files = "\n".join(f"| `{k}` | {v['bytes']:,} | `{v['sha256'][:16]}...` |" for k, v in card["files"].items())
    r = card["recipe"]
    records = "".join(f"- Training record `{k}`: `{json.dumps(v)}`\n" for k, v in card.get("records", {}).items())
    records += _finetune_lines(card)
    return modelcard.front_matter(card, task=task, base_model=base_model) + f"""# {card['name']}

`kerazoo.get("{card['name']}")` loads `model.keras` offline (every file sha256-checked against this card);
`kerazoo.load_saved_model("{card['name']}")` verifies and opens the SavedModel.

- Input: {card['input']} (preprocessing is inside the model).
- Data: {card['dataset']}, metrics on the held-out `{card['split']}` split.
- Parameters: {card['num_params']:,}. Seed {card['seed']}, {card['epochs_run']} epochs, {card['train_seconds']} s on the
  training machine; TensorFlow {card['versions']['tensorflow']}, Keras {card['versions']['keras']}.
- Recipe: {r['optimizer']} lr={r['learning_rate']} batch={r['batch_size']} epochs<={r['epochs']}; builder arguments
  `{json.dumps(card['model'])}`.
{records}
{card.get('notes', '')}

| metric | value |
|---|---|
{metrics}
{modelcard.use_and_limitations(card)}{_formats_readme(card)}
| file | bytes | sha256 |
|---|---|---|
{files}
"""
