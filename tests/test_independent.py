"""Card figures recomputed without kerazoo's evaluation code: the raw test files read with NumPy and
`tarfile`, scored through each artifact's SavedModel (what is served), the metric written out in
NumPy. A bug in the shared evaluation path (`kerazoo.evaluate`, which wrote the cards) cannot
confirm itself here. Samples are fixed and seeded; tolerances are three binomial standard errors
(accuracies) or 2 % (losses), so a model a few points off its card fails."""
import io
import re
import tarfile

import numpy as np
import pytest

import kerazoo

pytestmark = pytest.mark.slow


def _card(name):
    arch, tag = kerazoo.artifacts.split_name(name)
    return kerazoo.artifacts.find(arch, tag).card


def _serve(name, x):
    import tensorflow as tf

    served = kerazoo.load_saved_model(name).signatures["serving_default"]
    return np.concatenate([served(tf.constant(x[i:i + 500]))["output_0"].numpy() for i in range(0, len(x), 500)])


@pytest.fixture(scope="module")
def mnist_test(shared_data):
    with np.load(shared_data / "mnist" / "mnist.npz", allow_pickle=False) as f:
        return f["x_test"], f["y_test"]


@pytest.fixture(scope="module")
def imdb_test_sample(shared_data):
    """3,000 test reviews (1,500 per class, fixed seed) read straight from aclImdb_v1.tar.gz."""
    member = re.compile(r"aclImdb/test/(pos|neg)/\d+_\d+\.txt$")
    texts = {"pos": [], "neg": []}
    with tarfile.open(shared_data / "aclImdb" / "aclImdb_v1.tar.gz") as tar:
        for info in tar:
            found = member.search(info.name)
            if found:
                texts[found.group(1)].append((info.name, tar.extractfile(info).read().decode("utf-8")))
    rng = np.random.default_rng(7)
    pick = {k: [v[i][1] for i in rng.choice(len(v), 1500, replace=False)] for k, v in sorted(texts.items())}
    return np.array(pick["pos"] + pick["neg"], dtype=object), np.array([1] * 1500 + [0] * 1500)


def _within(accuracy, card_accuracy, n):
    se = np.sqrt(card_accuracy * (1 - card_accuracy) / n)
    return abs(accuracy - card_accuracy) <= 3 * se + 1e-9


@pytest.mark.parametrize("name", ["lenet5.mnist", "dbn.mnist"])
def test_digit_classifiers_score_their_card_on_the_raw_test_digits(name, mnist_test):
    x, y = mnist_test
    accuracy = float(np.mean(_serve(name, x).argmax(1) == y))  # all 10,000: the card's own split
    assert accuracy == pytest.approx(_card(name)["metrics"]["test_accuracy"], abs=5e-4)


def test_autoencoder_binary_crossentropy_matches_its_card(mnist_test):
    x = mnist_test[0][:2000]
    p = np.clip(_serve("autoencoder.mnist", x).reshape(len(x), -1).astype("float64"), 1e-7, 1 - 1e-7)
    t = x.reshape(len(x), -1) / 255.0
    bce = float(np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))))
    assert bce == pytest.approx(_card("autoencoder.mnist")["metrics"]["test_loss"], rel=0.02)


@pytest.mark.parametrize("name", ["imdb_rnn.imdb", "imdb_lstm.imdb", "imdb_gru.imdb"])
def test_review_classifiers_score_their_card_on_raw_test_reviews(name, imdb_test_sample):
    texts, labels = imdb_test_sample
    accuracy = float(np.mean((_serve(name, texts).ravel() > 0.5) == labels))
    card = _card(name)["metrics"]["test_accuracy"]
    assert _within(accuracy, card, len(labels)), (accuracy, card)
