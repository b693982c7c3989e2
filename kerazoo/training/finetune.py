"""`kerazoo.finetune`: the standard two-phase transfer-learning schedule (Keras' own guide).

Phase 1 trains only the new head on a frozen backbone; phase 2 unfreezes the top of the backbone
and trains on at a lower learning rate. BatchNormalization layers stay frozen throughout, which
in Keras 3 also keeps them in inference mode, so their statistics are not destroyed by a small
target set.
"""
from __future__ import annotations

from typing import Sequence

__all__ = ["finetune"]


def _as_dataset(data, batch_size: int, shuffle: bool, seed: int):
    if data is None or hasattr(data, "element_spec"):
        return data
    from kerazoo.data.sources import to_dataset

    return to_dataset(tuple(data), batch_size=batch_size, shuffle=shuffle, seed=seed)


def finetune(model, train, validation=None, *, head: Sequence[str] = ("predictions",), head_epochs: int = 5,
             finetune_epochs: int = 5, learning_rate: float = 1e-3, finetune_learning_rate: float | None = None,
             unfreeze: int | None = None, loss: str | None = None, metrics: Sequence[str] = ("accuracy",),
             batch_size: int = 32, seed: int = 1337, callbacks: Sequence = (), verbose="auto") -> dict:
    """Fine-tunes a pretrained model on new data in two phases; returns both histories.

    Args:
      model: e.g. `kerazoo.get("lenet5", weights="mnist", classes=5)`.
      train: a `tf.data.Dataset` of `(x, y)` batches or an `(x, y)` pair of arrays.
      validation: the same, or None.
      head: names of the layers trained in phase 1 (the new head).
      head_epochs: phase-1 epochs (frozen backbone).
      finetune_epochs: phase-2 epochs (top of the backbone unfrozen); 0 skips phase 2.
      learning_rate: phase-1 Adam learning rate.
      finetune_learning_rate: phase-2 learning rate (default `learning_rate / 10`).
      unfreeze: how many of the backbone's top weighted layers phase 2 trains (None: all).
      loss: default sparse categorical cross-entropy (several outputs) or binary cross-entropy.
      metrics, batch_size, seed, callbacks, verbose: as for `fit`.

    Returns:
      `{"head": history dict, "finetune": history dict}`.

    Example:
      >>> model = kerazoo.get("lenet5.mnist", classes=10)
      >>> kerazoo.finetune(model, (x_small, y_small), head_epochs=3, finetune_epochs=3)
    """
    import keras

    unknown = [name for name in head if name not in {layer.name for layer in model.layers}]
    if unknown:
        raise ValueError(f"finetune: head layers {unknown} are not in model {model.name!r}. "
                         f"Its last layers: {[layer.name for layer in model.layers[-4:]]}")
    train = _as_dataset(train, batch_size, True, seed)
    validation = _as_dataset(validation, batch_size, False, seed)
    loss = loss or ("sparse_categorical_crossentropy" if model.output_shape[-1] > 1 else "binary_crossentropy")
    weighted = [layer for layer in model.layers if layer.weights and layer.name not in head]
    frozen_bn = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    histories = {}

    def run(phase, epochs, lr):
        model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss, metrics=list(metrics))
        fit = model.fit(train, validation_data=validation, epochs=epochs, callbacks=list(callbacks), verbose=verbose,
                        shuffle=False)  # the pipeline already shuffles, seeded
        histories[phase] = {k: [float(v) for v in vs] for k, vs in fit.history.items()}

    model.trainable = True
    for layer in weighted:
        layer.trainable = False
    run("head", head_epochs, learning_rate)
    if finetune_epochs:
        for layer in weighted[-unfreeze:] if unfreeze else weighted:
            layer.trainable = True
        for layer in frozen_bn:
            layer.trainable = False
        run("finetune", finetune_epochs, finetune_learning_rate or learning_rate / 10)
    return histories
