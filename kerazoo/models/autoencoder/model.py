"""Autoencoders' architecture: dense, convolutional, denoising and variational, with separable encoder/decoder.

The model is `inputs -> [preprocessing] -> [noise] -> encoder -> decoder`, where `encoder` and
`decoder` are functional sub-models (`encoder_of(model)`, `decoder_of(model)`): the encoder alone
maps an image to its code, the representation another model can be built on. Outputs are
sigmoid images in [0, 1] of the input's shape; with `rescaling` (e.g. 1/255 for raw uint8 pixels)
the reconstruction target is the *rescaled* image, which `kerazoo train` pairs up in the input
pipeline (`recipe_data`); when calling `fit` yourself pass `(x, x * rescaling)`.

Reference:
  G. E. Hinton, R. R. Salakhutdinov. "Reducing the dimensionality of data with neural networks."
  Science 313, 2006. P. Vincent et al. "Extracting and composing robust features with denoising
  autoencoders." ICML 2008. D. P. Kingma, M. Welling. "Auto-encoding variational Bayes." ICLR 2014.
"""
from __future__ import annotations

import math
from typing import Literal

import keras
from keras import ops

from kerazoo.errors import ConfigError
from kerazoo.models.common import check_choice, check_positive
from kerazoo.registry import register_model

__all__ = ["autoencoder", "encoder_of", "decoder_of", "VAESampling"]


@keras.saving.register_keras_serializable(package="kerazoo")
class VAESampling(keras.layers.Layer):
    """`z = mean + exp(log_var / 2) * eps` in training (z = mean otherwise); adds the KL term.

    Args:
      beta: weight of `KL(q(z|x) || N(0, I))` per example, relative to the summed-over-pixels
        reconstruction loss divided by the number of pixels (so `beta` is per pixel).
      seed: sampling seed.
    """

    def __init__(self, beta: float = 1.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.beta, self.seed = beta, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        mean, log_var = inputs
        kl = -0.5 * ops.mean(ops.sum(1 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1))
        self.add_loss(self.beta * kl)
        if not training:
            return mean
        eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * eps

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "seed": self.seed}


def _encoder(shape, variant, latent_dim, units, filters):
    inputs = keras.Input(shape=shape, name="encoder_input")
    x = inputs
    if variant == "dense":
        x = keras.layers.Flatten(name="flatten")(x)
        for i, width in enumerate(units, start=1):
            x = keras.layers.Dense(width, activation="relu", name=f"enc_dense_{i}")(x)
    else:
        for i, f in enumerate(filters, start=1):
            x = keras.layers.Conv2D(f, 3, strides=2, padding="same", activation="relu", name=f"enc_conv_{i}")(x)
        x = keras.layers.Flatten(name="flatten")(x)
    if variant == "variational":
        mean = keras.layers.Dense(latent_dim, name="z_mean")(x)
        log_var = keras.layers.Dense(latent_dim, name="z_log_var")(x)
        code = VAESampling(beta=1.0 / math.prod(shape), name="z")([mean, log_var])
    else:
        code = keras.layers.Dense(latent_dim, activation="relu", name="code")(x)
    return keras.Model(inputs, code, name="encoder")


def _decoder(shape, variant, latent_dim, units, filters):
    codes = keras.Input(shape=(latent_dim,), name="decoder_input")
    h, w, c = shape
    if variant == "dense":
        x = codes
        for i, width in enumerate(reversed(units), start=1):
            x = keras.layers.Dense(width, activation="relu", name=f"dec_dense_{i}")(x)
        x = keras.layers.Dense(h * w * c, activation="sigmoid", name="dec_pixels")(x)
        x = keras.layers.Reshape(shape, name="reconstruction")(x)
    else:
        scale = 2 ** len(filters)
        x = keras.layers.Dense((h // scale) * (w // scale) * filters[-1], activation="relu", name="dec_dense")(codes)
        x = keras.layers.Reshape((h // scale, w // scale, filters[-1]), name="dec_reshape")(x)
        for i, f in enumerate(reversed(filters), start=1):
            x = keras.layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu", name=f"dec_deconv_{i}")(x)
        x = keras.layers.Conv2D(c, 3, padding="same", activation="sigmoid", name="reconstruction")(x)
    return keras.Model(codes, x, name="decoder")


@register_model(task="reconstruction")
def autoencoder(
    *,
    input_shape: tuple[int, ...] = (28, 28, 1),  # (H, W) or (H, W, C)
    variant: Literal["dense", "conv", "variational"] = "conv",
    latent_dim: int = 32,                # size of the code (the representation)
    units: tuple[int, ...] = (256, 128),  # dense variant: encoder widths (decoder mirrors)
    filters: tuple[int, ...] = (32, 64),         # conv/variational: stride-2 convolutions
    noise: float = 0.0,                  # denoising: Gaussian noise std on the [0, 1] input, training only
    rescaling: float | None = None,      # e.g. 1/255 for raw uint8 pixels
    name: str = "autoencoder",
) -> keras.Model:
    """Autoencoders (dense, convolutional, denoising, variational) whose encoder and decoder work on their own.

    Args:
      input_shape: `(H, W)` or `(H, W, C)`; for `conv`/`variational`, H and W must be divisible
        by `2 ** len(filters)`.
      variant: `"dense"` (Hinton & Salakhutdinov), `"conv"`, or `"variational"` (a convolutional
        VAE: the KL term is added as a layer loss; the code is the posterior mean at inference).
      latent_dim: width of the code.
      units: dense encoder layer widths (the decoder mirrors them).
      filters: conv encoder filters, each a 3x3 stride-2 convolution (the decoder mirrors them).
      noise: standard deviation of the Gaussian corruption applied in training only
        (`noise > 0` makes it a denoising autoencoder, Vincent et al. 2008).
      rescaling: multiply inputs by this first (outputs stay in [0, 1]).
      name: model name.

    Returns:
      A `keras.Model` from images to reconstructions in [0, 1] of the input's shape.

    Reference:
      Hinton & Salakhutdinov 2006; Vincent et al. 2008; Kingma & Welling 2014.

    Example:
      >>> model = kerazoo.get("autoencoder", variant="dense", latent_dim=16, noise=0.2, compile=True)
      >>> features = kerazoo.models.autoencoder.encoder_of(model)   # images -> 16-d codes
    """
    check_choice("variant", variant, ["dense", "conv", "variational"])
    check_positive(latent_dim=latent_dim, units=units, filters=filters)
    if noise < 0:
        raise ConfigError(f"The `noise` argument should be >= 0 (a standard deviation). Received: noise={noise}")
    if len(input_shape) not in (2, 3):
        raise ConfigError(f"autoencoder: `input_shape` should be (height, width) or (height, width, channels). "
                         f"Received: input_shape={input_shape}")
    check_positive(input_shape=input_shape)
    shape = tuple(input_shape) if len(input_shape) == 3 else (*input_shape, 1)
    scale = 2 ** len(filters)
    if variant != "dense" and (shape[0] % scale or shape[1] % scale):
        raise ConfigError(f"autoencoder: a {variant} autoencoder with {len(filters)} stride-2 layers needs height and "
                         f"width divisible by {scale}. Received: input_shape={input_shape}")

    # === Layers ===
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs if len(input_shape) == 3 else keras.layers.Reshape(shape, name="add_channel")(inputs)
    if rescaling is not None:
        x = keras.layers.Rescaling(rescaling, name="rescaling")(x)
    if noise:
        x = keras.layers.GaussianNoise(noise, name="corruption")(x)
    encoder = _encoder(shape, variant, latent_dim, units, filters)
    decoder = _decoder(shape, variant, latent_dim, units, filters)
    x = decoder(encoder(x))
    if len(input_shape) == 2:
        x = keras.layers.Reshape(tuple(input_shape), name="drop_channel")(x)
    return keras.Model(inputs, x, name=name)


def encoder_of(model: keras.Model) -> keras.Model:
    """The encoder sub-model (images after preprocessing -> codes)."""
    return model.get_layer("encoder")


def decoder_of(model: keras.Model) -> keras.Model:
    """The decoder sub-model (codes -> images in [0, 1])."""
    return model.get_layer("decoder")
