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
    from kerazoo.text import split_string_model

    model = kerazoo.get("imdb_rnn.imdb")
    reviews = ["A moving, beautifully shot film.", "Dull.<br />I left early.", ""]
    scores = model.predict(np.array(reviews, dtype=object), verbose=0)
    np.testing.assert_allclose(np.asarray(model(reviews)), scores, atol=1e-6)
    assert scores[0, 0] > 0.5 > scores[1, 0]
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        layers = json.loads(z.read("config.json"))["config"]["layers"]
    assert [layer["class_name"] for layer in layers][:2] == ["InputLayer", "TextVectorization"]
    vectorizer, network = split_string_model(kerazoo.get("imdb_rnn", weights=tmp_path / "m.keras"))
    assert vectorizer is not None and network.count_params() == model.count_params()
    np.testing.assert_allclose(kerazoo.get("imdb_rnn", weights=tmp_path / "m.keras").predict(reviews, verbose=0),
                               scores, atol=1e-6)
