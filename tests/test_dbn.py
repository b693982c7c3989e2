"""The DBN family: CD-k training of an RBM, greedy pretraining, unrolling and fine-tuning."""
import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

import kerazoo
from kerazoo.models import dbn as dbn_module
from kerazoo.models.dbn import DBN, RBM, pretrain, pretrain_and_finetune, unroll


@pytest.fixture(scope="module")
def digits():
    """sklearn's 8x8 digits: raw 0..16 images, binarised flat copy, labels."""
    data = load_digits()
    return data.images, (data.data / 16.0 > 0.5).astype("float32"), data.target


def _rbm(visible=64, hidden=32, **kwargs):
    rbm = RBM(visible, hidden, seed=1, **kwargs)
    rbm.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=2e-4))
    return rbm


@pytest.mark.parametrize("options", [{"k": 1}, {"k": 3}, {"persistent": 64}])
def test_contrastive_divergence_lowers_reconstruction_error(digits, options):
    keras.utils.set_random_seed(0)
    _, x, _ = digits
    rbm = _rbm(**options)
    if options.get("persistent"):  # PCD wants a small learning rate (Tieleman 2008)
        rbm.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.5))
    before = rbm.evaluate(x, verbose=0)
    curve = rbm.fit(x, epochs=4, batch_size=32, verbose=0).history["reconstruction_error"]
    after = rbm.evaluate(x, verbose=0)
    assert after < 0.6 * before, (before, after)
    assert curve[-1] < curve[0]
    assert rbm(x[:5]).shape == (5, 32)


def test_the_free_energy_loss_has_contrastive_divergences_gradient():
    """`compute_loss` is F(data) - F(negative samples): its gradient must be CD's statistics
    (<v h>_model - <v h>_data for the weights, the differences of means for the biases), whatever the samples."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    rbm = RBM(12, 5, seed=3)
    rbm.hidden_bias.assign(rng.normal(size=5).astype("float32"))
    rbm.visible_bias.assign(rng.normal(size=12).astype("float32"))
    v0 = (rng.random((7, 12)) < 0.5).astype("float32")
    v = rng.random((7, 12)).astype("float32")  # any negative samples (probabilities, as CD's chain gives)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(rbm.free_energy(v0)) - tf.reduce_mean(rbm.free_energy(tf.stop_gradient(v)))
    grads = tape.gradient(loss, [rbm.kernel, rbm.visible_bias, rbm.hidden_bias])
    p_h0, p_h = np.asarray(rbm(v0)), np.asarray(rbm(v))
    cd = [v.T @ p_h / 7 - v0.T @ p_h0 / 7, v.mean(0) - v0.mean(0), p_h.mean(0) - p_h0.mean(0)]
    for got, want in zip(grads, cd):
        np.testing.assert_allclose(np.asarray(got), want, atol=1e-6)


def test_weight_decay_spares_the_biases(digits):
    _, x, _ = digits
    rbm = RBM(64, 8, seed=0)
    # learning_rate * weight_decay = 0.5: one step halves decayed variables; gradient steps are ~1e-4.
    rbm.compile(optimizer=keras.optimizers.SGD(1e-4, weight_decay=5000.0))
    rbm.visible_bias.assign(np.ones(64, "float32"))
    rbm.hidden_bias.assign(np.ones(8, "float32"))
    kernel = np.asarray(rbm.kernel)
    rbm.fit(x[:32], epochs=1, batch_size=32, verbose=0)
    assert np.linalg.norm(np.asarray(rbm.kernel)) / np.linalg.norm(kernel) == pytest.approx(0.5, abs=0.02)
    np.testing.assert_allclose(np.asarray(rbm.visible_bias), 1.0, atol=1e-3)
    np.testing.assert_allclose(np.asarray(rbm.hidden_bias), 1.0, atol=1e-3)


def test_pretrain_unroll_and_finetune(digits, tmp_path):
    keras.utils.set_random_seed(0)
    images, _, y = digits
    net = DBN(input_shape=(8, 8), rescaling=1 / 16, units=(48, 24))
    errors = net.pretrain(images, epochs=3, batch_size=64, verbose=0, seed=0)

    # One RBM per hidden layer, each trained on the previous one's hidden probabilities.
    assert list(errors) == ["rbm_1", "rbm_2"] and all(0 < e < 0.25 for e in errors.values()), errors
    assert [(r.visible_units, r.hidden_units) for r in net.rbms] == [(64, 48), (48, 24)]
    for rbm in net.rbms:
        curve = rbm.history.history["reconstruction_error"]
        assert len(curve) == 3 and curve[-1] < curve[0]
    measured = net.reconstruction_errors(images)
    assert list(measured) == ["rbm_1", "rbm_2"] and all(np.isfinite(list(measured.values())))
    assert "rbm_1" in str(measured)
    png = net.reconstruction_error_plot(tmp_path / "errors.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The classifier starts from the RBM weights and hidden biases.
    model = net.classifier()
    for i, rbm in enumerate(net.rbms, start=1):
        kernel, bias = model.get_layer(f"hidden_{i}").get_weights()
        np.testing.assert_array_equal(kernel, np.asarray(rbm.kernel))
        np.testing.assert_array_equal(bias, np.asarray(rbm.hidden_bias))
    np.testing.assert_allclose(model.get_layer("hidden_1").input.shape[1:], (64,))

    # Backprop fine-tuning lowers the loss and raises the accuracy (a larger step than the recipe's).
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss0, acc0 = model.evaluate(images, y, verbose=0)
    net.fit(images, y, epochs=3, batch_size=64, verbose=0)
    loss1, acc1 = model.evaluate(images, y, verbose=0)
    assert loss1 < loss0 and acc1 > max(acc0 + 0.3, 0.6), (loss0, acc0, loss1, acc1)


def test_pretrain_and_finetune_in_one_call(digits):
    """One call pretrains the RBM (its reconstruction error recorded) and fine-tunes the unrolled
    classifier, which then reads the 797 digits it never saw far above chance (0.1)."""
    keras.utils.set_random_seed(0)
    images, _, y = digits
    net = pretrain_and_finetune(images[:1000], y[:1000], pretrain_epochs=3, epochs=5, batch_size=32,
                                input_shape=(8, 8), rescaling=1 / 16, units=(32,), verbose=0)
    errors = net.reconstruction_errors()
    assert list(errors) == ["rbm_1"] and 0 < errors["rbm_1"] < 0.1, errors  # measured 0.048
    classifier = net.classifier()
    assert len(classifier.history.history["loss"]) == 5
    accuracy = float(np.mean(classifier.predict(images[1000:], verbose=0).argmax(-1) == y[1000:]))
    assert accuracy > 0.5, accuracy  # measured 0.69


def test_unroll_into_registry_model_and_input_forms():
    flat = kerazoo.get("dbn", units=(20, 10))
    image = kerazoo.get("dbn", input_shape=(28, 28), units=(20, 10))
    assert flat.count_params() == image.count_params()
    rbms = [RBM(784, 20, seed=0), RBM(20, 10, seed=1)]
    unroll(rbms, image)
    np.testing.assert_array_equal(image.get_layer("hidden_2").get_weights()[0], np.asarray(rbms[1].kernel))
    # Raw uint8 pixels with rescaling give the same outputs as pixels already in [0, 1].
    raw = np.random.default_rng(0).integers(0, 256, size=(2, 28, 28)).astype("uint8")
    scaled = kerazoo.get("dbn", input_shape=(28, 28), rescaling=1 / 255, units=(20, 10))
    scaled.set_weights(image.get_weights())
    np.testing.assert_allclose(scaled.predict(raw, verbose=0), image.predict(raw / 255.0, verbose=0), atol=1e-6)
    assert kerazoo.get("dbn", include_top=False, units=(20, 10)).output_shape == (None, 10)


def test_rbm_keras_round_trip(digits, tmp_path):
    keras.utils.set_random_seed(0)
    _, x, _ = digits
    rbm = _rbm(k=2, persistent=8)
    rbm.fit(x[:256], epochs=1, batch_size=64, verbose=0)
    rbm.save(tmp_path / "rbm.keras")
    restored = keras.saving.load_model(tmp_path / "rbm.keras", safe_mode=True)
    assert isinstance(restored, RBM) and restored.get_config() == rbm.get_config()
    np.testing.assert_array_equal(np.asarray(restored(x[:8])), np.asarray(rbm(x[:8])))
    np.testing.assert_array_equal(np.asarray(restored.chains), np.asarray(rbm.chains))
    assert restored.evaluate(x[:256], verbose=0) == pytest.approx(rbm.evaluate(x[:256], verbose=0))
    restored.fit(x[:64], epochs=1, batch_size=32, verbose=0)  # the optimizer came back compiled


def test_bad_options_raise_clear_errors(digits):
    images, x, _ = digits
    with pytest.raises(ValueError, match="units"):
        kerazoo.get("dbn", units=())
    with pytest.raises(ValueError, match="dropout"):
        kerazoo.get("dbn", dropout=1.0)
    with pytest.raises(ValueError, match="k=0"):
        RBM(64, 8, k=0)
    with pytest.raises(ValueError, match="persistent=-1"):
        RBM(64, 8, persistent=-1)
    with pytest.raises(ValueError, match=r"\[0, 1\].*rescaling"):
        pretrain(images.reshape(len(images), -1), (8,), epochs=1, verbose=0)  # raw 0..16 values
    with pytest.raises(ValueError, match="2-D"):
        pretrain(x.reshape(-1, 8, 8), (8,), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="2 hidden layers but 1 RBMs"):
        unroll([RBM(784, 20)], kerazoo.get("dbn", units=(20, 10)))
    with pytest.raises(ValueError, match="kernel of shape"):
        unroll([RBM(784, 30), RBM(30, 10)], kerazoo.get("dbn", units=(20, 10)))
    with pytest.raises(ValueError, match="not pretrained"):
        DBN(units=(8,)).reconstruction_errors()
    assert dbn_module.__all__  # the module's public API is declared
