"""Loaders read files written here in each data set's native format; no network is touched."""
import gzip
import re
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
    """The real file through the pipelines: lenet5.mnist (99.4 % on the test digits) reads the shuffled
    training batches and the validation split with their labels (a label shuffle would give ~10 %)."""
    import kerazoo

    (x, y), (xt, yt) = data.load_numpy("mnist", data_dir=shared_data)
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28) and np.bincount(yt).min() > 800
    splits = data.load("mnist", data_dir=shared_data, batch_size=500, validation_split=0.1, seed=3)
    model = kerazoo.get("lenet5.mnist")
    for split, batches in (("train", 4), ("val", 12)):
        pairs = [(np.asarray(model(xb, training=False)).argmax(-1), np.asarray(yb)) for xb, yb in
                 splits[split].take(batches)]
        accuracy = np.mean(np.concatenate([p == t for p, t in pairs]))
        assert accuracy > 0.985, (split, accuracy)


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


# === Pairing: every example keeps its label through loading, the validation split, caching and shuffling ===
# Files in each data set's real format whose label can be read back from the example itself: images of
# one grey level per label (20 + 23 * label) carrying their id in two pixels, reviews naming their
# sentiment and id. Every split and pipeline is checked example by example, over two epochs.

def _coded_images(ids, labels, shape):
    """uint8 images of grey level 20 + 23 * label with the id in the first two pixels (first channel)."""
    x = np.broadcast_to((20 + 23 * np.asarray(labels, np.uint8))[:, None], (len(ids), int(np.prod(shape))))
    x = x.reshape(len(ids), *shape).copy()
    first = (slice(None), 0, 0) + ((0,) if len(shape) == 3 else ())
    second = (slice(None), 0, 1) + ((0,) if len(shape) == 3 else ())
    x[first], x[second] = np.asarray(ids) // 256, np.asarray(ids) % 256
    return x


def _read_images(x):
    """`(ids, labels)` read back from `_coded_images` (the label: the most frequent grey level)."""
    x = np.asarray(x)
    channel = x[..., 0] if x.ndim == 4 else x
    ids = channel[:, 0, 0].astype(int) * 256 + channel[:, 0, 1]
    grey = np.array([np.bincount(img.ravel(), minlength=256).argmax() for img in channel]).astype(int)
    return ids, (grey - 20) // 23


def _epochs(ds, n=2):
    """`n` passes over a `(x, y)` pipeline, each as `(x, y)` arrays in the order served."""
    out = []
    for _ in range(n):
        xs, ys = zip(*[(np.asarray(x), np.asarray(y)) for x, y in ds])
        out.append((np.concatenate(xs), np.concatenate(ys)))
    return out


def _check_pairs(read, split_arrays, expected_ids, what):
    ids, labels = read(split_arrays[0])
    assert np.array_equal(labels, np.asarray(split_arrays[1]).astype(int)), f"{what}: labels left their examples"
    assert sorted(ids.tolist()) == sorted(expected_ids), f"{what}: not each example exactly once"
    return ids


def _check_loader(name, root, read, label_of, n_train, n_test, **options):
    """`load_numpy`, `load(as_numpy=True)` with a validation split, and the cached, shuffled pipelines."""
    train_ids, test_ids = list(range(n_train)), list(range(n_train, n_train + n_test))
    train, test = data.load_numpy(name, data_dir=root, **options)
    for split, arrays, ids in (("train", train, train_ids), ("test", test, test_ids)):
        seen = _check_pairs(read, arrays, ids, f"{name} load_numpy {split}")
        assert [label_of[i] for i in seen] == list(np.asarray(arrays[1]).astype(int))
    arrays = data.load(name, data_dir=root, validation_split=0.25, seed=5, as_numpy=True, **options)
    val_ids = read(arrays["val"][0])[0]
    assert 0.15 * n_train <= len(val_ids) <= 0.35 * n_train
    _check_pairs(read, arrays["val"], sorted(val_ids.tolist()), f"{name} as_numpy val")
    _check_pairs(read, arrays["train"], sorted(set(train_ids) - set(val_ids.tolist())), f"{name} as_numpy train")
    _check_pairs(read, arrays["test"], test_ids, f"{name} as_numpy test")
    pipelines = data.load(name, data_dir=root, validation_split=0.25, seed=5, batch_size=7, **options)
    orders = []
    for epoch in _epochs(pipelines["train"]):  # the second pass is served from the cache, reshuffled
        orders.append(_check_pairs(read, epoch, sorted(set(train_ids) - set(val_ids.tolist())),
                                   f"{name} train pipeline"))
    assert orders[0].tolist() != orders[1].tolist(), "the training pipeline does not reshuffle each epoch"
    for split, ids in (("val", sorted(val_ids.tolist())), ("test", test_ids)):
        first, second = _epochs(pipelines[split])
        assert _check_pairs(read, first, ids, f"{name} {split} pipeline").tolist() == \
            _check_pairs(read, second, ids, f"{name} {split} pipeline (cached)").tolist()


def _coded_split(rng, n, first_id, shape):
    ids = np.arange(first_id, first_id + n)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    return _coded_images(ids, labels, shape), labels


def test_mnist_npz_keeps_every_digit_with_its_label(tmp_path):
    rng = np.random.default_rng(10)
    (x, y), (xt, yt) = _coded_split(rng, 120, 0, (28, 28)), _coded_split(rng, 30, 120, (28, 28))
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    _check_loader("mnist", tmp_path, _read_images, dict(enumerate(np.concatenate([y, yt]).tolist())), 120, 30)


def test_fashion_mnist_idx_files_keep_every_image_with_its_label(tmp_path):
    rng = np.random.default_rng(11)
    (x, y), (xt, yt) = _coded_split(rng, 100, 0, (28, 28)), _coded_split(rng, 20, 100, (28, 28))
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for name, arr in zip(("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                          "t10k-labels-idx1-ubyte.gz"), (x, y, xt, yt)):
        header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
        (folder / name).write_bytes(gzip.compress(header + arr.tobytes()))
    _check_loader("fashion_mnist", tmp_path, _read_images, dict(enumerate(np.concatenate([y, yt]).tolist())), 100, 20)


@pytest.mark.parametrize("as_tarball", [False, True])
def test_cifar10_batches_keep_every_image_with_its_label(tmp_path, as_tarball):
    """Five training batches of different sizes in CIFAR-10's channel-first rows; the test batch last."""
    rng = np.random.default_rng(12)
    folder = tmp_path / "src" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    labels, start = {}, 0
    for name, n in zip([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"], (13, 21, 8, 17, 11, 19)):
        x, y = _coded_split(rng, n, start, (32, 32, 3))
        labels.update(zip(range(start, start + n), y.tolist()))
        start += n
        rows = x.transpose(0, 3, 1, 2).reshape(n, 3072)  # R plane, G plane, B plane
        (folder / name).write_bytes(pickle.dumps({b"data": rows, b"labels": y.tolist()}))
    if as_tarball:
        with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
            tar.add(folder, arcname="cifar-10-batches-py")
    _check_loader("cifar10", tmp_path if as_tarball else tmp_path / "src", _read_images, labels, 70, 19)


def _coded_reviews(root, rng, with_movies=True):
    """An aclImdb tree whose reviews say their id, sentiment and movie ('review 17 is positive of tt3 ...');
    file names `{i}_{rating}.txt` numbered past 10, so name order is not number order. Returns id -> label."""
    filler = ["the", "film", "was", "and", "plot", "actors", "a", "movie", "long", "scene"]
    labels, next_id = {}, 0
    for split, n in (("train", {"pos": 23, "neg": 17}), ("test", {"pos": 9, "neg": 12})):
        for folder, count in n.items():
            path = root / "aclImdb" / split / folder
            path.mkdir(parents=True)
            movies = [f"tt{(i * 7) % (5 if folder == 'pos' else 4) + (0 if folder == 'pos' else 10)}"
                      for i in range(count)]
            for i in range(count):
                words = " ".join(rng.choice(filler, rng.integers(0, 25)))
                text = f"review {next_id} is {'positive' if folder == 'pos' else 'negative'} of {movies[i]} {words}"
                (path / f"{i}_{8 if folder == 'pos' else 2}.txt").write_text(text)
                labels[next_id] = int(folder == "pos")
                next_id += 1
            if split == "train" and with_movies:
                (root / "aclImdb" / "train" / f"urls_{folder}.txt").write_text(
                    "".join(f"http://www.imdb.com/title/{m}/usercomments\n" for m in movies))
    return labels


def _read_reviews(texts):
    texts = [t.decode() if isinstance(t, bytes) else t for t in texts]  # pipelines serve bytes
    found = [re.match(r"review (\d+) is (positive|negative) of (tt\d+)", t) for t in texts]
    return np.array([int(m.group(1)) for m in found]), np.array([int(m.group(2) == "positive") for m in found])


@pytest.mark.parametrize("as_tarball", [False, True])
def test_imdb_reviews_keep_their_labels_and_movies(tmp_path, as_tarball):
    labels = _coded_reviews(tmp_path / "src", np.random.default_rng(13))
    if as_tarball:
        with tarfile.open(tmp_path / "aclImdb_v1.tar.gz", "w:gz") as tar:
            tar.add(tmp_path / "src" / "aclImdb", arcname="aclImdb")
    root = tmp_path if as_tarball else tmp_path / "src"
    splits = data.LOADERS["imdb"](data_dir=root)
    movies = [re.search(r"of (tt\d+)", t).group(1) for t in splits["train"][0]]
    assert [g.split("/")[-2] for g in splits["train_groups"]] == movies, "a review's movie (urls_*.txt line) is not its own"
    _check_loader("imdb", root, _read_reviews, labels, 40, 21)


def test_imdb_npz_word_ids_keep_their_labels(tmp_path):
    """Keras' imdb.npz: each review's first word id says its label, the second its id (before Keras' offsets)."""
    rng = np.random.default_rng(14)
    y_all = rng.integers(0, 2, 50)
    xs = np.empty(50, dtype=object)
    xs[:] = [[10 + int(label), 1000 + i] + rng.integers(20, 900, rng.integers(0, 12)).tolist()
             for i, label in enumerate(y_all)]
    np.savez(tmp_path / "imdb.npz", x_train=xs[:40], y_train=y_all[:40], x_test=xs[40:], y_test=y_all[40:])

    def read(seqs):  # [start_char=1] + [id + index_from=3 ...]
        return np.array([s[2] - 3 - 1000 for s in seqs]), np.array([s[1] - 3 - 10 for s in seqs])

    train, test = data.load_numpy("imdb_npz", data_dir=tmp_path)
    _check_pairs(read, train, list(range(40)), "imdb_npz train")
    _check_pairs(read, test, list(range(40, 50)), "imdb_npz test")
    arrays = data.load("imdb_npz", data_dir=tmp_path, validation_split=0.25, seed=5, as_numpy=True)
    val_ids = _check_pairs(read, arrays["val"], sorted(read(arrays["val"][0])[0].tolist()), "imdb_npz val")
    assert len(val_ids) == 10
    _check_pairs(read, arrays["train"], sorted(set(range(40)) - set(val_ids.tolist())), "imdb_npz train split")
    short = [i for i in range(40) if len(xs[i]) + 1 < 8]  # maxlen drops the longer reviews, and their labels
    _check_pairs(read, data.load_numpy("imdb_npz", data_dir=tmp_path, maxlen=8)[0], short, "imdb_npz maxlen=8")


def test_scikit_learn_digits_keep_their_labels():
    """Each digit laid out like MNIST (the documented bilinear 20x20 box in a 28x28 frame) is one of
    scikit-learn's digits, with that digit's label; train and test split the 1,797 digits between them."""
    import tensorflow as tf
    from sklearn.datasets import load_digits

    source = load_digits()
    box = tf.image.resize(source.images[..., None] * (255.0 / 16.0), (20, 20), method="bilinear").numpy()[..., 0]
    framed = np.zeros((len(box), 28, 28), np.uint8)
    framed[:, 4:24, 4:24] = np.clip(np.round(box), 0, 255)
    first = {}  # an image's bytes -> the first source index with them (a few digits are exact duplicates)
    for i, image in enumerate(framed):
        first.setdefault(image.tobytes(), i)
    canonical = [first[image.tobytes()] for image in framed]

    def read(x):
        ids = np.array([first[image.tobytes()] for image in np.asarray(x)])  # KeyError: not a source digit
        return ids, source.target[ids]

    (x, y), (xt, yt) = data.load_numpy("digits")
    train_ids = read(x)[0].tolist()
    _check_pairs(read, (x, y), train_ids, "digits train")
    rest = list(canonical)
    for i in train_ids:
        rest.remove(i)
    _check_pairs(read, (xt, yt), rest, "digits test")
    arrays = data.load("digits", validation_split=0.2, seed=5, as_numpy=True)
    val_ids = read(arrays["val"][0])[0].tolist()
    _check_pairs(read, arrays["val"], val_ids, "digits val")
    for i in val_ids:
        train_ids.remove(i)
    _check_pairs(read, arrays["train"], train_ids, "digits train split")


def test_recipe_pipelines_keep_every_example_with_its_label(tmp_path):
    """What `kerazoo train` fits on: the image recipe's augmented training pipeline (the grey level
    survives the distortions) and the text recipe's vectorised, length-bucketed one (ids and labels
    are zipped after the vectorizer: a reordering there would pair reviews with other labels)."""
    from kerazoo.training.run import resolve
    from kerazoo.training.tasks import prepare

    rng = np.random.default_rng(15)
    (x, y), (xt, yt) = _coded_split(rng, 120, 0, (28, 28)), _coded_split(rng, 30, 120, (28, 28))
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    config, recipe, kwargs = resolve("lenet5", batch_size=16)
    assert recipe.augment, "the lenet5 recipe augments its training digits"
    task = prepare(config, recipe, kwargs, tmp_path, recipe.seed)
    originals = {image.tobytes() for image in x}
    for epoch in _epochs(task.train):
        assert np.array_equal(_read_images(epoch[0])[1], epoch[1].astype(int)), "augmented digits lost their labels"
        assert 0 < sum(image.tobytes() not in originals for image in epoch[0]) < len(epoch[0])  # some distorted
    for split in (task.val, task.test):
        _check_pairs(_read_images, _epochs(split, 1)[0], sorted(_read_images(_epochs(split, 1)[0][0])[0].tolist()),
                     "lenet5 recipe held-out")

    labels = _coded_reviews(tmp_path / "text", rng, with_movies=False)
    overlay = {"recipe": {"data": {"sequence_length": 40, "bucket_boundaries": [10, 20]}, "pretrain": {}}}
    config, recipe, kwargs = resolve("imdb_lstm", config=overlay, batch_size=8, model_overrides={"vocab_size": 200})
    task = prepare(config, recipe, kwargs, tmp_path / "text", recipe.seed)
    vocabulary = np.array(task.extra["vectorizer"].get_vocabulary())

    def read(ids):  # 'review <id> is <label> ...' as token ids; the test reviews' ids are not in the vocabulary
        words = np.char.replace(vocabulary[ids[:, 1]], "[UNK]", "-1")
        return words.astype(int), (vocabulary[ids[:, 3]] == "positive").astype(int)

    served = []
    for ds in (task.train, task.train, task.val, task.test):  # two training epochs: from the cache the second
        batches = [(np.asarray(a), np.asarray(b)) for a, b in ds]
        for ids, label in batches:
            seen, sentiment = read(ids)
            assert np.array_equal(sentiment, label.astype(int)), "a review was served with another's label"
            assert [labels.get(i, s) for i, s in zip(seen, sentiment)] == sentiment.tolist()
        served.append((sorted(i for ids, _ in batches for i in read(ids)[0]), {a.shape[1] for a, _ in batches}))
    assert served[0][0] == served[1][0] and len(served[0][0]) + len(served[2][0]) == 40 and -1 not in served[0][0]
    assert len(served[0][1]) > 1, "the training batches are not bucketed by length"
    assert len(served[3][0]) == 21
