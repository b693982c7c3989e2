"""`kerazoo.finetune`: the standard two-phase transfer-learning schedule (Keras' own guide).

Phase 1 trains only the new head on a frozen backbone; phase 2 unfreezes the top of the backbone
and trains on at a lower learning rate. BatchNormalization layers stay frozen throughout, which
in Keras 3 also keeps them in inference mode, so their statistics are not destroyed by a small
target set.

Under a distribution strategy (`strategy=`) both phases run `fit` inside its scope; a model built
elsewhere is copied into the scope, trained there, and its weights written back.
"""
from __future__ import annotations

from typing import Sequence

from kerazoo.inputs import check_model_data

__all__ = ["finetune"]


def _as_dataset(data, batch_size: int, shuffle: bool, seed: int):
    if data is None or hasattr(data, "element_spec"):
        return data
    from kerazoo.data.sources import to_dataset

    return to_dataset(tuple(data), batch_size=batch_size, shuffle=shuffle, seed=seed)


def finetune(model, train, validation=None, *, head: Sequence[str] = ("predictions",), head_epochs: int = 5,
             finetune_epochs: int = 5, learning_rate: float = 1e-3, finetune_learning_rate: float | None = None,
             unfreeze: int | None = None, loss: str | None = None, metrics: Sequence[str] = ("accuracy",),
             batch_size: int = 32, seed: int = 1337, callbacks: Sequence = (), verbose="auto",
             strategy=None) -> dict:
    """Fine-tunes a pretrained model on new data in two phases; returns both histories.

    Args:
      model: e.g. `kerazoo.get("lenet5", weights="mnist", classes=5)`; trained in place.
      train: a `tf.data.Dataset` of `(x, y)` batches (the global batch under a strategy) or an
        `(x, y)` pair of arrays.
      validation: the same, or None.
      head: names of the layers trained in phase 1 (the new head).
      head_epochs: phase-1 epochs (frozen backbone).
      finetune_epochs: phase-2 epochs (top of the backbone unfrozen); 0 skips phase 2.
      learning_rate: phase-1 Adam learning rate.
      finetune_learning_rate: phase-2 learning rate (default `learning_rate / 10`).
      unfreeze: how many of the backbone's top weighted layers phase 2 trains (None: all).
      loss: default sparse categorical cross-entropy (several outputs) or binary cross-entropy.
      metrics, seed, callbacks, verbose: as for `fit`.
      batch_size: per replica, for arrays (their batches hold `batch_size` x replicas examples).
      strategy: None (the strategy the model was built under, usually TensorFlow's default), a kind
        of `kerazoo.distribute.strategy` (`cpu`, `gpu`, `mirrored`, `tpu`) or a
        `tf.distribute.Strategy`. A model built outside that strategy's scope is copied into it,
        fine-tuned there, and the trained weights are written back into `model` (compiled as the
        last phase). `multiworker` is refused: fine-tuning runs Keras' `fit`, which fails there.

    Returns:
      `{"head": history dict, "finetune": history dict}`.

    Example:
      >>> model = kerazoo.get("lenet5.mnist", classes=10)
      >>> kerazoo.finetune(model, (x_small, y_small), head_epochs=3, finetune_epochs=3)
      >>> kerazoo.finetune(model, (x_small, y_small), strategy="mirrored")   # every local GPU
    """
    import keras

    from kerazoo import distribute

    unknown = [name for name in head if name not in {layer.name for layer in model.layers}]
    if unknown:
        raise ValueError(f"finetune: head layers {unknown} are not in model {model.name!r}. "
                         f"Its last layers: {[layer.name for layer in model.layers[-4:]]}")
    distribute.refuse_multiworker(strategy or model.distribute_strategy, "finetune",
                                  instead="kerazoo.train(..., strategy='multiworker') trains a recipe on several "
                                          "machines.")
    check_model_data(model, train, where="finetune train data")  # before any training: NaN, range, labels
    strategy = distribute.as_strategy(strategy, what="finetune strategy")
    target = (model if strategy is None or model.distribute_strategy is strategy
              else distribute.copy_model(model, strategy, compile=False))
    replicas = target.distribute_strategy.num_replicas_in_sync
    train = _as_dataset(train, batch_size * replicas, True, seed)
    validation = _as_dataset(validation, batch_size * replicas, False, seed)
    loss = loss or ("sparse_categorical_crossentropy" if model.output_shape[-1] > 1 else "binary_crossentropy")
    weighted = [layer.name for layer in model.layers if layer.weights and layer.name not in head]
    trained = set(weighted[-unfreeze:] if unfreeze else weighted)
    sync = [distribute.SyncMovingStatistics()] if replicas > 1 else []
    histories = {}

    def freeze(m, phase):
        m.trainable = True
        for layer in m.layers:
            if layer.name in weighted:
                layer.trainable = phase == "finetune" and layer.name in trained
            if phase == "finetune" and isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False

    def compile_for(m, lr):
        with m.distribute_strategy.scope():
            m.compile(optimizer=keras.optimizers.Adam(lr), loss=loss, metrics=list(metrics))

    def run(phase, epochs, lr):
        freeze(target, phase)
        compile_for(target, lr)
        fit = target.fit(train, validation_data=validation, epochs=epochs, callbacks=[*sync, *callbacks],
                         verbose=verbose, shuffle=False)  # the pipeline already shuffles, seeded
        histories[phase] = {k: [float(v) for v in vs] for k, vs in fit.history.items()}
        return lr

    lr = run("head", head_epochs, learning_rate)
    if finetune_epochs:
        lr = run("finetune", finetune_epochs, finetune_learning_rate or learning_rate / 10)
    if target is not model:  # written back: the caller's model ends as if trained in place
        freeze(model, "finetune" if finetune_epochs else "head")
        model.set_weights(target.get_weights())
        compile_for(model, lr)
    return histories
