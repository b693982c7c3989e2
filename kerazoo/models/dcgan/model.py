"""DCGAN's architecture (Radford, Metz, Chintala 2016): a convolutional GAN trained with `fit`, in `keras` only.

The generator projects a latent vector with a dense layer, reshapes it into a small map and
doubles its side with stride-2 `Conv2DTranspose` blocks (batch norm + LeakyReLU) up to the image,
ending in tanh, so images live in [-1, 1]. The discriminator is a stack of stride-2 convolutions
(LeakyReLU + dropout) ending in one logit. `DCGAN` wraps both functional models (`generator`,
`discriminator`) in a `keras.Model` trained by Keras' own `fit` on every backend: its `compute_loss`
plays both networks (Goodfellow's non-saturating losses) and makes each loss reach only its own
network's weights, so one optimizer step updates the discriminator by the gradient of its loss and
the generator by the gradient of its own, as keras-io's dcgan_overriding_train_step does with two
tapes; `fit` logs `d_loss` and `g_loss` with Keras' progress bar.

Real data: `fit` takes raw pixels. Integer images (uint8 0..255) are mapped to [-1, 1] inside
the step and a missing channel axis is added, so `fit(x_train)` on `keras.datasets.mnist` arrays or
`kerazoo.data.load("mnist")` pipelines works as is (labels are ignored); float images are taken to
be in [-1, 1] already (`scale_images` does the same conversion outside the model).

Reference:
  A. Radford, L. Metz, S. Chintala. "Unsupervised representation learning with deep convolutional
  generative adversarial networks." ICLR 2016. I. Goodfellow et al. "Generative adversarial
  nets." NeurIPS 2014.
"""
from __future__ import annotations

import warnings

import keras
import numpy as np
from keras import ops

from kerazoo.errors import ConfigError
from kerazoo.models.common import check_positive, check_rate
from kerazoo.registry import register_model

__all__ = ["DCGAN", "dcgan", "scale_images", "to_pixels", "EVALUATION_SEED"]

EVALUATION_SEED = 1337  # latents of `evaluate` (training draws from the model's SeedGenerator)


def scale_images(images):
    """Raw integer pixels (0..255) to float32 in [-1, 1]; adds the channel axis of `(N, H, W)`."""
    dtype = keras.backend.standardize_dtype(images.dtype)
    images = ops.cast(images, "float32")
    if "int" in dtype:
        images = images / 127.5 - 1.0
    return ops.expand_dims(images, -1) if len(images.shape) == 3 else images


def to_pixels(images) -> np.ndarray:
    """Images in [-1, 1] `(N, H, W, C)` to uint8 pixels 0..255 of the same shape (the inverse of `scale_images`)."""
    return np.clip(np.round((np.asarray(images, "float32") + 1.0) * 127.5), 0, 255).astype(np.uint8)


@keras.saving.register_keras_serializable(package="kerazoo")
class DCGAN(keras.Model):
    """A generator and a discriminator trained against each other by `fit`.

    `model(z)` (latent vectors, rank 2) is the generator; `model(images)` the discriminator's logits.
    `fit(images)` draws fresh latent vectors every step; `fit(z, images)` uses the given ones.
    `compile()` defaults to Adam(2e-4, beta_1=0.5), which updates both networks (Adam's moments are
    per weight, so one Adam is two). `label_smoothing` is one-sided (Salimans et al. 2016): the
    discriminator's target for real images is `1 - label_smoothing`, for generated ones 0.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, label_smoothing: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        check_rate(label_smoothing=label_smoothing)
        self.generator, self.discriminator = generator, discriminator
        self.label_smoothing = float(label_smoothing)  # one-sided: real images' target is 1 - label_smoothing
        self.latent_dim = int(generator.input_shape[-1])
        self.input_shape = tuple(generator.output_shape[1:])  # the images', as the builder's `input_shape`
        self.noise = keras.random.SeedGenerator()
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_loss_tracker, self.g_loss_tracker = keras.metrics.Mean("d_loss"), keras.metrics.Mean("g_loss")
        self.built = True  # both networks are built functional models

    def __getattr__(self, name):
        if name == "image_shape":  # not a property: Keras' saving reads every attribute it lists
            warnings.warn("DCGAN.image_shape is now called input_shape (kerazoo's naming table); the old name stops "
                          "working in kerazoo 0.2.", FutureWarning, stacklevel=2)
            return self.input_shape
        parent = getattr(super(), "__getattr__", None)  # on PyTorch a Keras layer is a torch Module: sub-models live there
        if parent is not None:
            return parent(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def output_shape(self) -> tuple:
        """The shape of `model(z)`, the generator's images: `(None, H, W, C)`."""
        return self.generator.output_shape

    def call(self, inputs, training=False):
        if len(inputs.shape) == 2:  # latent vectors -> images
            return self.generator(inputs, training=training)
        return self.discriminator(scale_images(inputs), training=training)  # images -> logits

    def compile(self, optimizer=None, loss=None, metrics=None, **kwargs):
        if loss is not None or metrics:
            raise ConfigError("DCGAN computes its own losses (d_loss, g_loss); compile it with an optimizer "
                              f"only. Received: loss={loss!r}, metrics={metrics!r}")
        for old in ("d_optimizer", "g_optimizer"):
            if old in kwargs:
                raise ConfigError(f"DCGAN.compile: `{old}` was removed in kerazoo 0.2: one `optimizer` updates both "
                                  "networks, each by the gradient of its own loss. Received: "
                                  f"{old}={kwargs[old]!r}")
        adam = {"class_name": "adam", "config": {"learning_rate": 2e-4, "beta_1": 0.5}}
        super().compile(optimizer=keras.optimizers.get(optimizer or adam), **kwargs)
        # built here, in the caller's strategy scope: built lazily inside a replica step it fails under
        # MirroredStrategy (and its slots must exist for a .keras file to restore them)
        self.optimizer.build(self.trainable_variables)

    def compile_from_config(self, config):  # .keras files written before 0.2 held two optimizers
        config = dict(config)
        if "g_optimizer" in config:
            config = {"optimizer": config.pop("g_optimizer")}
        self.compile(**{k: keras.saving.deserialize_keras_object(v) for k, v in config.items()
                        if k == "optimizer"})

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    # === Training: one loss, each part reaching one network ===
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """`d_loss + g_loss`, where `d_loss` (real -> 1 - label_smoothing, generated -> 0) sees the
        generated images as constants and `g_loss` (generated -> 1) sees the discriminator's weights as
        constants: its gradient reaches each network from its own loss only."""
        if len(x.shape) == 2:  # fit(z, images): the forward pass generated the images
            fake, real_logits = y_pred, self.discriminator(scale_images(y), training=training)
        else:  # fit(images): the forward pass scored the real ones
            seed = self.noise if training else EVALUATION_SEED  # evaluate: the same latents every time
            z = keras.random.normal((ops.shape(x)[0], self.latent_dim), seed=seed)
            fake, real_logits = self.generator(z, training=training), y_pred
        # The generated images are scored twice with the same weights and dropout masks (the same state): once as
        # constants (for d_loss) and once as they are (for g_loss). Both are one value; subtracting the first's
        # g_loss keeps g_loss's gradient on the generator alone, without reading the discriminator's weights a
        # second time (a read TensorFlow's graph could order after this step's update of them).
        weights = [v.value for v in self.discriminator.trainable_variables]
        state = [v.value for v in self.discriminator.non_trainable_variables]
        fake_logits, _ = self.discriminator.stateless_call(weights, state, ops.stop_gradient(fake), training=training)
        judged, state = self.discriminator.stateless_call(weights, state, fake, training=training)
        for variable, value in zip(self.discriminator.non_trainable_variables, state):
            variable.assign(value)  # the dropout seed and the batch-norm statistics move on
        d_loss = (self.bce(ops.full_like(real_logits, 1.0 - self.label_smoothing), real_logits)
                  + self.bce(ops.zeros_like(fake_logits), fake_logits))
        g_loss = self.bce(ops.ones_like(judged), judged)
        g_loss_of_discriminator = self.bce(ops.ones_like(fake_logits), fake_logits)  # = g_loss, reaching D only
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return d_loss + g_loss - g_loss_of_discriminator + ops.stop_gradient(g_loss_of_discriminator)

    # === Sampling ===
    def latent(self, n: int, seed: int | None = None) -> np.ndarray:
        """`n` standard-normal latent vectors (float32), the same ones for the same `seed`."""
        return np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype("float32")

    def sample(self, n: int = 64, seed: int | None = None, batch_size: int = 256) -> np.ndarray:
        """`n` generated images `(n, H, W, C)` in [-1, 1]; deterministic for a given `seed`."""
        z = self.latent(n, seed)
        return np.concatenate([ops.convert_to_numpy(self.generator(z[i:i + batch_size], training=False))
                               for i in range(0, n, batch_size)])

    # === Config ===
    def get_config(self):
        return {**super().get_config(), "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "label_smoothing": self.label_smoothing}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


@register_model(task="image-generation")
def dcgan(
    *,
    input_shape: tuple[int, ...] = (28, 28, 1),        # (H, W, C); sides multiples of 2**len(generator_filters)
    latent_dim: int = 100,                              # size of z, as in the paper
    generator_filters: tuple[int, ...] = (128, 64),     # projected map, then each stride-2 block
    discriminator_filters: tuple[int, ...] = (64, 128),  # one stride-2 convolution each
    kernel_size: int = 5,
    negative_slope: float = 0.2,                        # LeakyReLU slope (Radford et al.)
    dropout: float = 0.3,                               # discriminator dropout after each convolution
    label_smoothing: float = 0.0,                       # one-sided: the discriminator's target for real images is 1 - this
    name: str = "dcgan",
) -> DCGAN:
    """DCGAN (Radford et al. 2016): a convolutional generator and discriminator, MNIST's 28x28x1 by default.

    Args:
      input_shape: `(height, width, channels)` of the generated (and discriminated) images.
      latent_dim: length of the generator's input vector z (standard normal).
      generator_filters: channels of the dense projection's map and of each upsampling block.
        The generator doubles the side `len(generator_filters)` times (the last doubling is the
        tanh output layer), so it starts at `H / 2**len(generator_filters)`: 7x7 for 28x28.
      discriminator_filters: channels of the discriminator's stride-2 convolutions.
      kernel_size: kernel side of every (transposed) convolution.
      negative_slope: LeakyReLU slope in both networks.
      dropout: discriminator dropout rate after each convolution.
      label_smoothing: one-sided label smoothing (Salimans et al. 2016): the discriminator learns
        `1 - label_smoothing` for real images and 0 for generated ones.
      name: model name (sub-models are named `generator` and `discriminator`).

    Returns:
      A `DCGAN` (a `keras.Model`): `model(z)` gives images in [-1, 1]; compile it and `fit` it on images.

    Reference:
      Radford, Metz, Chintala, "Unsupervised representation learning with deep convolutional
      generative adversarial networks", ICLR 2016.

    Example:
      >>> gan = kerazoo.get("dcgan", compile=True)
      >>> (x_train, _), _ = keras.datasets.mnist.load_data()   # uint8 pixels are rescaled inside
      >>> gan.fit(x_train, batch_size=128, epochs=5, callbacks=[SampleGrid("samples")])
      >>> plot_image_grid(gan.sample(64, seed=0), "digits.png")
    """
    if len(input_shape) != 3:
        raise ConfigError(f"dcgan: `input_shape` should be (height, width, channels). Received: "
                          f"input_shape={input_shape}")
    check_positive(input_shape=input_shape, latent_dim=latent_dim, generator_filters=generator_filters,
                   discriminator_filters=discriminator_filters, kernel_size=kernel_size)
    check_rate(dropout=dropout)
    height, width, channels = input_shape
    steps = len(generator_filters)
    if height % 2 ** steps or width % 2 ** steps:
        most = min((s & -s).bit_length() - 1 for s in (height, width))  # times both sides halve evenly
        fix = f"use at most {most} generator_filters entries" if most else "odd sides cannot be made"
        raise ConfigError(
            f"dcgan: the generator doubles its starting map {steps} times (once per generator_filters entry), "
            f"so both image sides must be multiples of {2 ** steps} (e.g. {7 * 2 ** steps} or {2 ** (steps + 3)}); "
            f"for {height}x{width} {fix}. Received: input_shape={input_shape}, generator_filters={generator_filters}")
    start_h, start_w = height // 2 ** steps, width // 2 ** steps

    # === Generator: z -> dense projection -> (Conv2DTranspose + BN + LeakyReLU) x n -> tanh ===
    z = keras.Input(shape=(latent_dim,), name="z")
    x = keras.layers.Dense(start_h * start_w * generator_filters[0], use_bias=False, name="project")(z)
    x = keras.layers.BatchNormalization(name="project_bn")(x)
    x = keras.layers.LeakyReLU(negative_slope, name="project_lrelu")(x)
    x = keras.layers.Reshape((start_h, start_w, generator_filters[0]), name="reshape")(x)
    for i, filters in enumerate(generator_filters[1:], start=1):
        x = keras.layers.Conv2DTranspose(filters, kernel_size, strides=2, padding="same", use_bias=False,
                                         name=f"up{i}")(x)
        x = keras.layers.BatchNormalization(name=f"up{i}_bn")(x)
        x = keras.layers.LeakyReLU(negative_slope, name=f"up{i}_lrelu")(x)
    image = keras.layers.Conv2DTranspose(channels, kernel_size, strides=2, padding="same", activation="tanh",
                                         name="to_image")(x)
    generator = keras.Model(z, image, name="generator")

    # === Discriminator: image -> (strided Conv2D + LeakyReLU + Dropout) x n -> logit ===
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for i, filters in enumerate(discriminator_filters, start=1):
        x = keras.layers.Conv2D(filters, kernel_size, strides=2, padding="same", name=f"conv{i}")(x)
        x = keras.layers.LeakyReLU(negative_slope, name=f"conv{i}_lrelu")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"conv{i}_dropout")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    logit = keras.layers.Dense(1, name="logit")(x)
    discriminator = keras.Model(inputs, logit, name="discriminator")

    return DCGAN(generator, discriminator, label_smoothing=label_smoothing, name=name)
