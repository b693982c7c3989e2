"""DCGAN specifics: the adversarial `fit` (one loss, each part reaching one network), sampling, image sizes,
saving, the sample-grid callback."""
import json

import numpy as np
import pytest

import kerazoo
from kerazoo.models.dcgan import SampleGrid, image_mosaic, lenet_scores, plot_image_grid, scale_images

TINY = dict(latent_dim=8, generator_filters=(16, 8), discriminator_filters=(8, 16), kernel_size=3)


def tiny(**overrides):
    import keras

    keras.utils.set_random_seed(0)
    model = kerazoo.get("dcgan", **{**TINY, **overrides})
    model.compile()
    return model


def digits(n=8, shape=(28, 28)):
    return np.random.default_rng(0).integers(0, 256, (n, *shape)).astype("uint8")


def is_png(path):
    return path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fit_updates_both_networks_and_logs_both_losses():
    model = tiny()
    g_before = np.array(model.generator.get_layer("project").kernel)
    d_before = np.array(model.discriminator.get_layer("conv1").kernel)
    labels = np.zeros(8, dtype="int64")  # a classification pipeline's (images, labels): labels ignored
    history = model.fit(digits(), labels, batch_size=4, epochs=1, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss"}
    assert all(np.isfinite(v[0]) for v in history.history.values())
    assert not np.allclose(g_before, model.generator.get_layer("project").kernel)
    assert not np.allclose(d_before, model.discriminator.get_layer("conv1").kernel)
    assert int(model.optimizer.iterations) == 2


def test_sample_shape_range_and_determinism():
    model = tiny()
    images = model.sample(6, seed=3)
    assert images.shape == (6, 28, 28, 1)
    assert images.min() >= -1 and images.max() <= 1
    np.testing.assert_array_equal(images, model.sample(6, seed=3))
    assert not np.allclose(images, model.sample(6, seed=4))
    np.testing.assert_allclose(model.sample(3, seed=3), images[:3], atol=1e-6)  # same z prefix


@pytest.mark.parametrize("shape, filters, start", [((32, 32, 3), (16, 8), 8), ((64, 48, 3), (32, 16, 8, 8), 4)])
def test_other_image_sizes_build_and_train(shape, filters, start):
    model = tiny(input_shape=shape, generator_filters=filters)
    assert model.generator.get_layer("reshape").output.shape[1:3] == (start, shape[1] // 2 ** len(filters))
    assert model.generator.output.shape[1:] == shape
    assert model.discriminator.input.shape[1:] == shape and model.discriminator.output.shape[1:] == (1,)
    assert model.sample(2, seed=0).shape == (2, *shape)
    images = np.random.default_rng(0).uniform(-1, 1, (4, *shape)).astype("float32")
    logs = model.train_on_batch(images, return_dict=True)
    assert set(logs) == {"d_loss", "g_loss"} and all(np.isfinite(v) for v in logs.values())


@pytest.mark.parametrize("shape, match", [((30, 30, 1), "multiples of 4.*at most 1"), ((27, 28, 1), "odd"),
                                          ((28, 28), "height, width, channels"), ((28, 28, 0), "positive")])
def test_bad_image_shapes_raise_clear_errors(shape, match):
    with pytest.raises(ValueError, match=match):
        kerazoo.get("dcgan", input_shape=shape)


def test_compile_takes_one_optimizer_and_rejects_a_loss_or_two_optimizers():
    import keras

    from kerazoo.errors import ConfigError

    model = kerazoo.get("dcgan", **TINY)
    model.compile()  # Radford et al.'s Adam, for both networks
    assert float(model.optimizer.beta_1) == 0.5 and np.isclose(float(model.optimizer.learning_rate), 2e-4)
    assert model.optimizer.built  # in compile, i.e. in the caller's (strategy) scope
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=None, metrics=[])  # recipe.compile_model's call
    assert np.isclose(float(model.optimizer.learning_rate), 1e-3)
    with pytest.raises(ConfigError, match=r"`d_optimizer` was removed in kerazoo 0.2: one `optimizer`"):
        model.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer="rmsprop")
    with pytest.raises(ValueError, match="own losses"):
        model.compile(optimizer="adam", loss="binary_crossentropy")


def test_one_step_moves_each_network_by_the_gradient_of_its_own_loss():
    """The combined loss is written so that the discriminator gets the gradient of d_loss only and the
    generator that of g_loss only (what two tapes give): checked against tapes on one SGD step."""
    import keras
    import tensorflow as tf

    model = tiny(dropout=0.0, label_smoothing=0.1)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    z, images = model.latent(4, seed=1), np.random.default_rng(1).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    g_vars, d_vars = model.generator.trainable_variables, model.discriminator.trainable_variables
    before = [np.array(v) for v in g_vars + d_vars]
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    with tf.GradientTape(persistent=True) as tape:
        fake = model.generator(z, training=True)
        real_logits, fake_logits = model.discriminator(images, training=True), model.discriminator(fake, training=True)
        d_loss = bce(tf.fill(tf.shape(real_logits), 0.9), real_logits) + bce(tf.zeros_like(fake_logits), fake_logits)
        g_loss = bce(tf.ones_like(fake_logits), fake_logits)
    expected = [b - 0.5 * np.asarray(g) for b, g in zip(before, tape.gradient(g_loss, g_vars)
                                                         + tape.gradient(d_loss, d_vars))]
    for v in model.generator.non_trainable_variables:  # the tapes' forward pass moved the batch-norm statistics
        v.assign(v.value)
    model.train_on_batch(z, images)
    for variable, want in zip(g_vars + d_vars, expected):
        np.testing.assert_allclose(np.asarray(variable), want, atol=2e-6, err_msg=variable.path)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_discriminator_loss_uses_one_sided_label_smoothing(smoothing):
    """Real images' target is 1 - label_smoothing, generated ones' stays 0 (Salimans et al. 2016)."""
    import keras

    model = tiny(label_smoothing=smoothing)
    z, images = model.latent(4, seed=1), np.random.default_rng(1).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    real, fake = (np.asarray(model.discriminator(x, training=False)) for x in (images, model(z)))

    def bce(target, logits):  # binary cross-entropy from logits, averaged
        return float(np.mean(np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits)))))

    logs = model.evaluate(z, images, batch_size=4, verbose=0, return_dict=True)
    assert logs["d_loss"] == pytest.approx(bce(1 - smoothing, real) + bce(0.0, fake), rel=1e-4)
    assert logs["g_loss"] == pytest.approx(bce(1.0, fake), rel=1e-4)  # the generator's target is not smoothed
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert restored.label_smoothing == smoothing


def test_a_learning_rate_schedule_moves_both_networks():
    """`LearningRateScheduler` sets `model.optimizer`'s rate, which updates both networks."""
    import keras

    model = tiny()
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 1e-4 / (epoch + 1))
    model.fit(digits(), batch_size=4, epochs=1, verbose=0, callbacks=[schedule])
    g_before = np.array(model.generator.get_layer("project").kernel)
    d_before = np.array(model.discriminator.get_layer("conv1").kernel)
    model.fit(digits(), batch_size=4, epochs=2, initial_epoch=1, verbose=0, callbacks=[schedule])
    assert float(model.optimizer.learning_rate) == pytest.approx(5e-5)
    assert not np.allclose(g_before, model.generator.get_layer("project").kernel)
    assert not np.allclose(d_before, model.discriminator.get_layer("conv1").kernel)


def test_keras_round_trip_after_training(tmp_path):
    import keras

    model = tiny()
    model.compile(optimizer=keras.optimizers.Adam(3e-4, beta_1=0.5))
    model.fit(digits(), batch_size=4, epochs=1, verbose=0)  # moves the batch-norm statistics too
    model.save(tmp_path / "gan.keras")
    restored = keras.saving.load_model(tmp_path / "gan.keras", safe_mode=True)
    z = model.latent(5, seed=1)
    np.testing.assert_array_equal(model(z), restored(z))
    np.testing.assert_array_equal(model.discriminator(model(z)), restored.discriminator(restored(z)))
    assert (restored.generator.name, restored.discriminator.name) == ("generator", "discriminator")
    assert np.isclose(float(restored.optimizer.learning_rate), 3e-4)
    assert int(restored.optimizer.iterations) == 2  # optimizer state kept: training can resume
    restored.fit(digits(), batch_size=4, epochs=1, verbose=0)


def test_sample_grid_callback_writes_a_png_per_epoch(tmp_path):
    model = tiny()
    every_epoch, every_other = SampleGrid(tmp_path / "a", n=4, seed=0), SampleGrid(tmp_path / "b", every=2, n=4)
    model.fit(digits(4), batch_size=4, epochs=2, verbose=0, callbacks=[every_epoch, every_other])
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    assert [p.name for p in every_other.paths] == ["epoch_002.png"]
    assert all(is_png(p) for p in every_epoch.paths + every_other.paths)


def test_scale_images_and_rgb_grid(tmp_path):
    scaled = np.asarray(scale_images(np.array([[[0, 255]]], dtype="uint8")))
    assert scaled.shape == (1, 1, 2, 1) and scaled.dtype == np.float32
    np.testing.assert_allclose(scaled.ravel(), [-1.0, 1.0])
    rgb = np.random.default_rng(0).uniform(-1, 1, (5, 8, 8, 3))
    assert is_png(plot_image_grid(rgb, tmp_path / "grid.png", title="rgb"))


def test_grid_separates_rows_as_well_as_columns():
    mosaic = image_mosaic(-np.ones((6, 5, 4, 1)), columns=3, gap=2)  # black tiles: 2 rows of 3
    assert mosaic.shape == (2 * 7 + 2, 3 * 6 + 2, 1)
    white_rows = [r for r in range(mosaic.shape[0]) if mosaic[r].min() == 1.0]
    white_columns = [c for c in range(mosaic.shape[1]) if mosaic[:, c].min() == 1.0]
    assert white_rows == [0, 1, 7, 8, 14, 15] and white_columns == [0, 1, 6, 7, 12, 13, 18, 19]
    assert mosaic[2:7, 2:6].max() == 0.0  # the first tile, untouched


def _mnist_subset(shared_data, n):
    data = np.load(shared_data / "mnist" / "mnist.npz")
    return data["x_train"][:n], data["x_test"][:n]


def test_lenet_scores_tell_real_digits_from_noise(shared_data):

    train, test = _mnist_subset(shared_data, 1000)
    lenet = kerazoo.get("lenet5.mnist")
    real = lenet_scores(train, test, classifier=lenet)
    noise = lenet_scores(np.random.default_rng(0).uniform(-1, 1, (1000, 28, 28, 1)).astype("float32"), test,
                         classifier=lenet)
    assert real["lenet_fid"] < 5 < 100 < noise["lenet_fid"]  # FID of 1000 samples is biased up: 0.45 at 10k
    assert noise["lenet_score"] < 1.5 < 9 < real["lenet_score"] <= 10


def test_recipe_writes_a_grid_per_epoch_scores_samples_and_serves_pixels(shared_data, tmp_path):
    """`kerazoo train dcgan` -> per-epoch grids, LeNet scores on the card; the export maps z to images."""
    import tensorflow as tf

    from kerazoo.exporting import export

    train, test = _mnist_subset(shared_data, 256)
    np.savez(tmp_path / "mnist.npz", x_train=train, y_train=np.zeros(256, "uint8"), x_test=test,
             y_test=np.zeros(256, "uint8"))
    run = kerazoo.train("dcgan", epochs=2, batch_size=64, data_dir=tmp_path, output=tmp_path / "run", verbose=0,
                        model_overrides={k: v for k, v in TINY.items() if k != "kernel_size"})
    assert all(is_png(tmp_path / "run" / "samples" / f"epoch_{e:03d}.png") for e in (1, 2))
    fids = [float(v) for v in run.history["val_lenet_fid"]]  # per epoch, against the 256 real training digits
    assert len(fids) == 2
    best = kerazoo.get("dcgan", weights=tmp_path / "run" / "checkpoints" / "best.keras")  # lowest-FID epoch
    lenet = kerazoo.get("lenet5.mnist")  # the scorer the recipe was handed (FamilyHooks.uses)
    assert lenet_scores(best.sample(2000, 0), train, classifier=lenet)["lenet_fid"] == pytest.approx(min(fids), rel=1e-3)
    # the run ends on that epoch's weights (the recipe's early_stopping restores them): what is scored and shipped
    assert lenet_scores(run.model.sample(2000, 0), train, classifier=lenet)["lenet_fid"] == \
        pytest.approx(min(fids), rel=1e-3)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["epochs_run"] == 2
    assert {"test_lenet_fid", "test_lenet_score", "test_d_loss", "test_g_loss"} <= set(run.metrics)
    recomputed = lenet_scores(run.model.sample(10000, seed=0), test, classifier=lenet)  # the card's, from the model
    assert run.metrics["test_lenet_fid"] == pytest.approx(recomputed["lenet_fid"], rel=1e-4)
    assert run.metrics["test_lenet_score"] == pytest.approx(recomputed["lenet_score"], rel=1e-4)
    artifact = export(tmp_path / "run", destination=tmp_path / "artifacts")
    served = tf.saved_model.load(str(artifact / "saved_model")).signatures["serving_default"]
    z = run.model.latent(3, seed=1)
    out = served(tf.constant(z))
    np.testing.assert_allclose(out["images"].numpy(), run.model.predict(z, verbose=0), atol=1e-5)
    assert out["pixels"].dtype == tf.uint8 and out["pixels"].shape == (3, 28, 28, 1)


def test_evaluate_is_repeatable():
    """`evaluate` uses fixed latents, so the losses a card records are reproduced."""
    model = tiny()
    x = digits(16)
    first, second = (model.evaluate(x, batch_size=8, verbose=0, return_dict=True) for _ in range(2))
    assert first == second
    assert model.optimizer.built  # in compile, i.e. in the caller's scope


MIRRORED = """
import sys
import numpy as np
from kerazoo import distribute
strategy = distribute.strategy("mirrored", cpu_replicas=2, verbose=False)   # before TensorFlow initialises
import kerazoo
with distribute.scope(strategy):
    gan = kerazoo.get("dcgan", latent_dim=8, generator_filters=(16, 8), discriminator_filters=(8, 16), kernel_size=3)
    gan.compile()
x = np.random.default_rng(0).integers(0, 256, (32, 28, 28)).astype("uint8")
history = gan.fit(x, batch_size=16, epochs=1, verbose=0)
print("OK", strategy.num_replicas_in_sync, int(gan.optimizer.iterations.numpy()), history.history["d_loss"][0])
"""


def test_fit_under_mirrored_strategy_on_two_replicas(tmp_path):
    """Both optimizers are built in `compile` (inside the strategy scope): built lazily in a replica step, they fail."""
    import os
    import subprocess
    import sys

    (tmp_path / "gan.py").write_text(MIRRORED)
    done = subprocess.run([sys.executable, str(tmp_path / "gan.py")], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CUDA_VISIBLE_DEVICES": "-1", "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr[-3000:]
    _, replicas, steps, d_loss = done.stdout.split()[-4:]
    assert replicas == "2" and steps == "2" and np.isfinite(float(d_loss))
