"""Choosing a strategy by one switch, and working inside it: scope, precision, batch size, copies.

`strategy(kind)` gives a `tf.distribute.Strategy` (see the package docstring for the kinds);
`scope(strategy)` is its scope plus its mixed-precision policy; `global_batch_size` turns a
recipe's per-replica batch into the batch the pipeline must produce; `copy_model` moves a model
into (or out of) a strategy; `refuse_multiworker` is the one refusal of operations that run
Keras' `fit`, which fails under `MultiWorkerMirroredStrategy`.

Module state: `_CREATED`, the strategies this process created (one per kind and devices).
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable

from kerazoo.distribute import keras_distribution
from kerazoo.distribute.cluster import is_multiworker, multiworker_cluster
from kerazoo.distribute.keras_distribution import is_distribution
from kerazoo.errors import StrategyError

__all__ = ["KINDS", "strategy", "as_strategy", "kind_of", "add_arguments", "from_arguments", "precision_policy",
           "scope", "global_batch_size", "replicas", "refuse_multiworker", "copy_model", "unwrap", "keras_backend"]

KINDS = ("auto", "cpu", "gpu", "mirrored", "tpu", "multiworker")
logger = logging.getLogger("kerazoo.distribute")

_TPU_ENV = ("TPU_NAME", "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS", "TPU_CONFIG", "COLAB_TPU_ADDR")
_CREATED: dict = {}  # (kind, devices...) -> the strategy this process created for them (see _once)


def keras_backend() -> str:
    """The Keras backend this process runs (`KERAS_BACKEND`, read when Keras is first imported)."""
    import keras

    return keras.backend.backend()


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
    if keras_backend() != "tensorflow":  # JAX: keras.distribution (keras_distribution.py)
        return keras_distribution.distribution(kind, cpu_replicas=cpu_replicas, say=lambda m: _say(m, verbose))
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
    if is_distribution(spec):  # a keras.distribution.Distribution (JAX)
        return spec
    import tensorflow as tf

    if not isinstance(spec, tf.distribute.Strategy):
        raise StrategyError(f"{what} must be a kind ({', '.join(KINDS)}) or a tf.distribute.Strategy. "
                            f"Received: {spec!r} of type {type(spec).__name__}.")
    return spec


def kind_of(strategy=None) -> str:
    """The kind a strategy is (`multiworker`, `tpu`, `mirrored`, `cpu`, `one_device`, `default`), for records;
    on JAX a `DataParallel` over several processes is `multiworker`, over one process's devices `mirrored`."""
    if is_distribution(strategy):
        return "multiworker" if strategy.num_processes > 1 else "mirrored"
    if strategy is None and keras_backend() != "tensorflow":
        return "default"
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
    config, resolver = multiworker_cluster()  # TF_CONFIG, or the SLURM_* variables of a job step
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


def precision_policy(strategy=None) -> str:
    """The mixed-precision policy that pays on `strategy`'s devices.

    `mixed_bfloat16` on TPU, `mixed_float16` when every GPU has tensor cores (compute capability
    >= 7.0: V100, T4, A100, ...), `float32` otherwise (CPU, older GPUs). On JAX: `mixed_bfloat16` on TPU,
    `float32` otherwise.
    """
    if is_distribution(strategy) or (strategy is None and keras_backend() != "tensorflow"):
        return "mixed_bfloat16" if keras_distribution.local_devices("tpu") else "float32"
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

    if strategy is None and keras_backend() == "tensorflow":
        import tensorflow as tf

        strategy = tf.distribute.get_strategy()
    previous = keras.mixed_precision.global_policy()
    policy = precision_policy(strategy) if precision == "auto" else precision
    try:
        if policy is not None and policy != previous.name:
            keras.mixed_precision.set_global_policy(policy)
            logger.info("mixed precision policy %s", policy)
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            yield strategy
    finally:
        keras.mixed_precision.set_global_policy(previous)


def global_batch_size(per_replica: int, strategy=None) -> int:
    """`per_replica * replicas in sync`: the batch size the input pipeline must produce.

    kerazoo recipes give the batch size per replica, so each replica computes on the recipe's
    batch whatever the hardware; `experimental_distribute_dataset` and Keras split the global
    batch between the replicas (and the workers; on JAX, Keras shards a `tf.data` pipeline between the
    processes).
    """
    return int(per_replica) * replicas(strategy)


def strategy_of(model):
    """The `tf.distribute.Strategy` `model` was built under, or None: on JAX and torch models have no
    `distribute_strategy` (a JAX run's `keras.distribution` is global, not the model's).

    Example:
      >>> replicas(strategy_of(model))       # 1 on one device or another backend
    """
    return getattr(model, "distribute_strategy", None)


def replicas(strategy=None) -> int:
    """The replicas a batch is split between: `num_replicas_in_sync` of a TF strategy (default: the current
    one), the devices of a JAX `DataParallel`, 1 on JAX without distribution."""
    if is_distribution(strategy):
        return int(strategy.num_model_replicas)
    if strategy is None and keras_backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return int((strategy or tf.distribute.get_strategy()).num_replicas_in_sync)


def refuse_multiworker(strategy, what: str, *, instead: str = "") -> None:
    """Raises `StrategyError` when `strategy` is `"multiworker"` or a `MultiWorkerMirroredStrategy`:
    the one refusal of every operation that trains with Keras' `fit`, which fails there (Keras 3.15,
    keras-team/keras#20585). `what` names the operation, `instead` says what to do."""
    several = is_distribution(strategy) and strategy.num_processes > 1  # JAX: fit runs, but one process is asked
    if not (strategy == "multiworker" if isinstance(strategy, str) else is_multiworker(strategy) or several):
        return
    if keras_backend() != "tensorflow":
        raise StrategyError(f"{what} runs in one process (received strategy={strategy!r}); on JAX only kerazoo train "
                            "spreads over several processes. Accepted here: auto, cpu, gpu, mirrored, tpu."
                            f"{' ' + instead if instead else ''}")
    raise StrategyError(f"{what} does not run under MultiWorkerMirroredStrategy (received strategy={strategy!r}): it "
                        "trains with Keras' fit, which fails there (Keras 3.15). Accepted here: auto, cpu, gpu, "
                        f"mirrored, tpu, or a one-machine tf.distribute.Strategy.{' ' + instead if instead else ''}")


def copy_model(model, strategy=None, *, compile: bool = True):
    """A copy of `model` with the same weights (a `.keras` round trip), built inside
    `scope(strategy)`, or outside any strategy when `strategy` is None.

    Args:
      model: any Keras model, built under any strategy.
      strategy: where the copy lives (None: TensorFlow's default strategy, a plain model).
      compile: keep the compile state and optimizer (as saved in the `.keras` file).
    """
    import keras

    with tempfile.TemporaryDirectory(prefix="kerazoo-copy-") as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        if strategy is not None:
            place = scope(strategy)
        else:  # JAX: outside the process's distribution; TensorFlow: outside any strategy scope
            place = contextlib.nullcontext() if keras_backend() == "tensorflow" else \
                keras_distribution.without_distribution()
        with place:
            return keras.saving.load_model(path, compile=compile)


def unwrap(model):
    """A plain copy of a model trained under a strategy (same weights, compile state and optimizer).

    `evaluate` does not run under `MultiWorkerMirroredStrategy` either; the copy evaluates, predicts
    and saves as usual. Call it on every worker (outside the strategy scope).
    """
    return copy_model(model)
