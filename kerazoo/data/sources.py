"""Finding data sets on disk (offline) or downloading them (online), hold-out splits, and the
`tf.data` pipeline over arrays. The table of data sets is `kerazoo.data.catalog`."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from kerazoo.errors import DataNotFoundError

__all__ = ["DataNotFoundError", "find", "fetch", "holdout", "to_dataset", "cache_dir", "search_dirs"]


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


