"""Data files are untrusted input: they cannot run code, and a damaged one gets one clear line.

Every file here is written the way a user (or an attacker) would hand it to kerazoo: a crafted
pickle in `cifar-10-batches-py/`, an `imdb.npz` whose object array carries a payload, a cut-short
`mnist.npz`, an archive of random bytes.
"""
import gzip
import io
import os
import pickle
import subprocess
import sys
import tarfile
import zipfile

import numpy as np
import pytest

from kerazoo import cli, data
from kerazoo.errors import DataError


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("KERAZOO_DATA_DIR", raising=False)


class Payload:
    """Unpickling this calls `os.system` (what a crafted data file does)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _mnist(path, n=12, **replace):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), "y_train": np.arange(n) % 10,
              "x_test": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8), "y_test": np.arange(4) % 10}
    arrays.update(replace)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def _cifar(folder, first_batch=None):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), b"labels": [3, 7],
                 b"batch_label": b"training batch", b"filenames": [b"a.png", b"b.png"]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    if first_batch is not None:
        (folder / "data_batch_1").write_bytes(first_batch)
    return folder


def test_crafted_cifar_batch_does_not_run_under_kerazoo_train(tmp_path):
    marker = tmp_path / "pwned"
    _cifar(tmp_path / "cifar-10-batches-py",
           first_batch=pickle.dumps({b"data": Payload(marker), b"labels": [1]}, protocol=2))
    result = subprocess.run([sys.executable, "-m", "kerazoo.cli", "train", "alexnet_cifar", "--epochs", "1",
                             "--data-dir", str(tmp_path), "--output", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert not marker.exists(), "the data file ran its payload"
    assert "Traceback" not in result.stderr
    assert "data_batch_1: refused to unpickle posix.system" in result.stderr and "NumPy arrays" in result.stderr
    assert not (tmp_path / "run").exists()  # a failed start leaves nothing behind


def test_real_cifar_layout_still_loads(tmp_path):
    """Python 2 era batches (protocol 2, bytes keys, lists, uint8 arrays) and NumPy 2 pickles (protocol 5)."""
    folder = _cifar(tmp_path / "cifar-10-batches-py")
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (3, 3072), dtype=np.uint8)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": img, b"labels": np.array([0, 9, 4])}, protocol=5))
    (x, y), (xt, yt) = data.load_numpy("cifar10", data_dir=tmp_path)
    assert x.shape == (10, 32, 32, 3) and list(y[:2]) == [3, 7]
    np.testing.assert_array_equal(xt, img.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    assert list(yt) == [0, 9, 4]


def test_crafted_imdb_npz_does_not_run(tmp_path):
    marker = tmp_path / "pwned"
    x = np.empty(2, dtype=object)
    x[:] = [[1, 2, 3], Payload(marker)]
    np.savez(tmp_path / "imdb.npz", x_train=x, y_train=np.array([1, 0]), x_test=x, y_test=np.array([0, 1]))
    with pytest.raises(DataError, match=r"imdb.npz \(x_train\): refused to unpickle posix.system"):
        data.load_numpy("imdb_npz", data_dir=tmp_path)
    assert not marker.exists()


def test_keras_imdb_npz_object_arrays_load_without_allow_pickle(tmp_path):
    """Keras' imdb.npz holds object arrays of word-id lists: read through the restricted unpickler."""
    x = np.empty(3, dtype=object)
    x[:] = [[1, 14, 22], [1, 194], list(range(1, 40))]
    np.savez(tmp_path / "imdb.npz", x_train=x, y_train=np.array([1, 0, 1]), x_test=x[:2], y_test=np.array([0, 1]))
    (xs, ys), (xt, yt) = data.load_numpy("imdb_npz", data_dir=tmp_path, index_from=3)
    assert xs[0] == [1, 4, 17, 25] and len(xs[2]) == 40 and list(ys) == [1, 0, 1] and len(xt) == 2


def _bad_mnist_cases(tmp_path):
    good = _mnist(tmp_path / "good.npz").read_bytes()
    cases = {
        "truncated": (good[: len(good) // 2], "cannot be read as a .npz archive"),
        "random bytes": (np.random.default_rng(0).bytes(4000), "cannot be read as a .npz archive"),
        "missing key": (_mnist(tmp_path / "a.npz", y_test=None).read_bytes(), "lacks the array y_test"),
        "wrong shape": (_mnist(tmp_path / "b.npz", x_train=np.zeros((12, 32, 32), np.uint8)).read_bytes(),
                        r"train inputs have shape \(12, 32, 32\), expected \(N, 28, 28\)"),
        "wrong dtype": (_mnist(tmp_path / "c.npz", x_train=np.zeros((12, 28, 28), np.float32)).read_bytes(),
                        "train inputs are float32, expected uint8"),
        "lengths differ": (_mnist(tmp_path / "d.npz", y_train=np.arange(11) % 10).read_bytes(),
                           "12 train inputs but 11 labels"),
        "label out of range": (_mnist(tmp_path / "e.npz", y_test=np.array([0, 1, 12, 3])).read_bytes(),
                               r"1 test labels lie outside the 10 classes 0..9 \(e.g. label 12 at index 2\)"),
    }
    # a member whose bytes were damaged after zipping (CRC mismatch / short data)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z, zipfile.ZipFile(tmp_path / "good.npz") as src:
        for item in src.namelist():
            raw = src.read(item)
            z.writestr(item, raw[:-100] if item == "x_train.npy" else raw)
    cases["short member"] = (buf.getvalue(), r"\(x_train\): cannot be read")
    return cases


def test_bad_mnist_npz_gets_one_clear_line(tmp_path, capsys):
    for label, (content, message) in _bad_mnist_cases(tmp_path).items():
        folder = tmp_path / label.replace(" ", "_")
        folder.mkdir()
        (folder / "mnist.npz").write_bytes(content)
        with pytest.raises(DataError, match=message) as caught:
            data.load_numpy("mnist", data_dir=folder)
        assert str(folder / "mnist.npz") in str(caught.value), label
        assert "allow_pickle" not in str(caught.value)  # never suggests loading a file unsafely
        code = cli.main(["train", "lenet5", "--epochs", "1", "--data-dir", str(folder),
                         "--output", str(folder / "run")])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "mnist.npz" in err, (label, err)
        assert not (folder / "run").exists(), label


def test_bad_mnist_from_the_command_line(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(_mnist(tmp_path / "x.npz").read_bytes()[:3000])
    result = subprocess.run([sys.executable, "-m", "kerazoo.cli", "train", "lenet5", "--data-dir", str(tmp_path),
                             "--output", str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"kerazoo train: {tmp_path / 'mnist.npz'}: cannot be read" in result.stderr


def _aclimdb_tar(path, broken_review=None):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in {"aclImdb/train/pos/0_9.txt": b"great", "aclImdb/train/neg/0_1.txt": b"dull",
                           "aclImdb/test/pos/0_8.txt": b"fine", "aclImdb/test/neg/0_2.txt": broken_review or b"bad"
                           }.items():
            info = tarfile.TarInfo(name)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
    path.write_bytes(buf.getvalue())
    return path


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "not utf-8", "no reviews"])
def test_bad_aclimdb_archive_gets_one_clear_line(tmp_path, damage):
    archive = _aclimdb_tar(tmp_path / "aclImdb_v1.tar.gz", broken_review=b"\xff\xfe bad" if damage == "not utf-8"
                           else None)
    if damage == "truncated":
        archive.write_bytes(archive.read_bytes()[:-40])
    elif damage == "random bytes":
        archive.write_bytes(np.random.default_rng(0).bytes(3000))
    elif damage == "no reviews":
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(__file__, arcname="aclImdb/README")
    expected = {"truncated": "cannot be read", "random bytes": "cannot be read",
                "not utf-8": r"aclImdb/test/neg/0_2.txt\): is not UTF-8 text",
                "no reviews": "holds no reviews in aclImdb/train/pos"}[damage]
    with pytest.raises(DataError, match=expected) as caught:
        data.load_numpy("imdb", data_dir=tmp_path)
    assert str(archive) in str(caught.value)


def test_cifar_and_fashion_mnist_damage_is_named(tmp_path):
    _cifar(tmp_path / "c" / "cifar-10-batches-py")
    (tmp_path / "c" / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(DataError, match="lacks the CIFAR-10 batch test_batch"):
        data.load_numpy("cifar10", data_dir=tmp_path / "c")
    _cifar(tmp_path / "d" / "cifar-10-batches-py", first_batch=pickle.dumps({b"data": np.zeros((2, 3072), np.uint8),
                                                                               b"labels": [1, 10]}))
    with pytest.raises(DataError, match=r"data_batch_1: 1 batch labels lie outside the 10 classes"):
        data.load_numpy("cifar10", data_dir=tmp_path / "d")
    _cifar(tmp_path / "e" / "cifar-10-batches-py", first_batch=pickle.dumps([1, 2, 3]))
    with pytest.raises(DataError, match=r"data_batch_1: holds list; accepted: CIFAR-10's Python batches"):
        data.load_numpy("cifar10", data_dir=tmp_path / "e")

    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for name, shape in {"train-images-idx3-ubyte.gz": (6, 28, 28), "train-labels-idx1-ubyte.gz": (6,),
                        "t10k-images-idx3-ubyte.gz": (3, 28, 28), "t10k-labels-idx1-ubyte.gz": (3,)}.items():
        header = bytes([0, 0, 8, len(shape)]) + b"".join(int(d).to_bytes(4, "big") for d in shape)
        content = gzip.compress(header + bytes(int(np.prod(shape))))
        (folder / name).write_bytes(content[:-5] if name.startswith("t10k-labels") else content)
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: cannot be read"):
        data.load_numpy("fashion_mnist", data_dir=tmp_path)


def test_bad_imdb_npz_contents_are_named(tmp_path):
    x = np.empty(2, dtype=object)
    x[:] = [[1, 2], "not ids"]
    np.savez(tmp_path / "imdb.npz", x_train=x, y_train=np.array([1, 0]), x_test=x, y_test=np.array([0, 1]))
    with pytest.raises(DataError, match=r"imdb.npz: train review 1 is str not ids, not a list of word ids"):
        data.load_numpy("imdb_npz", data_dir=tmp_path)
    x[:] = [[1, 2], [3]]
    np.savez(tmp_path / "imdb.npz", x_train=x, y_train=np.array([1, 2]), x_test=x, y_test=np.array([0, 1]))
    with pytest.raises(DataError, match=r"train labels lie outside the 2 classes 0..1"):
        data.load_numpy("imdb_npz", data_dir=tmp_path)
