"""Image data sets in their native formats: MNIST, Fashion-MNIST, CIFAR-10, scikit-learn digits.

Arrays come back raw, as `keras.datasets` gives them: uint8 pixels, (N, 28, 28) for the MNISTs,
(N, 32, 32, 3) for CIFAR-10, integer labels.
"""
from __future__ import annotations

import gzip
import pickle
import tarfile
from pathlib import Path

import numpy as np

from kerazoo.data.sources import fetch


def _read_npz(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as f:
        return {"train": (f["x_train"], f["y_train"]), "test": (f["x_test"], f["y_test"])}


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


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
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
    xs = [_read_idx(found / name) for name in _IDX]
    return {"train": (xs[0], xs[1]), "test": (xs[2], xs[3])}


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
        with tarfile.open(found) as tar:
            for member in tar.getmembers():
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base.startswith(("data_batch_", "test_batch")):
                    batches[base] = tar.extractfile(member).read()

    def stack(names):
        parts = [pickle.loads(batches[n], encoding="bytes") for n in names]
        x = np.concatenate([p[b"data"] for p in parts]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return x, np.concatenate([np.asarray(p[b"labels"], dtype=np.uint8) for p in parts])

    return {"train": stack([f"data_batch_{i}" for i in range(1, 6)]), "test": stack(["test_batch"])}


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
    return {"train": (x_tr, y_tr), "test": (x_te, y_te)}
