"""AlexNet's architecture (Krizhevsky, Sutskever, Hinton 2012) and a 32x32 variant for CIFAR-10, in `keras` only.

`alexnet` follows the paper at 227x227x3 (the size at which its 11x11/4 first layer gives
55x55): five convolutions, local response normalisation after the first two, overlapping 3x3/2
max pooling, two 4096-unit dense layers with dropout 0.5. With `groups=2` the convolutions that
the paper split over two GPUs (conv2, conv4, conv5) are grouped convolutions, giving the paper's
60,965,224 parameters ("60 million"); `groups=1` gives the single-tower 62,378,344.
`normalization="batchnorm"` replaces LRN by batch normalisation, the modern choice.

Reference:
  A. Krizhevsky, I. Sutskever, G. E. Hinton. "ImageNet classification with deep convolutional
  neural networks." NIPS 2012.
"""
from __future__ import annotations

from typing import Literal

import keras
from keras import ops

from kerazoo.models.common import (check_choice, check_positive, check_rate, classifier_top, conv_out, image_input,
                                   min_spatial_size)
from kerazoo.registry import register_model

__all__ = ["alexnet", "alexnet_cifar", "LocalResponseNormalization"]


@keras.saving.register_keras_serializable(package="kerazoo")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response normalisation across channels (Krizhevsky et al. 2012, section 3.3).

    `b = a / (bias + alpha * sum_{depth_radius} a^2) ** beta`, the paper's k=2, n=5, alpha=1e-4,
    beta=0.75 by default (n = 2 * depth_radius + 1): TensorFlow's `tf.nn.local_response_normalization`
    written in `keras.ops`, so it runs on every backend.
    """

    def __init__(self, depth_radius: int = 2, bias: float = 2.0, alpha: float = 1e-4,
                 beta: float = 0.75, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius, self.bias, self.alpha, self.beta = depth_radius, bias, alpha, beta

    def call(self, inputs):
        r, channels = self.depth_radius, inputs.shape[-1]
        squares = ops.pad(ops.square(inputs), [[0, 0]] * (len(inputs.shape) - 1) + [[r, r]])
        window = sum(squares[..., i:i + channels] for i in range(2 * r + 1))  # channels d-r .. d+r
        return inputs / ops.power(self.bias + self.alpha * window, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}

# (name, filters, kernel, stride, padding, grouped, normalise after, pool after)
_IMAGENET = (("conv1", 96, 11, 4, "valid", False, True, True),
             ("conv2", 256, 5, 1, "same", True, True, True),
             ("conv3", 384, 3, 1, "same", False, False, False),
             ("conv4", 384, 3, 1, "same", True, False, False),
             ("conv5", 256, 3, 1, "same", True, False, True))
_CIFAR = (("conv1", 64, 5, 1, "same", False, True, True),
          ("conv2", 192, 5, 1, "same", True, True, True),
          ("conv3", 384, 3, 1, "same", False, False, False),
          ("conv4", 256, 3, 1, "same", True, False, False),
          ("conv5", 256, 3, 1, "same", True, False, True))


def _alexnet(spec, *, model, input_shape, include_top, classes, classifier_activation, pooling,
             normalization, groups, dropout, units, rescaling, name):
    check_choice("normalization", normalization, ["lrn", "batchnorm", "none"])
    check_positive(classes=classes, groups=groups, units=units)
    check_rate(dropout=dropout)

    def out_size(size):
        for _, _, kernel, stride, padding, _, _, pool in spec:
            size = conv_out(size, kernel, stride, padding)
            if pool:
                size = conv_out(size, 3, 2)
        return size

    inputs, x = image_input(model, input_shape, min_size=min_spatial_size(out_size), rescaling=rescaling)

    # === Feature extractor ===
    for conv, filters, kernel, stride, padding, grouped, normalise, pool in spec:
        x = keras.layers.Conv2D(filters, kernel, strides=stride, padding=padding,
                                groups=groups if grouped else 1, activation="relu", name=conv)(x)
        if normalise and normalization == "lrn":
            x = LocalResponseNormalization(name=f"{conv}_lrn")(x)
        elif normalise and normalization == "batchnorm":
            x = keras.layers.BatchNormalization(name=f"{conv}_bn")(x)
        if pool:
            x = keras.layers.MaxPooling2D(3, strides=2, name=f"pool{conv[-1]}")(x)

    # === Classifier ===
    def hidden(x):
        for fc in ("fc6", "fc7"):
            x = keras.layers.Dense(units, activation="relu", name=fc)(x)
            if dropout:
                x = keras.layers.Dropout(dropout, name=f"{fc}_dropout")(x)
        return x

    outputs = classifier_top(x, include_top=include_top, pooling=pooling, classes=classes,
                             classifier_activation=classifier_activation, hidden=hidden)
    return keras.Model(inputs, outputs, name=name)


@register_model(task="image-classification")
def alexnet(
    *,
    input_shape: tuple[int, ...] = (227, 227, 3),
    include_top: bool = True,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    pooling: Literal["avg", "max"] | None = None,
    normalization: Literal["lrn", "batchnorm", "none"] = "lrn",  # after conv1 and conv2
    groups: int = 2,           # the paper's two-GPU split of conv2/4/5; 1 for a single tower
    dropout: float = 0.5,      # after fc6 and fc7
    units: int = 4096,   # width of fc6 and fc7
    rescaling: float | None = None,
    name: str = "alexnet",
) -> keras.Model:
    """AlexNet (Krizhevsky et al. 2012) at 227x227x3, with LRN and the paper's two-tower grouped convolutions.

    Args:
      input_shape: `(H, W, C)`; at least 67x67 (the smallest input the stack maps to one pixel).
      include_top: whether to end with fc6, fc7 and the classifier; if False the output is
        pool5's map (or its pooling).
      classes: number of classes.
      classifier_activation: activation of `predictions` (`None` for logits).
      pooling: `"avg"` or `"max"` global pooling when `include_top=False`.
      normalization: `"lrn"` (paper), `"batchnorm"` or `"none"` after conv1 and conv2.
      groups: grouped convolutions for conv2, conv4, conv5 (2 = the paper's two towers).
      dropout: dropout rate after fc6 and fc7.
      units: width of fc6 and fc7.
      rescaling: multiply inputs by this first (e.g. `1/255`).
      name: model name.

    Reference:
      Krizhevsky et al., "ImageNet classification with deep convolutional neural networks", 2012.

    Example:
      >>> model = kerazoo.get("alexnet", normalization="batchnorm", classes=100)
    """
    return _alexnet(_IMAGENET, model="alexnet", **locals())


@register_model(task="image-classification")
def alexnet_cifar(
    *,
    input_shape: tuple[int, ...] = (32, 32, 3),
    include_top: bool = True,
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    pooling: Literal["avg", "max"] | None = None,
    normalization: Literal["lrn", "batchnorm", "none"] = "batchnorm",
    groups: int = 1,
    dropout: float = 0.5,
    units: int = 1024,
    rescaling: float | None = None,
    name: str = "alexnet_cifar",
) -> keras.Model:
    """AlexNet's layout scaled to 32x32 inputs for CIFAR-10 (batch norm, 1024-wide dense layers).

    conv1 is 64@5x5 stride 1 instead of 96@11x11 stride 4, conv2-5 keep the paper's kernel sizes
    with widths 192-384-256-256, dense layers are 1024 wide; about 5.9M parameters.

    Args:
      input_shape: `(H, W, C)`, at least 15x15.
      include_top, classes, classifier_activation, pooling, normalization, groups, dropout,
      units, rescaling, name: as for `alexnet`.

    Reference:
      Krizhevsky et al. 2012; the CIFAR-10 layout follows the common 32x32 adaptations.

    Example:
      >>> model = kerazoo.get("alexnet_cifar", rescaling=1 / 255)
    """
    return _alexnet(_CIFAR, model="alexnet_cifar", **locals())
