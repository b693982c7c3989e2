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
