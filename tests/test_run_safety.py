"""Runs that cannot corrupt each other: a locked run directory, backups a kill cannot tear, and a
failed start that leaves nothing behind."""
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import kerazoo
from kerazoo import cli
from kerazoo.errors import DataNotFoundError, RunLockedError
from kerazoo.rundir import LOCK_NAME, RunLock
from kerazoo.training import backup as backup_module


@pytest.fixture()
def mnist_dir(tmp_path):
    rng = np.random.default_rng(0)
    y = np.arange(240) % 10
    x = (rng.random((240, 28, 28)) * 40).astype(np.uint8)
    for i, label in enumerate(y):  # a learnable mark: a bright bar whose row encodes the label
        x[i, 2 + 2 * label: 4 + 2 * label, 4:24] = 255
    folder = tmp_path / "data"
    folder.mkdir()
    np.savez(folder / "mnist.npz", x_train=x[:200], y_train=y[:200].astype(np.uint8),
             x_test=x[200:], y_test=y[200:].astype(np.uint8))
    return folder


def _kerazoo(*args, **kwargs):
    return [sys.executable, "-m", "kerazoo.cli", *map(str, args)]


def _epochs_logged(run):
    with open(run / "history.csv") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def _wait_for(condition, process, timeout=240):
    deadline = time.time() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.time() < deadline, "timed out"
        time.sleep(0.2)


def test_second_train_stops_and_a_killed_runs_lock_is_taken_over(mnist_dir, tmp_path, capsys):
    """A live `kerazoo train` process holds its run folder: a second run (here in the test's own process, another
    pid) is refused with one line and touches nothing; once the live one is killed, the next run takes its lock over
    and resumes from its backup."""
    run = tmp_path / "run"
    live = subprocess.Popen(_kerazoo("train", "lenet5", "--epochs", 1000, "--batch-size", 32, "--data-dir", mnist_dir,
                                     "--output", run), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: (run / "backup" / "training_metadata.json").exists(), live)
        capsys.readouterr()
        assert cli.main(["train", "lenet5", "--epochs", "1", "--data-dir", str(mnist_dir), "--output", str(run)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.count("\n") == 1, err
        assert f"{run} is in use by another run: pid {live.pid} on host {socket.gethostname()}" in err
        assert live.poll() is None and (run / "backup").exists()  # the live run is untouched
    finally:
        live.send_signal(signal.SIGKILL)
        live.communicate()
    assert json.loads((run / LOCK_NAME).read_text())["pid"] == live.pid  # the killed process's lock is left
    done = json.loads((run / "backup" / "training_metadata.json").read_text())["epoch"]

    assert cli.main(["train", "lenet5", "--epochs", str(done + 1), "--batch-size", "32", "--data-dir", str(mnist_dir),
                     "--output", str(run)]) == 0
    out, err = capsys.readouterr()
    assert f"took over the stale lock of pid {live.pid}" in err
    assert "Resuming the interrupted run" in out
    assert _epochs_logged(run)[-1] == done and len(set(_epochs_logged(run))) == len(_epochs_logged(run))
    assert not (run / LOCK_NAME).exists() and (run / "model.keras").is_file()


@pytest.mark.slow
def test_ctrl_c_stops_a_training_run_keeping_its_backup(mnist_dir, tmp_path):
    """One SIGINT mid-training stops `kerazoo train` for good: exit code 130, no traceback of kerazoo's, the
    message saying where the backup is, and the run folder as the interrupted-run contract says (the backup of
    the finished epochs, their history rows, the lock released, no results)."""
    import re

    run = tmp_path / "run"
    # SIGINT as a terminal's Ctrl-C delivers it (a background shell's children inherit SIGINT ignored)
    proc = subprocess.Popen(_kerazoo("train", "lenet5", "--epochs", 1000, "--batch-size", 32, "--data-dir", mnist_dir,
                                     "--output", run), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _wait_for(lambda: (run / "backup" / "training_metadata.json").exists(), proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err[-3000:]
    ours = re.sub(r"Exception ignored in[^\n]*\nTraceback \(most recent call last\):\n(?:[ \t][^\n]*\n)*[^\n]*\n?",
                  "", err)  # Python's own notes of an interrupt landing in a finaliser are not kerazoo's
    assert "Traceback" not in ours, err[-3000:]
    assert f"kerazoo train: interrupted. The finished epochs are backed up in {run / 'backup'}; rerun the same " \
           "command to resume" in err, err[-3000:]
    done = json.loads((run / "backup" / "training_metadata.json").read_text())["epoch"]
    logged = _epochs_logged(run)  # the backup is written just before the epoch's row: one row fewer at most
    assert done >= 1 and logged == list(range(len(logged))) and done - 1 <= len(logged) <= done
    assert not (run / LOCK_NAME).exists() and not (run / "run.json").exists()


def test_lock_in_process_names_the_holder(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()} on host {socket.gethostname()}"):
            RunLock(tmp_path).acquire()
    with RunLock(tmp_path) as lock:  # released: free again, and no stale owner to report
        assert lock.took_over is None


class Interrupt(Exception):
    pass


def _interrupted_run(mnist_dir, run, epochs_done):
    import keras

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == epochs_done - 1:
                raise Interrupt

    with pytest.raises(Interrupt):
        kerazoo.train("lenet5", epochs=5, batch_size=32, data_dir=mnist_dir, output=run, callbacks=[Stop()], verbose=0)


@pytest.mark.parametrize("damage", ["torn weights", "truncated metadata", "both states"])
def test_torn_backup_falls_back_or_restarts_saying_so(mnist_dir, tmp_path, damage, capsys):
    run = tmp_path / "run"
    _interrupted_run(mnist_dir, run, epochs_done=2)
    backup = run / "backup"
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 2
    if damage in ("torn weights", "both states"):
        weights = (backup / "latest.weights.h5").read_bytes()
        (backup / "latest.weights.h5").write_bytes(weights[: len(weights) // 2])
    if damage in ("truncated metadata", "both states"):
        (backup / "training_metadata.json").write_text('{"epoch": ')
    if damage == "both states":
        (backup / "training_metadata.json.bkp").write_text("")
    capsys.readouterr()
    assert cli.main(["train", "lenet5", "--epochs", "3", "--batch-size", "32", "--data-dir", str(mnist_dir),
                     "--output", str(run)]) == 0
    out = capsys.readouterr()
    if damage == "both states":
        assert f"No readable backup in {backup}: the run restarts from epoch 0." in out.err
        assert _epochs_logged(run) == [0, 1, 2]
    else:
        what = "latest.weights.h5 is torn or missing" if damage == "torn weights" else \
            "training_metadata.json is unreadable"
        assert what in out.err and "Resuming from the last whole backup (epoch 1)." in out.err, out.err
        assert _epochs_logged(run) == [0, 1, 2]  # epoch 1 again, logged once


@pytest.mark.parametrize("killed_after", [0, 1, 2, 3])
def test_a_kill_inside_a_backup_write_leaves_a_state_to_resume(mnist_dir, tmp_path, monkeypatch, killed_after):
    """The second epoch's save dies after `killed_after` of its four renames. Its state was written whole
    (`incoming.*`, synced) before the first rename, so every rerun resumes from it: at epoch 2, with
    exactly the weights the model had when the save began (not the first epoch's, not a mix)."""
    import keras

    run = tmp_path / "run"
    calls = {"n": 0, "saves": 0}
    saved = {}
    real_replace, real_save = os.replace, backup_module.AtomicBackupAndRestore._save_model

    def save(self):
        calls["saves"] += 1
        calls["n"] = 0
        saved[calls["saves"]] = [w.copy() for w in self.model.get_weights()]
        real_save(self)

    def replace(a, b):
        if calls["saves"] == 2 and str(a).startswith(str(run / "backup")):
            if calls["n"] == killed_after:
                raise Interrupt
            calls["n"] += 1
        real_replace(a, b)

    monkeypatch.setattr(backup_module.AtomicBackupAndRestore, "_save_model", save)
    monkeypatch.setattr(backup_module.os, "replace", replace)
    with pytest.raises(Interrupt):
        kerazoo.train("lenet5", epochs=3, batch_size=32, data_dir=mnist_dir, output=run, verbose=0)
    monkeypatch.undo()
    started, weights = [], []

    class Watch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            started.append(epoch)
            weights.append([w.copy() for w in self.model.get_weights()])

    kerazoo.train("lenet5", epochs=3, batch_size=32, data_dir=mnist_dir, output=run, callbacks=[Watch()], verbose=0)
    assert started == [2], started
    assert not all(np.array_equal(a, b) for a, b in zip(saved[1], saved[2]))  # the two states differ
    for restored, second in zip(weights[0], saved[2]):
        np.testing.assert_array_equal(restored, second)
    assert _epochs_logged(run)[-1] == 2 and sorted(set(_epochs_logged(run))) == _epochs_logged(run)


def test_backups_pair_metadata_and_weights_by_sha256(mnist_dir, tmp_path):
    """Each metadata file records the sha256 of its weights, and the restore pairs them by it, not by name:
    with the current and previous weights files swapped by hand (each metadata beside the other's weights),
    the run resumes at epoch 2 with the second epoch's weights."""
    import h5py
    import keras

    run = tmp_path / "run"
    _interrupted_run(mnist_dir, run, epochs_done=2)
    backup = run / "backup"
    current, previous = backup / "latest.weights.h5", backup / "latest.weights.h5.bkp"
    record = json.loads((backup / "training_metadata.json").read_text())
    assert record["epoch"] == 2 and record["weights_sha256"] == kerazoo.artifacts.sha256(current)
    assert json.loads((backup / "training_metadata.json.bkp").read_text())["weights_sha256"] == \
        kerazoo.artifacts.sha256(previous) != record["weights_sha256"]

    def arrays(path):
        """The network's weights in a .weights.h5 file (the optimizer's state left out)."""
        with h5py.File(path, "r") as f:
            out = []
            f["layers"].visititems(lambda name, node: out.append(np.asarray(node))
                                   if isinstance(node, h5py.Dataset) else None)
            return out

    second = arrays(current)
    os.replace(current, tmp_path / "swap")
    os.replace(previous, current)
    os.replace(tmp_path / "swap", previous)
    started, weights = [], []

    class Watch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            started.append(epoch)
            model = keras.models.clone_model(self.model)
            model.set_weights(self.model.get_weights())
            model.save_weights(tmp_path / f"begin{epoch}.weights.h5")
            weights.append(arrays(tmp_path / f"begin{epoch}.weights.h5"))

    kerazoo.train("lenet5", epochs=3, batch_size=32, data_dir=mnist_dir, output=run, callbacks=[Watch()], verbose=0)
    assert started == [2]
    assert len(weights[0]) == len(second) > 0
    for restored, expected in zip(weights[0], second):
        np.testing.assert_array_equal(restored, expected)


def test_failed_start_leaves_nothing_behind(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataNotFoundError):
        kerazoo.train("lenet5", data_dir=tmp_path / "nothing-here")
    assert not (tmp_path / "kerazoo_runs").exists()

    mine = tmp_path / "mine"  # a folder the user made is kept, with what was in it
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(DataNotFoundError):
        kerazoo.train("lenet5", data_dir=tmp_path / "nothing-here", output=mine)
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]

    run = tmp_path / "run"  # a run with progress is kept when a rerun fails
    _interrupted_run(mnist_dir, run, epochs_done=1)
    kept = sorted(p.relative_to(run).as_posix() for p in run.rglob("*"))
    with pytest.raises(DataNotFoundError):
        kerazoo.train("lenet5", epochs=5, batch_size=32, data_dir=tmp_path / "nothing-here", output=run)
    assert sorted(p.relative_to(run).as_posix() for p in run.rglob("*")) == kept


KILL_WHEN_FIT_ENDS = r"""
import os, signal, sys
import keras
import kerazoo

class KillWhenFitEnds(keras.callbacks.Callback):  # as training ends: before the finished state is saved
    def on_train_end(self, logs=None):
        os.kill(os.getpid(), signal.SIGKILL)

kerazoo.train("lenet5", epochs=2, batch_size=32, data_dir=sys.argv[1], output=sys.argv[2], verbose=0,
              callbacks=[KillWhenFitEnds()])
"""


@pytest.mark.long  # a real process killed in a window after fit: a minute on 2 cores
def test_a_run_killed_as_training_ends_resumes_at_its_last_epoch(mnist_dir, tmp_path, capsys):
    """Killed as `fit` ended, before run.json was written, a run keeps its backup (issue 25: it was deleted at the
    end of fit, and the rerun trained again from epoch 0): the rerun resumes after the last epoch and trains none."""
    run = tmp_path / "run"
    killed = subprocess.run([sys.executable, "-c", KILL_WHEN_FIT_ENDS, str(mnist_dir), str(run)], capture_output=True,
                            text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert json.loads((run / "backup" / "training_metadata.json").read_text())["epoch"] == 2
    assert not (run / "run.json").exists() and _epochs_logged(run) == [0, 1]
    assert cli.main(["train", "lenet5", "--epochs", "2", "--batch-size", "32", "--data-dir", str(mnist_dir),
                     "--output", str(run)]) == 0
    out, err = capsys.readouterr()
    assert f"Resuming the interrupted run in {run} after epoch 2" in out and "Epoch 1/2" not in out, out[-3000:]
    assert "trains again from epoch 0" not in err, err[-3000:]
    assert (run / "run.json").is_file() and _epochs_logged(run) == [0, 1] and not (run / "backup").exists()
    assert cli.main(["train", "lenet5", "--epochs", "1", "--batch-size", "32", "--data-dir", str(mnist_dir),
                     "--output", str(run)]) == 0
    assert "finished training" not in capsys.readouterr().err, "a run that wrote its results is not flagged"


def test_a_run_stopped_before_its_results_resumes_with_its_final_weights(mnist_dir, tmp_path, monkeypatch):
    """Stopped after training but before run.json was written, a run keeps its backup, the weights `fit` ended
    with marked finished (issue 25: the backup was deleted at the end of fit and the rerun trained from epoch 0).
    The rerun trains no epoch, writes the results, and its model holds those weights; then the backup goes."""
    import keras

    from kerazoo.training import run as run_module

    run = tmp_path / "run"

    def killed(out, results):  # as a kill there would: the model is saved, run.json is not
        raise Interrupt

    monkeypatch.setattr(run_module, "_write_results", killed)
    with pytest.raises(Interrupt):
        kerazoo.train("lenet5", epochs=2, batch_size=32, data_dir=mnist_dir, output=run, verbose=0)
    monkeypatch.undo()
    record = json.loads((run / "backup" / "training_metadata.json").read_text())
    assert record["epoch"] == 2 and record["finished"] is True and not (run / "run.json").exists()
    trained = keras.saving.load_model(run / "model.keras").get_weights()
    started = []

    class Watch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            started.append(epoch)

    kerazoo.train("lenet5", epochs=2, batch_size=32, data_dir=mnist_dir, output=run, callbacks=[Watch()], verbose=0)
    assert started == [], f"epochs {started} trained again"
    assert json.loads((run / "run.json").read_text())["epochs_run"] == 2 and _epochs_logged(run) == [0, 1]
    assert not (run / "backup").exists()
    resumed = keras.saving.load_model(run / "model.keras").get_weights()
    assert len(resumed) == len(trained) > 0
    for a, b in zip(resumed, trained):
        np.testing.assert_array_equal(a, b)
