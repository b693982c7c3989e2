"""Distribution strategies, mixed precision and the one multi-worker training loop.

`strategy(kind)` gives a `tf.distribute.Strategy` chosen by one switch:

- `auto`: a TPU when one is configured, else every local GPU (`MirroredStrategy` on 2+; on one
  GPU the default strategy, TensorFlow places the ops on `/GPU:0` itself), else the default strategy.
- `cpu`: `OneDeviceStrategy("/cpu:0")`, also on a GPU machine.
- `gpu`: as `auto` for GPUs; an error saying what was found when TensorFlow sees none.
- `mirrored`: `MirroredStrategy` over the local GPUs, or over the logical CPU devices
  (`cpu_replicas=N` splits the CPU).
- `tpu`: `TPUStrategy` (connects and initialises the TPU system); an error when none is configured.
- `multiworker`: `MultiWorkerMirroredStrategy` from `TF_CONFIG` (or the `SLURM_*` variables of a
  Slurm step).

Build and compile the model inside `scope(strategy)`: the strategy's scope plus its mixed-precision
policy (`precision_policy`: `mixed_bfloat16` on TPU, `mixed_float16` on GPUs with tensor cores,
`float32` on CPU). A recipe's `batch_size` is per replica: the global batch that the input
pipeline produces is `global_batch_size(batch_size, strategy)` = batch size x replicas, so one
replica sees the recipe's batch whatever the hardware (the learning rate is not rescaled).
`kerazoo.train`, `finetune` and `tune` take `strategy=` (a kind or a strategy) and do all this.
A process gets one strategy per kind and devices: asking again returns the same object (two
`MirroredStrategy` objects over the same devices break each other's collectives in TF 2.21).

Keras' `fit` works under `MirroredStrategy` (checked on 2 logical CPUs, and `OneDeviceStrategy`);
`TPUStrategy` is the strategy `fit` was designed for, but is not tested here (no TPU). Under
`MultiWorkerMirroredStrategy`, Keras 3.15 / TF 2.21 `fit` and `evaluate` fail before the first step
("Attempt to convert a value (PerReplica...)", keras-team/keras#20585, tensorflow/tensorflow#72388),
so `fit_multiworker` is kerazoo's one custom loop, used only there: the model's own `train_step`
/ `test_step` inside `strategy.run` (so the loss scaling, regularisation, loss-scale optimizer and
custom `train_step` overrides are Keras'), chief-only checkpoints and resume.

Import cost: this module imports TensorFlow only when a function needs it.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
import weakref
from pathlib import Path
from typing import Callable, Sequence

__all__ = ["KINDS", "StrategyError", "strategy", "as_strategy", "kind_of", "scope", "precision_policy",
           "global_batch_size",
           "is_multiworker", "is_chief", "worker_info", "output_dir", "fit_multiworker", "unwrap",
           "sync_moving_statistics", "SyncMovingStatistics", "tf_config", "slurm_tf_config"]

KINDS = ("auto", "cpu", "gpu", "mirrored", "tpu", "multiworker")
logger = logging.getLogger(__name__)

_TF_CONFIG_EXAMPLE = ('{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                      '"task": {"type": "worker", "index": 0}}')
_TPU_ENV = ("TPU_NAME", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS", "TPU_CONFIG", "COLAB_TPU_ADDR")


class StrategyError(ValueError):
    """The requested strategy cannot run here; the message says what was found."""


def _say(message: str, verbose: bool) -> None:
    logger.info(message)
    if verbose:
        print(f"kerazoo.distribute: {message}", file=sys.stderr)


# === Choosing a strategy ===

def strategy(kind: str = "auto", *, cpu_replicas: int | None = None, tpu: str | None = None,
             verbose: bool = True):
    """A `tf.distribute.Strategy` for `kind`; says on stderr (and the `kerazoo.distribute` logger) what it picked.

    Args:
      kind: one of `auto`, `cpu`, `gpu`, `mirrored`, `tpu`, `multiworker` (see the module docstring).
      cpu_replicas: `mirrored` without GPUs: split the CPU into this many logical devices first
        (one replica each). Must run before TensorFlow initialises (at program start).
      tpu: TPU name or `grpc://` address for `tpu`/`auto` (default: `TPU_NAME` and friends, or a
        TPU attached to this VM).
      verbose: also print the choice to stderr.

    Returns:
      The strategy. Build and compile models inside `scope(the_strategy)`.

    Raises:
      StrategyError: unknown kind, no TPU/GPU where one was asked for (the message lists the
        devices TensorFlow sees), `TF_CONFIG` absent or malformed, or `cpu_replicas` too late.

    Example:
      >>> s = kerazoo.distribute.strategy("mirrored", cpu_replicas=2)   # 2 replicas on one CPU
      >>> with kerazoo.distribute.scope(s):
      ...     model = kerazoo.get("lenet5", compile=True)
      >>> model.fit(x, y, batch_size=kerazoo.distribute.global_batch_size(64, s))
    """
    if kind not in KINDS:
        raise StrategyError(f"Unknown strategy kind {kind!r}. Accepted: {', '.join(KINDS)}.")
    if cpu_replicas is not None and kind != "mirrored":
        raise StrategyError(f"cpu_replicas is for kind='mirrored' only. Received: kind={kind!r}, "
                            f"cpu_replicas={cpu_replicas}.")
    import tensorflow as tf

    if kind == "multiworker":
        return _multiworker(verbose)
    if kind == "tpu" or (kind == "auto" and (tpu or _tpu_configured())):
        return _tpu_strategy(tpu, verbose)
    if kind == "cpu":
        _say("OneDeviceStrategy on /cpu:0", verbose)
        return tf.distribute.OneDeviceStrategy("/cpu:0")
    gpus = tf.config.list_physical_devices("GPU")
    if kind == "gpu" and not gpus:
        raise StrategyError(f"strategy('gpu'): TensorFlow sees no GPU. Found: {_found_devices()}. A GPU needs a "
                            "CUDA build of TensorFlow (pip install 'tensorflow[and-cuda]') and a driver; "
                            f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '(unset)')}.")
    if kind == "mirrored":
        if gpus:
            devices = [f"/gpu:{i}" for i in range(len(gpus))]
        else:
            if cpu_replicas:
                _split_cpu(cpu_replicas)
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        _say(f"MirroredStrategy over {len(devices)} device(s): {', '.join(devices)}"
             + ("" if gpus or len(devices) > 1 else " (one replica: cpu_replicas=N splits the CPU)"), verbose)
        return _once(("mirrored", *devices), lambda: tf.distribute.MirroredStrategy(devices))
    if len(gpus) > 1:
        _say(f"MirroredStrategy over the {len(gpus)} local GPUs", verbose)
        devices = [f"/gpu:{i}" for i in range(len(gpus))]
        return _once(("mirrored", *devices), lambda: tf.distribute.MirroredStrategy(devices))
    hint = " (TF_CONFIG is set: use kind='multiworker' to train on the cluster)" if os.environ.get("TF_CONFIG") else ""
    _say(("default strategy on the one GPU (/GPU:0)" if gpus else "default strategy on the CPU (no TPU or GPU found)")
         + hint, verbose)
    return tf.distribute.get_strategy()


def as_strategy(spec, *, what: str = "strategy", verbose: bool = True):
    """`spec` as a strategy: None stays None (TensorFlow's default strategy, nothing changed), a kind
    is created with `strategy(kind)`, a `tf.distribute.Strategy` is returned as is.

    Raises:
      StrategyError: anything else, or an unknown kind (the message says what is accepted).
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        return strategy(spec, verbose=verbose)
    import tensorflow as tf

    if not isinstance(spec, tf.distribute.Strategy):
        raise StrategyError(f"{what} must be a kind ({', '.join(KINDS)}) or a tf.distribute.Strategy. "
                            f"Received: {spec!r} of type {type(spec).__name__}.")
    return spec


def kind_of(strategy=None) -> str:
    """The kind a strategy is (`multiworker`, `tpu`, `mirrored`, `cpu`, `one_device`, `default`), for records."""
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    if is_multiworker(strategy):
        return "multiworker"
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "tpu"
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        return "mirrored"
    if isinstance(strategy, tf.distribute.OneDeviceStrategy):
        return "cpu" if "CPU" in strategy.extended.worker_devices[0].upper() else "one_device"
    return "default"


def add_arguments(parser) -> None:
    """`--strategy KIND` and `--cpu-replicas N` on an argparse (sub)parser (`kerazoo train/finetune/tune`)."""
    parser.add_argument("--strategy", choices=KINDS, help="distribution strategy (default: TensorFlow's default); "
                        "the recipe's batch size is per replica")
    parser.add_argument("--cpu-replicas", type=int, metavar="N",
                        help="with --strategy mirrored and no GPU: split the CPU into N replicas")


def from_arguments(args):
    """The strategy `add_arguments`' options ask for: None, a kind, or a created strategy (`--cpu-replicas`)."""
    if args.cpu_replicas is None:
        return args.strategy
    if args.strategy != "mirrored":
        raise StrategyError(f"--cpu-replicas is for --strategy mirrored. Received: --strategy {args.strategy}, "
                            f"--cpu-replicas {args.cpu_replicas}.")
    return strategy("mirrored", cpu_replicas=args.cpu_replicas)


_CREATED: dict = {}  # (kind, devices...) -> the strategy this process created for them


def _once(key: tuple, make: Callable):
    """One strategy per kind and devices in a process, created on first use. Two `MirroredStrategy`
    objects over the same devices break each other's collectives in TF 2.21 ("Shape mismatch in the
    collective instance 100": both number their all-reduces from the same keys), and a second
    `MultiWorkerMirroredStrategy` cannot be created at all; so `strategy()` hands out the same one."""
    if key not in _CREATED:
        _CREATED[key] = make()
    return _CREATED[key]


def _found_devices() -> str:
    import tensorflow as tf

    return ", ".join(d.name.replace("/physical_device:", "") for d in tf.config.list_physical_devices()) or "nothing"


def _tpu_configured() -> bool:
    """A TPU is named in the environment, or attached to this VM with libtpu installed (no network probe)."""
    import importlib.util

    attached = Path("/dev/accel0").exists() or Path("/dev/vfio/0").exists()
    return any(os.environ.get(v) for v in _TPU_ENV) or (attached and importlib.util.find_spec("libtpu") is not None)


def _tpu_strategy(tpu: str | None, verbose: bool):
    import tensorflow as tf

    if not (tpu or _tpu_configured()):
        raise StrategyError(f"strategy('tpu'): no TPU configured. Found: {_found_devices()}; none of "
                            f"{', '.join(_TPU_ENV)} is set and no TPU device (/dev/accel0) is attached. On a "
                            "Cloud TPU VM pass tpu='local'; for a TPU node set TPU_NAME.")
    name = tpu or os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR") or None
    if name is None and not any(os.environ.get(v) for v in _TPU_ENV):
        name = "local"  # a TPU VM: the chips are attached
    if name and ":" in name and not name.startswith("grpc://"):
        name = f"grpc://{name}"  # COLAB_TPU_ADDR is host:port
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=name)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except Exception as e:  # noqa: BLE001 - resolver/connect/initialise fail in many ways; one message
        raise StrategyError(f"strategy('tpu'): could not connect to TPU {name or '(from the environment)'}: "
                            f"{type(e).__name__}: {str(e).splitlines()[0][:200]}. Found: {_found_devices()}.") from e
    s = tf.distribute.TPUStrategy(resolver)
    _say(f"TPUStrategy on {name or 'the configured TPU'} ({s.num_replicas_in_sync} cores)", verbose)
    return s


def _split_cpu(n: int) -> None:
    import tensorflow as tf

    if not isinstance(n, int) or n < 1:
        raise StrategyError(f"cpu_replicas must be a positive int. Received: {n!r}.")
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == n:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError as e:
        have = len(tf.config.list_logical_devices("CPU"))
        raise StrategyError(f"cpu_replicas={n}: TensorFlow is already initialised with {have} logical CPU "
                            "device(s). Create the strategy at the start of the program, before any TensorFlow "
                            "op (or in a fresh process).") from e


def _multiworker(verbose: bool):
    import tensorflow as tf

    if ("multiworker",) in _CREATED:
        s = _CREATED[("multiworker",)]
        _say(f"MultiWorkerMirroredStrategy (created before): {s.num_replicas_in_sync} replicas in sync", verbose)
        return s
    raw = os.environ.get("TF_CONFIG")
    resolver = None
    if raw:
        config = _check_tf_config(raw)
    elif os.environ.get("SLURM_PROCID") is not None and os.environ.get("SLURM_STEP_NUM_TASKS"):
        if _nvidia_gpus():
            resolver = tf.distribute.cluster_resolver.SlurmClusterResolver()  # also sets CUDA_VISIBLE_DEVICES per task
            config = {"cluster": resolver.cluster_spec().as_dict(),
                      "task": {"type": resolver.task_type, "index": resolver.task_id}}
        else:
            config = slurm_tf_config()
            os.environ["TF_CONFIG"] = json.dumps(config)
    else:
        raise StrategyError("strategy('multiworker') needs TF_CONFIG (JSON naming every worker and this "
                            f"process's index), e.g. TF_CONFIG='{_TF_CONFIG_EXAMPLE}', or a Slurm step "
                            "(SLURM_PROCID, SLURM_STEP_NUM_TASKS). Found neither. "
                            "`python -m kerazoo.distribute tf-config --help` writes one.")
    try:
        s = _once(("multiworker",), lambda: tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver))
    except RuntimeError as e:
        raise StrategyError("strategy('multiworker') must be created at the start of the program, before any "
                            f"TensorFlow op ({e}).") from e
    task = config["task"]
    workers = sum(len(v) for k, v in config["cluster"].items() if k in ("chief", "worker"))
    _say(f"MultiWorkerMirroredStrategy: {task['type']} {task['index']} of {workers} workers, "
         f"{s.num_replicas_in_sync} replicas in sync", verbose)
    return s


def _check_tf_config(raw: str) -> dict:
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as e:
        raise StrategyError(f"TF_CONFIG is not valid JSON ({e}). Expected e.g. TF_CONFIG='{_TF_CONFIG_EXAMPLE}'. "
                            f"Received: {raw[:200]!r}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not any(isinstance(cluster.get(k), list) and cluster[k]
                                                for k in ("worker", "chief")):
        raise StrategyError("TF_CONFIG needs a 'cluster' with a non-empty 'worker' (and optionally 'chief') list "
                            f"of host:port. Expected e.g. {_TF_CONFIG_EXAMPLE}. Received: {raw[:200]}")
    if not isinstance(task, dict) or task.get("type") not in cluster or not isinstance(task.get("index"), int) \
            or not 0 <= task["index"] < len(cluster[task["type"]]):
        raise StrategyError("TF_CONFIG 'task' must name this process: {'type': one of "
                            f"{sorted(cluster)}, 'index': 0..{max(len(v) for v in cluster.values()) - 1}}}. "
                            f"Received: task={task!r}")
    return config


def _nvidia_gpus() -> bool:
    if os.environ.get("CUDA_VISIBLE_DEVICES") not in (None, "", "-1"):
        return True
    return shutil.which("nvidia-smi") is not None


def tf_config(workers: Sequence[str], index: int, *, task_type: str = "worker") -> dict:
    """The `TF_CONFIG` of worker `index` in a cluster of `workers` (`host:port`, same order everywhere).

    Example:
      >>> os.environ["TF_CONFIG"] = json.dumps(tf_config(["10.0.0.1:2222", "10.0.0.2:2222"], 0))
    """
    workers = list(workers)
    if not workers or not all(isinstance(w, str) and ":" in w for w in workers):
        raise StrategyError(f"workers must be a non-empty list of 'host:port'. Received: {workers!r}")
    if not 0 <= index < len(workers):
        raise StrategyError(f"index must be in 0..{len(workers) - 1} for {len(workers)} workers. Received: {index}")
    return {"cluster": {task_type: workers}, "task": {"type": task_type, "index": index}}


def slurm_tf_config(port_base: int = 8888) -> dict:
    """`TF_CONFIG` of this task of a Slurm job step, from `SLURM_PROCID`, `SLURM_STEP_NODELIST` and friends.

    Uses `tf.distribute.cluster_resolver.SlurmClusterResolver` (hosts sorted, tasks of a node on
    consecutive ports from `port_base`, rank = `SLURM_PROCID`). That resolver also partitions GPUs
    between the tasks of a node, and with no GPU it fails (it steps through GPUs per task, 0), so on
    CPU nodes kerazoo asks it for one placeholder GPU per task and keeps only the cluster.
    """
    from tensorflow.python.distribute.cluster_resolver import slurm_cluster_resolver as slurm

    per_node = max(slurm.expand_tasks_per_node(os.environ.get("SLURM_STEP_TASKS_PER_NODE", "1")))
    try:
        resolver = slurm.SlurmClusterResolver(port_base=port_base, gpus_per_node=per_node, gpus_per_task=1,
                                              auto_set_gpu=False)
        cluster = resolver.cluster_spec().as_dict()
    except (RuntimeError, ValueError) as e:
        raise StrategyError(f"Slurm: cannot derive the cluster from the SLURM_* variables ({e}).") from e
    return {"cluster": cluster, "task": {"type": resolver.task_type, "index": resolver.task_id}}


# === Inside a strategy: scope, precision, batch size ===

def precision_policy(strategy=None) -> str:
    """The mixed-precision policy that pays on `strategy`'s devices.

    `mixed_bfloat16` on TPU, `mixed_float16` when every GPU has tensor cores (compute capability
    >= 7.0: V100, T4, A100, ...), `float32` otherwise (CPU, older GPUs).
    """
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "mixed_bfloat16"
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "float32"
    if strategy is not tf.distribute.get_strategy() and \
            all("CPU" in d.upper() for d in strategy.extended.worker_devices):  # pinned to the CPU
        return "float32"
    capabilities = [tf.config.experimental.get_device_details(g).get("compute_capability") or (0, 0) for g in gpus]
    return "mixed_float16" if min(capabilities) >= (7, 0) else "float32"


@contextlib.contextmanager
def scope(strategy=None, *, precision: str | None = "auto"):
    """`strategy.scope()` with its mixed-precision policy set while inside; build and compile here.

    Args:
      strategy: a strategy, or None for TensorFlow's default strategy.
      precision: "auto" (`precision_policy(strategy)`), a Keras dtype policy name, or None to
        leave the global policy alone. The previous policy is restored on exit; layers built inside
        keep theirs.

    Example:
      >>> with kerazoo.distribute.scope(s):
      ...     model = kerazoo.get("lenet5", compile=True)
    """
    import keras
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    previous = keras.mixed_precision.global_policy()
    policy = precision_policy(strategy) if precision == "auto" else precision
    try:
        if policy is not None and policy != previous.name:
            keras.mixed_precision.set_global_policy(policy)
            logger.info("mixed precision policy %s", policy)
        with strategy.scope():
            yield strategy
    finally:
        keras.mixed_precision.set_global_policy(previous)


def global_batch_size(per_replica: int, strategy=None) -> int:
    """`per_replica * replicas in sync`: the batch size the input pipeline must produce.

    kerazoo recipes give the batch size per replica, so each replica computes on the recipe's
    batch whatever the hardware; `experimental_distribute_dataset` and Keras split the global
    batch between the replicas (and the workers).
    """
    import tensorflow as tf

    return int(per_replica) * (strategy or tf.distribute.get_strategy()).num_replicas_in_sync


# === Several workers ===

def is_multiworker(strategy) -> bool:
    """True for `MultiWorkerMirroredStrategy` (where `fit_multiworker` replaces `fit`)."""
    if strategy is None:
        return False
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def worker_info(strategy=None) -> tuple[str | None, int | None, bool]:
    """`(task_type, task_id, is_chief)` of this process; `(None, None, True)` on one machine.

    The chief is the `chief` task, or worker 0 when the cluster has no `chief` (TF's convention).
    """
    resolver = getattr(strategy, "cluster_resolver", None) if is_multiworker(strategy) else None
    if resolver is None or resolver.task_type is None:
        return None, None, True
    task_type, task_id = resolver.task_type, resolver.task_id
    chief = task_type == "chief" or (task_type == "worker" and task_id == 0
                                     and "chief" not in resolver.cluster_spec().as_dict())
    return task_type, task_id, chief


def is_chief(strategy=None) -> bool:
    """True when this process writes the run's files (always, outside multi-worker training)."""
    return worker_info(strategy)[2]


def output_dir(path: str | Path, strategy=None) -> Path:
    """Where this process writes run files: `path` on the chief, a temporary directory (removed at exit) elsewhere.

    Every worker runs the same code; only the chief's logs, checkpoints and models are kept, so the
    workers never overwrite each other on a shared filesystem.
    """
    task_type, task_id, chief = worker_info(strategy)
    if chief:
        return Path(path)
    tmp = Path(tempfile.mkdtemp(prefix=f"kerazoo-{task_type}{task_id}-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    return tmp


def fit_multiworker(model, data, *, epochs: int, checkpoint_dir: str | Path, strategy=None,
                    validation_data=None, steps_per_epoch: int | None = None, callbacks: Sequence = (),
                    verbose: str | int = "auto", delete_checkpoint: bool = True) -> dict:
    """Trains `model` under `MultiWorkerMirroredStrategy` (where Keras' `fit` fails); every worker calls it.

    One step is the model's own `train_step` inside `strategy.run` (a `tf.function`): Keras' compiled
    loss averages over the replica's batch and divides by the replica count, which is the sum over
    the global batch / global batch size (`tf.nn.compute_average_loss`'s rule), gradients are
    all-reduced by the optimizer, and custom `train_step` overrides, regularisation losses and
    mixed-precision loss scaling work as in `fit`. Metrics are Keras' (on-read, summed across all
    replicas of all workers when read), so every worker sees the same logs and callbacks take the
    same decisions (early stopping stops everyone at the same epoch). Moving statistics
    (`BatchNormalization`) are averaged across the replicas at the end of every epoch
    (`sync_moving_statistics`), so the workers end with identical weights.

    After every epoch the model, optimizer and next epoch go to a `tf.train.CheckpointManager` in
    `checkpoint_dir` written by the chief; the other workers write theirs to a temporary directory
    and delete it (every worker saves: TF's multi-worker checkpointing pattern). A restarted job
    (same command, all workers) restores the latest checkpoint and continues at the next epoch;
    `checkpoint_dir` must be readable by every worker (shared filesystem or `gs://`), which is
    checked.

    Args:
      model: a compiled Keras model, built and compiled inside `scope(strategy)`; its
        `steps_per_execution` (a `compile` argument) is honoured: that many steps per call, and the
        callbacks' batch hooks and the progress bar are updated once per call, as in `fit`. Every
        call ends with a cross-worker metric read; 32 steps per call measured 1.2x the throughput of
        1 on two local workers (benchmarks/speed.py).
      data: a `tf.data.Dataset` batched with the *global* batch size (auto-sharded between the
        workers by `experimental_distribute_dataset`: by file for file-based pipelines, by
        element otherwise), or a function `input_context -> dataset` batched per replica
        (`strategy.distribute_datasets_from_function`; shard it with `input_context`).
      epochs: total epochs (a resumed run does the remaining ones).
      checkpoint_dir: the chief's checkpoint directory.
      strategy: the `MultiWorkerMirroredStrategy` (default: the model's).
      validation_data: a dataset like `data` (global batch), evaluated at the end of every epoch.
      steps_per_epoch: steps per epoch over one persistent iterator (for repeated/infinite data);
        default: one pass over `data`.
      callbacks: Keras callbacks, run on every worker with the same reduced logs: `EarlyStopping`,
        `ReduceLROnPlateau`, `TerminateOnNaN`, `LearningRateScheduler`, `CSVLogger`,
        `ModelCheckpoint` and `TensorBoard` (give file-writing ones a path from `output_dir`, so
        only the chief's files are kept). `BackupAndRestore` is fit-only: the checkpoints replace it.
      verbose: progress bar on the chief (`"auto"`/1: bar, 2: one line per epoch, 0: silent).
      delete_checkpoint: remove `checkpoint_dir` after the last epoch (like `BackupAndRestore`),
        so the same command trains again from scratch.

    Returns:
      The history of the epochs run by this call (`{"loss": [...], "val_loss": [...], ...}`).

    Example:
      >>> s = kerazoo.distribute.strategy("multiworker")           # TF_CONFIG names the workers
      >>> with kerazoo.distribute.scope(s):
      ...     model = kerazoo.get("lenet5", compile=True)
      >>> ds = ds.batch(kerazoo.distribute.global_batch_size(64, s))
      >>> history = kerazoo.distribute.fit_multiworker(model, ds, epochs=5, checkpoint_dir="/shared/ckpt", strategy=s)
    """
    import keras
    import tensorflow as tf

    strategy = strategy or model.distribute_strategy
    if getattr(model, "_distribute_strategy", None) is not strategy:
        raise ValueError("fit_multiworker: build and compile the model inside `kerazoo.distribute.scope(strategy)` "
                         "(its variables must be mirrored by that strategy).")
    if not model.compiled:
        raise ValueError("fit_multiworker: compile the model first (inside the strategy scope).")
    _, task_id, chief = worker_info(strategy)
    checkpoint_dir = str(checkpoint_dir)
    train = _distribute(data, strategy)
    val = None if validation_data is None else _distribute(validation_data, strategy)
    steps = steps_per_epoch or _cardinality(data)

    with strategy.scope():
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # so a restore has its slots to fill
    epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    tracked = {"model": model, "epoch": epoch_var}
    if model.optimizer is not None:
        tracked["optimizer"] = model.optimizer
    checkpoint = tf.train.Checkpoint(**tracked)
    write_dir = checkpoint_dir if chief else tempfile.mkdtemp(prefix=f"kerazoo-ckpt-worker{task_id}-")
    manager = tf.train.CheckpointManager(checkpoint, write_dir, max_to_keep=1)
    latest = tf.train.latest_checkpoint(checkpoint_dir)
    if latest:
        checkpoint.restore(latest).assert_existing_objects_matched()
    initial_epoch = int(epoch_var.numpy())
    _check_same_epoch(strategy, initial_epoch, checkpoint_dir)
    if latest and chief and verbose:
        print(f"Resuming from {latest}: epoch {initial_epoch + 1}/{epochs}")

    train_step = _step_function(model, strategy, model.train_step)
    test_step = _step_function(model, strategy, model.test_step) if val is not None else None
    show = (1 if verbose == "auto" else int(verbose)) if chief else 0
    cbs = keras.callbacks.CallbackList(list(callbacks), add_history=True, add_progbar=show != 0, model=model,
                                       verbose=show, epochs=epochs, steps=steps)
    per_call = max(1, int(getattr(model, "steps_per_execution", 1) or 1))  # compile(steps_per_execution=...)
    model.stop_training = False
    iterator = iter(train) if steps_per_epoch else None
    logs: dict = {}
    cbs.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        cbs.on_epoch_begin(epoch)
        it = iterator if iterator is not None else iter(train)
        step = 0
        while steps_per_epoch is None or step < steps_per_epoch:
            wanted = per_call if steps_per_epoch is None else min(per_call, steps_per_epoch - step)
            cbs.on_train_batch_begin(step)
            done, logs = train_step(it, tf.constant(wanted, tf.int64))
            done = int(done)
            if done:
                step += done
                cbs.on_train_batch_end(step - 1, logs)
            if done < wanted:  # end of the data
                break
        logs = _floats(logs)
        sync_moving_statistics(model, strategy)
        if val is not None:
            model.reset_metrics()
            val_it, done = iter(val), per_call
            while done == per_call:
                done, val_logs = test_step(val_it, tf.constant(per_call, tf.int64))
                done = int(done)
            logs.update({f"val_{k}": v for k, v in _floats(val_logs).items()})
        cbs.on_epoch_end(epoch, logs)
        epoch_var.assign(epoch + 1)
        manager.save()  # every worker saves (TF's multi-worker pattern: saving may run collectives)
        if not chief:
            tf.io.gfile.rmtree(write_dir)
        if model.stop_training:
            break
    cbs.on_train_end(logs)
    if chief and delete_checkpoint and tf.io.gfile.exists(checkpoint_dir):
        tf.io.gfile.rmtree(checkpoint_dir)
    return dict(model.history.history)


def _distribute(data, strategy):
    import tensorflow as tf

    if isinstance(data, tf.distribute.DistributedDataset):
        return data
    if callable(data) and not isinstance(data, tf.data.Dataset):
        return strategy.distribute_datasets_from_function(data)
    if not isinstance(data, tf.data.Dataset):
        raise TypeError("fit_multiworker: data must be a tf.data.Dataset batched with the global batch size or a "
                        f"function input_context -> dataset. Received: {type(data).__name__}")
    return strategy.experimental_distribute_dataset(data)


def _cardinality(data) -> int | None:
    import tensorflow as tf

    if not isinstance(data, tf.data.Dataset):
        return None
    n = int(data.cardinality())
    return n if n >= 0 else None


def _step_function(model, strategy, step: Callable):
    """A `tf.function(iterator, n)`: up to n steps on every replica, then (steps done, metrics of all replicas).

    Several steps per call (`steps_per_execution`) save the Python round trip and the cross-worker
    metric read of every step, as in `fit`; the distributed iterator agrees across workers on
    where the data ends.
    """
    import tensorflow as tf

    per_replica = tf.function(step, jit_compile=True) if model.jit_compile else step

    @tf.function(reduce_retracing=True)
    def run(iterator, steps):
        done = tf.constant(0, tf.int64)
        while done < steps:
            batch = iterator.get_next_as_optional()
            if not batch.has_value():
                break
            strategy.run(per_replica, args=(batch.get_value(),))
            done += 1
        return done, model.get_metrics_result()

    return run


def _floats(logs: dict) -> dict:
    return {k: float(v) for k, v in logs.items()}


def _check_same_epoch(strategy, epoch: int, checkpoint_dir: str) -> None:
    """Every worker must resume from the same epoch, or the collectives would hang."""
    import tensorflow as tf

    @tf.function
    def gather():
        return strategy.gather(strategy.run(lambda: tf.constant([epoch], tf.int64)), axis=0)

    epochs = sorted({int(e) for e in gather().numpy()})
    if len(epochs) > 1:
        raise RuntimeError(f"fit_multiworker: the workers resume from different epochs {epochs}: "
                           f"{checkpoint_dir} must be on a filesystem every worker reads (NFS, gs://...).")


_SYNC_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> its traced sync


def sync_moving_statistics(model, strategy=None) -> int:
    """Averages the replicas' copies of the model's moving statistics; returns how many variables.

    Keras 3 creates `BatchNormalization`'s `moving_mean`/`moving_variance` with
    `aggregation="none"`: under `MirroredStrategy` and `MultiWorkerMirroredStrategy` every replica
    updates its own copy from its own slice of the batch, so the copies drift apart and a saved
    model holds one replica's. The moving mean is an exponential average, linear in the batch
    means, so averaging the copies gives exactly the moving mean of the global batches (the
    variance, the average of the replicas'). `fit_multiworker` calls this every epoch; for `fit`
    use the `SyncMovingStatistics` callback. (`BatchNormalization(synchronized=True)` instead
    normalises with the global batch statistics, at one all-reduce per layer and step.)
    """
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    local = [v for v in model.non_trainable_variables if v.aggregation == "none" and "float" in str(v.dtype)]
    if not local or strategy.num_replicas_in_sync == 1:
        return 0
    fn = _SYNC_FUNCTIONS.get(model)
    if fn is None:
        @tf.function
        def fn():
            def replica():
                means = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.MEAN,
                                                                       [tf.identity(v.value) for v in local])
                for v, mean in zip(local, means):
                    v.assign(mean)  # this replica's copy

            strategy.run(replica)

        _SYNC_FUNCTIONS[model] = fn
    fn()
    return len(local)


def _sync_callback_class():
    import keras

    class SyncMovingStatistics(keras.callbacks.Callback):
        """Averages the replicas' moving statistics (`sync_moving_statistics`) before every validation,
        at every epoch end (before checkpoints) and at the end of training: `fit` under `MirroredStrategy`.

        Example:
          >>> model.fit(data, epochs=5, callbacks=[kerazoo.distribute.SyncMovingStatistics()])
        """

        def _sync(self, *_):
            sync_moving_statistics(self.model, self.model.distribute_strategy)

        on_test_begin = on_epoch_end = on_train_end = _sync

    return SyncMovingStatistics


def __getattr__(name):  # the callback class subclasses Keras': defined on first use, so importing stays light
    if name == "SyncMovingStatistics":
        cls = globals()[name] = _sync_callback_class()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def unwrap(model):
    """A plain copy of a model trained under a strategy (same weights, compile state and optimizer).

    `evaluate` does not run under `MultiWorkerMirroredStrategy` either; the copy evaluates, predicts
    and saves as usual. Call it on every worker (outside the strategy scope).
    """
    import keras

    with tempfile.TemporaryDirectory(prefix="kerazoo-unwrap-") as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        return keras.saving.load_model(path)


# === `python -m kerazoo.distribute`: TF_CONFIG for launchers ===

def _main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kerazoo.distribute",
                                     description="Print the TF_CONFIG of this worker (for launch scripts).")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("tf-config", help="from an explicit worker list and index (Kubernetes, SSH, ...)")
    p.add_argument("--workers", required=True, help="comma-separated host:port, the same on every worker")
    p.add_argument("--index", type=int, required=True, help="this worker's position, e.g. $JOB_COMPLETION_INDEX")
    p = sub.add_parser("slurm", help="from the SLURM_* variables of the current job step")
    p.add_argument("--port", type=int, default=8888, help="first port on each node")
    args = parser.parse_args(argv)
    try:
        config = (tf_config(args.workers.split(","), args.index) if args.command == "tf-config"
                  else slurm_tf_config(args.port))
    except StrategyError as e:
        print(f"kerazoo.distribute: {e}", file=sys.stderr)
        return 2
    print(json.dumps(config))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
