"""Artifact folders: where they live, what they hold, how they are verified and written.

An artifact `<arch>.<tag>/` holds `model.keras`, `saved_model/` (and any exported format),
`card.json` (data set, held-out metrics, builder arguments, recipe, versions, and the size and
sha256 of every other file) and a `README.md` rendered from the card.

Two stores are searched by name (`kerazoo.get("lenet5.mnist")`), user first:
- the user store, `$KERAZOO_MODELS` (default `~/.kerazoo/models`), where `kerazoo export` writes;
- the shipped artifacts inside the package (`kerazoo/saved_models`), read-only, their cards
  covered by `saved_models/index.json`.
Anything else is loaded by path only (`weights=<folder or .keras file>`).

Integrity: every file the card lists is checked before use; the card by the index that published
it (`saved_models/index.json`, `card.sha256` of an export, or the mirror index in `mirror.json` of
a pull), reading one version throughout (an overwrite elsewhere meanwhile is not "damage").
Writes are atomic and serialised: exports of one name take turns (a lock in the store's `.locks/`);
an artifact is written and verified in a hidden folder, then the name `<arch>.<tag>`, a symlink,
is switched to it in one `rename` (one `renameat2` exchange over a folder copied in by hand), so a
kill leaves the old or the new artifact; the next export collects what a kill left. Stores are
never inside the installed package (but the shipped one) nor inside an artifact (`check_store`).
Importing this module imports neither TensorFlow nor Keras.
"""
from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import functools
import hashlib
import importlib.resources
import json
import os
import re
import secrets
import shutil
import zipfile
from pathlib import Path
from typing import Callable

from kerazoo import cards
from kerazoo.cards import card_readme
from kerazoo.errors import ArtifactError, OutputError, WeightsError
from kerazoo.rundir import RunLock

__all__ = ["ARCH_PATTERN", "TAG_PATTERN", "Artifact", "shipped_dir", "user_dir", "split_name", "check_tag",
           "artifacts", "available", "find", "sha256", "file_table", "read_card", "verify", "write_artifact",
           "check_store", "check_keras_file", "card_readme", "staging", "install"]

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
    """The `card.json` of an artifact folder, parsed and checked against the card schema
    (`kerazoo.cards`); an `ArtifactError` naming the file and the field if it is not a card."""
    return cards.read_card(Path(folder) / CARD)


@functools.cache
def _shipped_index() -> dict:
    path = shipped_dir() / INDEX
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _expected_card_hash(folder: Path, shipped: bool, name: str | None = None,
                        real: Path | None = None) -> tuple[str | None, str]:
    """`(the card's recorded sha256 or None, where it is recorded)`: the package index for shipped artifacts;
    else `card.sha256` (an export), else the mirror index entry in `mirror.json` (a pull), else the package
    index entry of the card's name (a copy of a shipped artifact). `real` is the version being read."""
    index = shipped_dir() / INDEX
    if shipped:
        return _shipped_index().get(folder.name, {}).get("card_sha256"), str(index)
    real = real or folder
    try:
        text = (real / CARD_HASH).read_text(errors="replace")
    except OSError:
        text = ""
    if text.strip():
        return text.split()[0], str(folder / CARD_HASH)
    if (real / MIRROR).is_file():
        try:
            record = json.loads((real / MIRROR).read_text(encoding="utf-8"))
            return str(record["entry"]["card"]["sha256"]), f"{folder / MIRROR} (the index of {record['mirror']})"
        except (OSError, ValueError, KeyError, TypeError):
            return None, f"{folder / MIRROR} (unreadable)"
    published = _shipped_index().get(name or folder.name, {}).get("card_sha256")
    if published:
        return published, f"{index} (entry {name or folder.name})"
    return None, f"{folder / CARD_HASH}, {folder / MIRROR} or {index}"


def _sha256_or_none(path: Path) -> str | None:
    try:
        return sha256(path)
    except OSError:  # removed while it was read (an overwrite), or unreadable
        return None


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
    real = folder.resolve()  # one version throughout, even if the name is switched meanwhile
    shipped = real.parent == shipped_dir().resolve() if shipped is None else shipped
    try:
        card = read_card(real)
    except ArtifactError:
        if folder.resolve() != real:  # the version read was replaced and removed: check the current one
            return verify(folder, files=files, shipped=shipped)
        raise
    name = card.get("name") if isinstance(card.get("name"), str) else None
    expected, where = _expected_card_hash(folder, shipped, name, real)
    problems = []
    if expected is None:
        problems.append(f"{folder / CARD} has no recorded hash in {where}")
    elif (actual := _sha256_or_none(real / CARD)) != expected:
        problems.append(f"{folder / CARD} does not match its recorded hash (sha256 {actual}, recorded {expected} in "
                        f"{where})")
    for rel in card["files"] if files is None else files:
        path, recorded = folder / rel, card["files"].get(rel, {}).get("sha256")
        if recorded is None:
            problems.append(f"{path} is not listed in its card")
        elif not (real / rel).is_file() or (actual := _sha256_or_none(real / rel)) is None:
            problems.append(f"{path} is missing")
        elif actual != recorded:
            problems.append(f"{path} does not match its card (sha256 {actual}, card says {recorded})")
    if files is None:
        try:
            extra = sorted(set(file_table_names(real)) - set(card["files"]))
        except OSError as e:  # removed while it was listed (an overwrite), or unreadable
            extra = []
            problems.append(f"{folder} cannot be listed ({e.strerror})")
        problems += [f"{folder / rel} is not listed in its card" for rel in extra]
    if problems and folder.resolve() != real:  # switched to a new version while this one was read
        return verify(folder, files=files, shipped=shipped)
    if problems:
        raise ArtifactError(f"{folder.name}: {'; '.join(problems)}. The artifact is damaged or was changed. "
                            "Nothing was loaded.")
    return card


def check_keras_file(path: str | Path) -> Path:
    """`path` if it is a whole `.keras` file (a zip archive whose every member passes its CRC check, with the
    model's `config.json`), else a `WeightsError` saying what is wrong with it (Keras itself raises `BadZipFile`
    for a flipped bit and "File not found" for a file cut short)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist (give an artifact tag, a .keras file or an artifact "
                           "folder)")
    try:
        with zipfile.ZipFile(path) as archive:
            damaged, names = archive.testzip(), archive.namelist()
    except (zipfile.BadZipFile, EOFError, ValueError) as e:
        raise WeightsError(f"{path} is not a whole .keras file ({e}): cut short, damaged, or another kind of file; "
                           "accepted: a file written by model.save(...keras)") from None
    if damaged is not None:
        raise WeightsError(f"{path} is damaged: its member {damaged!r} fails its CRC check (a changed byte); "
                           "accepted: a whole .keras file")
    if "config.json" not in names:
        raise WeightsError(f"{path} is a zip archive but not a .keras file (no config.json); accepted: a file written "
                           "by model.save(...keras)")
    return path


def file_table_names(folder: Path) -> list[str]:
    return [p.relative_to(folder).as_posix() for p in Path(folder).rglob("*")
            if p.is_file() and p.name not in _NOT_LISTED]


# === Writing ===

def check_store(store: str | Path, *, shipped: bool = False) -> Path:
    """`store` (resolved) if artifacts may be written into it, else an `ArtifactError` saying why.

    Never inside the installed package (its `saved_models/`, `zoo_configs/` or code), except the
    shipped store itself with `shipped=True` (maintainers); never inside an artifact folder (the
    store would become files its card does not list) or a store's hidden `.versions/`.
    """
    given = Path(store).expanduser()
    resolved = given.resolve()
    if shipped:
        if resolved != shipped_dir().resolve():
            raise ArtifactError(f"{given} is not the package's shipped artifacts folder ({shipped_dir()}); only that "
                                "folder holds shipped artifacts (shipped=True, --shipped)")
        return resolved
    for root in _package_roots():
        if resolved == root or resolved.is_relative_to(root):
            what = "the package's shipped artifacts folder" if root == shipped_dir().resolve() else \
                f"the installed kerazoo package ({root})"
            raise ArtifactError(f"{given} is inside {what}; exports go to the user store ({user_dir()}) or a "
                                "--destination of your own, never into the installed package (only --shipped, for "
                                "kerazoo's maintainers, writes shipped artifacts)")
    for folder in [resolved, *resolved.parents]:
        if folder.name == ".versions" or (folder / CARD).is_file():
            raise ArtifactError(f"{given} is inside the artifact {folder}; a --destination is a store, a folder that "
                                f"holds artifacts (the user store is {user_dir()}), not an artifact or part of one")
    return resolved


def _package_roots() -> list[Path]:
    """The folders the installed package is made of (an editable install maps data packages elsewhere)."""
    roots = [Path(__file__).resolve().parent, shipped_dir().resolve()]
    with contextlib.suppress(ModuleNotFoundError, TypeError):
        roots.append(Path(str(importlib.resources.files("kerazoo.zoo_configs"))).resolve())
    return roots


def write_artifact(parent: str | Path, name: str, fill: Callable[[Path], dict], *, overwrite: bool = False) -> Path:
    """Writes artifact `name` into the store `parent` atomically; returns `parent/name`.

    `fill(folder)` writes the files into an empty staging folder and returns the card (without its
    `files` table, which is computed here). Exports of one name are serialised: the call holds the
    name's lock (`parent/.locks/NAME.lock`) throughout, waiting for another export of it to finish,
    and removes what killed exports of that name left. The staging folder is verified, then
    `parent/name` is switched to it: in a user store `parent/name` is a symlink to a folder under
    `parent/.versions/`, replaced by one rename (a plain folder there, copied in by hand, is
    exchanged with the new symlink in one `renameat2`), so a kill at any moment leaves the old or
    the new artifact. The shipped store (the package's `saved_models/`, written by maintainers)
    holds plain folders, listed in its `index.json`. An existing artifact is replaced only with
    `overwrite=True`.
    """
    split_name(name)
    parent = Path(parent).expanduser()
    shipped = parent.resolve() == shipped_dir().resolve()
    locks, versions = parent / ".locks", parent / ".versions"
    for folder in (parent, locks):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"{parent}: cannot write artifacts there ({e.filename}: {e.strerror}); accepted: a "
                              "folder you can write to") from None
    lock = RunLock(locks, f"export of {name}", name=f"{name}.lock").acquire(wait=True)
    try:
        link = parent / name
        if (link.exists() or link.is_symlink()) and not overwrite:
            raise ArtifactError(f"{link} exists; pass overwrite=True (CLI: --overwrite) to replace it.")
        _collect_strays(parent, name)  # under the lock: what a killed export of this name left
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
                _switch(link, stage)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        _collect_strays(parent, name)  # the version replaced
    finally:
        lock.release()  # .locks/ stays: another export may be waiting on a lock file there
    _collect(versions, keep={p.resolve() for p in parent.iterdir() if p.is_symlink() and not p.name.startswith(".")})
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
    """Points `link` at `target` atomically (a fresh symlink renamed over the old name, or exchanged with a plain
    folder there, which then becomes a stray the caller collects)."""
    tmp = link.parent / f".{link.name}.{secrets.token_hex(4)}.link"
    os.symlink(os.path.relpath(target, link.parent), tmp)
    if link.is_dir() and not link.is_symlink():  # a plain folder (copied in by hand)
        if _exchange(tmp, link):
            return  # tmp is now the old folder; collected with the other strays
        os.rename(link, link.parent / ".versions" / f"{link.name}.replaced-{secrets.token_hex(4)}")  # not Linux
    os.replace(tmp, link)


def _exchange(a: Path, b: Path) -> bool:
    """Swaps the names `a` and `b` in one step (Linux `renameat2(RENAME_EXCHANGE)`); False where the system has no
    such call (then the caller moves the old folder aside first: a kill between the two renames there leaves
    the old artifact in `.versions/`, not under its name)."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _collect_strays(parent: Path, name: str) -> None:
    """Removes what exports of `name` left beside the current version: `.NAME.*.link` entries (a symlink, or the
    old folder an exchange put there) and folders `.versions/NAME.*` the name does not point at. Called with
    the name's lock held, when no export of it is in progress."""
    current = (parent / name).resolve() if (parent / name).is_symlink() else None
    for stray in [*parent.glob(f".{name}.*.link"), *(parent / ".versions").glob(f"{name}.*")]:
        with contextlib.suppress(OSError):
            if stray.is_symlink() or not stray.is_dir():
                stray.unlink()
            elif stray.resolve() != current:
                shutil.rmtree(stray, ignore_errors=True)


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
    """Removes version folders no name points at and untouched for `age` seconds (left by kills of exports
    of other names; a younger one may be another process's export in progress)."""
    import time

    if not versions.is_dir():
        return
    for folder in versions.iterdir():
        with contextlib.suppress(OSError):
            if folder.resolve() not in keep and time.time() - folder.stat().st_mtime > age:
                shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        versions.rmdir()  # only when empty (a shipped store keeps no versions)
