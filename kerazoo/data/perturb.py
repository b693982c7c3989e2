"""A perturbed copy of an image test set: seeded shifts, rotations and rescalings of every image.

`perturb(images, seed)` gives the copy the digit cards report accuracy on (`test_perturbed_accuracy`,
next to the clean figure): the same images moved the way handwriting moves, to measure whether
a model reads a digit it has seen, not just the digits' pixel statistics. Each image gets one
of four perturbations, drawn with equal probability:

- **shift**: moved by whole pixels, the larger of |dx|, |dy| being 2, 3 or 4, the other any
  integer up to it (exact, no resampling);
- **rotation**: turned about the image centre by 10-20 degrees, either way;
- **rescale**: scaled about the centre by 1 +- (10-20 %) (about 15 % larger or smaller);
- **all three**: shift, rotation and rescale together, each drawn as above.

Every parameter comes from `seed` and the image's position only (row i of one seeded draw), so
the first n images of a perturbed set are the perturbed first n images: a card figure can be
rechecked on a sample. Resampling is bilinear (`scipy.ndimage.affine_transform`), outside pixels
are 0 (background), results are rounded back to uint8. The training augmentation
(`kerazoo.data.augment`) is a different implementation with wider, continuous ranges: models
are not fitted to this exact set.

Example:
  >>> x_perturbed = perturb(x_test, seed=0)                    # uint8, same shape
  >>> moved = transform(x_test[:1], shift=(3, -2), rotate=15)  # one digit, moved on purpose
"""
from __future__ import annotations

import numpy as np

__all__ = ["KINDS", "perturb", "perturbation_parameters", "transform", "perturbed_accuracy"]

KINDS = ("shift", "rotation", "rescale", "all")


def transform(images, *, shift: tuple[float, float] = (0, 0), rotate: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """Images moved by `shift = (dx, dy)` pixels (right, down), rotated by `rotate` degrees
    (counter-clockwise) and scaled by `scale`, both about the image centre; uint8 out.

    Args:
      images: `(N, H, W)` or `(N, H, W, C)` array, pixels 0-255.
      shift: `(dx, dy)` in pixels.
      rotate: degrees, counter-clockwise as seen on screen.
      scale: size factor (1.15: 15 % larger).
    """
    from scipy import ndimage

    images = np.asarray(images)
    if images.ndim not in (3, 4) or images.size == 0:
        raise ValueError("transform: expected a non-empty batch of images (N, H, W) or (N, H, W, C). "
                         f"Received: array of shape {images.shape}")
    if not scale > 0:
        raise ValueError(f"transform: scale must be > 0. Received: scale={scale!r}")
    h, w = images.shape[1:3]
    centre = np.array([(h - 1) / 2, (w - 1) / 2])
    theta = np.deg2rad(rotate)
    # forward map in (row, col): rows grow downwards, so a counter-clockwise turn on screen takes
    # (0, 1) (right of the centre) to (-1, 0) (above it): [[cos, -sin], [sin, cos]]
    forward = scale * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    inverse = np.linalg.inv(forward)
    offset = centre - inverse @ (centre + np.array([shift[1], shift[0]], dtype=float))
    out = np.empty_like(images, dtype=np.uint8)
    flat = images.reshape(len(images), h, w, -1).astype(np.float32)
    view = out.reshape(flat.shape)
    for i in range(len(images)):
        for c in range(flat.shape[-1]):
            moved = ndimage.affine_transform(flat[i, :, :, c], inverse, offset=offset, order=1, mode="constant")
            view[i, :, :, c] = np.clip(np.rint(moved), 0, 255)
    return out


def perturbation_parameters(n: int, seed: int = 0) -> list[dict]:
    """The perturbation of each of `n` images: `{"kind", "shift", "rotate", "scale"}` (see the module
    docstring); row i depends on `seed` and i only."""
    u = np.random.default_rng(seed).random((n, 9))
    params = []
    for row in u:
        kind = KINDS[int(row[0] * len(KINDS))]
        big = 2 + int(row[1] * 3)                              # 2, 3 or 4 pixels
        other = int(np.floor(row[2] * (2 * big + 1))) - big   # -big..big
        sign = 1 if row[3] < 0.5 else -1
        dx, dy = (sign * big, other) if row[4] < 0.5 else (other, sign * big)
        angle = (10 + 10 * row[5]) * (1 if row[6] < 0.5 else -1)
        scale = 1 + (0.10 + 0.10 * row[7]) * (1 if row[8] < 0.5 else -1)
        params.append({"kind": kind,
                       "shift": (dx, dy) if kind in ("shift", "all") else (0, 0),
                       "rotate": float(angle) if kind in ("rotation", "all") else 0.0,
                       "scale": float(scale) if kind in ("rescale", "all") else 1.0})
    return params


def perturb(images, seed: int = 0) -> np.ndarray:
    """The perturbed copy of `images` (uint8, same shape): each image shifted, rotated, rescaled
    or all three, as the module docstring says, reproducibly for a given `seed`.

    Example:
      >>> accuracy = np.mean(model.predict(perturb(x_test)).argmax(-1) == y_test)
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4) or images.size == 0:
        raise ValueError("perturb: expected a non-empty batch of images (N, H, W) or (N, H, W, C). "
                         f"Received: array of shape {images.shape}")
    out = np.empty(images.shape, dtype=np.uint8)
    for i, p in enumerate(perturbation_parameters(len(images), seed)):
        out[i] = transform(images[i:i + 1], shift=p["shift"], rotate=p["rotate"], scale=p["scale"])[0]
    return out


def perturbed_accuracy(model, test, *, seed: int = 0, limit: int | None = None, batch_size: int = 256) -> float:
    """Accuracy of a classifier on `perturb(x, seed)` of a held-out split.

    Args:
      model: takes the raw images (e.g. uint8 pixels with the rescaling inside).
      test: `(x, y)` arrays or a `tf.data` dataset of `(x, y)` batches.
      limit: only the first `limit` images (the same perturbations as in the whole set).
    """
    if isinstance(test, (tuple, list)):
        x, y = (np.asarray(a) for a in test)
    else:
        batches = list(test.as_numpy_iterator())
        x, y = np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])
    x, y = x[:limit], y[:limit].reshape(-1)
    probs = np.asarray(model.predict(perturb(x, seed), batch_size=batch_size, verbose=0))
    return float(np.mean(probs.argmax(-1) == y))
