"""`fit_multiworker`: kerazoo's one custom training loop, for `MultiWorkerMirroredStrategy` only,
where Keras 3.15 / TF 2.21 `fit` and `evaluate` fail before the first step ("Attempt to convert a
value (PerReplica...)", keras-team/keras#20585, tensorflow/tensorflow#72388).

Importing this module imports neither TensorFlow nor Keras.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable, Sequence

from kerazoo.distribute.cluster import worker_info

__all__ = ["fit_multiworker"]


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
        call ends with a cross-worker metric read; 32 steps per call measured 1.26x the throughput of
        1 on two local workers (benchmarks/speed.py, medians of 3).
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

    from kerazoo.distribute.sync import sync_moving_statistics  # imports Keras: loaded when training starts

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
