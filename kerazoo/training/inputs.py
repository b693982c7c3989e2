"""Training data checked against what the model declares, before the first step.

Some inputs train without an error and give a wrong model: floats in [0, 1] fed to a network that
rescales by 1/255 (it sees near-black images, trains to a fine-looking accuracy on them, and then
misreads every real uint8 digit), one NaN image (the weights turn NaN after its first batch, the
run ends at chance accuracy with exit code 0), labels outside the classes. `check_images` refuses
them with a message that says what to change; it is one vectorised pass over the arrays (a batch of
a `tf.data` pipeline when that is all there is).
"""
from __future__ import annotations

import numpy as np

from kerazoo.data.files import check_labelled
from kerazoo.errors import DataError

__all__ = ["check_images", "check_model_data", "declared_rescaling"]


def check_images(x, y=None, *, rescaling: float | None = None, classes: int | None = None,
                 where: str = "training data") -> None:
    """Raises `DataError` if images `x` (and labels `y`) would train a model wrongly without an error.

    Args:
      x: images (any numeric dtype).
      y: integer class labels, or None.
      rescaling: the factor the model multiplies its inputs by (its `rescaling` argument), or None.
      classes: the model's number of classes (labels must lie in `[0, classes)`); None or 1 skips.
      where: what the data is, for messages (a data set name, "finetune train").
    """
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise DataError(f"{where}: the images are {x.dtype}; accepted: numeric arrays (uint8 pixels 0-255, or floats "
                        "matching the model's `rescaling`).")
    if not x.size:
        return
    if x.dtype.kind == "f":
        finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise DataError(f"{where}: {len(bad)} of {len(x)} images hold NaN or inf values (first at index {bad[0]}). "
                            "One such image turns the weights into NaN; repair or drop them before training.")
    low, high = float(x.min()), float(x.max())
    if rescaling is not None and 0 < max(high, -low) * abs(rescaling) < 1 / 32:
        raise DataError(
            f"{where}: the images lie in [{low:.3g}, {high:.3g}], but the model rescales its inputs by "
            f"{rescaling:.6g} (to [{low * rescaling:.3g}, {high * rescaling:.3g}]): it expects raw pixels "
            f"0-{round(1 / abs(rescaling))} and would train on near-black images. Give it raw pixels (e.g. "
            "(x * 255).round().astype('uint8')), or build it with rescaling=None (--set rescaling=null) to train on "
            "[0, 1] inputs.")
    y = None if y is None else np.asarray(y)
    if y is not None and y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y is not None and y.ndim == 1 and classes is not None and classes > 1:  # sparse labels (one-hot: unchecked)
        check_labelled(where, "training", x, y, classes=classes,
                       accepted=f"integer labels 0..{classes - 1} for a model with classes={classes}")


def declared_rescaling(model) -> float | None:
    """The product of the scales of the model's `Rescaling` layers (nested models included), or None."""
    import keras

    scale, found = 1.0, False
    for layer in _layers(model):
        if isinstance(layer, keras.layers.Rescaling) and np.ndim(layer.scale) == 0:
            scale, found = scale * float(layer.scale), True
    return scale if found else None


def _layers(model):
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _layers(layer)


def check_model_data(model, data, *, where: str) -> None:
    """`check_images` for a model's training data: `(x, y)` arrays, or the first batch of a `tf.data`
    pipeline of `(x, y)` batches. Inputs that are not images (strings, token ids) are not checked."""
    if data is None or len(getattr(model, "inputs", None) or []) != 1 or len(model.inputs[0].shape) < 3:
        return
    if hasattr(data, "element_spec"):
        batch = next(iter(data.take(1)), None)
        if batch is None or not isinstance(batch, tuple):
            return
        data = tuple(np.asarray(part) for part in batch[:2])
    x, y = (data[0], data[1]) if isinstance(data, (tuple, list)) and len(data) >= 2 else (data, None)
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        return
    classes = model.output_shape[-1] if isinstance(model.output_shape, tuple) else None
    check_images(x, y, rescaling=declared_rescaling(model), classes=classes, where=where)
