"""LeNet-5's architecture (LeCun et al. 1998) and a modern variant, in `keras` only.

The classic network is the usual simplification of the paper's: C1 conv 6@5x5 -> S2 average pool
-> C3 conv 16@5x5 (fully connected to S2, not the paper's partial table) -> S4 average pool ->
C5 conv 120@5x5 -> F6 dense 84 -> output, tanh everywhere: 61,706 parameters at 32x32x1 with 10
classes. The paper's trainable subsampling coefficients and RBF output are not reproduced.

Reference:
  Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. "Gradient-based learning applied to document
  recognition." Proc. IEEE 86(11), 1998.
"""
from __future__ import annotations

from typing import Literal

import keras

from kerazoo.models.common import (check_choice, check_positive, check_rate, classifier_top, conv_out, image_input,
                                   min_spatial_size)
from kerazoo.registry import register_model

__all__ = ["lenet5"]

_VARIANTS = {  # variant: (activation, pooling layer, normalization, dropout)
    "classic": ("tanh", keras.layers.AveragePooling2D, "none", 0.0),
    "modern": ("relu", keras.layers.MaxPooling2D, "batchnorm", 0.25),
}


def _stack_out(size: int) -> int:
    for _ in range(2):
        size = conv_out(conv_out(size, 5), 2, 2)
    return conv_out(size, 5)


@register_model(task="image-classification")
def lenet5(
    *,
    input_shape: tuple[int, ...] = (32, 32, 1),  # (H, W) or (H, W, C); 28..31 is padded to 32
    include_top: bool = True,
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    pooling: Literal["avg", "max"] | None = None,  # on C5's map when include_top=False
    variant: Literal["classic", "modern"] = "classic",
    activation: str | None = None,      # None: tanh (classic) / relu (modern)
    normalization: Literal["batchnorm", "none"] | None = None,  # None: none (classic) / batchnorm (modern)
    dropout: float | None = None,       # None: 0 (classic) / 0.25 (modern), before F6 and output
    rescaling: float | None = None,     # e.g. 1/255 so the model takes raw uint8 pixels
    name: str = "lenet5",
) -> keras.Model:
    """LeNet-5 (LeCun et al. 1998): classic tanh and average pooling, or modern ReLU, max pooling, batch norm.

    Args:
      input_shape: `(H, W)` or `(H, W, C)`, any channel count. Sides of 28 to 31 pixels are
        zero-padded to 32 as in the paper (MNIST's 28x28 digits centred in a 32x32 field).
      include_top: whether to end with F6 and the classifier; if False the output is C5's
        feature map (or its pooling, see `pooling`).
      classes: number of output classes.
      classifier_activation: activation of the `predictions` layer (`None` for logits).
      pooling: `"avg"` or `"max"` global pooling of C5's map when `include_top=False`.
      variant: `"classic"` (tanh, average pooling) or `"modern"` (ReLU, max pooling, batch
        normalisation, dropout); the three arguments below override single choices.
      activation: hidden-layer activation.
      normalization: `"batchnorm"` after each convolution (before the activation), or `"none"`.
      dropout: dropout rate before F6 and before the output layer.
      rescaling: multiply the input by this factor first, e.g. `1/255` for uint8 pixels.
      name: model name.

    Returns:
      A `keras.Model` mapping images to class probabilities (or features).

    Reference:
      LeCun et al., "Gradient-based learning applied to document recognition", 1998.

    Example:
      >>> model = kerazoo.get("lenet5", input_shape=(28, 28), variant="modern")
    """
    check_choice("variant", variant, _VARIANTS)
    check_choice("normalization", normalization, [None, "batchnorm", "none"])
    default_act, pool_layer, default_norm, default_dropout = _VARIANTS[variant]
    activation = activation or default_act
    batch_norm = (normalization or default_norm) == "batchnorm"
    dropout = default_dropout if dropout is None else dropout
    check_rate(dropout=dropout)
    check_positive(classes=classes)

    inputs, x = image_input("lenet5", input_shape, min_size=min(28, min_spatial_size(_stack_out)),
                            pad_to=32, rescaling=rescaling)

    # === Feature extractor: C1 - S2 - C3 - S4 - C5 ===
    for conv, pool, filters in (("c1", "s2", 6), ("c3", "s4", 16), ("c5", None, 120)):
        x = keras.layers.Conv2D(filters, 5, use_bias=not batch_norm, name=conv)(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"{conv}_bn")(x)
        x = keras.layers.Activation(activation, name=f"{conv}_{activation}")(x)
        if pool:
            x = pool_layer(2, name=pool)(x)

    # === Classifier: F6 - output ===
    def f6(x):
        if dropout:
            x = keras.layers.Dropout(dropout, name="f6_dropout")(x)
        x = keras.layers.Dense(84, activation=activation, name="f6")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name="predictions_dropout")(x)
        return x

    outputs = classifier_top(x, include_top=include_top, pooling=pooling, classes=classes,
                             classifier_activation=classifier_activation, hidden=f6)
    return keras.Model(inputs, outputs, name=name)
