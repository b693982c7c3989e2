"""kerazoo.distribute: strategy choice and errors, MirroredStrategy parity, the multi-worker loop.

Strategies that need a fresh TensorFlow runtime (logical CPU devices, several workers) run in
subprocesses: own process group, free ports, bounded time, killed on the way out.
"""
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from kerazoo import distribute

LAUNCH_TIMEOUT = 300  # seconds per launch; ~20 s on a quiet 2-core machine


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@contextlib.contextmanager
def _processes():
    """Started processes (own sessions); every one still running is killed with its group on exit."""
    procs = []
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=30)


def _start(procs, args, env, log):
    procs.append(subprocess.Popen([sys.executable, *args], env={**os.environ, **env}, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True))
    return procs[-1]


def _wait(procs, timeout=LAUNCH_TIMEOUT):
    deadline = time.time() + timeout
    for p in procs:
        p.wait(timeout=max(1, deadline - time.time()))
    return [p.returncode for p in procs]


def _cluster_env(n, tmp_path):
    ports = _free_ports(n)
    workers = [f"127.0.0.1:{p}" for p in ports]
    envs = []
    for i in range(n):
        (tmp_path / f"tmp{i}").mkdir(exist_ok=True)
        envs.append({"TF_CONFIG": json.dumps(distribute.tf_config(workers, i)), "TMPDIR": str(tmp_path / f"tmp{i}"),
                     "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "-1"})
    return envs


def _json_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def _planted_mnist(directory, n_train, n_test):
    """An mnist.npz of raw uint8 28x28 'digits': noise plus a bright bar whose row encodes the label."""
    rng = np.random.default_rng(0)
    n = n_train + n_test
    y = np.arange(n) % 10
    x = (rng.random((n, 28, 28)) * 40).astype(np.uint8)
    for i, label in enumerate(y):
        x[i, 2 + 2 * label: 4 + 2 * label, 4:24] = 255
    np.savez(directory / "mnist.npz", x_train=x[:n_train], y_train=y[:n_train].astype(np.uint8),
             x_test=x[n_train:], y_test=y[n_train:].astype(np.uint8))


# === Choosing a strategy ===

def test_auto_is_the_default_strategy_on_cpu(capsys):
    import tensorflow as tf

    assert distribute.strategy("auto") is tf.distribute.get_strategy()
    assert "default strategy on the CPU" in capsys.readouterr().err
    assert distribute.precision_policy() == "float32"  # mixed precision does not pay on CPU
    assert distribute.global_batch_size(32) == 32


def test_cpu_strategy_trains_with_fit(capsys):
    import keras
    import tensorflow as tf

    s = distribute.strategy("cpu")
    assert isinstance(s, tf.distribute.OneDeviceStrategy) and "OneDeviceStrategy on /cpu:0" in capsys.readouterr().err
    with distribute.scope(s):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
    assert model.distribute_strategy is s
    x = np.ones((8, 3), "float32")
    history = model.fit(x, x[:, :1], batch_size=4, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and history.history["loss"][1] < history.history["loss"][0]


@pytest.mark.parametrize("kind, says", [("tpu", "no TPU configured. Found: CPU:0"),
                                        ("gpu", "TensorFlow sees no GPU. Found: CPU:0")])
def test_missing_hardware_is_a_clear_error(kind, says, monkeypatch):
    for var in ("TPU_NAME", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS", "TPU_CONFIG", "COLAB_TPU_ADDR"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(distribute.StrategyError, match=says):
        distribute.strategy(kind)


def test_unknown_kind_and_misplaced_option_say_what_is_accepted():
    with pytest.raises(distribute.StrategyError, match="Accepted: auto, cpu, gpu, mirrored, tpu, multiworker"):
        distribute.strategy("mirorred")
    with pytest.raises(distribute.StrategyError, match="cpu_replicas is for kind='mirrored'"):
        distribute.strategy("auto", cpu_replicas=2)


@pytest.mark.parametrize("tf_config, says", [
    (None, "needs TF_CONFIG"),
    ("{not json", "TF_CONFIG is not valid JSON"),
    ('{"cluster": {"ps": ["a:1"]}, "task": {"type": "ps", "index": 0}}', "non-empty 'worker'"),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}', "'index': 0..1"),
])
def test_multiworker_needs_a_valid_tf_config(tf_config, says, monkeypatch):
    monkeypatch.delenv("SLURM_PROCID", raising=False)
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(distribute.StrategyError, match=says):
        distribute.strategy("multiworker")


def test_tf_config_for_launchers(monkeypatch, capsys):
    assert distribute.tf_config(["a:1", "b:1"], 1) == {"cluster": {"worker": ["a:1", "b:1"]},
                                                       "task": {"type": "worker", "index": 1}}
    with pytest.raises(distribute.StrategyError, match="index must be in 0..1"):
        distribute.tf_config(["a:1", "b:1"], 2)
    # a Slurm step of 4 tasks on 2 CPU nodes: rank 3 is the second task of node02
    for var, value in {"SLURM_PROCID": "3", "SLURM_STEP_NUM_TASKS": "4", "SLURM_STEP_NODELIST": "node[01-02]",
                       "SLURM_STEP_TASKS_PER_NODE": "2(x2)"}.items():
        monkeypatch.setenv(var, value)
    from kerazoo.distribute.cluster import main

    assert main(["slurm", "--port", "9000"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "cluster": {"worker": ["node01:9000", "node01:9001", "node02:9000", "node02:9001"]},
        "task": {"type": "worker", "index": 3}}


def test_strategy_options_are_checked_before_anything_trains(tmp_path, capsys):
    import kerazoo
    from kerazoo import cli, tuning

    assert cli.main(["train", "lenet5", "--strategy", "cpu", "--cpu-replicas", "2", "--data-dir", str(tmp_path)]) == 2
    assert "--cpu-replicas is for --strategy mirrored. Received: --strategy cpu" in capsys.readouterr().err
    with pytest.raises(distribute.StrategyError, match=r"strategy must be a kind \(auto, cpu, .*Received: 42"):
        kerazoo.train("lenet5", strategy=42, data_dir=tmp_path, output=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    # fit-based fine-tuning and KerasTuner trials refuse multi-worker training, naming the alternative
    with pytest.raises(distribute.StrategyError, match="finetune does not run under MultiWorkerMirroredStrategy"):
        kerazoo.finetune(kerazoo.get("lenet5"), (np.zeros((4, 32, 32, 1)), np.zeros(4)), strategy="multiworker")
    with pytest.raises(tuning.TuningError, match="KerasTuner's chief/worker mode spreads a search over machines"):
        tuning.tune("lenet5", strategy="multiworker", directory=tmp_path)
    assert cli.main(["finetune", "lenet5", "--weights", "mnist", "--dataset", "digits", "--strategy",
                     "multiworker"]) == 2
    assert "Accepted here: auto, cpu, gpu, mirrored, tpu" in capsys.readouterr().err


# === MirroredStrategy over two logical CPUs ===

MIRRORED = textwrap.dedent("""
    import json, keras, numpy as np, tensorflow as tf
    from kerazoo import distribute

    s = distribute.strategy("mirrored", cpu_replicas=2)   # before TensorFlow initialises
    rng = np.random.default_rng(0)
    x = rng.random((128, 6)).astype("float32"); y = (x[:, :3].sum(1) > 1.5).astype("float32")

    def build():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh"),
                                  keras.layers.Dense(1, activation="sigmoid")])
        model.compile(keras.optimizers.SGD(0.5), "binary_crossentropy", metrics=["accuracy"])
        return model

    single = build()
    initial = single.get_weights()
    single.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    with distribute.scope(s):
        mirrored = build()
    mirrored.set_weights(initial)
    mirrored.fit(x, y, batch_size=distribute.global_batch_size(8, s), epochs=3, shuffle=False, verbose=0)
    v = mirrored.weights[0].value
    copies = [c.numpy() for c in s.experimental_local_results(v)]
    with distribute.scope(s):  # batch norm: Keras 3 lets each replica keep its own moving statistics
        bn = keras.Sequential([keras.Input((6,)), keras.layers.BatchNormalization(), keras.layers.Dense(1)])
        bn.compile("sgd", "mse")
    bn.fit(x * np.arange(128)[:, None], y, batch_size=32, epochs=1, shuffle=False, verbose=0,
           callbacks=[distribute.SyncMovingStatistics()])
    stats = [c.numpy() for c in s.experimental_local_results(bn.layers[0].moving_mean.value)]
    print(json.dumps({"replicas": s.num_replicas_in_sync, "kind": type(v).__name__,
                      "bn_copies_equal": bool(np.array_equal(stats[0], stats[1])) and float(np.abs(stats[0]).max()) > 0,
                      "devices": [c.device for c in s.experimental_local_results(v)],
                      "copies_equal": all(np.array_equal(copies[0], c) for c in copies),
                      "max_diff": max(float(np.abs(a - b).max())
                                      for a, b in zip(single.get_weights(), mirrored.get_weights())),
                      "moved": max(float(np.abs(a - b).max()) for a, b in zip(initial, mirrored.get_weights()))}))
""")


@pytest.mark.slow
def test_mirrored_on_two_logical_cpus_matches_one_device(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED)
    log = tmp_path / "mirrored.log"
    with _processes() as procs, open(log, "w") as f:
        _start(procs, [str(script)], {"TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "-1"}, f)
        assert _wait(procs) == [0], log.read_text()[-3000:]
    (out,) = _json_lines(log)
    assert out["replicas"] == 2 and out["kind"] == "MirroredVariable" and out["copies_equal"]
    assert out["bn_copies_equal"], "SyncMovingStatistics gives every replica the same moving statistics"
    assert [d.split("/")[-1] for d in out["devices"]] == ["device:CPU:0", "device:CPU:1"]
    assert out["moved"] > 1e-2, "training must change the weights, or the comparison proves nothing"
    assert out["max_diff"] < 1e-5, "2 replicas x batch 8 must train like 1 device x batch 16"


ZOO_MIRRORED = textwrap.dedent("""
    import json, sys
    from kerazoo import distribute

    data_dir, out = sys.argv[1], sys.argv[2]
    s = distribute.strategy("mirrored", cpu_replicas=2)   # splits the CPU before TensorFlow initialises
    import keras, numpy as np
    import kerazoo
    from kerazoo import tuning

    RUNS = []
    class Watch(keras.callbacks.Callback):                  # what each fit runs on (KerasTuner copies callbacks)
        def on_train_begin(self, logs=None):
            RUNS.append({"replicas": self.model.distribute_strategy.num_replicas_in_sync,
                         "variable": type(self.model.trainable_variables[0].value).__name__,
                         "steps": self.params["steps"], "steps_per_execution": self.model.steps_per_execution})

    report = {"same_strategy": distribute.strategy("mirrored") is s}  # one per devices: collectives would collide
    # kerazoo.train by kind: the process's MirroredStrategy over the two logical CPUs
    result = kerazoo.train("lenet5", strategy="mirrored", epochs=2, batch_size=8, learning_rate=3e-3, data_dir=data_dir,
                           output=f"{out}/run", callbacks=[Watch()], verbose=0,
                           config={"recipe": {"steps_per_execution": 4}})
    bn = next(l for l in result.model.layers if isinstance(l, keras.layers.BatchNormalization))
    copies = result.model.distribute_strategy.experimental_local_results(bn.moving_mean.value)
    report["train"] = {"runs": RUNS[:], "metrics": result.metrics,
                       "bn_copies_equal": bool(np.array_equal(copies[0].numpy(), copies[1].numpy()))}

    rng = np.random.default_rng(0)
    y = np.arange(96) % 3
    x = (rng.random((96, 28, 28)) * 40).astype("uint8")
    for i, label in enumerate(y):
        x[i, 4 + 8 * label: 10 + 8 * label, 4:24] = 255
    model = kerazoo.get("lenet5", variant="modern", input_shape=(28, 28), rescaling=1 / 255, classes=3)  # outside
    head = model.get_layer("predictions").get_weights()[0].copy()
    del RUNS[:]
    kerazoo.finetune(model, (x, y), head_epochs=1, finetune_epochs=1, batch_size=8, strategy=s, callbacks=[Watch()],
                     verbose=0)
    report["finetune"] = {"runs": RUNS[:], "variable": type(model.trainable_variables[0].value).__name__,
                          "head_moved": float(np.abs(model.get_layer("predictions").get_weights()[0] - head).max()),
                          "trainable": [l.name for l in model.layers if l.trainable and l.weights],
                          "evaluates": sorted(model.evaluate(x, y, verbose=0, return_dict=True))}

    del RUNS[:]
    search = tuning.tune("lenet5", max_trials=1, epochs=1, data=(x, y % 10), directory=f"{out}/tune",
                         tensorboard=False, verbose=0, strategy=s, callbacks=[Watch()],
                         search_space={"learning_rate": {"type": "float", "min": 1e-3, "max": 1e-2},
                                       "batch_size": {"type": "fixed", "value": 8}})
    report["tune"] = {"runs": RUNS[:], "status": [t["status"] for t in search.trials]}
    print(json.dumps(report))
""")


@pytest.mark.slow
@pytest.mark.long
def test_kerazoo_train_finetune_and_tune_under_mirrored_on_two_logical_cpus(tmp_path):
    _planted_mnist(tmp_path, 200, 40)
    script = tmp_path / "zoo_mirrored.py"
    script.write_text(ZOO_MIRRORED)
    log = tmp_path / "zoo_mirrored.log"
    with _processes() as procs, open(log, "w") as f:
        _start(procs, [str(script), str(tmp_path), str(tmp_path / "out")],
               {"TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "-1"}, f)
        assert _wait(procs) == [0], log.read_text()[-3000:]
    report = _json_lines(log)[-1]
    # one step per call under MirroredStrategy, whatever the recipe says (Keras' multi-step loop fails there)
    mirrored = {"replicas": 2, "variable": "MirroredVariable", "steps_per_execution": 1}
    assert report["same_strategy"]

    # train: 180 training digits in global batches of 2 x 8 = 12 steps (not 23); replicas agree on batch norm
    assert report["train"]["runs"] == [{**mirrored, "steps": 12}]
    assert report["train"]["bn_copies_equal"] and report["train"]["metrics"]["test_accuracy"] > 0.5
    run = json.loads((tmp_path / "out" / "run" / "run.json").read_text())
    assert run["strategy"] == {"kind": "mirrored", "replicas": 2, "global_batch_size": 16}
    assert run["recipe"]["batch_size"] == 8, "the recipe keeps the per-replica batch"

    # finetune: a model built outside the strategy is copied in, trained there, and written back
    finetune = report["finetune"]
    assert finetune["runs"] == [{**mirrored, "steps": 6}] * 2  # 96 examples, global batch 16, both phases
    assert finetune["variable"] != "MirroredVariable" and finetune["head_moved"] > 1e-4
    assert finetune["trainable"] == ["c1", "c3", "c5", "f6", "predictions"] and "accuracy" in finetune["evaluates"]

    # tune: every trial is built in the strategy's scope (KerasTuner's distribution_strategy), batch 8 per replica
    assert report["tune"]["runs"] == [{**mirrored, "steps": 6}] and report["tune"]["status"] == ["COMPLETED"]


# === Several workers: the one custom loop ===

WORKER = textwrap.dedent("""
    import json, os, sys
    from kerazoo import distribute

    out, epochs, crash_epoch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    s = distribute.strategy("multiworker")                  # first: collectives need a fresh runtime
    import keras, numpy as np, tensorflow as tf

    task_type, task_id, chief = distribute.worker_info(s)
    keras.utils.set_random_seed(100 + task_id)              # differs: the chief's initial values are broadcast
    rng = np.random.default_rng(0)
    x = rng.random((96, 6)).astype("float32"); y = (x[:, :3].sum(1) > 1.5).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(distribute.global_batch_size(8, s))
    with distribute.scope(s):
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh"),
                                  keras.layers.BatchNormalization(), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(keras.optimizers.Adam(0.02), "binary_crossentropy", metrics=["accuracy"],
                      steps_per_execution=4)              # 6 steps an epoch: calls of 4, then 2

    started = []
    class Crash(keras.callbacks.Callback):                  # worker 1 dies inside epoch `crash_epoch`
        def on_epoch_begin(self, epoch, logs=None):
            started.append(epoch)
        def on_train_batch_end(self, batch, logs=None):
            if task_id == 1 and started[-1] == crash_epoch:
                os._exit(17)

    run = distribute.output_dir(os.path.join(out, "run"), s)
    run.mkdir(parents=True, exist_ok=True)
    history = distribute.fit_multiworker(
        model, data, validation_data=data, epochs=epochs, checkpoint_dir=os.path.join(out, "ckpt"), strategy=s,
        callbacks=[Crash(), keras.callbacks.CSVLogger(str(run / "history.csv"), append=True)], verbose=2)
    plain = distribute.unwrap(model)
    print(json.dumps({"task": task_id, "chief": chief, "started": started, "history": history,
                      "weights": [w.tolist() for w in model.get_weights()],
                      "evaluate": plain.evaluate(x, y, verbose=0, return_dict=True)}), flush=True)
""")


@pytest.mark.slow
def test_two_workers_train_alike_chief_checkpoints_and_a_restart_resumes(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / "out"

    # 1) worker 1 dies in epoch 2 (after the epoch-1 checkpoint); the launcher stops the chief
    envs = _cluster_env(2, tmp_path)
    logs = [tmp_path / f"first{i}.log" for i in range(2)]
    with _processes() as procs:
        for env, log in zip(envs, logs):
            with open(log, "w") as f:
                _start(procs, [str(script), str(out), "4", "2"], env, f)
        assert procs[1].wait(timeout=LAUNCH_TIMEOUT) == 17, logs[1].read_text()[-3000:]
    checkpoints = sorted(p.name for p in (out / "ckpt").iterdir())
    assert checkpoints == ["checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index"], checkpoints
    for i in range(2):  # the non-chief wrote its copies under its TMPDIR and deleted them
        assert not [p for p in (tmp_path / f"tmp{i}").rglob("*") if "ckpt" in p.name], i

    # 2) the same command again on both workers: resumes at epoch 2 from the chief's checkpoint
    envs = _cluster_env(2, tmp_path)
    logs = [tmp_path / f"second{i}.log" for i in range(2)]
    with _processes() as procs:
        for env, log in zip(envs, logs):
            with open(log, "w") as f:
                _start(procs, [str(script), str(out), "4", "-1"], env, f)
        codes = _wait(procs)
    assert codes == [0, 0], "\n".join(log.read_text()[-2000:] for log in logs)
    results = [_json_lines(log)[-1] for log in logs]
    assert [r["chief"] for r in results] == [True, False]
    assert all(r["started"] == [2, 3] for r in results), "a restart continues at the next epoch"
    for a, b in zip(results[0]["weights"], results[1]["weights"]):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    assert results[0]["history"] == results[1]["history"], "metrics are reduced across the workers"
    # the history is over all 96 samples: the unwrapped copy evaluates the same numbers
    assert results[0]["history"]["val_loss"][-1] == pytest.approx(results[0]["evaluate"]["loss"], rel=1e-5)
    assert results[0]["history"]["loss"][-1] < results[0]["history"]["loss"][0]
    rows = (out / "run" / "history.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2", "3"], "only the chief's log, each epoch once"
    assert not (out / "ckpt").exists(), "the checkpoint is removed once training completes"


@pytest.mark.slow
@pytest.mark.long
def test_kerazoo_train_multiworker_resumes_after_a_kill(tmp_path):
    _planted_mnist(tmp_path, 96, 24)
    run = tmp_path / "run"
    command = ["-m", "kerazoo.cli", "train", "lenet5", "--strategy", "multiworker", "--epochs", "3", "--batch-size",
               "8", "--data-dir", str(tmp_path), "--output", str(run)]

    # 1) the job is killed (every worker) once the chief has written a checkpoint
    with _processes() as procs:
        for i, env in enumerate(_cluster_env(2, tmp_path)):
            with open(tmp_path / f"killed{i}.log", "w") as f:
                _start(procs, command, env, f)
        deadline = time.time() + LAUNCH_TIMEOUT
        while not (run / "backup" / "checkpoint").exists():
            assert time.time() < deadline and all(p.poll() is None for p in procs), \
                (tmp_path / "killed0.log").read_text()[-3000:]
            time.sleep(0.1)
    assert not (run / "model.keras").exists(), "killed before the end"

    # 2) the same command again: resumes from the chief's checkpoint, both workers end alike
    logs = [tmp_path / f"cli{i}.log" for i in range(2)]
    with _processes() as procs:
        for env, log in zip(_cluster_env(2, tmp_path), logs):
            with open(log, "w") as f:
                _start(procs, command, env, f)
        codes = _wait(procs)
    text = [log.read_text() for log in logs]
    assert codes == [0, 0], "\n".join(t[-2000:] for t in text)
    assert "Resuming from" in text[0]
    trained = [next(line for line in t.splitlines() if line.startswith("Trained lenet5")) for t in text]
    assert trained[0].split(";")[0] == trained[1].split(";")[0], "both workers end with the same model"
    with open(run / "history.csv") as f:
        assert {int(line.split(",")[0]) for line in list(f)[1:]} == {0, 1, 2}
    assert (run / "model.keras").is_file() and not (run / "backup").exists()
    recorded = json.loads((run / "run.json").read_text())["strategy"]
    assert recorded == {"kind": "multiworker", "replicas": 2, "global_batch_size": 16}


KILLED_BEFORE_RESULTS = textwrap.dedent("""
    import os, sys
    from kerazoo.training import run
    run._write_results = lambda *args, **kwargs: os._exit(9)   # killed after training, before run.json
    from kerazoo.cli import main
    main(sys.argv[1:])
""")


@pytest.mark.slow
@pytest.mark.long
def test_kerazoo_train_multiworker_keeps_its_checkpoint_until_run_json(tmp_path):
    """A multi-worker run killed once training ended but before its results were written loses nothing: the
    chief's checkpoint is still there, and the same command writes the results without training again."""
    _planted_mnist(tmp_path, 96, 24)
    run, script = tmp_path / "run", tmp_path / "killed.py"
    script.write_text(KILLED_BEFORE_RESULTS)
    args = ["train", "lenet5", "--strategy", "multiworker", "--epochs", "2", "--batch-size", "8",
            "--data-dir", str(tmp_path), "--output", str(run)]
    env = _cluster_env(1, tmp_path)[0]
    with _processes() as procs, open(tmp_path / "killed.log", "w") as log:
        _start(procs, [str(script), *args], env, log)
        assert _wait(procs) == [9], (tmp_path / "killed.log").read_text()[-3000:]
    assert (run / "backup" / "checkpoint").is_file() and not (run / "run.json").exists()

    with _processes() as procs, open(tmp_path / "again.log", "w") as log:
        _start(procs, ["-m", "kerazoo.cli", *args], _cluster_env(1, tmp_path)[0], log)
        assert _wait(procs) == [0], (tmp_path / "again.log").read_text()[-3000:]
    text = (tmp_path / "again.log").read_text()
    assert "Resuming from" in text and "Epoch 1/2" not in text and "Epoch 2/2" not in text, text[-3000:]
    with open(run / "history.csv") as f:
        assert [int(line.split(",")[0]) for line in list(f)[1:]] == [0, 1], "each epoch trained and logged once"
    assert (run / "run.json").is_file() and (run / "model.keras").is_file() and not (run / "backup").exists()
