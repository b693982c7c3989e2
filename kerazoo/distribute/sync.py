"""Replica statistics sync: `BatchNormalization`'s moving statistics averaged across replicas.

Module state: `_SYNC_FUNCTIONS`, each model's traced sync function (weakly keyed: dropped with
the model). Imports Keras (the callback subclasses Keras'); `kerazoo.distribute` loads this
module on first use of its two names.
"""
from __future__ import annotations

import weakref

import keras

from kerazoo.distribute.strategies import strategy_of

__all__ = ["sync_moving_statistics", "SyncMovingStatistics"]

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
    if keras.backend.backend() != "tensorflow":  # keras.distribution normalises over the global batch: no copies
        return 0
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



class SyncMovingStatistics(keras.callbacks.Callback):
    """Averages the replicas' moving statistics (`sync_moving_statistics`) before every validation,
    at every epoch end (before checkpoints) and at the end of training: `fit` under `MirroredStrategy`.

    Example:
      >>> model.fit(data, epochs=5, callbacks=[kerazoo.distribute.SyncMovingStatistics()])
    """

    def _sync(self, *_):
        sync_moving_statistics(self.model, strategy_of(self.model))

    on_test_begin = on_epoch_end = on_train_end = _sync
