"""Pieces the builders share: argument checks, image inputs, classifier heads, the raw-string form of a text
model (`keras` only).

The checks raise `kerazoo.errors.ConfigError` (a `ValueError`), so a bad argument is the same kind of
error from a builder, from `kerazoo.get` and from the CLI.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import keras

from kerazoo.errors import ConfigError

__all__ = ["check_choice", "check_positive", "check_rate", "min_spatial_size", "conv_out", "image_input",
           "classifier_top", "string_model", "split_string_model"]


def check_choice(arg: str, value: Any, accepted: Iterable[Any]) -> None:
    """Raises `ConfigError` unless `value` is one of `accepted` (keras.applications' wording)."""
    accepted = list(accepted)
    if value not in accepted:
        raise ConfigError(f"The `{arg}` argument should be one of {accepted}. Received: {arg}={value!r}")


def check_positive(**values: Any) -> None:
    """Raises `ConfigError` for any count/size argument that is not a positive integer."""
    for arg, value in values.items():
        items = value if isinstance(value, (tuple, list)) else (value,)
        if not items or any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in items):
            raise ConfigError(f"The `{arg}` argument should be a positive integer (or a non-empty "
                             f"tuple of them). Received: {arg}={value!r}")


def check_rate(**values: Any) -> None:
    """Raises `ConfigError` for a dropout-like rate outside [0, 1)."""
    for arg, value in values.items():
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"The `{arg}` argument should be in [0, 1). Received: {arg}={value!r}")


def min_spatial_size(out_size: Callable[[int], int], limit: int = 4096) -> int:
    """Smallest input side for which a stack of convs/pools still yields >= 1 pixel."""
    return next(n for n in range(1, limit) if out_size(n) >= 1)


def conv_out(size: int, kernel: int, stride: int = 1, padding: str = "valid") -> int:
    """Output side of a convolution or pooling layer along one axis."""
    if padding == "same":
        return -(-size // stride)
    return (size - kernel) // stride + 1 if size >= kernel else 0


def image_input(model: str, input_shape: tuple[int, ...], *, min_size: int, pad_to: int | None = None,
                rescaling: float | None = None, input_dtype: str = "float32"):
    """`keras.Input` for images plus the preprocessing layers that make it fit the stack.

    Accepts `(H, W)` (a channel axis is added) or `(H, W, C)`. Sides between `min_size` and
    `pad_to` are zero-padded to `pad_to` (LeCun's 28 -> 32 for MNIST); smaller sides raise.

    Returns:
      `(inputs, x)`: the input tensor and the tensor the model's first layer should take.
    """
    if len(input_shape) not in (2, 3):
        raise ConfigError(f"{model}: `input_shape` should be (height, width) or (height, width, "
                         f"channels). Received: input_shape={input_shape}")
    check_positive(input_shape=input_shape)
    height, width = input_shape[:2]
    if min(height, width) < min_size:
        raise ConfigError(f"{model}: input of {height}x{width} is too small; the architecture needs at "
                         f"least {min_size}x{min_size}. Received: input_shape={input_shape}")
    inputs = keras.Input(shape=input_shape, dtype=input_dtype, name="image")
    x = inputs
    if len(input_shape) == 2:
        x = keras.layers.Reshape((height, width, 1), name="add_channel")(x)
    if rescaling is not None:
        x = keras.layers.Rescaling(rescaling, name="rescaling")(x)
    if pad_to is not None and min(height, width) < pad_to:
        dh, dw = max(pad_to - height, 0), max(pad_to - width, 0)
        x = keras.layers.ZeroPadding2D(((dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2)), name="pad")(x)
    return inputs, x


def classifier_top(x, *, include_top: bool, pooling: str | None, classes: int,
                   classifier_activation: str | None, hidden: Callable | None = None):
    """keras.applications' ending: the top (`hidden` layers + `predictions`) or pooled features."""
    check_choice("pooling", pooling, [None, "avg", "max"])
    if include_top:
        check_positive(classes=classes)
        if len(x.shape) > 2:
            x = keras.layers.Flatten(name="flatten")(x)
        if hidden is not None:
            x = hidden(x)
        return keras.layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def string_model(vectorizer, network, name: str):
    """`raw strings -> vectorizer -> network`, the shipped form of a text model."""
    text = keras.Input(shape=(), dtype="string", name="text")
    return keras.Model(text, network(vectorizer(text)), name=name)


def split_string_model(model):
    """`(vectorizer, network)` of a model made by `string_model` (or its `kerazoo.tokenized.TokenizedModel`),
    or `(None, model)` for any other."""
    if all(hasattr(model, a) for a in ("tokenizer", "vectorizer", "network")):  # a TokenizedModel (JAX, PyTorch)
        return model.vectorizer, model.network
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    names = {layer.name for layer in model.layers}
    if len(nested) == 1 and "vectorizer" in names:
        return model.get_layer("vectorizer"), nested[0]
    return None, model
