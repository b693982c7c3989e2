"""`BackupAndRestore` whose backups a kill cannot tear, and a restore that survives a torn one.

Keras 3.15's `BackupAndRestore` writes `latest.weights.h5` and `training_metadata.json` in place;
a kill in the middle leaves a cut-short file, and every later run of the same command fails on it
(`OSError: Unable to synchronously open file`, `JSONDecodeError`). `AtomicBackupAndRestore` keeps
Keras' file names and layout but:

- writes each state to `incoming.*` files, synced, then renames them over the current ones, keeping
  the previous state as `*.bkp` (Keras' own `double_checkpoint` names);
- records the sha256 of the weights in the metadata, so a state is whole only if its metadata
  parses and names weights with that hash (a kill between two renames pairs nothing wrongly);
- before `fit`, `restore_point()` picks the newest whole state (current, then the one being
  written, then the previous) and says so when it falls back; with none, the run restarts from
  epoch 0, saying why, and the unreadable files are removed;
- `finish()`, called when `fit` has returned, saves the model as it then is (early stopping may have
  restored its best weights) as a last state marked finished; with `delete_checkpoint=False` the
  folder is kept until the caller removes it: `kerazoo train` keeps it until `run.json` is written,
  so a run killed in between resumes with its final weights and trains no more;
- with no backup at all, a run folder whose `history.csv` logged epochs but that has no `run.json`
  was killed after `fit` ended and before it wrote its results by a kerazoo that deleted the backups
  when `fit` ended (as Keras does): the rerun trains again from epoch 0, and says so instead of
  starting over silently.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import keras

from kerazoo.artifacts import sha256

__all__ = ["AtomicBackupAndRestore", "RestorePoint"]

WEIGHTS, METADATA = "latest.weights.h5", "training_metadata.json"
_INCOMING_WEIGHTS, _INCOMING_METADATA = "incoming.weights.h5", "incoming.json"
_STATES = ((METADATA, WEIGHTS), (_INCOMING_METADATA, _INCOMING_WEIGHTS), (f"{METADATA}.bkp", f"{WEIGHTS}.bkp"))


class RestorePoint(dict):
    """`{"epoch", "weights": Path, "metadata": Path, "finished": bool}` of a whole backed-up state (`finished`:
    saved by `AtomicBackupAndRestore.finish` when `fit` had returned)."""


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' `BackupAndRestore` (epoch saves) with atomic writes and a checked restore.

    Args:
      backup_dir: the folder of the backups (used by this callback only).
      delete_checkpoint: remove the folder when `fit` ends, as Keras does; False keeps it (call `finish()` when
        `fit` has returned, and remove the folder when the run's results are written).
      restore_from: restore from this folder instead, and never move or remove anything in it: the processes of
        a multi-process run other than the chief (JAX), which restore the chief's backup and write their own
        (every process must save alike: saving creates variables, a collective step on JAX).

    Example:
      >>> backup = AtomicBackupAndRestore("run/backup")
      >>> point = backup.restore_point()          # None: a fresh start; else {"epoch": 3, ...}
      >>> model.fit(ds, epochs=10, callbacks=[backup])
    """

    def __init__(self, backup_dir, *, delete_checkpoint: bool = True, restore_from=None):
        super().__init__(str(backup_dir), save_freq="epoch", double_checkpoint=True,
                         delete_checkpoint=delete_checkpoint)
        self.read_only = restore_from is not None and Path(restore_from) != Path(backup_dir)
        self.folder = Path(restore_from if self.read_only else backup_dir)
        self.write_folder = Path(backup_dir)
        self._point: RestorePoint | None = None
        self._checked = False
        self._finished = False
        self.saved = False   # a state was written by this process

    def restore_point(self, log=None) -> RestorePoint | None:
        """The newest whole state in the folder (None: nothing to resume), moved into Keras' file
        names; unreadable states are reported through `log` (default: stderr) and removed."""
        if self._checked:
            return self._point
        log = log or (lambda message: print(message, file=sys.stderr))
        self._checked, states, problems = True, [], []
        for metadata, weights in _STATES:
            if (self.folder / metadata).exists():
                found = _check_state(self.folder / metadata, self.folder / weights,
                                     [self.folder / w for _, w in _STATES])
                if isinstance(found, str):
                    problems += [(None, found)] if metadata != _INCOMING_METADATA else []  # half-written: expected
                else:
                    states.append(found)
            elif metadata != _INCOMING_METADATA and (self.folder / weights).exists():
                problems.append((self.folder / weights, f"{self.folder / weights} has no {metadata} beside it"))
        # the newest; of one epoch, the finished state (the weights `fit` ended with) before that epoch's own save
        point = max(states, key=lambda state: (state["epoch"], state["finished"]), default=None)
        if self.read_only:
            self._point = point
            return point
        if point is None and not problems:
            _finished_before(self.folder.parent, log)
        problems = [text for path, text in problems if point is None or path != point["weights"]]
        for problem in problems:
            log(f"Backup {problem}.")
        if problems:
            log(f"Resuming from the last whole backup (epoch {point['epoch']})." if point else
                f"No readable backup in {self.folder}: the run restarts from epoch 0.")
        keep = {point["weights"], point["metadata"]} if point else set()
        for name in {n for pair in _STATES for n in pair}:
            if self.folder / name not in keep:
                (self.folder / name).unlink(missing_ok=True)
        if point is not None:  # the restored state takes Keras' names; the next save keeps it as *.bkp
            os.replace(point["weights"], self.folder / WEIGHTS)
            os.replace(point["metadata"], self.folder / METADATA)
            point = RestorePoint(epoch=point["epoch"], weights=self.folder / WEIGHTS, metadata=self.folder / METADATA,
                                 finished=point["finished"])
        elif self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()
        self._point = point
        return point

    def on_train_begin(self, logs=None):
        point = self.restore_point()
        if point is None:
            return
        if not self.model.built:
            raise ValueError("To use the BackupAndRestore callback, your model must be built before you call "
                             f"`fit()`. Model {self.model} is unbuilt.")
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        try:
            self.model.load_weights(point["weights"])
        except ValueError as e:  # a whole file of another network (the command changed since the backup)
            raise ValueError(f"The backup in {self.folder} (epoch {point['epoch']}) was written by a different model "
                             f"({e}). Rerun with the arguments of the interrupted run, or remove {self.folder} to "
                             "start over.") from None
        self.model._initial_epoch = point["epoch"]   # as Keras' own restore does
        self._current_epoch = point["epoch"]         # what `finish()` records if no epoch is left to run

    def finish(self):
        """`fit` has returned: saves the model as it is now (callbacks such as early stopping may have restored
        other weights when training ended) as the last state, marked finished: a run stopped before it wrote
        its results resumes from it and trains no more (`restore_point()["finished"]`)."""
        self._finished = True
        self._save_model()

    def _save_model(self):
        folder = self.write_folder
        folder.mkdir(parents=True, exist_ok=True)
        incoming_weights, incoming_metadata = folder / _INCOMING_WEIGHTS, folder / _INCOMING_METADATA
        self.model.save_weights(str(incoming_weights), overwrite=True)
        _sync(incoming_weights)
        incoming_metadata.write_text(json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen,
                                                 "weights_sha256": sha256(incoming_weights),
                                                 **({"finished": True} if self._finished else {})}))
        _sync(incoming_metadata)
        for name in (WEIGHTS, METADATA):  # the current state becomes the previous one
            if (folder / name).exists():
                os.replace(folder / name, folder / f"{name}.bkp")
        os.replace(incoming_weights, folder / WEIGHTS)
        os.replace(incoming_metadata, folder / METADATA)
        _sync(folder)
        self._point, self.saved = None, True


def _finished_before(run: Path, log) -> None:
    """Says so when the run in `run` logged epochs but wrote no results and has no backup: it was stopped after
    `fit` ended and before `run.json` was written by a kerazoo that deleted the backups when `fit` ended."""
    try:
        with open(run / "history.csv", encoding="utf-8") as f:
            epochs = max(sum(1 for line in f if line.strip()) - 1, 0)
    except (OSError, UnicodeDecodeError):
        return
    if epochs and not (run / "run.json").exists():
        log(f"The last run in {run} finished training ({epochs} epochs logged in history.csv) but stopped before it "
            "wrote its results (run.json); its backups were deleted when training ended, so this run trains again "
            "from epoch 0.")


def _check_state(metadata: Path, weights: Path, candidates: list[Path]) -> RestorePoint | str:
    """The state `metadata` describes, or why it cannot be restored.

    Its weights are the file among `candidates` with the sha256 it recorded (`weights`, its own
    name, is tried first); a backup of Keras' own callback records no hash, and its `weights` must
    at least open as HDF5.
    """
    try:
        record = json.loads(metadata.read_text())
    except (OSError, ValueError) as e:
        return f"{metadata} is unreadable ({type(e).__name__}: {e})"
    epoch = record.get("epoch") if isinstance(record, dict) else None
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        return f"{metadata} holds no epoch number ({str(record)[:80]})"
    expected = record.get("weights_sha256")
    if expected is not None:
        for path in [weights, *(c for c in candidates if c != weights)]:
            if path.is_file() and sha256(path) == expected:
                return RestorePoint(epoch=epoch, weights=path, metadata=metadata,
                                    finished=record.get("finished") is True)
        return f"{metadata} (epoch {epoch}): no weights file has the sha256 recorded with it ({weights} is torn or " \
               "missing)"
    if not weights.is_file():
        return f"{metadata} (epoch {epoch}) has no {weights.name} beside it"
    try:
        import h5py

        with h5py.File(weights, "r") as f:
            f.visit(lambda name: None)
    except (OSError, ValueError) as e:
        return f"{weights} (epoch {epoch}) is unreadable ({type(e).__name__}: {e})"
    return RestorePoint(epoch=epoch, weights=weights, metadata=metadata, finished=False)


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
