"""Loaders read files written here in each data set's native format; no network is touched."""
import gzip
import pickle
import tarfile

import numpy as np
import pytest

from kerazoo import data
from kerazoo.data.imdb import load_text_corpus


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("KERAZOO_DATA_DIR", raising=False)


def _mnist_like(rng, n):
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def test_mnist_npz_and_pipeline(tmp_path):
    rng = np.random.default_rng(0)
    (x, y), (xt, yt) = _mnist_like(rng, 50), _mnist_like(rng, 20)
    (tmp_path / "mnist").mkdir()
    np.savez(tmp_path / "mnist" / "mnist.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    arrays = data.load("mnist", data_dir=tmp_path, validation_split=0.2, as_numpy=True)
    assert arrays["train"][0].shape == (40, 28, 28) and arrays["val"][0].shape == (10, 28, 28)
    np.testing.assert_array_equal(arrays["test"][0], xt)
    # the hold-out is a partition of the training set
    seen = np.concatenate([arrays["train"][0], arrays["val"][0]]).reshape(50, -1)
    assert sorted(map(bytes, seen)) == sorted(map(bytes, x.reshape(50, -1)))
    splits = data.load("mnist", data_dir=tmp_path, batch_size=8, validation_split=0.2, seed=3)
    xb, yb = next(iter(splits["train"]))
    assert xb.shape == (8, 28, 28) and xb.dtype.name == "uint8"
    first = [b[1].numpy().tolist() for b in data.load("mnist", data_dir=tmp_path, batch_size=8, seed=3)["train"]]
    again = [b[1].numpy().tolist() for b in data.load("mnist", data_dir=tmp_path, batch_size=8, seed=3)["train"]]
    assert first == again  # seeded shuffling


def test_missing_file_says_what_to_put_where(tmp_path):
    with pytest.raises(data.DataNotFoundError, match=rf"mnist: not found. Put Keras' mnist.npz .* at {tmp_path}/mnist.npz"):
        data.load_numpy("mnist", data_dir=tmp_path)
    with pytest.raises(data.DataNotFoundError, match="aclImdb_v1.tar.gz"):
        data.load_numpy("imdb", data_dir=tmp_path)


def test_env_var_is_a_data_dir(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    (x, y), (xt, yt) = _mnist_like(rng, 5), _mnist_like(rng, 5)
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    monkeypatch.setenv("KERAZOO_DATA_DIR", str(tmp_path))
    (xa, _), _ = data.load_numpy("mnist")
    np.testing.assert_array_equal(xa, x)


def test_fashion_mnist_idx_files(tmp_path):
    rng = np.random.default_rng(2)
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 6, dtype=np.uint8),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 3, dtype=np.uint8)}
    for name, arr in arrays.items():  # IDX: magic 0x0000 08 ndim, big-endian sizes, bytes
        header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
        (folder / name).write_bytes(gzip.compress(header + arr.tobytes()))
    (x, y), (xt, yt) = data.load_numpy("fashion_mnist", data_dir=tmp_path)
    np.testing.assert_array_equal(x, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(yt, arrays["t10k-labels-idx1-ubyte.gz"])


@pytest.mark.parametrize("as_tarball", [False, True])
def test_cifar10_python_batches(tmp_path, as_tarball):
    rng = np.random.default_rng(3)
    folder = tmp_path / "src" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    images = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        img = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
        images[name] = img
        batch = {b"data": img.transpose(0, 3, 1, 2).reshape(2, 3072), b"labels": [1, 2]}
        (folder / name).write_bytes(pickle.dumps(batch))
    if as_tarball:
        with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
            tar.add(folder, arcname="cifar-10-batches-py")
    root = tmp_path if as_tarball else tmp_path / "src"
    (x, y), (xt, yt) = data.load_numpy("cifar10", data_dir=root)
    assert x.shape == (10, 32, 32, 3) and xt.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(x[:2], images["data_batch_1"])
    np.testing.assert_array_equal(xt, images["test_batch"])


def _write_aclimdb(root):
    reviews = {("train", "pos"): ["A wonderful film.<br />Loved it", "great acting"],
               ("train", "neg"): ["Dull and slow."], ("test", "pos"): ["superb"],
               ("test", "neg"): ["awful", "boring plot"], ("train", "unsup"): ["some unlabelled text"]}
    for (split, label), texts in reviews.items():
        folder = root / "aclImdb" / split / label
        folder.mkdir(parents=True)
        for i, text in enumerate(texts):
            (folder / f"{i}_{8 if label == 'pos' else 2}.txt").write_text(text)
    return reviews


@pytest.mark.parametrize("as_tarball", [False, True])
def test_aclimdb_tree_and_tarball(tmp_path, as_tarball):
    reviews = _write_aclimdb(tmp_path / "src")
    if as_tarball:
        with tarfile.open(tmp_path / "aclImdb_v1.tar.gz", "w:gz") as tar:
            tar.add(tmp_path / "src" / "aclImdb", arcname="aclImdb")
    root = tmp_path if as_tarball else tmp_path / "src"
    splits = data.LOADERS["imdb"](data_dir=root, unsup=True)
    x, y = splits["train"]
    assert list(x) == reviews[("train", "pos")] + reviews[("train", "neg")] and list(y) == [1, 1, 0]
    assert list(splits["test"][1]) == [1, 0, 0]
    assert list(splits["unsup"]) == ["some unlabelled text"]


def test_imdb_npz_follows_keras_conventions(tmp_path):
    x = np.empty(2, dtype=object)
    x[:] = [[0, 5, 20], [1]]
    np.savez(tmp_path / "imdb.npz", x_train=x, y_train=np.array([1, 0]), x_test=x, y_test=np.array([0, 1]))
    (xs, ys), _ = data.load_numpy("imdb_npz", data_dir=tmp_path, num_words=10)
    assert xs[0] == [1, 3, 8, 2] and xs[1] == [1, 4] and list(ys) == [1, 0]  # start=1, oov=2, index_from=3


def test_text_corpus_file_and_directory(tmp_path):
    (tmp_path / "c.txt").write_text("first doc\n\nsecond doc\n")
    assert load_text_corpus(tmp_path / "c.txt") == ["first doc", "second doc"]
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("one")
    assert load_text_corpus(tmp_path / "d") == ["one"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_text_corpus(tmp_path / "missing.txt")


def test_digits_are_real_offline_images():
    (x, y), (xt, yt) = data.load_numpy("digits")
    assert x.shape[1:] == (28, 28) and x.dtype == np.uint8 and x.max() == 255
    assert len(x) + len(xt) == 1797 and set(np.unique(y)) == set(range(10))


def test_unknown_dataset():
    with pytest.raises(ValueError, match="Unknown data set 'mnits'. Available: .*mnist"):
        data.load("mnits")


def test_real_mnist_when_present(shared_data):
    (x, y), (xt, yt) = data.load_numpy("mnist", data_dir=shared_data)
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28) and np.bincount(yt).min() > 800


@pytest.mark.parametrize("as_tarball", [False, True])
def test_imdb_validation_holds_out_whole_movies(tmp_path, as_tarball):
    """Reviews of one movie share its names and plot: the hold-out takes whole movies, like the test split."""
    root = tmp_path / "src" / "aclImdb" / "train"
    movies = {"pos": [f"tt{i % 7}" for i in range(40)], "neg": [f"tt{7 + i % 5}" for i in range(30)]}
    for label, owners in movies.items():
        (root / label).mkdir(parents=True)
        for i, movie in enumerate(owners):  # review i of a label is line i of urls_<label>.txt
            (root / label / f"{i}_{8 if label == 'pos' else 2}.txt").write_text(f"review {i} of {movie}")
        (root / f"urls_{label}.txt").write_text("".join(f"http://www.imdb.com/title/{m}/usercomments\n"
                                                        for m in owners))
    (tmp_path / "src" / "aclImdb" / "test" / "pos").mkdir(parents=True)
    (tmp_path / "src" / "aclImdb" / "test" / "pos" / "0_9.txt").write_text("fine")
    if as_tarball:
        with tarfile.open(tmp_path / "aclImdb_v1.tar.gz", "w:gz") as tar:
            tar.add(tmp_path / "src" / "aclImdb", arcname="aclImdb")
    root = tmp_path if as_tarball else tmp_path / "src"
    splits = data.load("imdb", data_dir=root, validation_split=0.25, seed=3, as_numpy=True)
    movie = lambda text: text.rsplit(" ", 1)[-1]  # noqa: E731
    train, val = {movie(t) for t in splits["train"][0]}, {movie(t) for t in splits["val"][0]}
    assert train and val and not train & val
    assert len(splits["train"][0]) + len(splits["val"][0]) == 70 and 10 <= len(splits["val"][0]) <= 30
    again = data.load("imdb", data_dir=root, validation_split=0.25, seed=3, as_numpy=True)
    assert list(again["val"][0]) == list(splits["val"][0])  # seeded
