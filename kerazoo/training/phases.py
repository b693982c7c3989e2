"""A fine-tune that survives a kill: each phase backed up every epoch, each finished phase recorded.

`kerazoo finetune --data` (`finetune_data`) runs in a run folder it holds with `kerazoo.rundir.claim`
(one process at a time; a failed start leaves nothing), and `finetune(..., backup_dir=)` gives each
phase (`head`, then `finetune`) its own `AtomicBackupAndRestore` (`<backup_dir>/<phase>/`, written
atomically every epoch, as `kerazoo train` does) and its own CSV log (`<backup_dir>/<phase>.csv`).
A finished phase is recorded in `<backup_dir>/phases.json` with its weights
(`<phase>.weights.h5`, written to a temporary name, synced, then renamed). Rerunning the same
command resumes: a finished phase is not run again (its weights and history are taken back), the
interrupted one continues after its last backed-up epoch. `phases.json` also holds the settings
the run was started with; a rerun with other settings is refused, naming them. A finished
fine-tune removes the folder, so the next run starts afresh.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

from kerazoo.errors import ConfigError
from kerazoo.training.backup import AtomicBackupAndRestore

__all__ = ["PhaseBackups"]

RECORD = "phases.json"


def _write_atomic(path: Path, write) -> None:
    incoming = path.with_name(f"incoming.{path.name}")
    write(incoming)
    fd = os.open(incoming, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(incoming, path)


class PhaseBackups:
    """The backups of one fine-tune's phases in `folder` (see the module docstring).

    Args:
      folder: `<run folder>/backup`.
      settings: what the phases' results depend on (epochs, learning rates, data, seed, ...): a resume
        with other settings is refused.
      log: where "resuming ..." lines go (default: print).
    """

    def __init__(self, folder, settings: dict | None = None, log=print):
        self.folder, self.log = Path(folder), log
        self.settings = json.loads(json.dumps(settings or {}, default=str))
        record = self._record()
        if record is not None and record.get("settings") != self.settings:
            theirs = record.get("settings") or {}
            changed = sorted(k for k in set(theirs) | set(self.settings) if theirs.get(k) != self.settings.get(k))
            what = ", ".join(f"{k} ({theirs.get(k)!r} there, {self.settings.get(k)!r} now)" for k in changed[:4])
            raise ConfigError(f"{self.folder} holds an interrupted fine-tune with a different {what}; rerun it with "
                              f"its settings to resume, or remove {self.folder} (or give another --output) to start "
                              "over")

    def _record(self) -> dict | None:
        path = self.folder / RECORD
        try:
            return json.loads(path.read_text()) if path.is_file() else None
        except ValueError:  # written atomically: only an edit gets here
            return None

    def done(self, phase: str) -> bool:
        record = self._record() or {}
        return phase in record.get("finished", []) and (self.folder / f"{phase}.weights.h5").is_file()

    def callbacks(self, phase: str, *, resume: bool = True) -> list:
        """The phase's backup (first: it restores before the others start) and its CSV log."""
        import keras

        self.folder.mkdir(parents=True, exist_ok=True)
        if not (self.folder / RECORD).exists():
            _write_atomic(self.folder / RECORD, lambda p: p.write_text(json.dumps(
                {"settings": self.settings, "finished": []}, indent=1)))
        backup = AtomicBackupAndRestore(self.folder / phase)
        point = backup.restore_point() if resume else None
        log = self.folder / f"{phase}.csv"
        if point is not None:
            self.log(f"Resuming the interrupted fine-tune ({phase} phase) after epoch {point['epoch']}")
            _trim(log, point["epoch"])
        elif log.exists():
            log.unlink()
        return [backup, keras.callbacks.CSVLogger(str(log), append=point is not None)]

    def history(self, phase: str) -> dict:
        from kerazoo.plots import read_history

        log = self.folder / f"{phase}.csv"
        history = read_history(log) if log.is_file() else {}
        return {k: v for k, v in history.items() if k != "epoch"}

    def finish(self, phase: str, model) -> None:
        """Records `phase` as finished with `model`'s weights (atomically)."""
        _write_atomic(self.folder / f"{phase}.weights.h5", lambda p: model.save_weights(str(p)))
        record = self._record() or {"settings": self.settings, "finished": []}
        record["finished"] = sorted(set(record["finished"]) | {phase})
        _write_atomic(self.folder / RECORD, lambda p: p.write_text(json.dumps(record, indent=1)))

    def restore(self, phase: str, model) -> None:
        import warnings

        self.log(f"The {phase} phase finished before the interruption: its weights are taken back")
        with warnings.catch_warnings():  # the file also holds the finished phase's optimizer: not needed
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model.load_weights(str(self.folder / f"{phase}.weights.h5"))

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _trim(path: Path, epochs: int) -> None:
    """Keeps the first `epochs` rows of a CSV log (the epochs after the backup are run again)."""
    if not path.is_file():
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows[:1 + epochs])
