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

Values are checked in one place for the Keras models and the runners of the exported formats
(`kerazoo.runtimes`), so every path refuses the same inputs:

- `check_numbers`: numbers only (bool, complex, object and string arrays are refused), finite (one
  NaN pixel would otherwise turn a 0 into a 6, and a NaN batch reads as class 8), and in the range the
  model declares: raw pixels 0-255 for a model that rescales by 1/255 inside (negative int16 pixels and
  ints up to 1,020 were answered as if they were images).
- `check_texts`: strings only (`str`, or `bytes` in UTF-8); a lone surrogate half is refused (it is
  not a character and cannot be encoded). `check_sources` adds what a sequence-to-sequence model
  needs, whose decoding time grows with the input: at most `MAX_SOURCE_CHARS` characters (a
  5,000-character string took 45 s to translate), and no control characters (U+0000-U+001F,
  U+007F-U+009F) other than the whitespace ones (tab, newline, carriage return, vertical tab, form
  feed): a NUL in a date is binary data or a broken decode, which the user is told about instead of
  receiving a guess (U+0000 alone crashed `translate`; "1 jan 2000\\x00" was answered).
"""
from __future__ import annotations

import functools
import re

import numpy as np

from kerazoo.data.files import check_labelled
from kerazoo.errors import DataError

__all__ = ["guard", "check_images", "check_model_data", "declared_rescaling", "check_numbers", "check_texts",
           "check_sources", "MAX_SOURCE_CHARS"]

# Sources of a sequence-to-sequence model are decoded one step per character (about 9 ms a character for
# the dates model on the 2-core build machine); the longest source of the date task has 47 characters.
MAX_SOURCE_CHARS = 256
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # Unicode's Cc but tab, newline, VT, FF and CR


def check_numbers(x, *, name: str, expected: str, pixels: bool = False, floats: bool = True) -> np.ndarray:
    """`x` as an array if its values are what a model of numeric inputs takes, else a `DataError`.

    Args:
      name: how the message names the model (`"lenet5.mnist"`).
      expected: what the model takes, for the message (`"uint8 batches of shape (N, 28, 28)"`).
      pixels: the model takes raw pixels 0-255 (it rescales by 1/255 inside).
      floats: float arrays are accepted (a Keras model's float input; a uint8 file's runner takes integers only).
    """
    x = np.asarray(x)
    kind = x.dtype.kind
    if kind not in "iuf" or (kind == "f" and not floats):
        what = "uint8 pixels 0-255" if pixels else "numbers"
        received = "strings" if kind in "USO" else f"{x.dtype} values"
        extra = f" in [{x.min()}, {x.max()}]" if kind == "f" and x.size else ""
        raise DataError(f"{name}: expects {what} ({expected}); received {received}{extra}"
                        + (". Convert booleans with x.astype('uint8') * 255" if kind == "b" and pixels else ""))
    if not x.size:
        return x
    if kind == "f":
        finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1) if x.ndim else np.isfinite(x).reshape(1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise DataError(f"{name}: {len(bad)} of {len(finite)} examples hold NaN or infinite values (the first is "
                            f"example {bad[0]}); accepted: finite numbers ({expected})")
    if pixels:
        low, high = x.min(), x.max()
        if low < 0 or high > 255:
            raise DataError(f"{name} takes raw pixels 0-255 ({expected}); received {x.dtype} values in "
                            f"[{low:g}, {high:g}]")
        if kind == "f" and high <= 1.0:
            raise DataError(f"{name} takes raw pixels 0-255 (it rescales by 1/255 inside); received {x.dtype} values "
                            f"up to {float(high):g}, which it would read as nearly black. Pass x * 255 (or uint8 "
                            "images).")
    return x


def check_texts(texts, *, name: str, max_chars: int | None = None, controls: bool = True) -> list[str]:
    """A batch of texts as a list of `str`, or a `DataError` naming the item and what is accepted.

    Args:
      texts: a list, tuple or 1-d array of `str` (or `bytes`, decoded as UTF-8).
      name: how the message names the model or function.
      max_chars: the longest text accepted (None: any length).
      controls: accept control characters (False: only the whitespace ones).
    """
    if isinstance(texts, (str, bytes)):
        raise DataError(f"{name}: expects a batch of strings (a list or 1-d array); received one string. "
                        "Wrap it: [text]")
    if isinstance(texts, np.ndarray) and texts.ndim != 1:
        raise DataError(f"{name}: expects a batch of strings (a list or 1-d array); received an array of shape "
                        f"{texts.shape}")
    try:
        texts = list(texts)
    except TypeError:
        raise DataError(f"{name}: expects a batch of strings (a list or 1-d array); received "
                        f"{type(texts).__name__} {_short(texts)}") from None
    out = []
    for i, text in enumerate(texts):
        if isinstance(text, (bytes, np.bytes_)):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(f"{name}: item {i} is bytes that are not UTF-8 (byte {text[e.start]:#04x} at "
                                f"{e.start}); accepted: str, or UTF-8 bytes") from None
        if not isinstance(text, str):
            raise DataError(f"{name}: expects a batch of strings; item {i} is {type(text).__name__} "
                            f"{_short(text)}")
        text = str(text)
        if max_chars is not None and len(text) > max_chars:
            raise DataError(f"{name}: item {i} has {len(text):,} characters; accepted: texts of at most {max_chars} "
                            "characters (decoding time grows with the length)")
        if (found := _SURROGATE.search(text)) is not None:
            raise DataError(f"{name}: item {i} holds U+{ord(found.group()):04X} at position {found.start()}, half of a "
                            "surrogate pair and not a character; accepted: text (valid Unicode)")
        if not controls and (found := _CONTROL.search(text)) is not None:
            raise DataError(f"{name}: item {i} holds the control character U+{ord(found.group()):04X} at position "
                            f"{found.start()}; accepted: text without control characters (tabs and newlines are fine)")
        out.append(text)
    return out


def check_sources(texts, *, name: str) -> list[str]:
    """`check_texts` for the sources of a sequence-to-sequence model: at most `MAX_SOURCE_CHARS`
    characters each, no control characters but whitespace."""
    return check_texts(texts, name=name, max_chars=MAX_SOURCE_CHARS, controls=False)


def _short(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


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
        raise DataError(f"{name} takes {len(model.inputs)} inputs ({', '.join(s.name for s in model.inputs)}); "
                        f"received {len(xs)}")
    empty = False
    for value, (shape, dtype) in zip(xs, _expected(model)):
        if isinstance(value, str):
            raise DataError(f"{name} takes a batch of strings (a list or array), e.g. [text]; received one str")
        try:
            value_shape = tuple(getattr(value, "shape", None) or np.shape(value))
        except ValueError:  # a ragged nested list
            raise DataError(f"{name} takes {_describe(shape, dtype)}; received a ragged nested list") from None
        value_dtype = getattr(getattr(value, "dtype", None), "name", None) or str(np.asarray(value).dtype)
        described = _describe(shape, "uint8" if raw_pixels else dtype)
        if dtype == "string":
            if len(value_shape) != 1 + len(shape):
                raise DataError(f"{name} takes a 1-d batch of strings; received an array of shape {value_shape}")
            if len(shape) == 0:
                check_texts(np.asarray(value, dtype=object), name=name)
        elif len(value_shape) != len(shape) + 1 or any(e is not None and e != v for e, v in zip(shape, value_shape[1:])):
            hint = " (one example: x[None], a batch of one)" if value_shape == tuple(shape) else ""
            raise DataError(f"{name} takes {described}{hint}; received {value_dtype} of shape {value_shape}")
        else:
            check_numbers(value, name=name, expected=described, pixels=raw_pixels)
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
