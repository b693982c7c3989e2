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

On JAX the same switch gives a `keras.distribution.DataParallel` (`keras_distribution`): over the local
devices, or, for `multiworker`, over every process of the cluster TF_CONFIG or Slurm describe
(`keras.distribution.initialize`), with plain `fit` in every process.

Modules: `strategies` (the switch, scope, precision, batch size, copies, the multi-worker refusal),
`keras_distribution` (the switch on JAX),
`cluster` (TF_CONFIG and Slurm, this process's role, `python -m kerazoo.distribute`), `loop`
(`fit_multiworker`), `sync` (replica statistics; it imports Keras, so it loads on first use).
Importing this package imports neither TensorFlow nor Keras.
"""
from __future__ import annotations

from __future__ import annotations

import importlib

from kerazoo.distribute.cluster import (is_chief, is_multiprocess, is_multiworker, output_dir, slurm_tf_config,
                                        tf_config, worker_info)
from kerazoo.distribute.keras_distribution import is_distribution
from kerazoo.distribute.loop import fit_multiworker
from kerazoo.distribute.strategies import (KINDS, add_arguments, as_strategy, copy_model, from_arguments,
                                           global_batch_size, keras_backend, kind_of, precision_policy,
                                           refuse_multiworker, replicas, scope, strategy, strategy_of, unwrap)
from kerazoo.errors import StrategyError

__all__ = ["KINDS", "StrategyError", "strategy", "as_strategy", "strategy_of", "kind_of", "scope", "precision_policy",
           "global_batch_size", "replicas", "keras_backend", "is_distribution", "is_multiprocess", "add_arguments", "from_arguments", "refuse_multiworker", "copy_model", "unwrap",
           "is_multiworker", "is_chief", "worker_info", "output_dir", "fit_multiworker", "sync_moving_statistics",
           "SyncMovingStatistics", "tf_config", "slurm_tf_config"]

_LAZY = {"sync_moving_statistics": "kerazoo.distribute.sync", "SyncMovingStatistics": "kerazoo.distribute.sync"}


def __getattr__(name):  # the sync module subclasses Keras' Callback: loaded on first use, importing stays light
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
