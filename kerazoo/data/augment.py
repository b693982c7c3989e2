"""Training-time image augmentation: random affine maps and elastic distortion, one resampling.

A recipe's `augment:` block (`kerazoo.recipe.Recipe.augment`) names what varies, e.g.

    augment: {translate: 0.15, rotate: 20, zoom: 0.2, shear: 15, elastic: {alpha: 34, sigma: 4}}

and `augment_dataset` maps it over the *training* pipeline only (validation, test and the
shipped model never see it, so inference does not depend on it). Every image of a batch gets its
own random map: translation by up to `translate` of the height/width, rotation by up to `rotate`
degrees, isotropic scaling by 1 +- `zoom`, shear by up to `shear` degrees (all uniform), then
Simard et al.'s elastic distortion (a uniform(-1, 1) displacement field smoothed by a Gaussian of
`sigma` pixels, times `alpha`). With `probability: p` only a random fraction p of the images is
distorted and the rest pass unchanged: resampling blurs a digit slightly, and a network that only
ever sees resampled digits reads the sharp originals worse (measured: LeNet-5 trained on 100 %
distorted digits made 1.35 % validation errors on the clean digits, 0.95 % on the same digits
shifted by half a pixel). The maps are composed into one sampling grid, resampled once
(bilinear; outside pixels 0), so the digit is not blurred by
a chain of layers. Random numbers are stateless, from the recipe seed: a run is reproducible, and
each epoch sees new distortions. Images keep their dtype (uint8 in, rounded uint8 out) and labels.

Reference:
  P. Y. Simard, D. Steinkraus, J. C. Platt. "Best practices for convolutional neural networks
  applied to visual document analysis." ICDAR 2003.
"""
from __future__ import annotations

import math

from kerazoo.errors import ConfigError

__all__ = ["ACCEPTED", "check_augment", "augment_batch", "augment_dataset"]

ACCEPTED = {"probability": "fraction of the images distorted (default 1); the others pass unchanged",
            "translate": "fraction of the height/width, uniform in +-translate",
            "rotate": "degrees, uniform in +-rotate",
            "zoom": "fraction, scale uniform in 1 +- zoom",
            "shear": "degrees, uniform in +-shear",
            "elastic": "{alpha: pixels, sigma: pixels} (Simard et al. 2003: alpha 34, sigma 4 on 28x28)"}
_ELASTIC = ("alpha", "sigma")


def check_augment(spec) -> dict:
    """Validates an `augment:` block; returns it as `{key: float or {alpha, sigma}}`.

    Raises:
      ConfigError: naming an unknown key or a bad value, and what is accepted.
    """
    if not isinstance(spec, dict):
        raise ConfigError(f"recipe augment: expected a mapping such as {{rotate: 15, zoom: 0.1}}. Received: {spec!r}")
    accepted = "; ".join(f"{k}: {v}" for k, v in ACCEPTED.items())
    out = {}
    for key, value in spec.items():
        if key not in ACCEPTED:
            raise ConfigError(f"recipe augment: unknown key {key!r}. Accepted keys: {accepted}.")
        if key == "elastic":
            if not isinstance(value, dict) or set(value) - set(_ELASTIC) or not value:
                raise ConfigError(f"recipe augment: elastic needs {{alpha, sigma}} (keys {', '.join(_ELASTIC)}). "
                                  f"Received: elastic={value!r}")
            value = {k: _number(f"elastic.{k}", v, lo=0 if k == "alpha" else 1e-6) for k, v in value.items()}
            out[key] = {"alpha": value.get("alpha", 34.0), "sigma": value.get("sigma", 4.0)}
        else:
            out[key] = _number(key, value, lo=0, hi=1 if key in ("translate", "zoom", "probability") else 90)
    return out


def _number(key, value, *, lo, hi=math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ConfigError(f"recipe augment: {key} must be a number in [{lo}, {hi}]. Received: {key}={value!r}")
    return float(value)


def _gaussian_smooth(field, sigma: float):
    """`(B, H, W, C)` smoothed by a normalised Gaussian of `sigma` pixels (separable, zero padding)."""
    import tensorflow as tf

    radius = int(math.ceil(3 * sigma))
    taps = tf.exp(-0.5 * tf.square(tf.range(-radius, radius + 1, dtype=tf.float32) / sigma))
    taps /= tf.reduce_sum(taps)
    channels = field.shape[-1]
    rows = tf.tile(tf.reshape(taps, (-1, 1, 1, 1)), (1, 1, channels, 1))
    cols = tf.tile(tf.reshape(taps, (1, -1, 1, 1)), (1, 1, channels, 1))
    field = tf.nn.depthwise_conv2d(field, rows, (1, 1, 1, 1), "SAME")
    return tf.nn.depthwise_conv2d(field, cols, (1, 1, 1, 1), "SAME")


def _bilinear(x, src_y, src_x):
    """`x` `(B, H, W, C)` sampled at `(src_y[b, i, j], src_x[b, i, j])`, bilinear, 0 outside.

    `keras.ops.image.map_coordinates` would do it per image, but needs static shapes and the
    batch size of a pipeline's last batch is not static (Keras 3.15).
    """
    import tensorflow as tf

    h, w = tf.shape(x)[1], tf.shape(x)[2]
    y0, x0 = tf.floor(src_y), tf.floor(src_x)
    out = tf.zeros_like(x)
    for corner_y in (y0, y0 + 1):
        for corner_x in (x0, x0 + 1):
            weight = (1 - tf.abs(src_y - corner_y)) * (1 - tf.abs(src_x - corner_x))
            yi, xi = tf.cast(corner_y, tf.int32), tf.cast(corner_x, tf.int32)
            inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
            index = tf.stack([tf.clip_by_value(yi, 0, h - 1), tf.clip_by_value(xi, 0, w - 1)], axis=-1)
            out += tf.gather_nd(x, index, batch_dims=1) * (weight * tf.cast(inside, x.dtype))[..., None]
    return out


def augment_batch(images, spec: dict, seed):
    """One random distortion per image of a batch `(B, H, W)` or `(B, H, W, C)`; same dtype out.

    Args:
      images: a batch of images (uint8 pixels or floats).
      spec: a checked `augment:` block (`check_augment`).
      seed: stateless seed, an int tensor of shape `(2,)`.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(images)
    dtype, squeeze = x.dtype, x.shape.rank == 3
    x = tf.cast(x[..., None] if squeeze else x, tf.float32)
    shape = tf.shape(x)
    b, h, w = shape[0], tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 7)
    chosen = tf.cast(tf.random.stateless_uniform((b, 1, 1), seeds[6]) < spec.get("probability", 1.0), tf.float32)

    def uniform(i, limit):  # per image, in [-limit, limit]; 0 for the images left unchanged
        return tf.random.stateless_uniform((b, 1, 1), seeds[i], -limit, limit) * chosen

    rad = math.pi / 180
    angle, shear = uniform(0, spec.get("rotate", 0.0) * rad), uniform(1, spec.get("shear", 0.0) * rad)
    scale = 1 + uniform(2, spec.get("zoom", 0.0))
    ty, tx = uniform(3, spec.get("translate", 0.0)) * h, uniform(4, spec.get("translate", 0.0)) * w
    # output pixel (row, col) -> the input point it shows: undo translation, rotation, shear, zoom
    rows, cols = tf.meshgrid(tf.range(h) - (h - 1) / 2, tf.range(w) - (w - 1) / 2, indexing="ij")
    py, px = rows[None] - ty, cols[None] - tx
    ry, rx = tf.cos(angle) * py - tf.sin(angle) * px, tf.sin(angle) * py + tf.cos(angle) * px
    rx = rx - tf.tan(shear) * ry
    src_y, src_x = ry / scale + (h - 1) / 2, rx / scale + (w - 1) / 2
    if "elastic" in spec:
        noise = tf.random.stateless_uniform(tf.stack([b, shape[1], shape[2], 2]), seeds[5], -1.0, 1.0)
        field = spec["elastic"]["alpha"] * _gaussian_smooth(noise, spec["elastic"]["sigma"]) * chosen[..., None]
        src_y, src_x = src_y + field[..., 0], src_x + field[..., 1]
    out = _bilinear(x, src_y, src_x)
    out = out[..., 0] if squeeze else out
    if dtype.is_integer:
        out = tf.clip_by_value(tf.round(out), dtype.min, dtype.max)
    return tf.cast(out, dtype)


def augment_dataset(ds, spec: dict | None, *, seed: int):
    """`ds` (batches of `(images, labels, ...)`) with `augment_batch` applied to the images; `ds`
    itself when `spec` is empty. Each batch of each epoch draws its own seed from `seed`."""
    if not spec:
        return ds
    import tensorflow as tf

    spec = check_augment(spec)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def distort(batch, pair):
        return (augment_batch(batch[0], spec, pair), *batch[1:])

    return tf.data.Dataset.zip((ds, seeds)).map(distort, num_parallel_calls=tf.data.AUTOTUNE) \
        .prefetch(tf.data.AUTOTUNE)
