"""A search's state on disk: kerazoo's search record (`kerazoo_search.json`, everything that gives a
trial's score its meaning), written atomically, checked on resume, and the recovery from state files
that cannot be read.

KerasTuner keeps its own state in the project directory (`oracle.json`, `<tuner id>.json`,
`trial_*/trial.json`); kerazoo makes its writes atomic (`kerazoo.patches.atomic_kerastuner_state`),
so a kill leaves every file whole. A file that still cannot be read (a disk that filled up, a file
edited by hand, a search written by an older version) is not resumed from: the search directory is
moved aside and the search starts over, saying so.

Importing this module imports neither TensorFlow nor Keras.
"""
from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

from kerazoo.errors import TuningError

__all__ = ["RECORD", "UnreadableState", "write_atomic", "write_json", "read_json", "check_resume", "recover",
           "set_aside"]

RECORD = "kerazoo_search.json"
# What KerasTuner 1.4 writes and reads back: a trial's `trial.json` (Trial.get_state) and `oracle.json`
# (Oracle.get_state; each tuner adds its own keys). A file without them is JSON KerasTuner cannot resume from.
_TRIAL_KEYS = {"trial_id": str, "hyperparameters": dict, "metrics": dict, "score": object, "best_step": object,
               "status": str, "message": object}
_ORACLE_KEYS = {"ongoing_trials": dict, "hyperparameters": dict, "start_order": list, "end_order": list,
                "run_times": dict, "retry_queue": list, "seed": object, "seed_state": object, "tried_so_far": list,
                "id_to_hash": dict}


class UnreadableState(Exception):
    """KerasTuner could not load the search's state files (raised by the tuner's `reload`; the search sets the
    directory aside and starts over)."""


def write_atomic(path: str | Path, text: str) -> Path:
    """Writes `text` to `path` through a temporary file beside it and one rename: a kill leaves the old
    file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json(path: str | Path, data) -> Path:
    """`data` as indented JSON, written atomically."""
    return write_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def read_json(path: str | Path):
    """The JSON in `path`; `ValueError` naming the file when it is not whole JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not readable JSON ({e})") from None


def check_resume(project: Path, record: dict) -> None:
    """A search may be resumed only with the settings it was started with (`record`); anything that
    changes what a trial's score means is refused, naming it and how to start over."""
    path = project / RECORD
    if not path.exists():
        return
    before = read_json(path)
    changed = [k for k in record if before.get(k) != record[k]]
    if not changed:
        return
    shown = []
    for key in changed:
        was, now = before.get(key), record[key]
        short = all(not isinstance(v, (dict, list)) or len(json.dumps(v)) < 40 for v in (was, now))
        shown.append(f"{key} ({json.dumps(was)} there, {json.dumps(now)} now)" if short else key)
    raise TuningError(f"{project} holds a search with a different {', '.join(shown)}; it cannot be resumed with "
                      "these settings (its trials would not be comparable). Start over with --overwrite "
                      "(overwrite=True), or search into another --directory or --project-name.")


def recover(project: Path) -> Path | None:
    """Checks that every state file of the search in `project` can be read. If one cannot, the
    directory is moved aside (`<project>.unreadable-N`), a message on stderr says which file and
    where the search went, and the new search starts over; returns where it went (None: all is well)."""
    if not project.is_dir():
        return None
    files = [project / RECORD, project / "oracle.json", *sorted(project.glob("trial_*/trial.json")),
             *sorted(p for p in project.glob("*.json") if p.name not in (RECORD, "oracle.json", "results.json"))]
    trials, oracle = set(), None
    for path in files:
        if not path.exists():
            continue
        try:
            data = read_json(path)
            _check_shape(path, data)
        except ValueError as e:
            return set_aside(project, str(e))
        if path.name == "trial.json":
            trials.add(data["trial_id"])
        elif path.name == "oracle.json":
            oracle = data
    named = {str(t) for key in ("start_order", "end_order") for t in (oracle or {}).get(key, [])}
    if named - trials:
        return set_aside(project, f"{project / 'oracle.json'} names trial(s) {', '.join(sorted(named - trials))} "
                                  "without a trial_ID/trial.json")
    return None


def _check_shape(path: Path, data) -> None:
    """A `ValueError` naming the file when its JSON is not what KerasTuner (or kerazoo) wrote there."""
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a JSON {type(data).__name__}, not the object of a search's state")
    keys = _TRIAL_KEYS if path.name == "trial.json" else _ORACLE_KEYS if path.name == "oracle.json" else {}
    missing = [k for k in keys if k not in data]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}: not the state KerasTuner wrote")
    wrong = [f"{k} ({type(data[k]).__name__}, not {t.__name__})" for k, t in keys.items() if not isinstance(data[k], t)]
    if wrong:
        raise ValueError(f"{path} holds {', '.join(wrong)}: not the state KerasTuner wrote")
    if path.name == "trial.json" and path.parent.name != f"trial_{data['trial_id']}":
        raise ValueError(f"{path} holds trial_id {data['trial_id']!r}, not the {path.parent.name} it is in")


def set_aside(project: Path, why: str) -> Path:
    """Moves the search in `project` to `<project>.unreadable-N`, saying `why` on stderr; returns where it went."""
    n = 1
    while project.with_name(f"{project.name}.unreadable-{n}").exists():
        n += 1
    aside = project.with_name(f"{project.name}.unreadable-{n}")
    os.rename(project, aside)
    print(f"kerazoo tune: {why}: the search in {project} cannot be resumed; it was moved to {aside} and "
          "this search starts over.", file=sys.stderr)
    return aside
