"""Inputs as users have them, answers as they read them: what `kerazoo.get` adds to the model it returns.

An image classifier takes its images as they are: file paths, bytes, arrays of any size and colour
mode (a list of them, or one), read exactly as fine-tuning read the training folder
(`kerazoo.data.folders.read_image`: decoded with the model's channel count, resized bilinear, cast
to what it takes). A fine-tuned artifact records that preprocessing in its card (`preprocessing`)
and any batch of another size or colour mode is converted by it too; other models keep their exact
input checks (`kerazoo.inputs`). A text model takes a plain Python list of strings.

Its answers read as class names: `model.class_names` (from the artifact's card, None when it has
none), `model.decode(probabilities, top=5)` (as `keras.applications.*.decode_predictions`: per
input a list of `(class name, probability)`, most likely first) and `model.predict_names(x)`
(the top class name per input). Nothing is stored in `model.keras` (it stays loadable in safe
mode); the card is the record.

    >>> model = kerazoo.get("lenet5.myletters")
    >>> model.class_names
    ['a', 'b', 'c', 'd']
    >>> model.predict_names(["new/x.png", rgb_40x40_uint8])
    ['c', 'a']
    >>> model.decode(model.predict(["new/x.png"]), top=2)
    [[('c', 0.91), ('a', 0.05)]]
"""
from __future__ import annotations

import functools
import os
from typing import Sequence

import numpy as np

from kerazoo.errors import DataError

__all__ = ["attach", "top_k", "probabilities", "image_inputs", "text_inputs", "is_image_model", "is_text_model"]


def _inputs(model) -> list:
    try:
        return list(model.inputs or [])
    except (AttributeError, ValueError):  # a subclassed model not built from keras.Input
        return []


def is_text_model(model) -> bool:
    inputs = _inputs(model)
    return len(inputs) == 1 and str(inputs[0].dtype) == "string"


def is_image_model(model) -> bool:
    """One fixed-size image input (H, W) or (H, W, 1|3)."""
    inputs = _inputs(model)
    if len(inputs) != 1 or str(inputs[0].dtype) == "string":
        return False
    shape = tuple(inputs[0].shape[1:])
    return len(shape) in (2, 3) and None not in shape and (len(shape) == 2 or shape[2] in (1, 3))


def _is_one_image(x) -> bool:
    return isinstance(x, (str, os.PathLike, bytes))


def image_inputs(model, x, *, convert_arrays: bool = False):
    """`x` as the batch an image model takes, or `x` unchanged when it already is one.

    Args:
      x: a path, bytes, or a list of paths, bytes and arrays (any size and colour mode), or a batch.
      convert_arrays: also resize / colour-convert a numeric batch of another shape (fine-tuned artifacts).
    """
    from kerazoo.data import folders

    if _is_one_image(x):
        return folders.read_images([x], like=model)
    if isinstance(x, (list, tuple)) and x and all(_is_one_image(v) or isinstance(v, np.ndarray) for v in x):
        return folders.read_images(list(x), like=model)
    if convert_arrays and isinstance(x, np.ndarray) and x.dtype.kind in "uif" and x.ndim in (3, 4):
        spec = folders.image_spec(model)
        if tuple(x.shape[1:]) != spec.shape:
            return folders.read_images(list(x), like=spec)
        if x.dtype != np.dtype(spec.dtype) and x.dtype.kind in "ui":  # e.g. int64 pixels: cast as training did
            return folders.read_images(list(x), like=spec)
    return x


def text_inputs(x):
    """A list or tuple of strings, or a NumPy array of fixed-width strings (`np.array(reviews)`, dtype `<U...`),
    as the 1-d object array a text model takes; anything else unchanged."""
    if isinstance(x, (list, tuple)) and x and all(isinstance(v, str) for v in x):
        return np.array(list(x), dtype=object)
    if isinstance(x, np.ndarray) and x.dtype.kind in "US":
        return x.astype(object)
    return x


def probabilities(outputs) -> np.ndarray:
    """A classifier's outputs as one probability per class: one sigmoid unit p becomes `[1 - p, p]`."""
    probs = np.asarray(outputs, dtype="float64")
    if probs.ndim == 1:
        probs = probs[:, None]
    return np.concatenate([1 - probs, probs], axis=1) if probs.shape[1] == 1 else probs


def top_k(outputs, class_names: Sequence[str] | None, top: int = 5) -> list[list[tuple[str, float]]]:
    """Per input the `top` most likely `(class name, probability)` pairs, most likely first (class ids as
    strings when there are no names)."""
    probs = probabilities(outputs)
    names = list(class_names) if class_names else [str(i) for i in range(probs.shape[1])]
    if len(names) != probs.shape[1]:
        raise DataError(f"{probs.shape[1]} class probabilities per input but {len(names)} class names ({names[:5]})")
    if not isinstance(top, int) or top < 1:
        raise DataError(f"top must be a positive integer; received {top!r}")
    order = np.argsort(-probs, axis=1, kind="stable")[:, :top]
    return [[(names[i], float(row[i])) for i in idx] for row, idx in zip(probs, order)]


def attach(model, card: dict | None = None):
    """Adds `class_names`, `decode`, `predict_names` and `preprocess` to `model`, and lets its `predict`
    take inputs as users have them (see the module docstring). Returns `model`.

    Args:
      card: the artifact's card (its `class_names`, and `preprocessing` for a fine-tuned one), or None.
    """
    if getattr(model, "_kerazoo_answers", False):
        return model
    card = card or {}
    text, image = is_text_model(model), is_image_model(model)
    fine_tuned = bool(card.get("preprocessing")) and image
    names = card.get("class_names")
    predict = model.predict

    def preprocess(x):
        """`x` as the batch the network takes (see `kerazoo.preprocessing`)."""
        if text:
            return text_inputs(x)
        if image:
            return image_inputs(model, x, convert_arrays=fine_tuned)
        return x

    @functools.wraps(predict)
    def predict_inputs(x, *args, **kwargs):
        return predict(preprocess(x), *args, **kwargs)

    def decode(outputs, top: int = 5):
        """Per input, the `top` `(class name, probability)` pairs, most likely first."""
        return top_k(outputs, names, top)

    def predict_names(x, **kwargs):
        """The most likely class name per input."""
        kwargs.setdefault("verbose", 0)
        return [answers[0][0] for answers in decode(predict_inputs(x, **kwargs), top=1)]

    for attribute, value in (("predict", predict_inputs), ("preprocess", preprocess), ("decode", decode),
                             ("predict_names", predict_names), ("class_names", list(names) if names else None),
                             ("preprocessing", card.get("preprocessing")), ("_kerazoo_answers", True)):
        object.__setattr__(model, attribute, value)  # plain attributes: Keras does not track (or save) them
    return model

