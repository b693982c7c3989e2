"""The data sets kerazoo knows by name, and the two ways to load one: `load` (seeded, cached `tf.data`
train/validation/test pipelines) and `load_numpy` (`keras.datasets`-style arrays)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from kerazoo.data import images, imdb
from kerazoo.data.sources import holdout, to_dataset

__all__ = ["LOADERS", "register_loader", "load_numpy", "load"]

Splits = dict  # {"train": (x, y), "test": (x, y)[, "train_groups": keys][, "unsup": x]}
LOADERS: dict[str, Callable[..., Splits]] = {
    "mnist": images.load_mnist, "fashion_mnist": images.load_fashion_mnist, "cifar10": images.load_cifar10,
    "digits": images.load_digits, "imdb": imdb.load_imdb, "imdb_npz": imdb.load_imdb_npz,
}


def register_loader(fn: Callable[..., Splits]) -> Callable[..., Splits]:
    """Registers a loader `load_<name>(*, data_dir=None, **options) -> splits` under `<name>`; a name
    already taken is an error (a loader is never silently replaced)."""
    name = fn.__name__.removeprefix("load_")
    if name in LOADERS and LOADERS[name] is not fn:
        raise ValueError(f"A data set named {name!r} is already registered ({LOADERS[name].__module__}); "
                         "choose another name.")
    LOADERS[name] = fn
    return fn


def _loader(name: str) -> Callable[..., Splits]:
    if name not in LOADERS:
        raise ValueError(f"Unknown data set {name!r}. Available: {', '.join(sorted(LOADERS))}.")
    return LOADERS[name]


def load_numpy(name: str, *, data_dir=None, train_size: int | None = None, **options) -> tuple:
    """`(x_train, y_train), (x_test, y_test)` as NumPy arrays, like `keras.datasets` (`train_size`: the
    first that many training examples)."""
    splits = _loader(name)(data_dir=data_dir, **options)
    (x, y) = splits["train"]
    return (x[:train_size], y[:train_size]), splits["test"]


def load(name: str, *, data_dir=None, batch_size: int = 32, validation_split: float = 0.1,
         seed: int = 1337, as_numpy: bool = False, cache: bool = True, train_size: int | None = None,
         **options) -> dict:
    """Train/validation/test splits of a data set as batched `tf.data` pipelines.

    The validation split is a seeded random hold-out of the training set (of whole groups when the
    loader names them, e.g. IMDB's movies: see `holdout`); the test split is the official one.
    Pipelines cache, shuffle (training only, seeded), batch and prefetch.

    Args:
      name: one of `kerazoo.data.LOADERS` (mnist, fashion_mnist, cifar10, digits, imdb, imdb_npz, ...).
      data_dir: directory holding the files (see the module docstring).
      batch_size: batch size of the pipelines.
      validation_split: fraction of the training set held out (0 for none).
      seed: shuffling and hold-out seed.
      as_numpy: return `{"train": (x, y), "val": (x, y), "test": (x, y)}` arrays instead.
      cache: cache the pipelines in memory after the first epoch.
      train_size: keep this many of the training examples (drawn by `seed` after the hold-out; the
        validation split stays whole), e.g. to search on part of the data (`kerazoo tune --train-size`).
      **options: loader options (e.g. `num_words` for imdb_npz).

    Returns:
      `{"train": ds, "val": ds or None, "test": ds}`.
    """
    splits = _loader(name)(data_dir=data_dir, **options)
    (x, y), test = splits["train"], splits["test"]
    val_idx, train_idx = holdout(len(x), validation_split, seed, groups=splits.get("train_groups"))
    if train_size is not None and train_size < len(train_idx):
        train_idx = np.sort(np.random.default_rng(seed).permutation(train_idx)[:train_size])
    n_val = len(val_idx)
    arrays = {"train": (x[train_idx], y[train_idx]), "val": (x[val_idx], y[val_idx]) if n_val else None,
              "test": test}
    if as_numpy:
        return arrays
    return {split: None if xy is None else to_dataset(xy, batch_size=batch_size, shuffle=split == "train",
                                                     seed=seed, cache=cache)
            for split, xy in arrays.items()}


