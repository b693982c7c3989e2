"""Image augmentation in the recipe (training only) and the perturbed test set the digit cards report."""
import numpy as np
import pytest

import kerazoo
from kerazoo.data.augment import augment_dataset, check_augment
from kerazoo.data.perturb import KINDS, perturb, perturbation_parameters, perturbed_accuracy, transform

SPEC = {"probability": 1.0, "translate": 0.15, "rotate": 20, "zoom": 0.2, "shear": 10, "elastic": {"alpha": 34, "sigma": 4}}


def _digits(n=24, seed=0):
    """Bright strokes on a dark 28x28 field, away from the border (like MNIST)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 28, 28), dtype=np.uint8)
    for i in range(n):
        r, c = rng.integers(8, 14, 2)
        x[i, r:r + 8, c:c + 3] = 255
        x[i, r:r + 2, c:c + 7] = 200
    return x, np.arange(n) % 10


@pytest.fixture()
def mnist_dir(tmp_path):
    x, _ = _digits(240)
    y = np.arange(240) % 10
    for i, label in enumerate(y):  # a learnable mark: a bar whose row encodes the label
        x[i, 2 + 2 * label: 4 + 2 * label, 6:22] = 255
    np.savez(tmp_path / "mnist.npz", x_train=x[:200], y_train=y[:200].astype(np.uint8),
             x_test=x[200:], y_test=y[200:].astype(np.uint8))
    return tmp_path


# === The perturbed test set ===

def test_perturbation_is_seeded_reproducible_and_prefix_stable():
    x, _ = _digits(40)
    a = perturb(x, seed=0)
    assert a.dtype == np.uint8 and a.shape == x.shape
    np.testing.assert_array_equal(a, perturb(x, seed=0))
    np.testing.assert_array_equal(a[:7], perturb(x[:7], seed=0))  # a card figure can be rechecked on a sample
    assert not np.array_equal(a, perturb(x, seed=1))
    assert (a != x).any(axis=(1, 2)).all(), "every image is moved"


def test_perturbation_mix_and_ranges_are_as_documented():
    params = perturbation_parameters(4000, seed=0)
    kinds = [p["kind"] for p in params]
    assert set(kinds) == set(KINDS) and all(abs(kinds.count(k) / 4000 - 0.25) < 0.03 for k in KINDS)
    for p in params:
        dx, dy = p["shift"]
        moved = p["kind"] in ("shift", "all")
        assert (max(abs(dx), abs(dy)) in (2, 3, 4)) if moved else (dx, dy) == (0, 0)
        assert (10 <= abs(p["rotate"]) <= 20) if p["kind"] in ("rotation", "all") else p["rotate"] == 0
        assert (0.10 <= abs(p["scale"] - 1) <= 0.20) if p["kind"] in ("rescale", "all") else p["scale"] == 1


def test_transform_shifts_exactly_and_rotates_counter_clockwise():
    x, _ = _digits(3)
    shifted = transform(x, shift=(3, -2))  # 3 right, 2 up
    expected = np.zeros_like(x)
    expected[:, :-2, 3:] = x[:, 2:, :-3]
    np.testing.assert_array_equal(shifted, expected)
    np.testing.assert_array_equal(transform(x, rotate=90), np.rot90(x, k=1, axes=(1, 2)))
    bigger = transform(x, scale=1.15)
    assert bigger.astype(float).sum() > 1.2 * x.astype(float).sum()  # ink area grows by ~1.15^2
    with pytest.raises(ValueError, match=r"non-empty batch of images .* shape \(28, 28\)"):
        perturb(x[0])


def test_perturbed_accuracy_reads_arrays_and_pipelines():
    import keras

    from kerazoo.data.sources import to_dataset

    x, y = _digits(20)

    class Oracle(keras.Model):  # "predicts" the label of a perturbed image if it matches the perturbed x
        def call(self, images):
            return keras.ops.one_hot(keras.ops.cast(keras.ops.sum(keras.ops.cast(images, "float32"), axis=(1, 2)) % 10, "int32"), 10)

    model = Oracle()
    ink = perturb(x, seed=0).astype(np.int64).sum(axis=(1, 2)) % 10
    expected = float(np.mean(ink == y))
    assert perturbed_accuracy(model, (x, y)) == pytest.approx(expected)
    assert perturbed_accuracy(model, to_dataset((x, y), batch_size=6)) == pytest.approx(expected)
    assert perturbed_accuracy(model, (x, y), limit=5) == pytest.approx(float(np.mean(ink[:5] == y[:5])))


# === Augmentation ===

def test_bad_augment_keys_and_values_are_clear_config_errors():
    from kerazoo.recipe import Recipe

    with pytest.raises(kerazoo.ConfigError, match=r"unknown key 'rotation'.*Accepted keys: probability.*translate.*rotate.*zoom.*"
                                                  r"shear.*elastic"):
        Recipe(augment={"rotation": 15})
    with pytest.raises(kerazoo.ConfigError, match=r"zoom must be a number in \[0, 1\]. Received: zoom=1.5"):
        check_augment({"zoom": 1.5})
    with pytest.raises(kerazoo.ConfigError, match=r"elastic needs \{alpha, sigma\}.*Received: elastic=\{'scale': 3\}"):
        check_augment({"elastic": {"scale": 3}})
    with pytest.raises(kerazoo.ConfigError, match="unknown key 'rotation'"):  # before any training starts
        kerazoo.train("lenet5", config={"recipe": {"augment": {"rotation": 15}}}, data_dir="/nonexistent")
    assert check_augment({"rotate": 15, "elastic": {"alpha": 8}}) == {"rotate": 15.0,
                                                                      "elastic": {"alpha": 8.0, "sigma": 4.0}}


def test_augmented_batches_differ_keep_labels_dtype_and_are_seeded():
    import tensorflow as tf

    x, y = _digits(32)
    raw = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    first = lambda ds: [(a.numpy(), b.numpy()) for a, b in ds]  # noqa: E731
    epoch1 = first(aug := augment_dataset(raw, SPEC, seed=3))
    epoch2 = first(aug)
    for (xa, ya), (xr, yr) in zip(epoch1, first(raw)):
        assert xa.dtype == np.uint8 and xa.shape == xr.shape
        np.testing.assert_array_equal(ya, yr)  # labels stay with their images
        assert (xa != xr).any(axis=(1, 2)).all(), "every image is distorted"
        ink = xa.astype(float).sum(axis=(1, 2)) / xr.astype(float).sum(axis=(1, 2))
        assert (ink > 0.3).all() and (ink < 2).all(), "a distortion, not an erasure"
    assert not np.array_equal(epoch1[0][0], epoch2[0][0]), "each epoch draws new distortions"
    again = first(augment_dataset(raw, SPEC, seed=3))
    np.testing.assert_array_equal(epoch1[0][0], again[0][0])  # seeded: the same run sees the same distortions
    assert not np.array_equal(epoch1[0][0], first(augment_dataset(raw, SPEC, seed=4))[0][0])
    assert augment_dataset(raw, {}, seed=3) is raw


def test_probability_leaves_a_fraction_of_the_images_exactly_unchanged():
    import tensorflow as tf

    x, y = _digits(400)
    raw = tf.data.Dataset.from_tensor_slices((x, y)).batch(100)
    out = np.concatenate([a for a, _ in augment_dataset(raw, {**SPEC, "probability": 0.3}, seed=0).as_numpy_iterator()])
    unchanged = (out == x).all(axis=(1, 2))
    assert 0.6 < unchanged.mean() < 0.8, unchanged.mean()  # 70 % pass as they are, bit for bit


def test_augmentation_is_only_in_training(mnist_dir, tmp_path):
    """Validation and test pipelines, the model and its predictions do not depend on `augment`."""
    import dataclasses

    from kerazoo.training.run import resolve
    from kerazoo.training.tasks import prepare

    cfg, recipe, kwargs = resolve("lenet5", config={"recipe": {"augment": SPEC, "batch_size": 50}})
    plain = prepare(cfg, dataclasses.replace(recipe, augment={}), kwargs, mnist_dir, 0)
    augmented = prepare(cfg, recipe, kwargs, mnist_dir, 0)
    arrays = lambda ds: [a for batch in ds.as_numpy_iterator() for a in batch]  # noqa: E731
    for split in ("val", "test"):
        for a, b in zip(arrays(getattr(plain, split)), arrays(getattr(augmented, split))):
            np.testing.assert_array_equal(a, b)
    x_aug = np.sort(np.concatenate([x.reshape(len(x), -1) for x, _ in augmented.train.as_numpy_iterator()]), axis=0)
    x_raw = np.sort(np.concatenate([x.reshape(len(x), -1) for x, _ in plain.train.as_numpy_iterator()]), axis=0)
    assert x_aug.shape == x_raw.shape and not np.array_equal(x_aug, x_raw)

    result = kerazoo.train("lenet5", epochs=1, data_dir=mnist_dir, output=tmp_path / "run", verbose=0,
                           config={"recipe": {"augment": SPEC, "batch_size": 50}})
    assert not [layer.name for layer in result.model.layers if type(layer).__name__.startswith("Random")]
    x_test = np.load(mnist_dir / "mnist.npz")["x_test"]
    once = result.model.predict(x_test, verbose=0)
    np.testing.assert_array_equal(once, result.model.predict(x_test, verbose=0))  # nothing random at inference
    reloaded = kerazoo.get("lenet5", weights=str(tmp_path / "run" / "model.keras"))
    np.testing.assert_allclose(reloaded.predict(x_test, verbose=0), once, atol=1e-6)
    assert 0 <= result.metrics["test_perturbed_accuracy"] <= 1  # the card's perturbed figure is computed
