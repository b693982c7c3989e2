"""Clusters of workers: `TF_CONFIG` and Slurm, who this process is, where it writes, and the
`python -m kerazoo.distribute` command that prints a worker's `TF_CONFIG` for launch scripts.

Importing this module imports neither TensorFlow nor Keras.
"""
from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from kerazoo.errors import StrategyError

__all__ = ["tf_config", "slurm_tf_config", "multiworker_cluster", "is_multiworker", "is_multiprocess", "worker_info",
           "is_chief", "output_dir", "main"]

_TF_CONFIG_EXAMPLE = ('{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                      '"task": {"type": "worker", "index": 0}}')


def multiworker_cluster() -> tuple[dict, object]:
    """`(TF_CONFIG as a dict, cluster resolver or None)` for a `MultiWorkerMirroredStrategy`: from
    `TF_CONFIG`, or from the `SLURM_*` variables of a Slurm job step (then `TF_CONFIG` is set from them
    on CPU nodes; on GPU nodes TensorFlow's `SlurmClusterResolver` also assigns each task its GPUs).

    Raises:
      StrategyError: neither is there, or `TF_CONFIG` is malformed.
    """
    raw = os.environ.get("TF_CONFIG")
    if raw:
        return _check_tf_config(raw), None
    if os.environ.get("SLURM_PROCID") is not None and os.environ.get("SLURM_STEP_NUM_TASKS"):
        if _nvidia_gpus():
            import tensorflow as tf

            resolver = tf.distribute.cluster_resolver.SlurmClusterResolver()  # also sets CUDA_VISIBLE_DEVICES per task
            return {"cluster": resolver.cluster_spec().as_dict(),
                    "task": {"type": resolver.task_type, "index": resolver.task_id}}, resolver
        config = slurm_tf_config()
        os.environ["TF_CONFIG"] = json.dumps(config)
        return config, None
    raise StrategyError("strategy('multiworker') needs TF_CONFIG (JSON naming every worker and this "
                        f"process's index), e.g. TF_CONFIG='{_TF_CONFIG_EXAMPLE}', or a Slurm step "
                        "(SLURM_PROCID, SLURM_STEP_NUM_TASKS). Found neither. "
                        "`python -m kerazoo.distribute tf-config --help` writes one.")


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

# === This process in the cluster ===

def is_multiworker(strategy) -> bool:
    """True for `MultiWorkerMirroredStrategy` (where `fit_multiworker` replaces `fit`)."""
    if strategy is None:
        return False
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def worker_info(strategy=None) -> tuple[str | None, int | None, bool]:
    """`(task_type, task_id, is_chief)` of this process; `(None, None, True)` on one machine.

    The chief is the `chief` task, or worker 0 when the cluster has no `chief` (TF's convention); on JAX
    (a `keras.distribution` over several processes) process 0.
    """
    if strategy is not None and hasattr(strategy, "device_mesh") and getattr(strategy, "num_processes", 1) > 1:
        import jax

        return "worker", jax.process_index(), jax.process_index() == 0
    resolver = getattr(strategy, "cluster_resolver", None) if is_multiworker(strategy) else None
    if resolver is None or resolver.task_type is None:
        return None, None, True
    task_type, task_id = resolver.task_type, resolver.task_id
    chief = task_type == "chief" or (task_type == "worker" and task_id == 0
                                     and "chief" not in resolver.cluster_spec().as_dict())
    return task_type, task_id, chief


def is_multiprocess(strategy) -> bool:
    """True when several processes train together: `MultiWorkerMirroredStrategy`, or on JAX a
    `keras.distribution` over several processes (where plain `fit` runs in every process)."""
    return is_multiworker(strategy) or worker_info(strategy)[0] is not None


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




# === `python -m kerazoo.distribute`: TF_CONFIG for launch scripts ===

def main(argv: Sequence[str] | None = None) -> int:
    """`python -m kerazoo.distribute tf-config --workers H:P,H:P --index I` or `... slurm [--port P]`."""
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
