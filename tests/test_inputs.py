"""Models answer every well-formed input and say so when they cannot (issue 12, section 5)."""
import numpy as np
import pytest

import kerazoo

REVIEWS = np.array(["A wonderful film, I loved it.", "", "😀😀😀", "Dull, far too long.", "   "], dtype=object)


# The guard works on every backend (on JAX a text model is checked on the strings its TokenizedModel takes):
# the tests marked `backends` run again on JAX in CI, for one text model.
@pytest.mark.parametrize("name", ["imdb_rnn.imdb", "imdb_lstm.imdb", pytest.param("imdb_gru.imdb",
                                                                                  marks=pytest.mark.backends)])
def test_a_review_scores_the_same_alone_and_in_any_batch(name):
    import tensorflow as tf

    model = kerazoo.get(name)
    batch = model.predict(REVIEWS, verbose=0).ravel()
    alone = np.array([model.predict(REVIEWS[i:i + 1], verbose=0)[0, 0] for i in range(len(REVIEWS))])
    assert np.isfinite(batch).all(), batch
    np.testing.assert_allclose(batch, alone, atol=1e-5)
    assert 0.05 < batch[1] < 0.95, "an empty review carries no evidence either way"
    served = kerazoo.load_saved_model(name).signatures["serving_default"]
    np.testing.assert_allclose(served(tf.constant(list(REVIEWS)))["output_0"].numpy().ravel(), batch, atol=1e-5)
    assert served(tf.constant([], tf.string))["output_0"].shape[0] == 0


@pytest.mark.backends
def test_empty_batches_give_empty_outputs():
    import tensorflow as tf

    model = kerazoo.get("lenet5.mnist")
    empty = np.zeros((0, 28, 28), np.uint8)
    assert model.predict(empty, verbose=0).shape == (0, 10)
    assert tuple(model(empty).shape) == (0, 10)
    served = kerazoo.load_saved_model("autoencoder.mnist").signatures["serving_default"]
    assert tuple(served(tf.constant(empty))["output_0"].shape) == (0, 28, 28)
    assert kerazoo.get("imdb_lstm.imdb").predict(np.array([], dtype=object), verbose=0).shape == (0, 1)


@pytest.mark.backends
@pytest.mark.parametrize("x, message", [
    (np.zeros((28, 28), np.uint8), r"lenet5.mnist takes uint8 batches of shape \(N, 28, 28\) \(one example: x\[None\]"),
    (np.zeros((2, 28, 28, 3), np.uint8), r"takes uint8 batches of shape \(N, 28, 28\); received uint8 of shape \(2, 28, 28, 3\)"),
    (np.random.default_rng(0).random((2, 28, 28)), r"takes raw pixels 0-255 .* received float64 values up to 0.99"),
])
def test_a_malformed_batch_is_a_clear_error(x, message):
    model = kerazoo.get("lenet5.mnist")
    with pytest.raises(ValueError, match=message):
        model.predict(x, verbose=0)
    with pytest.raises(ValueError, match=message):
        model(x)


@pytest.mark.backends
def test_well_formed_inputs_still_work_every_way():
    import tensorflow as tf

    model = kerazoo.get("lenet5.mnist")
    x = np.random.default_rng(1).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(np.asarray(model(x)), expected, atol=1e-5)
    np.testing.assert_allclose(model.predict(tf.constant(x), verbose=0), expected, atol=1e-5)
    np.testing.assert_allclose(model.predict(tf.data.Dataset.from_tensor_slices(x).batch(2), verbose=0), expected,
                               atol=1e-5)
    np.testing.assert_allclose(model.predict(x.astype("float32"), verbose=0), expected, atol=1e-5)  # 0-255 floats
    with pytest.raises(ValueError, match="takes a batch of strings"):
        kerazoo.get("imdb_rnn.imdb").predict("one review, not a batch")


# === Values: the Keras models of kerazoo.get refuse what the runners refuse (issue 25, item 4) ===

def _a_real_zero():
    from kerazoo import data

    (_, _), (x, y) = data.load_numpy("digits")  # scikit-learn's digits as 28x28 uint8, offline
    return x[y == 0][:1]


def _bad_batches():
    zero = _a_real_zero()
    one_nan = zero.astype("float32")
    one_nan[0, 14, 14] = np.nan  # the issue: one NaN pixel turned a 0 into a 6
    times_four = zero.astype(np.int32) * 4  # ints up to 1,020 (255 * 4) were answered
    times_four[0, 0, 0] = 1020
    return {
        "a NaN batch": (np.full((2, 28, 28), np.nan, np.float32), r"2 of 2 examples hold NaN or infinite values"),
        "an inf batch": (np.full((2, 28, 28), np.inf, np.float32), r"NaN or infinite values"),
        "one NaN pixel in a real 0": (one_nan, r"1 of 1 examples hold NaN .*the first is example 0"),
        "negative int16 pixels": (np.full((1, 28, 28), -300, np.int16), r"raw pixels 0-255 .* int16 values in \[-300"),
        "ints up to 1,020": (times_four, r"int32 values in \[0, 1020\]"),
        "bool images": (zero > 0, r"expects uint8 pixels 0-255 .* received bool values"),
        "complex images": (zero.astype(np.complex64), r"received complex64 values"),
        "strings": (np.full((1, 28, 28), "7"), r"received strings"),
    }


@pytest.mark.parametrize("case", ["a NaN batch", "an inf batch", "one NaN pixel in a real 0", "negative int16 pixels",
                                  "ints up to 1,020", "bool images", "complex images", "strings"])
def test_the_keras_model_refuses_what_the_runners_refuse(case):
    x, message = _bad_batches()[case]
    model = kerazoo.get("lenet5.mnist")
    for call in (lambda: model.predict(x, verbose=0), lambda: model(x)):
        with pytest.raises(kerazoo.DataError, match=message):
            call()
    for fmt in ("saved_model", "litert", "onnx"):
        with pytest.raises(kerazoo.DataError, match=r"lenet5.mnist"):
            kerazoo.get("lenet5.mnist", format=fmt)(x)


def test_in_range_pixels_of_any_integer_or_float_dtype_are_answered_alike():
    zero = _a_real_zero()
    model = kerazoo.get("lenet5.mnist")
    expected = model.predict(zero, verbose=0)
    assert expected.argmax() == 0
    for dtype in ("int16", "int32", "int64", "uint16", "float16", "float32", "float64"):
        np.testing.assert_allclose(model.predict(zero.astype(dtype), verbose=0), expected, atol=1e-3)
    runner = kerazoo.get("lenet5.mnist", format="onnx")
    for dtype in ("int16", "int64", "uint16"):
        np.testing.assert_allclose(runner(zero.astype(dtype)), expected, atol=1e-4)


def test_latent_vectors_must_be_finite_on_every_path():
    z = np.zeros((2, 100), np.float32)
    z[1, 3] = np.nan
    with pytest.raises(kerazoo.DataError, match=r"1 of 2 examples hold NaN .*the first is example 1"):
        kerazoo.get("dcgan.mnist", format="saved_model")(z)
    assert kerazoo.get("dcgan.mnist", format="saved_model")(z[:1])["images"].shape == (1, 28, 28, 1)


# === Strings to the dates model: checked alike by translate and the SavedModel runner (issue 25) ===

@pytest.fixture(scope="module")
def dates():
    return kerazoo.get("seq2seq_attention.dates"), kerazoo.get("seq2seq_attention.dates", format="saved_model")


@pytest.mark.parametrize("text, message", [
    ("\x00", r"item 0 holds the control character U\+0000 at position 0"),  # was a TensorFlow traceback
    ("1 jan 2000\x00", r"control character U\+0000 at position 10"),
    ("3rd of \x07March", r"control character U\+0007 at position 7"),
    ("\ud800 1 jan", r"U\+D800 at position 0, half of a surrogate pair"),
    ("1" * 5000, r"item 0 has 5,000 characters; accepted: texts of at most 256 characters"),  # was 45 s
])
def test_translate_and_the_savedmodel_runner_refuse_the_same_strings(dates, text, message):
    import time

    model, runner = dates
    start = time.perf_counter()
    with pytest.raises(kerazoo.DataError, match=r"translate: .*" + message):
        model.translate(text)
    with pytest.raises(kerazoo.DataError, match=r"seq2seq_attention.dates: .*" + message):
        runner([text])
    assert time.perf_counter() - start < 5, "refused before decoding (5,000 characters took 45 s)"


def test_the_savedmodel_runner_checks_its_batch(dates):
    model, runner = dates
    with pytest.raises(kerazoo.DataError, match=r"expects a batch of strings; item 1 is int 5"):
        runner(["ok", 5])  # was answered with ''
    with pytest.raises(kerazoo.DataError, match=r"received one string. Wrap it: \[text\]"):
        runner("1 jan 2000")
    with pytest.raises(kerazoo.DataError, match=r"item 0 is bytes that are not UTF-8 \(byte 0xff at 0\)"):
        runner([b"\xff"])
    with pytest.raises(kerazoo.DataError, match=r"item 0 is bytes that are not UTF-8"):
        model.translate(b"\xff")
    texts = ["1 jan 2000", "", "\t3rd of March 1998\r\n", "x" * 256, "😀 2 Feb 2001"]  # whitespace controls are text
    served = runner(texts)
    assert list(served["translation"]) == [t.text for t in model.translate(texts)]
    assert served["translation"][0] == "2000-01-01" and served["flag"][1] == "empty"
