"""Custom layers used by several families, serialisable in `.keras` files."""
from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kerazoo")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response normalisation across channels (Krizhevsky et al. 2012, section 3.3).

    `b = a / (bias + alpha * sum_{depth_radius} a^2) ** beta`, the paper's k=2, n=5, alpha=1e-4,
    beta=0.75 by default (n = 2 * depth_radius + 1).
    """

    def __init__(self, depth_radius: int = 2, bias: float = 2.0, alpha: float = 1e-4,
                 beta: float = 0.75, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius, self.bias, self.alpha, self.beta = depth_radius, bias, alpha, beta

    def call(self, inputs):
        return tf.nn.local_response_normalization(inputs, depth_radius=self.depth_radius,
                                                  bias=self.bias, alpha=self.alpha, beta=self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}


@keras.saving.register_keras_serializable(package="kerazoo")
def text_standardize(text):
    """Lower-case, turn HTML line breaks (`<br />`, frequent in IMDB reviews) and punctuation into
    spaces, keeping apostrophes (`don't`). `TextVectorization(standardize=text_standardize)`."""
    text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, r"<br\s*/?>", " ")
    return tf.strings.regex_replace(text, r"[^\w\s']", " ")


@keras.saving.register_keras_serializable(package="kerazoo")
class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """Max over time that ignores masked (padding) steps; Keras' GlobalMaxPooling1D drops masks.

    A sequence with no unmasked step (an empty review) pools to zeros, so its score is finite and the
    same alone or in any batch (the lowest float would overflow the next layer into inf and NaN).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return tf.reduce_max(inputs, axis=1)
        mask = tf.expand_dims(tf.cast(mask, "bool"), -1)
        pooled = tf.reduce_max(tf.where(mask, inputs, tf.constant(inputs.dtype.min, dtype=inputs.dtype)), axis=1)
        return tf.where(tf.reduce_any(mask, axis=1), pooled, tf.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
