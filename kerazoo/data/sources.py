"""Finding data sets on disk (offline) or downloading them (online), and the loader table."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

__all__ = ["DataNotFoundError", "find", "LOADERS", "register_loader", "load_numpy", "load", "holdout", "cache_dir"]


class DataNotFoundError(FileNotFoundError):
    """A data set is neither on disk nor downloadable; the message says what to put where."""


def cache_dir() -> Path:
    """Where kerazoo keeps extracted archives (`KERAZOO_CACHE_DIR`, default ~/.cache/kerazoo)."""
    path = Path(os.environ.get("KERAZOO_CACHE_DIR", Path.home() / ".cache" / "kerazoo")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def search_dirs(data_dir: str | os.PathLike | None) -> list[Path]:
    """`data_dir` if given, else `$KERAZOO_DATA_DIR` if set; empty means 'download'."""
    if data_dir is not None:
        return [Path(data_dir).expanduser()]
    env = os.environ.get("KERAZOO_DATA_DIR")
    return [Path(p).expanduser() for p in env.split(os.pathsep) if p] if env else []


def find(data_dir, candidates: Sequence[str]) -> Path | None:
    """The first of `candidates` (paths relative to a data dir) that exists, or None."""
    for root in search_dirs(data_dir):
        for rel in candidates:
            if (root / rel).exists():
                return root / rel
    return None


def fetch(name: str, data_dir, candidates: Sequence[str], download: Callable[[], object],
          describe: str):
    """Local file if present; otherwise `download()` when no directory was named; else a clear error.

    Args:
      name: data set name for messages.
      candidates: accepted file/directory names relative to a data directory.
      download: the online path (keras.datasets / get_file); only tried when neither `data_dir`
        nor `KERAZOO_DATA_DIR` is set.
      describe: what the file is ("Keras' mnist.npz with x_train, y_train, x_test, y_test").
    """
    local = find(data_dir, candidates)
    if local is not None:
        return local
    dirs = search_dirs(data_dir)
    where = " or ".join(str(d / candidates[0]) for d in dirs)
    if dirs:
        raise DataNotFoundError(
            f"{name}: not found. Put {describe} at {where} (accepted names in the data directory: "
            f"{', '.join(candidates)}).")
    try:
        return download()
    except Exception as e:  # noqa: BLE001 - any download failure becomes the same advice
        raise DataNotFoundError(
            f"{name}: download failed ({type(e).__name__}: {e}). Offline, put {describe} in a "
            f"directory as {candidates[0]} and pass data_dir=DIR (CLI: --data-dir DIR) or set "
            f"KERAZOO_DATA_DIR=DIR.") from e


Splits = dict  # {"train": (x, y), "test": (x, y)[, "unsup": x]}
LOADERS: dict[str, Callable[..., Splits]] = {}


def register_loader(fn: Callable[..., Splits]) -> Callable[..., Splits]:
    """Registers `load_<name>` under `<name>`."""
    LOADERS[fn.__name__.removeprefix("load_")] = fn
    return fn


def _loader(name: str) -> Callable[..., Splits]:
    from kerazoo.data import images, imdb  # noqa: F401 - registers the loaders

    if name not in LOADERS:
        raise ValueError(f"Unknown data set {name!r}. Available: {', '.join(sorted(LOADERS))}.")
    return LOADERS[name]


def load_numpy(name: str, *, data_dir=None, **options) -> tuple:
    """`(x_train, y_train), (x_test, y_test)` as NumPy arrays, like `keras.datasets`."""
    splits = _loader(name)(data_dir=data_dir, **options)
    return splits["train"], splits["test"]


def load(name: str, *, data_dir=None, batch_size: int = 32, validation_split: float = 0.1,
         seed: int = 1337, as_numpy: bool = False, cache: bool = True, **options) -> dict:
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
      **options: loader options (e.g. `num_words` for imdb_npz).

    Returns:
      `{"train": ds, "val": ds or None, "test": ds}`.
    """
    splits = _loader(name)(data_dir=data_dir, **options)
    (x, y), test = splits["train"], splits["test"]
    val_idx, train_idx = holdout(len(x), validation_split, seed, groups=splits.get("train_groups"))
    n_val = len(val_idx)
    arrays = {"train": (x[train_idx], y[train_idx]), "val": (x[val_idx], y[val_idx]) if n_val else None,
              "test": test}
    if as_numpy:
        return arrays
    return {split: None if xy is None else to_dataset(xy, batch_size=batch_size, shuffle=split == "train",
                                                     seed=seed, cache=cache)
            for split, xy in arrays.items()}


def holdout(n: int, fraction: float, seed: int, *, groups=None) -> tuple[np.ndarray, np.ndarray]:
    """`(validation indices, training indices)`: a seeded `fraction` of `n` examples held out.

    With `groups` (one key per example), whole groups are held out, drawn in random order until
    they hold about `fraction` of the examples, so no group is on both sides.
    """
    rng = np.random.default_rng(seed)
    if groups is None or not fraction:
        order = rng.permutation(n)
        n_val = int(round(n * fraction))
        return order[:n_val], order[n_val:]
    keys, inverse, counts = np.unique(np.asarray(groups).astype(str), return_inverse=True, return_counts=True)
    order = rng.permutation(len(keys))
    taken = order[:int(np.searchsorted(np.cumsum(counts[order]), n * fraction)) + 1]
    in_val = np.isin(inverse, taken)
    return rng.permutation(np.flatnonzero(in_val)), rng.permutation(np.flatnonzero(~in_val))


def to_dataset(xy: tuple, *, batch_size: int, shuffle: bool = False, seed: int = 1337, cache: bool = True,
               drop_remainder: bool = False):
    """A `tf.data` pipeline over in-memory arrays: cache -> shuffle(seed) -> batch -> prefetch."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(tuple(xy) if isinstance(xy, (tuple, list)) else xy)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(min(len(xy[0]) if isinstance(xy, (tuple, list)) else len(xy), 50_000),
                        seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


