"""The mirror index (`index.json`) and what a mirror holds of an artifact, shared by `kerazoo.mirrors`
(folders, HTTP) and `kerazoo.hub` (`hf://`): the format, its checks, the published copy, offline mode.

A mirror's `index.json` lists, for every artifact, the size and sha256 of its card and of every file
(its README included):

    {"kerazoo_mirror": 1, "artifacts": {"lenet5.mnist": {"card": {"bytes": 4973, "sha256": "..."},
                                                         "files": {"README.md": {...}, "model.keras": {...}}}}}

Paths are checked to stay inside the artifact folder, so a hostile index cannot write elsewhere.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path, PurePosixPath

from kerazoo import artifacts
from kerazoo.artifacts import CARD, CARD_HASH, MIRROR, README, split_name
from kerazoo.registry import entry
from kerazoo.errors import ArtifactError, UnknownModelError

__all__ = ["INDEX", "FORMAT", "OFFLINE_VARIABLES", "offline", "read_index", "empty_index", "publish_copy"]

INDEX = "index.json"
FORMAT = 1  # the "kerazoo_mirror" version of index.json
OFFLINE_VARIABLES = ("KERAZOO_OFFLINE", "HF_HUB_OFFLINE")
_HEX = re.compile(r"[0-9a-f]{64}")


def offline() -> str | None:
    """The variable that forbids the network (`KERAZOO_OFFLINE` or `HF_HUB_OFFLINE` set to 1/true/yes/on), or None."""
    return next((v for v in OFFLINE_VARIABLES if os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")),
                None)


def empty_index() -> dict:
    return {"kerazoo_mirror": FORMAT, "artifacts": {}}


def _record(path: Path) -> dict:
    return {"bytes": path.stat().st_size, "sha256": artifacts.sha256(path)}


def _is_record(rec) -> bool:
    return (isinstance(rec, dict) and isinstance(rec.get("bytes"), int) and not isinstance(rec["bytes"], bool)
            and rec["bytes"] >= 0 and isinstance(rec.get("sha256"), str) and bool(_HEX.fullmatch(rec["sha256"])))


def _safe_path(rel) -> bool:
    """A plain relative path inside an artifact folder (no `..`, no absolute path, no hidden or reserved name)."""
    if not isinstance(rel, str) or "\\" in rel or rel in (CARD, CARD_HASH, MIRROR):
        return False
    path = PurePosixPath(rel)
    return (not path.is_absolute() and path.as_posix() == rel
            and all(part not in ("", ".", "..") and not part.startswith(".") for part in path.parts))


def read_index(text: str, where: str) -> dict:
    """A mirror's parsed `index.json`, every entry checked; an `ArtifactError` naming `where` otherwise."""
    accepted = ('accepted: {"kerazoo_mirror": 1, "artifacts": {"ARCH.TAG": {"card": {"bytes", "sha256"}, '
                '"files": {relative path: {"bytes", "sha256"}}}}}, as kerazoo push writes it')
    try:
        index = json.loads(text)
    except ValueError as e:
        raise ArtifactError(f"{where} is not valid JSON ({e}); {accepted}") from None
    if not isinstance(index, dict) or index.get("kerazoo_mirror") != FORMAT or not isinstance(index.get("artifacts"),
                                                                                              dict):
        raise ArtifactError(f"{where} is not a kerazoo mirror index of format {FORMAT}; {accepted}")
    for name, entry in index["artifacts"].items():
        try:
            split_name(name)
        except ValueError:
            raise ArtifactError(f"{where} lists {name!r}, which is not an artifact name ARCH.TAG") from None
        if not isinstance(entry, dict) or not _is_record(entry.get("card")) or not isinstance(entry.get("files"), dict):
            raise ArtifactError(f"{where}: entry {name!r} lacks the size and sha256 of its card or its files; {accepted}")
        for rel, rec in entry["files"].items():
            if not _safe_path(rel) or not _is_record(rec):
                raise ArtifactError(f"{where}: entry {name!r} lists {rel!r} with {rec!r}: files are plain relative "
                                    f"paths inside the artifact folder, each with an integer size and a sha256")
    return index


def publish_copy(folder: Path, card: dict, stage: Path) -> dict:
    """Copies a verified artifact into `stage` as a mirror holds it (card, listed files, a README rendered
    from the card with its Hub front matter); returns its index entry, hashed from the copy."""
    stage.mkdir(parents=True)
    for rel in [CARD, *card["files"]]:
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / rel, stage / rel)
    (stage / README).write_text(_readme(card), encoding="utf-8")
    table = artifacts.file_table(stage)
    if table != card["files"] or artifacts.sha256(stage / CARD) != artifacts.sha256(folder / CARD):
        raise ArtifactError(f"{folder} changed while it was being copied; nothing was published. Try again.")
    return {"card": _record(stage / CARD), "files": {README: _record(stage / README), **table}}


def _readme(card: dict) -> str:
    task = card.get("task")
    if task is None:
        with contextlib.suppress(UnknownModelError):
            task = entry(card["arch"]).task  # the catalogue's, read without importing the family (nor Keras)
    return artifacts.card_readme(card, task=task, base_model=_hub_base_model(card))


def _hub_base_model(card: dict) -> str | None:
    """A fine-tune's source as a Hub repository id, when the source artifact was pulled from the Hub."""
    name = (card.get("source") or {}).get("name")
    with contextlib.suppress(ValueError, TypeError, OSError):
        source = artifacts.find(*split_name(name)) if name else None
        record = json.loads((source.folder / MIRROR).read_text(encoding="utf-8")) if source else {}
        if str(record.get("mirror", "")).startswith("hf://"):
            return record["mirror"][5:].split("@")[0]
    return None
