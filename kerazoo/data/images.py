"""Image data sets in their native formats: MNIST, Fashion-MNIST, CIFAR-10, scikit-learn digits.

Arrays come back raw, as `keras.datasets` gives them: uint8 pixels, (N, 28, 28) for the MNISTs,
(N, 32, 32, 3) for CIFAR-10, integer labels.
"""
from __future__ import annotations

import gzip
import tarfile
from pathlib import Path

import numpy as np

from kerazoo.data.files import check_labelled, read_npz, safe_unpickle, unreadable
from kerazoo.data.sources import fetch
from kerazoo.errors import DataError

_MNIST_LIKE = "uint8 images x_train, x_test of shape (N, 28, 28) and integer labels y_train, y_test of shape (N,) in 0..9"


def _checked(source, splits: dict, sample_shape: tuple, accepted: str, classes: int = 10) -> dict:
    for split in ("train", "test"):
        check_labelled(source, split, *splits[split], sample_shape=sample_shape, dtype="uint8", classes=classes,
                       accepted=accepted)
    return splits


def _read_npz(path: Path) -> dict:
    what = f"an .npz archive of {_MNIST_LIKE} (Keras' mnist.npz layout)"
    f = read_npz(path, ("x_train", "y_train", "x_test", "y_test"), what)
    return _checked(path, {"train": (f["x_train"], f["y_train"]), "test": (f["x_test"], f["y_test"])}, (28, 28), what)


def _from_keras(name: str):
    def download():
        import keras

        (x, y), test = getattr(keras.datasets, name).load_data()
        return {"train": (x, y.reshape(-1)), "test": (test[0], test[1].reshape(-1))}
    return download


def load_mnist(*, data_dir=None) -> dict:
    """MNIST (LeCun et al.): 60,000 + 10,000 28x28 uint8 digits; Keras' `mnist.npz` offline."""
    found = fetch("mnist", data_dir, ["mnist.npz", "mnist/mnist.npz"], _from_keras("mnist"),
                  "Keras' mnist.npz (arrays x_train, y_train, x_test, y_test)")
    return _read_npz(found) if isinstance(found, Path) else found


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """An IDX file of unsigned bytes (magic 0x00 0x00 0x08 ndim, big-endian sizes, the bytes)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DataError(f"{path} is missing; Fashion-MNIST needs the four IDX files {', '.join(_IDX)}.") from None
    except (OSError, EOFError, ValueError) as e:
        raise unreadable(path, e, "a gzipped IDX file") from None
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(data) < 4 or data[:3] != b"\0\0\x08" or data[3] != ndim or \
            len(data) != 4 + 4 * ndim + int(np.prod(shape, dtype=np.int64)):
        raise DataError(f"{path}: not an IDX file of {ndim}-d unsigned bytes of the size its header announces "
                        f"(header {data[:4].hex() or 'empty'}, {len(data)} bytes); the file is truncated or corrupt. "
                        "Download it again.")
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


_IDX = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz")


def load_fashion_mnist(*, data_dir=None) -> dict:
    """Fashion-MNIST (Xiao et al. 2017): the four IDX .gz files Keras downloads, or an npz."""
    found = fetch("fashion_mnist", data_dir, ["fashion-mnist", "fashion_mnist", "fashion_mnist.npz"],
                  _from_keras("fashion_mnist"),
                  f"a directory with the IDX files {', '.join(_IDX)} (or fashion_mnist.npz)")
    if not isinstance(found, Path):
        return found
    if found.suffix == ".npz":
        return _read_npz(found)
    xs = [_read_idx(found / name, 3 if "images" in name else 1) for name in _IDX]
    return _checked(found, {"train": (xs[0], xs[1]), "test": (xs[2], xs[3])}, (28, 28),
                    f"the IDX files {', '.join(_IDX)}: {_MNIST_LIKE}")


def load_cifar10(*, data_dir=None) -> dict:
    """CIFAR-10 (Krizhevsky 2009): `cifar-10-batches-py/` or `cifar-10-python.tar.gz` offline."""
    found = fetch("cifar10", data_dir, ["cifar-10-batches-py", "cifar-10-python.tar.gz", "cifar10/cifar-10-batches-py"],
                  _from_keras("cifar10"),
                  "the Python version of CIFAR-10 (cifar-10-batches-py/ with data_batch_1..5 and test_batch)")
    if not isinstance(found, Path):
        return found
    batches = {}
    if found.is_dir():
        for path in found.iterdir():
            if path.name.startswith(("data_batch_", "test_batch")):
                batches[path.name] = path.read_bytes()
    else:
        try:
            with tarfile.open(found) as tar:
                for member in tar.getmembers():
                    base = member.name.rsplit("/", 1)[-1]
                    if member.isfile() and base.startswith(("data_batch_", "test_batch")):
                        batches[base] = tar.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError) as e:
            raise unreadable(found, e, "a tar.gz archive of cifar-10-batches-py/") from None
    wanted = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    missing = [n for n in wanted if n not in batches]
    if missing:
        raise DataError(f"{found}: lacks the CIFAR-10 batch{'es' if len(missing) > 1 else ''} {', '.join(missing)}; "
                        f"accepted: cifar-10-batches-py/ with {', '.join(wanted)}.")
    accepted = ("CIFAR-10's Python batches: pickled dicts with b'data', a uint8 array of shape (N, 3072), and "
                "b'labels', N integers in 0..9")

    def batch(name):
        source = f"{found}/{name}" if found.is_dir() else f"{found} ({name})"
        part = safe_unpickle(batches[name], source)
        if not isinstance(part, dict) or b"data" not in part or b"labels" not in part:
            raise DataError(f"{source}: holds {type(part).__name__}"
                            f"{' with keys ' + str(sorted(part)) if isinstance(part, dict) else ''}; accepted: "
                            f"{accepted}.")
        x, y = np.asarray(part[b"data"]), np.asarray(part[b"labels"])
        check_labelled(source, "batch", x, y, sample_shape=(3072,), dtype="uint8", classes=10, accepted=accepted)
        return x, y.astype(np.uint8)

    def stack(names):
        parts = [batch(n) for n in names]
        x = np.concatenate([p[0] for p in parts]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return x, np.concatenate([p[1] for p in parts])

    return {"train": stack(wanted[:-1]), "test": stack(wanted[-1:])}


def load_digits(*, data_dir=None, size: int = 28, box: int = 20, test_fraction: float = 0.5, seed: int = 0) -> dict:
    """scikit-learn's 1,797 real 8x8 digits (ships with scikit-learn, always offline).

    Laid out like MNIST so MNIST models take them: resized (bilinear) to a `box`x`box` digit
    centred in a `size`x`size` uint8 frame (MNIST: 20 in 28), grey levels 0-16 mapped to 0-255;
    split into seeded stratified train/test halves.
    """
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split
    import tensorflow as tf

    digits = sk_digits()
    images = digits.images.astype("float32")[..., None] * (255.0 / 16.0)
    resized = tf.image.resize(images, (box, box), method="bilinear").numpy()[..., 0]
    x = np.zeros((len(images), size, size), dtype=np.uint8)
    top = (size - box) // 2
    x[:, top:top + box, top:top + box] = np.clip(np.round(resized), 0, 255).astype(np.uint8)
    x_tr, x_te, y_tr, y_te = train_test_split(x, digits.target.astype(np.uint8), test_size=test_fraction,
                                              random_state=seed, stratify=digits.target)
    return _checked("scikit-learn's digits", {"train": (x_tr, y_tr), "test": (x_te, y_te)}, (size, size),
                    "uint8 digits of shape (N, size, size), labels 0..9")
