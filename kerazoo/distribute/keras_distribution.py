"""The strategy switch on JAX: `keras.distribution` instead of `tf.distribute`.

Keras' own multi-backend distribution API (keras.io/guides/distribution) runs data parallelism as one SPMD
program: `keras.distribution.DataParallel` replicates the variables over a device mesh and splits every batch
along it, and plain `fit`, `evaluate` and `predict` run on it (no custom loop: Keras' multi-worker `fit` fails
on TensorFlow only). The kinds map as follows:

- `cpu`, and `auto` with one local device: no distribution (JAX runs on its default device).
- `mirrored`, `gpu`, `tpu`, and `auto` with several local devices: `DataParallel` over the local devices
  (`cpu_replicas=N` splits the CPU into N devices: `XLA_FLAGS=--xla_force_host_platform_device_count=N`,
  which must be set before JAX starts).
- `multiworker`: `keras.distribution.initialize(job_addresses, num_processes, process_id)` from the same
  cluster description as on TensorFlow (`TF_CONFIG`, or a Slurm step's `SLURM_*` variables: the chief, or
  worker 0, is the coordinator), then `DataParallel` over every device of every process. `tf.data` pipelines
  are sharded between the processes by Keras (`Distribution.distribute_dataset`).

The distribution is set for the whole process (`keras.distribution.set_distribution`), as Keras' guide does:
every model built and trained after it uses it. Importing this module imports neither JAX nor Keras.
"""
from __future__ import annotations

import os
import re

from kerazoo.errors import StrategyError

__all__ = ["is_distribution", "distribution", "process_index", "process_count", "cluster_addresses",
           "barrier", "all_equal", "without_distribution", "local_devices", "even_batches"]

_CREATED: dict = {}


def is_distribution(strategy) -> bool:
    """True for a `keras.distribution.Distribution` (the JAX form of a strategy)."""
    return strategy is not None and hasattr(strategy, "device_mesh") and hasattr(strategy, "distribute_dataset")


def local_devices(kind: str | None = None) -> list:
    import jax

    try:
        return jax.local_devices(backend=kind) if kind else jax.local_devices()
    except RuntimeError:  # no such platform
        return []


def _split_cpu(n: int) -> None:
    """`cpu_replicas=n`: n host devices, which XLA reads from XLA_FLAGS when JAX starts its CPU backend."""
    import sys

    if not isinstance(n, int) or n < 1:
        raise StrategyError(f"cpu_replicas must be a positive int. Received: {n!r}.")
    flag = f"--xla_force_host_platform_device_count={n}"
    current = re.search(r"--xla_force_host_platform_device_count=(\d+)", os.environ.get("XLA_FLAGS", ""))
    if current and int(current.group(1)) == n:
        return
    if "jax" in sys.modules and _backends_started():
        have = len(local_devices("cpu"))
        if have == n:
            return
        raise StrategyError(f"cpu_replicas={n}: JAX has already started with {have} CPU device(s). Set "
                            f"XLA_FLAGS={flag} before the program starts (or create the strategy first, in a fresh "
                            "process).")
    os.environ["XLA_FLAGS"] = (re.sub(r"--xla_force_host_platform_device_count=\d+", "",
                                      os.environ.get("XLA_FLAGS", "")) + " " + flag).strip()


def _backends_started() -> bool:
    try:
        from jax._src import xla_bridge

        return bool(getattr(xla_bridge, "_backends", {}))
    except ImportError:  # another JAX layout: assume started, the device count check decides
        return True


def cluster_addresses() -> tuple[str, int, int]:
    """`(coordinator host:port, processes, this process's id)` from TF_CONFIG or Slurm (`cluster.py`): the
    chief (else worker 0) coordinates; process ids follow the cluster's order, chief first."""
    from kerazoo.distribute.cluster import multiworker_cluster, slurm_tf_config

    if not os.environ.get("TF_CONFIG") and os.environ.get("SLURM_PROCID") is not None:
        config = slurm_tf_config()  # no GPU partitioning on JAX: JAX finds its devices itself
    else:
        config, _ = multiworker_cluster()
    cluster, task = config["cluster"], config["task"]
    members = [("chief", i) for i in range(len(cluster.get("chief", [])))] + \
              [("worker", i) for i in range(len(cluster.get("worker", [])))]
    addresses = [cluster[t][i] for t, i in members]
    return addresses[0], len(members), members.index((task["type"], task["index"]))


def distribution(kind: str, *, cpu_replicas: int | None = None, say=print):
    """The `keras.distribution.DataParallel` (or None) for a strategy kind on JAX; set for the process."""
    if kind == "multiworker":
        return _multiprocess(say)
    if cpu_replicas:
        _split_cpu(cpu_replicas)
    import keras

    if kind == "gpu" and not local_devices("gpu"):
        raise StrategyError(f"strategy('gpu'): JAX sees no GPU. Found: {_found()}. A GPU needs a CUDA build of "
                            "JAX (pip install 'jax[cuda12]').")
    if kind == "tpu" and not local_devices("tpu"):
        raise StrategyError(f"strategy('tpu'): JAX sees no TPU. Found: {_found()}.")
    devices = keras.distribution.list_devices()  # this process's: "cpu:0", "cpu:1", ...
    if kind == "cpu" or (kind in ("auto", "gpu", "tpu") and len(devices) == 1):
        say(f"no distribution: JAX's default device {devices[0]}")
        return None
    key = ("local", *devices)
    if key not in _CREATED:
        _CREATED[key] = keras.distribution.DataParallel(devices=devices)
    keras.distribution.set_distribution(_CREATED[key])
    say(f"keras.distribution.DataParallel over {len(devices)} device(s): {', '.join(str(d) for d in devices)}"
        + ("" if len(devices) > 1 else " (one replica: cpu_replicas=N splits the CPU)"))
    return _CREATED[key]


def _multiprocess(say):
    import keras

    if ("multiprocess",) in _CREATED:
        return _CREATED[("multiprocess",)]
    coordinator, processes, index = cluster_addresses()
    try:
        keras.distribution.initialize(job_addresses=coordinator, num_processes=processes, process_id=index)
    except RuntimeError as e:
        raise StrategyError("strategy('multiworker') on JAX must be created at the start of the program, before any "
                            f"JAX computation ({e}).") from e
    devices = keras.distribution.list_devices()
    _CREATED[("multiprocess",)] = dist = keras.distribution.DataParallel(devices=devices)
    keras.distribution.set_distribution(dist)
    say(f"keras.distribution.DataParallel: process {index} of {processes} (coordinator {coordinator}), "
        f"{len(devices)} devices in all")
    return dist


def _found() -> str:
    return ", ".join(str(d) for d in local_devices()) or "nothing"


def process_index() -> int:
    import jax

    return jax.process_index()


def process_count() -> int:
    import jax

    return jax.process_count()


def barrier(name: str) -> None:
    """Every process waits here until all have arrived (a no-op in one process)."""
    if process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def all_equal(value: int) -> list[int]:
    """`value` of every process, in process order (one process: `[value]`)."""
    if process_count() == 1:
        return [int(value)]
    import numpy as np
    from jax.experimental import multihost_utils

    return [int(v) for v in np.asarray(multihost_utils.process_allgather(np.array([value]))).ravel()]


class without_distribution:
    """A context in which no distribution is set (a plain copy of a model is loaded there)."""

    def __enter__(self):
        import keras

        self.previous = keras.distribution.distribution()
        keras.distribution.set_distribution(None)

    def __exit__(self, *exc):
        import keras

        keras.distribution.set_distribution(self.previous)


def even_batches(dataset, global_batch: int):
    """This process's share of every whole global batch of `dataset`, for `fit` over several processes (with
    the distribution's `auto_shard_dataset` off: the pipeline is already this process's).

    Every step is collective, so every process must take the same number of steps on batches of the same
    size: the examples are batched again into whole global batches (the pipeline's order, shuffling and
    augmentation kept, the last partial batch dropped), and process i takes the i-th slice of each. Unlike
    Keras' own sharding (`rebatch` then `shard`), the number of steps stays known, as Keras' progress and
    checks need.
    """
    if dataset is None:
        return None
    import tensorflow as tf

    count = dataset.map(lambda *batch: tf.shape(tf.nest.flatten(batch)[0], out_type=tf.int64)[0])
    examples = int(count.reduce(tf.constant(0, tf.int64), lambda n, k: n + k))  # one pass over the pipeline
    share, index = global_batch // process_count(), process_index()
    if share * process_count() != global_batch:
        raise StrategyError(f"the global batch {global_batch} does not split evenly between {process_count()} processes")
    mine = lambda *batch: tf.nest.map_structure(lambda t: t[index * share:(index + 1) * share],  # noqa: E731
                                                batch if len(batch) > 1 else batch[0])
    whole = dataset.unbatch().batch(global_batch, drop_remainder=True).map(mine)
    return whole.apply(tf.data.experimental.assert_cardinality(examples // global_batch))
