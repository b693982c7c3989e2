"""Reading data files as untrusted input, and checking what came out of them.

Data files come from anywhere (a mirror, a colleague, a download cut short), so a loader never runs
code from one and never hands on something that is not what it promised:

- Pickles (CIFAR-10's batches, the object arrays inside Keras' `imdb.npz`) are read by a restricted
  unpickler (the Python documentation's "Restricting Globals") that admits only NumPy arrays, NumPy
  scalars and dtypes, and plain containers (dict, list, tuple, str, bytes, numbers). Anything else, e.g.
  `os.system` in a crafted file, is refused before it is called.
- `.npz` archives are opened member by member: numeric arrays with `allow_pickle=False`, object
  arrays through the restricted unpickler.
- What was read is checked (keys, shapes, dtypes, matching lengths, labels within the classes), and
  every problem is a `DataError` naming the file, what is wrong and what is accepted.
"""
from __future__ import annotations

import io
import pickle
import zipfile
import zlib
from pathlib import Path

import numpy as np

from kerazoo.errors import DataError

__all__ = ["SAFE_GLOBALS", "safe_unpickle", "read_npz", "check_labelled", "unreadable"]

# The only globals a data pickle may name: how NumPy pickles arrays, scalars and dtypes (NumPy 1 and 2
# module paths, protocols 2-5), and protocol 2's way of writing bytes. Containers, strings and numbers
# are pickle opcodes and need no global.
SAFE_GLOBALS = {
    (module, name)
    for core in ("numpy.core", "numpy._core")
    for module, name in ((f"{core}.multiarray", "_reconstruct"), (f"{core}.multiarray", "scalar"),
                         (f"{core}.numeric", "_frombuffer"))
} | {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

_BROKEN = (EOFError, OSError, ValueError, TypeError, KeyError, IndexError, AttributeError, zlib.error,
           zipfile.BadZipFile, pickle.UnpicklingError, UnicodeDecodeError, MemoryError)


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, source: str, **kwargs):
        super().__init__(file, **kwargs)
        self.source = source

    def find_class(self, module: str, name: str):
        if (module, name) not in SAFE_GLOBALS:
            raise DataError(f"{self.source}: refused to unpickle {module}.{name}; data files may hold only NumPy "
                            "arrays and plain containers (dict, list, tuple, str, bytes, numbers). The file is not "
                            "the data set it claims to be: nothing in it was run.")
        if module.startswith("numpy.core"):  # NumPy 1's path, NumPy 2's module
            module = "numpy._core" + module.removeprefix("numpy.core")
        return super().find_class(module, name)


def safe_unpickle(data, source: str, *, encoding: str = "bytes"):
    """Unpickles `data` (bytes or a binary file) admitting only `SAFE_GLOBALS`.

    Args:
      data: the pickle, as bytes or an open binary file.
      source: the file's name for messages.
      encoding: how Python 2 strings are decoded (`"bytes"` keeps them bytes, as CIFAR-10's keys are).

    Raises:
      DataError: the pickle names anything but NumPy arrays and plain containers, or is truncated.
    """
    file = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    try:
        return _RestrictedUnpickler(file, source, encoding=encoding).load()
    except DataError:
        raise
    except _BROKEN as e:
        raise unreadable(source, e) from None


def unreadable(source, error: BaseException, what: str = "") -> DataError:
    """The `DataError` of a file that cannot be read at all (cut short, corrupt, not that format)."""
    detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if len(detail) > 300:  # a library's message may quote a whole corrupt header (zipfile: thousands of bytes)
        detail = f"{detail[:300]}... ({len(detail):,} characters)"
    return DataError(f"{source}: cannot be read{' as ' + what if what else ''} ({detail}); the file is truncated or "
                     "corrupt. Download it again.")


def read_npz(path: Path, keys: tuple[str, ...], what: str) -> dict[str, np.ndarray]:
    """The arrays `keys` of a `.npz` archive, read without running code from it.

    Numeric arrays are read with `allow_pickle=False`; object arrays (Keras' `imdb.npz` stores its
    ragged word-id lists that way) through `safe_unpickle`.

    Args:
      path: the `.npz` file.
      keys: the arrays it must hold.
      what: what the file should be, for messages ("Keras' mnist.npz with x_train, ...").
    """
    try:
        archive = zipfile.ZipFile(path)
    except _BROKEN as e:
        raise unreadable(path, e, f"a .npz archive ({what})") from None
    with archive:
        members = {name.removesuffix(".npy"): name for name in archive.namelist()}
        missing = [k for k in keys if k not in members]
        if missing:
            raise DataError(f"{path}: lacks the array{'s' if len(missing) > 1 else ''} {', '.join(missing)}; it holds "
                            f"{', '.join(sorted(members)) or 'nothing'}. Accepted: {what}.")
        out = {}
        for key in keys:
            try:
                with archive.open(members[key]) as f:
                    out[key] = _read_npy(f, f"{path} ({key})")
            except DataError:
                raise
            except _BROKEN as e:
                raise unreadable(f"{path} ({key})", e) from None
        return out


def _read_npy(f, source: str) -> np.ndarray:
    version = np.lib.format.read_magic(f)
    read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in read_header:
        raise DataError(f"{source}: .npy format version {version} is not supported; accepted: 1.0 and 2.0.")
    shape, fortran, dtype = read_header[version](f)
    if not dtype.hasobject:
        count = int(np.prod(shape, dtype=np.int64))
        raw = f.read(count * dtype.itemsize)
        if len(raw) != count * dtype.itemsize:
            raise EOFError(f"{len(raw)} of {count * dtype.itemsize} bytes")
        array = np.frombuffer(raw, dtype=dtype)
        return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)
    array = safe_unpickle(f, source, encoding="latin1")
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        raise DataError(f"{source}: the object array's payload is not the {shape} array its header announces.")
    return array


def check_labelled(source, split: str, x, y, *, sample_shape: tuple | None = None, dtype: str | None = None,
                   classes: int | None = None, accepted: str = "") -> None:
    """Checks one split of a labelled data set; a `DataError` naming `source` and what is accepted.

    Args:
      source: the file (or folder) the arrays came from.
      split: "train" or "test".
      x, y: the inputs and labels.
      sample_shape: the shape of one input (e.g. `(28, 28)`), or None to skip.
      dtype: the inputs' dtype (e.g. "uint8"), or None to skip.
      classes: labels must be integers in `[0, classes)`; None skips.
      accepted: what the file should hold, appended to every message.
    """
    hint = f" Accepted: {accepted}." if accepted else ""
    x, y = np.asarray(x), np.asarray(y)
    if sample_shape is not None and x.shape[1:] != tuple(sample_shape):
        raise DataError(f"{source}: {split} inputs have shape {x.shape}, expected (N, "
                        f"{', '.join(map(str, sample_shape))}).{hint}")
    if dtype is not None and x.dtype != np.dtype(dtype):
        raise DataError(f"{source}: {split} inputs are {x.dtype}, expected {dtype}.{hint}")
    if y.ndim != 1:
        raise DataError(f"{source}: {split} labels have shape {y.shape}, expected (N,): one label per example.{hint}")
    if len(x) != len(y):
        raise DataError(f"{source}: {len(x)} {split} inputs but {len(y)} labels; they must pair up one to one.{hint}")
    if classes is None or not len(y):
        return
    if y.dtype.kind not in "iub" and not (y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y))):
        raise DataError(f"{source}: {split} labels are {y.dtype}, expected integer class ids 0..{classes - 1}.{hint}")
    bad = (y < 0) | (y >= classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{source}: {int(bad.sum())} {split} labels lie outside the {classes} classes 0..{classes - 1} "
                        f"(e.g. label {y[i]} at index {i}).{hint}")
