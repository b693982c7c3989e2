"""DCGAN (Radford, Metz, Chintala 2016): a convolutional GAN trained with `fit`.

The generator projects a latent vector with a dense layer, reshapes it into a small map and
doubles its side with stride-2 `Conv2DTranspose` blocks (batch norm + LeakyReLU) up to the image,
ending in tanh, so images live in [-1, 1]. The discriminator is a stack of stride-2 convolutions
(LeakyReLU + dropout) ending in one logit. `DCGAN` wraps both functional models (`generator`,
`discriminator`) in a `keras.Model` whose `train_step` alternates a discriminator update on real
and generated images with a generator update (Goodfellow's non-saturating loss), as in keras-io's
dcgan_overriding_train_step; `fit` logs `d_loss` and `g_loss` with Keras' progress bar.

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

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kerazoo.family import ExportCore, ExportData, FamilyHooks, TaskData
from kerazoo.models._common import check_positive, check_rate
from kerazoo.registry import register_model

__all__ = ["SAMPLE_SEED", "DCGAN", "dcgan", "scale_images", "to_pixels", "image_mosaic", "plot_image_grid", "SampleGrid", "LeNetScores",
           "lenet_scores", "recipe_data", "recipe_callbacks", "recipe_metrics", "recipe_plots", "serving_endpoint",
           "metric_callbacks"]


EVALUATION_SEED = 1337  # latents of `evaluate` (training draws from the model's SeedGenerator)
SAMPLE_SEED = 0  # latents of the card's LeNet scores (the first n of them), a run's samples.png and the demo's grid


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

    `call(z)` is the generator. `fit(images)` draws fresh latent vectors every step; `fit(z, images)`
    (latent vectors of rank 2 as `x`) uses the given ones. `compile()` defaults to Adam(2e-4,
    beta_1=0.5) for both networks; one `optimizer=` is cloned for the discriminator, whose learning
    rate then follows the generator's (`model.optimizer`, the one a schedule callback such as
    `LearningRateScheduler` sets), or give `d_optimizer=`/`g_optimizer=`. `label_smoothing` is
    one-sided (Salimans et al. 2016): the discriminator's target for real images is
    `1 - label_smoothing`, for generated ones 0.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, label_smoothing: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        check_rate(label_smoothing=label_smoothing)
        self.generator, self.discriminator = generator, discriminator
        self.label_smoothing = float(label_smoothing)  # one-sided: real images' target is 1 - label_smoothing
        self._d_follows_g = False  # set by compile
        self.latent_dim = int(generator.input_shape[-1])
        self.image_shape = tuple(generator.output_shape[1:])
        self.noise = keras.random.SeedGenerator()
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_loss_tracker, self.g_loss_tracker = keras.metrics.Mean("d_loss"), keras.metrics.Mean("g_loss")
        self.built = True  # both networks are built functional models

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def compile(self, optimizer=None, loss=None, metrics=None, *, d_optimizer=None, g_optimizer=None, **kwargs):
        if loss is not None or metrics:
            raise ValueError("DCGAN computes its own losses (d_loss, g_loss); compile it with an optimizer "
                             f"only. Received: loss={loss!r}, metrics={metrics!r}")
        adam = {"class_name": "adam", "config": {"learning_rate": 2e-4, "beta_1": 0.5}}
        self.g_optimizer = keras.optimizers.get(g_optimizer or optimizer or adam)
        # a clone follows the generator's learning rate (a variable; a LearningRateSchedule runs on its own)
        self._d_follows_g = d_optimizer is None and isinstance(self.g_optimizer.get_config()["learning_rate"], float)
        if d_optimizer is None:  # a clone: both networks must not share one optimizer's slots
            d_optimizer = self.g_optimizer.__class__.from_config(self.g_optimizer.get_config())
        self.d_optimizer = keras.optimizers.get(d_optimizer)
        super().compile(optimizer=self.g_optimizer, **kwargs)
        # built here, in the caller's strategy scope: built lazily inside a replica step they fail
        # under MirroredStrategy (and their slots must exist for a .keras file to restore them)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def get_compile_config(self):
        return {"d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
                "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer)} if self.compiled else None

    def compile_from_config(self, config):
        self.compile(**{k: keras.saving.deserialize_keras_object(v) for k, v in config.items()})

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    # === Training ===
    def _unpack(self, data, training=True):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if len(x.shape) == 2:  # (z, images)
            return x, scale_images(y)
        real = scale_images(x)  # labels, if any, are ignored
        # training draws fresh latents every step; evaluation the same ones every time (a fixed,
        # stateless seed), so `evaluate` reports the same losses on the same images
        seed = self.noise if training else EVALUATION_SEED
        return keras.random.normal((ops.shape(real)[0], self.latent_dim), seed=seed), real

    def _adversarial_losses(self, real, z, training):
        real_logits = self.discriminator(real, training=training)
        fake_logits = self.discriminator(self.generator(z, training=training), training=training)
        d_loss = (self.bce(ops.full_like(real_logits, 1.0 - self.label_smoothing), real_logits)
                  + self.bce(ops.zeros_like(fake_logits), fake_logits))
        return d_loss, self.bce(ops.ones_like(fake_logits), fake_logits)

    def train_step(self, data):
        if self._d_follows_g:  # e.g. set by a LearningRateScheduler callback on model.optimizer
            self.d_optimizer.learning_rate.assign(self.g_optimizer.learning_rate)
        z, real = self._unpack(data)
        with tf.GradientTape() as tape:  # 1. discriminator: real -> 1, generated -> 0
            d_loss, _ = self._adversarial_losses(real, z, training=True)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        with tf.GradientTape() as tape:  # 2. generator: make the discriminator say 1
            fake_logits = self.discriminator(self.generator(z, training=True), training=True)
            g_loss = self.bce(ops.ones_like(fake_logits), fake_logits)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        z, real = self._unpack(data, training=False)
        d_loss, g_loss = self._adversarial_losses(real, z, training=False)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics}

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


@register_model
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
    """A DCGAN for images of a configured size (MNIST's 28x28x1 by default).

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
        raise ValueError(f"dcgan: `input_shape` should be (height, width, channels). Received: input_shape={input_shape}")
    check_positive(input_shape=input_shape, latent_dim=latent_dim, generator_filters=generator_filters,
                   discriminator_filters=discriminator_filters, kernel_size=kernel_size)
    check_rate(dropout=dropout)
    height, width, channels = input_shape
    steps = len(generator_filters)
    if height % 2 ** steps or width % 2 ** steps:
        most = min((s & -s).bit_length() - 1 for s in (height, width))  # times both sides halve evenly
        fix = f"use at most {most} generator_filters entries" if most else "odd sides cannot be made"
        raise ValueError(
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


def image_mosaic(images, *, columns: int | None = None, gap: int = 2) -> np.ndarray:
    """Images in [-1, 1] (`(N, H, W, C)`) tiled row by row into one `(rows, columns)` mosaic in [0, 1],
    every tile framed by `gap` white pixels (the same between rows as between columns)."""
    images = np.clip((np.asarray(images, dtype="float32") + 1.0) / 2.0, 0.0, 1.0)
    n, height, width, channels = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    mosaic = np.ones((rows * (height + gap) + gap, columns * (width + gap) + gap, channels), "float32")
    for i, image in enumerate(images):
        top, left = gap + (i // columns) * (height + gap), gap + (i % columns) * (width + gap)
        mosaic[top:top + height, left:left + width] = image
    return mosaic


def plot_image_grid(images, path: str | Path, *, columns: int | None = None, title: str = "") -> Path:
    """Writes images in [-1, 1] (`(N, H, W, C)`, C = 1 or 3) as one grid PNG (`image_mosaic`); returns its path."""
    from kerazoo.plots import pyplot

    plt = pyplot()
    mosaic = image_mosaic(images, columns=columns)
    dpi, zoom = 80, 3  # every mosaic pixel drawn as about 3x3 pixels of the PNG
    fig, ax = plt.subplots(figsize=(mosaic.shape[1] * zoom / dpi, mosaic.shape[0] * zoom / dpi + (0.4 if title else 0)))
    ax.imshow(mosaic[..., 0] if mosaic.shape[-1] == 1 else mosaic, cmap="gray", vmin=0, vmax=1,
              interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title)
    fig.tight_layout(pad=0.1)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return Path(path)


class SampleGrid(keras.callbacks.Callback):
    """Saves a grid of `model.sample(n, seed)` as `directory/epoch_NNN.png` every `every` epochs.

    The seed is fixed, so the grids show the same latent vectors improving epoch by epoch.
    """

    def __init__(self, directory: str | Path, every: int = 1, n: int = 64, seed: int = 0):
        super().__init__()
        check_positive(every=every, n=n)
        self.directory, self.every, self.n, self.seed = Path(directory), every, n, seed
        self.paths: list[Path] = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            path = self.directory / f"epoch_{epoch + 1:03d}.png"
            self.paths.append(plot_image_grid(self.model.sample(self.n, self.seed), path, title=f"epoch {epoch + 1}"))


# === How good are the samples: scores from the shipped MNIST classifier ===

def _frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula)."""
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * np.real(root)))


def lenet_scores(images, reference, *, classifier=None, batch_size: int = 1000) -> dict[str, float]:
    """Scores of generated digits by the shipped `lenet5.mnist` classifier (MNIST-shaped images only).

    - `lenet_fid`: Fréchet distance between the classifier's 84-d F6 features of `images` and of
      `reference` (real digits): FID (Heusel et al. 2017) with LeNet-5 in place of Inception; 0 for
      identical distributions, lower is better.
    - `lenet_score`: `exp(E_x KL(p(y|x) || p(y)))`, the Inception Score (Salimans et al. 2016) with
      LeNet-5: between 1 and 10, high when each sample is clearly one digit and all ten appear.

    Args:
      images, reference: `(N, 28, 28[, 1])` images, uint8 pixels or floats in [-1, 1].
      classifier: a loaded `lenet5.mnist` (default: loads it).
    """
    classifier = classifier or _lenet()
    features = keras.Model(classifier.inputs, [classifier.get_layer("f6").output, classifier.output])

    def run(x):
        x = np.asarray(x)
        x = to_pixels(x) if x.dtype.kind == "f" else x.astype(np.uint8)
        f, p = features.predict(x.reshape(len(x), 28, 28), batch_size=batch_size, verbose=0)
        return np.asarray(f, "float64"), np.asarray(p, "float64")

    (f_gen, p_gen), (f_ref, _) = run(images), run(reference)
    marginal = p_gen.mean(0, keepdims=True)
    kl = np.sum(p_gen * (np.log(p_gen + 1e-12) - np.log(marginal + 1e-12)), axis=1)
    return {"lenet_fid": _frechet_distance(f_gen, f_ref), "lenet_score": float(np.exp(kl.mean()))}


def _lenet():
    from kerazoo.loading import get

    return get("lenet5.mnist")


def _scorable(data) -> bool:
    from kerazoo.artifacts import available

    return data.extra.get("dataset") == "mnist" and "mnist" in available("lenet5")


def _images(dataset, limit: int) -> np.ndarray:
    batches, n = [], 0
    for batch in dataset:
        x = batch[0] if isinstance(batch, tuple) else batch
        batches.append(np.asarray(x))
        n += len(batches[-1])
        if n >= limit:
            break
    return np.concatenate(batches)[:limit]


class LeNetScores(keras.callbacks.Callback):
    """Adds `val_lenet_fid` and `val_lenet_score` (`lenet_scores` of `n` samples against real
    images) to the epoch logs, so that a search can minimise the FID."""

    def __init__(self, reference, n: int = 2000, seed: int = 0):
        super().__init__()
        self.reference, self.n, self.seed, self.classifier = np.asarray(reference), n, seed, None

    def on_epoch_end(self, epoch, logs=None):
        self.classifier = self.classifier or _lenet()
        scores = lenet_scores(self.model.sample(self.n, self.seed), self.reference, classifier=self.classifier)
        if logs is not None:
            logs.update({f"val_{k}": v for k, v in scores.items()})


# === Family hooks: kerazoo train / evaluate / export / tune ===

def recipe_data(recipe, model_kwargs, data_dir, seed):
    """The recipe's image data set as `kerazoo.data` pipelines (raw uint8; labels are ignored)."""
    from kerazoo import data

    splits = data.load(recipe.dataset, data_dir=data_dir, batch_size=recipe.batch_size,
                       validation_split=recipe.validation_split, seed=seed, **recipe.data)
    return TaskData(splits["train"], splits["val"], splits["test"], extra={"dataset": recipe.dataset})


def recipe_callbacks(recipe, data, out: Path) -> list[keras.callbacks.Callback]:
    """A grid of the same 64 latent vectors after every epoch, in `out/samples/`."""
    return [SampleGrid(Path(out) / "samples")]


def checkpoint_monitor(data) -> str | None:
    """A GAN has no loss to minimise: the best epoch has the lowest LeNet-FID, when it is measured."""
    return "val_lenet_fid" if _scorable(data) else None


def recipe_metrics(model: DCGAN, data, n: int = 10000) -> dict[str, float]:
    """`lenet_scores` of `n` samples against the real test images (MNIST runs, with lenet5.mnist shipped)."""
    if not _scorable(data) or data.test is None:
        return {}
    return lenet_scores(model.sample(n, seed=SAMPLE_SEED), _images(data.test, n))


def recipe_plots(model: DCGAN, data, out: Path) -> list[Path]:
    """The final 8x8 sample grid, `samples.png`: the first 64 of the samples `recipe_metrics` scores."""
    return [plot_image_grid(model.sample(64, seed=SAMPLE_SEED), Path(out) / "samples.png",
                            title=f"{model.name}: the first 64 test-scored samples")]


def serving_endpoint(model: DCGAN):
    """The SavedModel's `serving_default`: latent vectors z -> `{"images": [-1, 1], "pixels": uint8}`."""
    def generate(z):
        images = model.generator(z, training=False)
        return {"images": images, "pixels": tf.cast(tf.round((images + 1.0) * 127.5), tf.uint8)}

    spec = tf.TensorSpec((None, model.latent_dim), tf.float32, name="z")
    return {"fn": tf.function(generate, input_signature=[spec]), "track": [model.generator],
            "input": f"float32 latent vectors z, shape [{model.latent_dim}] (standard normal)"}


def metric_callbacks(data) -> list[keras.callbacks.Callback]:
    """On MNIST, `val_lenet_fid`/`val_lenet_score` of 2,000 samples against real validation (else training)
    digits every epoch: in the logs and learning curves, what `checkpoints/best.keras` is chosen by, and a
    search objective (`objective: {name: val_lenet_fid, direction: min}`)."""
    if not _scorable(data):
        return []
    return [LeNetScores(_images(data.val if data.val is not None else data.train, 2000))]


def example_batch(model, n: int, seed: int):
    """`(z, real images in [-1, 1])`: `model(z)` gives images, `train_on_batch(z, images)` trains."""
    rng = np.random.default_rng(seed)
    return model.latent(n, seed), rng.uniform(-1, 1, (n, *model.image_shape)).astype("float32")


def export_core(model: DCGAN) -> ExportCore:
    """LiteRT/ONNX files hold the generator: latent vectors z -> `{"images": [-1, 1]}` (`to_pixels` gives uint8)."""
    spec = tf.TensorSpec((None, model.latent_dim), tf.float32, name="z")
    fn = tf.function(lambda z: {"images": model.generator(z, training=False)}, input_signature=[spec])
    return ExportCore(fn, f"float32 latent vectors z, shape [{model.latent_dim}] (standard normal)",
                      track=[model.generator])


def export_data(model: DCGAN, card: dict, data_dir) -> ExportData:
    """`kerazoo export --format`: the card's measurement in each format: `lenet_scores` of the images made
    from `latent(10000, seed=0)` against the first 10,000 test digits (MNIST, with lenet5.mnist at hand).
    int8 files are calibrated on other latent vectors (seed 1): a generator's training inputs are draws of z."""
    from kerazoo import data
    from kerazoo.artifacts import available

    recipe, n = card["recipe"], 10000
    scorable = recipe["dataset"] == "mnist" and "mnist" in available("lenet5")
    reference = data.load_numpy(recipe["dataset"], data_dir=data_dir, **recipe.get("data", {}))[1][0][:n] \
        if scorable else None

    def score(outputs) -> dict:
        if reference is None:
            return {}
        images = outputs["images"] if isinstance(outputs, dict) else outputs
        return {f"test_{k}": v for k, v in lenet_scores(images, reference, classifier=_lenet()).items()}

    what = f" scored against {len(reference):,} MNIST test digits by lenet5.mnist" if scorable else ""
    return ExportData(model.latent(500, seed=1), model.latent(n, seed=0), score,
                      f"{n:,} latent vectors (seed 0){what}")


HOOKS = FamilyHooks(recipe_data=recipe_data, recipe_callbacks=recipe_callbacks,
                    metric_callbacks=metric_callbacks, checkpoint_monitor=checkpoint_monitor,
                    recipe_metrics=recipe_metrics, recipe_plots=recipe_plots,
                    serving_endpoint=serving_endpoint, example_batch=example_batch,
                    export_core=export_core, export_data=export_data)
