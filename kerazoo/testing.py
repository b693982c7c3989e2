"""Example batches for any catalogue model, used by the registry-wide tests and `kerazoo info`.

A model class may define `example_batch(n, seed)` returning `(x, y)` (y may be None when its own
`train_step` needs no targets); otherwise a batch is made from the functional model's inputs
and the recipe's loss.
"""
from __future__ import annotations

import numpy as np

__all__ = ["example_batch"]


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


def example_batch(model, loss: str | None = None, n: int = 4, seed: int = 0, seq_len: int = 12):
    """`(x, y)` of batch size `n` that `model` accepts; `y` matches `loss` (None: no targets)."""
    if hasattr(model, "example_batch"):
        return model.example_batch(n, seed)
    rng = np.random.default_rng(seed)
    xs = [_input_array(spec, n, rng, seq_len) for spec in model.inputs]
    x = xs[0] if len(xs) == 1 else xs
    if loss is None:
        return x, None
    out = model(x, training=False)  # targets take the real output's shape (time axes included)
    ys = [_target(loss, tuple(o.shape), rng) for o in (out if isinstance(out, (list, tuple)) else [out])]
    return x, ys[0] if len(ys) == 1 else ys
