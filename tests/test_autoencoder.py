"""Autoencoders: training lowers reconstruction error; encoder/decoder work alone; variants."""
import numpy as np
import pytest

import kerazoo
from kerazoo.models.autoencoder import decoder_of, encoder_of, reconstruction_plot


@pytest.fixture(scope="module")
def digits():
    from kerazoo import data

    (x, _), (xt, _) = data.load_numpy("digits")  # real 28x28 uint8 digits, offline
    return x[:400], xt[:100]


@pytest.mark.parametrize("kind", ["conv", "dense", "variational"])
def test_training_lowers_reconstruction_error(digits, kind):
    import keras

    keras.utils.set_random_seed(0)
    x, xt = digits
    model = kerazoo.get("autoencoder", variant=kind, input_shape=(28, 28), rescaling=1 / 255, latent_dim=16,
                        compile=True)
    target, target_t = x / 255.0, xt / 255.0
    before = model.evaluate(xt, target_t, verbose=0)
    model.fit(x, target, epochs=4, batch_size=32, verbose=0)
    after = model.evaluate(xt, target_t, verbose=0)
    assert after < 0.8 * before, (kind, before, after)


def test_encoder_and_decoder_alone(digits):
    x, _ = digits
    model = kerazoo.get("autoencoder", input_shape=(28, 28), rescaling=1 / 255, latent_dim=12)
    encoder, decoder = encoder_of(model), decoder_of(model)
    codes = encoder.predict(x[:5] / 255.0, verbose=0)
    assert codes.shape == (5, 12)
    images = decoder.predict(codes, verbose=0)
    assert images.shape == (5, 28, 28, 1) and images.min() >= 0 and images.max() <= 1
    np.testing.assert_allclose(np.squeeze(images, -1), model.predict(x[:5], verbose=0), rtol=1e-5, atol=1e-6)
    assert kerazoo.get("autoencoder", variant="dense", latent_dim=7).get_layer("encoder").output_shape == (None, 7)


def test_denoising_noise_is_training_only(digits):
    import keras

    x, _ = digits
    model = kerazoo.get("autoencoder", input_shape=(28, 28), rescaling=1 / 255, noise=0.5)
    assert isinstance(model.get_layer("corruption"), keras.layers.GaussianNoise)
    a, b = model(x[:4], training=False), model(x[:4], training=False)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    clean = decoder_of(model)(encoder_of(model)(x[:4, ..., None] / 255.0))
    np.testing.assert_allclose(np.asarray(a), np.squeeze(np.asarray(clean), -1), rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.asarray(model(x[:4], training=True)), np.asarray(a))


def test_variational_adds_the_kl_term_and_round_trips(tmp_path, digits):
    import keras

    x, _ = digits
    model = kerazoo.get("autoencoder", variant="variational", input_shape=(28, 28), rescaling=1 / 255)
    model(x[:4], training=True)
    assert len(model.losses) == 1
    # the KL term of N(mean, exp(log_var)) against N(0, I), written here: summed over the code, averaged over
    # the batch (what the reconstruction loss's scale assumes); checked on the encoder's own outputs
    encoder = model.get_layer("encoder")
    heads = keras.Model(encoder.inputs, [encoder.get_layer(n).output for n in ("z_mean", "z_log_var")])
    mean, log_var = (np.asarray(t, np.float64) for t in heads(x[:4, ..., None] / 255.0, training=True))
    from kerazoo.models.autoencoder import VAESampling

    (sampling,) = [layer for layer in encoder.layers if isinstance(layer, VAESampling)]
    kl = float(np.mean(0.5 * np.sum(mean ** 2 + np.exp(log_var) - 1 - log_var, axis=-1)))
    expected = sampling.beta * kl  # beta is per pixel: the reconstruction loss is a mean over pixels
    assert sampling.beta == pytest.approx(1 / (28 * 28)) and kl > 0
    assert float(model.losses[0]) == pytest.approx(expected, rel=1e-4, abs=1e-9)
    encoder.get_layer("z_mean").set_weights([w + 0.5 for w in encoder.get_layer("z_mean").get_weights()])
    model(x[:4], training=True)  # a posterior further from N(0, I) costs more
    assert float(model.losses[0]) > expected + 0.1 * sampling.beta
    model.save(tmp_path / "vae.keras")
    again = keras.saving.load_model(tmp_path / "vae.keras", safe_mode=True)
    np.testing.assert_array_equal(np.asarray(model(x[:4])), np.asarray(again(x[:4])))


def test_reconstruction_plot(tmp_path, digits):
    x, _ = digits
    path = reconstruction_plot(kerazoo.get("autoencoder", input_shape=(28, 28), rescaling=1 / 255), x, tmp_path / "r.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("kwargs, message", [
    ({"input_shape": (30, 30, 1)}, "divisible by 4"),
    ({"variant": "sparse"}, "'variant' expected 'dense' | 'conv' | 'variational'"),
    ({"noise": -0.1}, "`noise` argument should be >= 0"),
    ({"latent_dim": 0}, "`latent_dim` argument should be a positive integer"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kerazoo.get("autoencoder", **kwargs)
