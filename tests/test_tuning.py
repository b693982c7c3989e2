"""Hyperparameter search: every model's search space, a search that resumes, distributed tuning.

The search space test is parametrised over the registry, so a new model is covered by being
registered. Searches run LeNet-5 on small synthetic digits (a bright bar whose position is the
class) so a trial takes seconds.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

import kerazoo
from kerazoo import tuning
from kerazoo.config import ConfigError, read_overlay
from kerazoo.testing import synthetic_digits

MODELS = kerazoo.list_models()


def _within(space, values):
    """Every searched value lies inside what its parameter declares."""
    for p in space.params:
        if p.arg not in values:
            continue
        value, spec = values[p.arg], p.spec
        if p.kind in ("int", "float"):
            assert spec["min"] <= value <= spec["max"], (p.key, value)
        elif p.kind == "choice":
            assert tuning.specs.find_value(spec["values"], value) is not None, (p.key, value)
        elif p.kind == "boolean":
            assert isinstance(value, bool), (p.key, value)
        elif p.kind == "list":
            length, item = spec["length"], spec["item"]
            lo, hi = (length, length) if isinstance(length, int) else (length["min"], length["max"])
            assert lo <= len(value) <= hi, (p.key, value)
            if item["type"] != "choice":
                assert all(item["min"] <= v <= item["max"] for v in value), (p.key, value)


@pytest.mark.parametrize("name", MODELS)
def test_search_space_builds_at_defaults_and_at_a_random_sample(name):
    import keras
    import keras_tuner as kt

    hm = tuning.hypermodel(name)
    assert isinstance(hm, kt.HyperModel)
    hp = kt.HyperParameters()
    assert isinstance(hm.build(hp), keras.Model)
    kwargs, recipe = hm.sample(hp)
    changed = {k: (hm.kwargs[k], v) for k, v in kwargs.items() if k in hm.kwargs and hm.kwargs[k] != v}
    assert not changed and recipe == hm.recipe, f"{name}: the default point is not the config as trained: {changed}"

    sample = tuning.sample_hyperparameters(hm, seed=1)
    model = hm.build(sample)
    kwargs, recipe = hm.sample(sample)
    _within(hm.space, hm.space.flat(*hm.space.values_of(sample.values)))
    if "learning_rate" in hm.space.flat(*hm.space.declare(sample)):  # compiled with the sampled recipe
        assert float(model.optimizer.learning_rate) == pytest.approx(recipe.learning_rate, rel=1e-6)


def _interrupt_second_trial(marker):
    """A callback that lets the first trial run and interrupts the second, as Ctrl-C would."""
    import keras

    class Interrupt(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            if marker.exists():
                raise KeyboardInterrupt
            marker.touch()

    return Interrupt()


def test_random_search_resumes_and_its_overlay_trains(tmp_path):
    from kerazoo.training.run import resolve

    data = synthetic_digits(320)
    options = dict(max_trials=2, epochs=1, data=data, directory=tmp_path, tensorboard=False, verbose=0)
    with pytest.raises(KeyboardInterrupt):
        tuning.tune("lenet5", callbacks=[_interrupt_second_trial(tmp_path / "started")], **options)
    interrupted = json.loads((tmp_path / "lenet5" / "trial_1" / "trial.json").read_text())

    result = tuning.tune("lenet5", **options)  # the same directory: resumes
    assert result.ran == ["1"], "the completed trial was run again, or the interrupted one was not"
    assert [t["trial_id"] for t in result.trials] == ["0", "1"]
    assert all(t["status"] == "COMPLETED" for t in result.trials)
    trial_1 = result.tuner_object.oracle.trials["1"].hyperparameters.values
    assert trial_1 == interrupted["hyperparameters"]["values"], "the interrupted trial came back with other values"

    space = tuning.load_search_space("lenet5")
    _within(space, result.best_hyperparameters)
    assert result.best["score"] == max(t["score"] for t in result.trials)
    assert result.best["score"] > 0.5, "the search did not learn the synthetic digits"
    assert read_overlay(result.overlay_path) == result.overlay
    _, recipe, kwargs = resolve("lenet5", config=result.overlay_path)
    for key, value in result.overlay["model"].items():
        assert kwargs[key] == (tuple(value) if isinstance(value, list) else value)
    for key, value in result.overlay["recipe"].items():
        assert getattr(recipe, key) == value
    assert result.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "lenet5" / "results.json").read_text())["best"]["trial_id"] == result.best["trial_id"]

    with pytest.raises(tuning.TuningError, match="different search_space"):  # resuming another search is refused
        tuning.tune("lenet5", search_space={"learning_rate": {"type": "float", "min": 1e-3, "max": 1e-2}}, **options)


def test_objective_the_model_does_not_produce_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"'val_auc' is not produced by lenet5: its logs have .*val_accuracy"):
        tuning.tune("lenet5", objective="val_auc", max_trials=1, epochs=1, data=synthetic_digits(64), directory=tmp_path,
                    tensorboard=False, verbose=0)


def test_a_family_callback_can_log_the_objective(tmp_path, monkeypatch):
    """A family's `metric_callbacks(data)` hook adds metrics fit does not log (seq2seq's exact match)."""
    import keras

    import kerazoo.models.lenet as family
    from kerazoo.family import FamilyHooks, hooks

    class Score(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_exact_match"] = 0.25 + epoch

    monkeypatch.setattr(family, "HOOKS", FamilyHooks(metric_callbacks=lambda data: [Score()]), raising=False)
    hooks.cache_clear()
    try:
        result = tuning.tune("lenet5", objective="val_exact_match", max_trials=1, epochs=2, data=synthetic_digits(64),
                             directory=tmp_path, tensorboard=False, verbose=0)
    finally:
        monkeypatch.undo()
        hooks.cache_clear()
    assert result.direction == "max" and result.best["score"] == pytest.approx(1.25)


@pytest.mark.parametrize("space, message", [
    ({"learning_rte": {"type": "float", "min": 1e-4, "max": 1e-2}}, r"unknown key 'learning_rte'.*'learning_rate'"),
    ({"dropout": {"type": "float", "min": 0.5, "max": 0.1}}, r"'dropout': min \(0.5\) is greater than max \(0.1\)"),
    ({"dropout": {"type": "float", "min": 0.0, "max": 0.5, "stp": 0.1}}, r"'dropout' \(float\): unknown option 'stp'"),
    ({"dropout": {"type": "uniform"}}, r"'dropout': unknown type 'uniform'"),
    ({"batch_size": {"type": "choice", "values": []}}, r"'batch_size': a choice needs a non-empty list"),
    ({"learning_rate": {"type": "float", "min": 0.0, "max": 0.1, "sampling": "log"}}, r"'learning_rate': log sampling needs min > 0"),
    ({"dropout": {"type": "float", "min": 0, "max": 0.5, "when": {"variant": "modern"}}}, r"'dropout': `when` names 'variant'"),
    ({"variant": {"type": "choice", "values": ["classic", "modern"]},
      "dropout": {"type": "float", "min": 0, "max": 0.5, "when": {"variant": "moden"}}}, r"'variant' never takes 'moden'"),
    ({"classes": {"type": "float", "min": 2, "max": 10}}, r"'classes': a sampled value 2.0 would not pass the type check"),
    ({"dataset": {"type": "choice", "values": ["mnist", "digits"]}}, r"recipe field 'dataset' cannot be searched"),
    ({"objective": {"name": "val_thing"}}, r"'objective': cannot tell whether 'val_thing' should be minimised"),
])
def test_bad_search_space_names_the_key(space, message):
    text = yaml.safe_dump({"search_space": space}, sort_keys=False)  # as written in zoo_configs/<name>.yaml
    with pytest.raises(ConfigError, match=message):
        tuning.load_search_space("lenet5", search_space=yaml.safe_load(text)["search_space"])


def test_clear_errors_before_any_training(tmp_path):
    with pytest.raises(tuning.TuningError, match=r"Unknown tuner 'annealing'. Accepted: random, bayesian, hyperband, grid"):
        tuning.tune("lenet5", tuner="annealing")
    with pytest.raises(tuning.TuningError, match="nothing to search"):
        tuning.tune("lenet5", search_space={}, data=synthetic_digits(8), directory=tmp_path)
    port = _free_port()
    started = time.monotonic()
    with pytest.raises(tuning.ChiefUnreachableError, match=f"No KerasTuner chief answered at 127.0.0.1:{port} within 1 s"):
        tuning.tune("lenet5", chief=f"127.0.0.1:{port}", worker=1, chief_timeout=1, data=synthetic_digits(8), directory=tmp_path)
    assert time.monotonic() - started < 30
    assert "KERASTUNER_ORACLE_IP" not in os.environ, "tune() left KerasTuner's variables behind"
    with pytest.raises(tuning.TuningError, match="HOST:PORT"):
        tuning.tune("lenet5", chief="localhost", data=synthetic_digits(8), directory=tmp_path)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_distributed_chief_and_two_workers_run_every_trial_once(tmp_path):
    (x, y), (xt, yt) = synthetic_digits(320), synthetic_digits(40, seed=1)
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)  # the recipe's data set, offline
    address = f"127.0.0.1:{_free_port()}"
    command = [sys.executable, "-m", "kerazoo.tuning", "tune", "lenet5", "--chief", address, "--max-trials", "4",
               "--epochs", "1", "--directory", str(tmp_path / "search"), "--data-dir", str(tmp_path),
               "--no-tensorboard", "--quiet", "--chief-timeout", "120"]
    roles = {"chief": [], "worker1": ["--worker", "1"], "worker2": ["--worker", "2"]}
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    procs, logs = {}, {}
    try:
        for role, extra in roles.items():
            logs[role] = open(tmp_path / f"{role}.log", "w+")
            procs[role] = subprocess.Popen(command + extra, stdout=logs[role], stderr=subprocess.STDOUT, env=env,
                                           start_new_session=True)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and any(p.poll() is None for p in procs.values()):
            time.sleep(0.5)
        output = {role: (tmp_path / f"{role}.log").read_text()[-3000:] for role in roles}
        assert all(p.poll() == 0 for p in procs.values()), f"exit codes {[p.poll() for p in procs.values()]}: {output}"
    finally:
        for p in procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        for f in logs.values():
            f.close()

    project = tmp_path / "search" / "lenet5"
    reported = {}
    for worker in ("tuner1", "tuner2"):
        for trial in json.loads((project / f"worker_{worker}.json").read_text())["trials"]:
            assert trial["trial_id"] not in reported, f"trial {trial['trial_id']} was run twice"
            reported[trial["trial_id"]] = trial
    results = json.loads((project / "results.json").read_text())
    assert sorted(reported) == sorted(t["trial_id"] for t in results["trials"]) and len(reported) == 4
    assert all(t["status"] == "COMPLETED" for t in results["trials"])
    best = results["best"]
    assert best["trial_id"] in reported and best["score"] == reported[best["trial_id"]]["score"]
    assert best["values"] == reported[best["trial_id"]]["values"]
    assert (project / "best.yaml").exists() and "val_accuracy" in output["chief"]
