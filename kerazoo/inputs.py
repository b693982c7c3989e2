"""Input checks of the models `kerazoo.get` returns: every well-formed input gets an answer, every
malformed one a clear error (never a silent wrong answer or a TensorFlow stack trace).

- A batch of the wrong shape (a single image instead of a batch, RGB for a grayscale model, ...)
  is a `ValueError` naming the expected shape and dtype and what was received.
- A float image batch in [0, 1] given to a model that takes raw pixels 0-255 (it rescales by 1/255
  inside) is refused: its scores would be confidently wrong.
- An empty batch gives empty outputs from `predict` and `model(x)` (Keras 3.15's `predict` raises
  `UnboundLocalError` on it, and TF 2.21's convolution returns wrongly shaped tensors for it).

The checks wrap the instance's `call` and `predict` (nothing is saved with the model); they run
in Python on the inputs' shapes, so compiled steps are unchanged. They work on every Keras backend:
concrete NumPy, TensorFlow, JAX and PyTorch arrays are checked, symbolic ones (a step being traced)
are not; a text model on JAX (`kerazoo.tokenized.TokenizedModel`) is checked on its strings, before
they are tokenised.

Training data is checked the same way before the first step (`check_images`, `check_model_data`:
`kerazoo train`'s image data sets and `kerazoo.finetune`'s arrays or pipelines): some inputs train
without an error and give a wrong model. Floats in [0, 1] fed to a network that rescales by 1/255
(it trains on near-black images to a fine-looking accuracy, then misreads every real uint8 digit),
one NaN image (the weights turn NaN after its first batch, and the run ends at chance accuracy with
exit code 0), labels outside the classes. They are refused with a `DataError` that says what to
change, after one vectorised pass over the arrays (a batch, for a `tf.data` pipeline).
"""
from __future__ import annotations

import functools

import numpy as np

from kerazoo.data.files import check_labelled
from kerazoo.errors import DataError

__all__ = ["guard", "check_images", "check_model_data", "declared_rescaling"]


def _expected(model) -> list[tuple[tuple, str]]:
    return [(tuple(spec.shape[1:]), str(spec.dtype)) for spec in model.inputs]


def _describe(shape: tuple, dtype: str) -> str:
    dims = ", ".join("any" if d is None else str(d) for d in shape)
    return f"{dtype} batches of shape (N, {dims})" if dims else f"{dtype} batches of shape (N,)"


def _arrays(x) -> bool:
    """In-memory batches (NumPy arrays, eager tensors, nested lists) are checked; datasets, generators and
    symbolic tensors are left to Keras."""
    if isinstance(x, (list, tuple)):
        return all(_arrays(v) for v in x) if x and not isinstance(x[0], (int, float, str, bytes)) else True
    if isinstance(x, (np.ndarray, np.generic, str)):
        return True
    kind = type(x)  # concrete tensors of each backend (not symbolic ones, nor JAX tracers inside jit)
    return kind.__name__ in ("EagerTensor", "ArrayImpl") or (kind.__module__.startswith("torch") and kind.__name__ ==
                                                             "Tensor")


def _check(model, name: str, x, raw_pixels: bool) -> bool:
    """Raises on a malformed batch; returns True when the batch is empty."""
    if not _arrays(x):
        return False
    xs = x if isinstance(x, (list, tuple)) and len(model.inputs) > 1 else [x]
    if len(xs) != len(model.inputs):
        raise ValueError(f"{name} takes {len(model.inputs)} inputs ({', '.join(s.name for s in model.inputs)}); "
                         f"received {len(xs)}")
    empty = False
    for value, (shape, dtype) in zip(xs, _expected(model)):
        if isinstance(value, str):
            raise ValueError(f"{name} takes a batch of strings (a list or array), e.g. [text]; received one str")
        value_shape = tuple(getattr(value, "shape", None) or np.shape(value))
        value_dtype = getattr(getattr(value, "dtype", None), "name", None) or str(np.asarray(value).dtype)
        if dtype == "string":
            if len(value_shape) != 1 + len(shape):
                raise ValueError(f"{name} takes a 1-d batch of strings; received an array of shape {value_shape}")
        elif len(value_shape) != len(shape) + 1 or any(e is not None and e != v for e, v in zip(shape, value_shape[1:])):
            hint = " (one example: x[None], a batch of one)" if value_shape == tuple(shape) else ""
            raise ValueError(f"{name} takes {_describe(shape, 'uint8' if raw_pixels else dtype)}{hint}; received "
                             f"{value_dtype} of shape {value_shape}")
        elif raw_pixels and value_shape[0] and value_dtype.startswith("float") and hasattr(value, "__array__"):
            peak = float(np.max(np.asarray(value)))
            if peak <= 1.0:
                raise ValueError(f"{name} takes raw pixels 0-255 (it rescales by 1/255 inside); received {value_dtype} "
                                 f"values up to {peak:g}, which it would read as nearly black. Pass x * 255 "
                                 "(or uint8 images).")
        empty = empty or value_shape[0] == 0
    return empty


def _empty_outputs(model):
    import keras

    def zeros(shape, dtype):
        return np.zeros((0, *[d or 0 for d in shape[1:]]), dtype=dtype)

    outs = [zeros(tuple(o.shape), str(o.dtype)) for o in keras.tree.flatten(model.outputs)]
    return keras.tree.pack_sequence_as(model.outputs, outs) if len(outs) > 1 else outs[0]


def _takes_raw_pixels(model) -> bool:
    """The model rescales its input by 1/255 first (kerazoo builders' `rescaling=1/255` layer)."""
    import keras

    return any(isinstance(layer, keras.layers.Rescaling) and np.isclose(float(np.ravel(layer.scale)[0]), 1 / 255)
               for layer in model.layers[:4])


def guard(model, *, name: str | None = None):
    """Adds the input checks above to `model` (a functional model; others are returned as they are).

    Args:
      name: how messages name the model (default: its Keras name), e.g. `"lenet5.mnist"`.
    """
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):  # a subclassed model not built from keras.Input
        return model
    if not inputs or getattr(model, "_kerazoo_guarded", False):
        return model
    name, raw_pixels = name or model.name, _takes_raw_pixels(model)
    entry = "string_call" if hasattr(model, "string_call") else "call"  # a TokenizedModel: strings before tokens
    call, predict = getattr(model, entry), model.predict

    @functools.wraps(call)
    def checked_call(inputs, *args, **kwargs):
        if _check(model, name, inputs, raw_pixels):  # symbolic inputs (a traced step) are not checked
            return _empty_outputs(model)
        return call(inputs, *args, **kwargs)

    @functools.wraps(predict)
    def checked_predict(x, *args, **kwargs):
        if _check(model, name, x, raw_pixels):
            return _empty_outputs(model)
        return predict(x, *args, **kwargs)

    setattr(model, entry, checked_call)
    model.predict, model._kerazoo_guarded = checked_predict, True
    return model


# === Training data ===

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
