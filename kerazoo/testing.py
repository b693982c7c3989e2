"""Test inputs: example batches for any catalogue model (the registry-wide tests) and synthetic
digits whose label can be read back from the image (tests and benchmarks of training, tuning and
data pipelines).

A family may declare `FamilyHooks.example_batch(model, n, seed)` returning `(x, y)` (y may be None
when the model's own `train_step` needs no targets); otherwise a batch is made from the
functional model's inputs and the recipe's loss.
"""
from __future__ import annotations

import numpy as np

__all__ = ["example_batch", "synthetic_digits"]


def _input_array(spec, n: int, rng: np.random.Generator, seq_len: int):
    shape = (n,) + tuple(seq_len if d is None else d for d in spec.shape[1:])
    dtype = str(spec.dtype)
    if dtype == "string":
        return np.array(["a small example text"] * n, dtype=object).reshape(shape)
    if "int" in dtype:
        return rng.integers(0, 2, size=shape).astype(dtype)  # ids 0/1 are valid for any vocabulary
    return rng.random(shape, dtype=np.float32).astype(dtype)


def _target(loss: str | None, shape, rng: np.random.Generator):
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, shape[-1], size=shape[:-1])
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, size=shape).astype("float32")
    return rng.random(shape, dtype=np.float32)


def example_batch(model, config=None, n: int = 4, seed: int = 0, seq_len: int = 12):
    """`(x, y)` of batch size `n` that `model` accepts; `y` matches the loss of `config`'s recipe (a
    `ZooConfig`; no loss: no targets), or comes from its family's `example_batch` hook."""
    from kerazoo.family import hooks

    family_batch = hooks(config.family).example_batch if config is not None else None
    if family_batch is not None:
        return family_batch(model, n, seed)
    loss = config.recipe.get("loss") if config is not None else None
    rng = np.random.default_rng(seed)
    xs = [_input_array(spec, n, rng, seq_len) for spec in model.inputs]
    x = xs[0] if len(xs) == 1 else xs
    if loss is None:
        return x, None
    out = model(x, training=False)  # targets take the real output's shape (time axes included)
    ys = [_target(loss, tuple(o.shape), rng) for o in (out if isinstance(out, (list, tuple)) else [out])]
    return x, ys[0] if len(ys) == 1 else ys


def synthetic_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`(x, y)`: raw uint8 28x28 'digits' of 10 classes, noise plus a bright bar at a class-specific place,
    so a model (or a test) can read the label back from the image."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.integers(0, 60, (n, 28, 28)).astype("uint8")
    for i, k in enumerate(y):
        r, c = divmod(int(k), 5)
        x[i, 4 + 10 * r: 12 + 10 * r, 2 + 5 * c: 6 + 5 * c] = 255
    return x, y
