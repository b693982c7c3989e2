"""The shipped artifacts on every Keras backend: `kerazoo.get` loads each one and it answers raw inputs as
TensorFlow does (its SavedModel, which equals the TensorFlow `.keras` model: tests/test_artifacts.py).

Marked `backends`: CI runs this file on TensorFlow and again with KERAS_BACKEND=jax. The default run checks a
sample of each card's held-out data; `pytest -m long` checks the whole sets (kerazoo.parity, the README's
parity table: benchmarks/backends.py).
"""
import json
import zipfile

import keras
import numpy as np
import pytest

import kerazoo
from kerazoo.parity import compare

pytestmark = pytest.mark.backends

ARTIFACTS = kerazoo.list_models(pretrained=True)
SAMPLE = {"imdb_gru.imdb": 64, "imdb_lstm.imdb": 64, "imdb_rnn.imdb": 64, "seq2seq_attention.dates": 96}  # else 500
NEEDS_DATA = ("mnist", "imdb")  # the artifacts measured on real data sets (the others bring their inputs)


def _data_dir(name, request):
    dataset = kerazoo.describe(name.split(".")[0])["weights"][name.split(".")[1]]["dataset"]
    return request.getfixturevalue("shared_data") if dataset in NEEDS_DATA else None


def _check(name, result):
    assert result["backend"] == keras.backend.backend()
    assert result["max_abs_diff"] <= 1e-4, result
    assert result.get("top1", 1.0) == 1.0 and result.get("equal", 1.0) == 1.0, result


@pytest.mark.parametrize("name", ARTIFACTS)
def test_artifact_answers_its_held_out_inputs_as_its_savedmodel(name, request):
    """On a sample of the held-out data its card was measured on (the first 500 test digits or latent vectors,
    64 test reviews as raw strings, 96 date sources through `translate`, 500 vocabulary words' vectors): every
    float output within 1e-4 of the SavedModel's, every top-1 class and every translation and flag the same."""
    result = compare(name, data_dir=_data_dir(name, request), limit=SAMPLE.get(name, 500))
    assert result["n"] == SAMPLE.get(name, 500)
    _check(name, result)


@pytest.mark.long
@pytest.mark.parametrize("name", ARTIFACTS)
def test_artifact_answers_the_whole_held_out_set_as_its_savedmodel(name, request):
    _check(name, compare(name, data_dir=_data_dir(name, request)))


def test_a_text_model_takes_strings_and_saves_as_the_string_model(tmp_path):
    """On JAX a text artifact is the Tokenizer + id network (TextVectorization cannot run in a JAX model); on
    every backend it takes raw strings, and its `.keras` file is the string model (vectorizer and network), so
    a file saved on one backend loads on another."""
    from kerazoo.models.common import split_string_model

    model = kerazoo.get("imdb_rnn.imdb")
    reviews = ["A moving, beautifully shot film.", "Dull.<br />I left early.", ""]
    scores = model.predict(np.array(reviews, dtype=object), verbose=0)
    np.testing.assert_allclose(np.asarray(model(np.array(reviews))), scores, atol=1e-6)
    assert scores[0, 0] > 0.5 > scores[1, 0]
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        layers = json.loads(z.read("config.json"))["config"]["layers"]
    assert [layer["class_name"] for layer in layers][:2] == ["InputLayer", "TextVectorization"]
    vectorizer, network = split_string_model(kerazoo.get("imdb_rnn", weights=tmp_path / "m.keras"))
    assert vectorizer is not None and network.count_params() == model.count_params()
    np.testing.assert_allclose(kerazoo.get("imdb_rnn", weights=tmp_path / "m.keras").predict(reviews, verbose=0),
                               scores, atol=1e-6)


def test_a_text_recipe_vectorizes_reviews_on_this_backend():
    """The ids a text recipe (`kerazoo.train`) and a text fine-tune (`kerazoo finetune --data`) train on come from
    the adapted `TextVectorization` called eagerly, in batches: on JAX its callable standardisation takes NumPy
    strings, which inside a tf.data map it could not (issue 24). They are the pure-Python Tokenizer's ids."""
    import types

    from kerazoo.text import Tokenizer, make_vectorizer, vectorize
    from kerazoo.training.userdata import network_inputs

    texts = np.array(["A great film!", "Awful.<br />Boring, dull plot", "", "the film was a plot", "Café GREAT"],
                     dtype=object)
    vectorizer = make_vectorizer(texts, vocab_size=12, sequence_length=4)
    ids = vectorize(vectorizer, texts, batch_size=2)
    np.testing.assert_array_equal(ids, Tokenizer.of_vectorizer(vectorizer)(texts))
    assert ids.shape == (5, 4) and ids[0, 1] > 1 and vectorize(vectorizer, texts[:0]).shape == (0, 4)
    np.testing.assert_array_equal(network_inputs(types.SimpleNamespace(x=texts), vectorizer), ids)


# === Training, fine-tuning and search on this backend: each family's recipe, tiny ===

def _planted_digits(folder, n_train=200, n_test=40):
    rng = np.random.default_rng(0)
    y = np.arange(n_train + n_test) % 10
    x = (rng.random((len(y), 28, 28)) * 40).astype(np.uint8)
    for i, label in enumerate(y):  # a bright bar whose row encodes the label
        x[i, 2 + 2 * label: 4 + 2 * label, 4:24] = 255
    np.savez(folder / "mnist.npz", x_train=x[:n_train], y_train=y[:n_train].astype(np.uint8), x_test=x[n_train:],
             y_test=y[n_train:].astype(np.uint8))
    return folder


def _reviews(folder):
    rng = np.random.default_rng(0)
    words = {1: ["great", "wonderful", "loved"], 0: ["awful", "boring", "hated"]}
    for split, n in (("train", 40), ("test", 10)):
        for label, name in ((1, "pos"), (0, "neg")):
            path = folder / "aclImdb" / split / name
            path.mkdir(parents=True)
            for i in range(n):
                (path / f"{i}_{9 if label else 1}.txt").write_text(
                    " ".join(rng.choice(["the", "film", "was", "a", "plot"], 5)) + f" {rng.choice(words[label])}")
    return folder


def _corpus(folder):
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    (folder / "corpus.txt").write_text("\n".join(" ".join(rng.choice(words, 12)) for _ in range(200)))
    return {"recipe": {"dataset": "text", "data": {"path": str(folder / "corpus.txt"), "min_count": 1}}}


# On TensorFlow each recipe, fine-tune and search already runs in its own test file (test_training, test_<family>,
# test_owndata, test_tuning): these run in the other backends' passes
ON_OTHER_BACKENDS = pytest.mark.skipif(keras.backend.backend() == "tensorflow",
                                       reason="TensorFlow: tests/test_training.py, test_<family>.py, test_tuning.py")


# name -> (data folder maker, config overlay maker, builder overrides); alexnet_cifar is left out (no CIFAR-10 here)
RECIPES = {
    "lenet5": (_planted_digits, None, {}),
    "dbn": (_planted_digits, lambda d: {"recipe": {"pretrain": {"epochs": 1, "batch_size": 50}}}, {"units": (32, 32)}),
    "autoencoder": (_planted_digits, None, {"latent_dim": 8}),
    "dcgan": (_planted_digits, None, {"latent_dim": 8, "generator_filters": (16, 8), "discriminator_filters": (8, 16)}),
    "imdb_gru": (_reviews, None, {"units": (8,)}),
    "word2vec": (lambda d: d, _corpus, {"vocab_size": 31, "embedding_dim": 8}),
    "seq2seq_attention": (lambda d: d, lambda d: {"recipe": {"data": {"n_train": 256, "n_val": 32, "n_test": 32}}},
                          {"units": 8, "embedding_dim": 4}),
}


@pytest.mark.slow
@ON_OTHER_BACKENDS
@pytest.mark.parametrize("name", sorted(RECIPES))
def test_each_family_recipe_trains_on_this_backend(name, tmp_path):
    """`kerazoo.train` runs the family's own recipe (its data pipeline, pretraining, callbacks, held-out metrics)
    for one epoch on this backend, saves a model that loads back, and records the backend in run.json."""
    make_data, overlay, overrides = RECIPES[name]
    data = make_data(tmp_path)
    result = kerazoo.train(name, epochs=1, batch_size=16, data_dir=data, output=tmp_path / "run", verbose=0,
                           config=overlay(tmp_path) if overlay else None, model_overrides=overrides)
    # held-out metrics, or for word2vec (no held-out labels in a corpus) the last epoch's training figures
    figures = result.metrics or {k: v[-1] for k, v in result.history.items() if k != "epoch"}
    assert figures and all(np.isfinite(v) for v in figures.values()), (result.metrics, result.history)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["versions"]["keras_backend"] == keras.backend.backend()
    assert kerazoo.get(name, weights=tmp_path / "run" / "model.keras").count_params() == result.model.count_params()


@pytest.mark.slow
@ON_OTHER_BACKENDS
def test_finetune_and_tune_run_on_this_backend(tmp_path):
    """`kerazoo.finetune` (a pretrained artifact, a new head, both phases) and `kerazoo.tune` (one trial) on this
    backend; the fine-tuned head learns the planted digits."""
    x, y = np.load(_planted_digits(tmp_path) / "mnist.npz")["x_train"], np.arange(200) % 10
    model = kerazoo.get("lenet5", weights="mnist", classes=10)
    kerazoo.finetune(model, (x, y), head_epochs=10, finetune_epochs=1, batch_size=16, verbose=0)  # 3: 0.30, 10: 0.80
    assert np.mean(model.predict(x, verbose=0).argmax(-1) == y) > 0.5
    result = kerazoo.tune("lenet5", tuner="random", max_trials=1, epochs=1, data_dir=tmp_path,
                          directory=tmp_path / "search", overwrite=True)
    assert result.best and np.isfinite(result.best["score"]), result.trials
    assert (result.best_trial_dir / "model.keras").is_file()
