"""Every registered model, parametrised over the catalogue (timm's tests/test_models.py).

A new model is tested by being registered: it builds with its defaults, its forward pass gives
the output shape `describe` states (computed without allocating weights), a few training steps on a
fixed batch move every weight and lower the loss, a `.keras` round trip reproduces its outputs exactly,
and its parameter count is the one `describe` states.

Every check runs on every Keras backend (marked `backends`: CI runs this file again with KERAS_BACKEND=jax).
"""
import keras
import numpy as np
import pytest

import kerazoo
from kerazoo.registry import load_config
from kerazoo.testing import example_batch

MODELS = kerazoo.list_models()
pytestmark = pytest.mark.backends


@pytest.fixture(scope="module", params=MODELS)
def built(request):
    name = request.param
    return name, load_config(name), kerazoo.get(name, compile=True)


def test_catalogue_is_not_empty():
    assert {"lenet5", "alexnet", "alexnet_cifar", "imdb_rnn", "imdb_lstm", "imdb_gru"} <= set(MODELS)


def test_forward_shape_and_finite(built):
    name, config, model = built
    x, _ = example_batch(model, config)
    out = model(x, training=False)
    outs = out if isinstance(out, (list, tuple)) else [out]
    documented = kerazoo.describe(name)["output_shape"]
    expected = documented if isinstance(documented[0], list) else [documented]
    assert len(outs) == len(expected)
    for o, shape in zip(outs, expected):
        o = keras.ops.convert_to_numpy(o)
        assert o.shape[0] == len(x if not isinstance(x, list) else x[0])
        assert all(e is None or e == s for e, s in zip(shape, o.shape[1:])) and len(shape) == o.ndim - 1, (
            f"{name}: output {o.shape[1:]} differs from the documented {shape}")
        assert np.isfinite(o).all()


def test_num_params_matches_the_catalogue(built):
    name, config, model = built
    assert model.count_params() == kerazoo.describe(name)["num_params"]


def test_a_few_steps_on_a_fixed_batch_train_every_weight_and_lower_the_loss(built):
    """Every trainable variable gets a gradient, and five steps of the recipe's optimizer on one batch fit it
    better (measured without dropout, by `test_on_batch`); a GAN's losses pull against each other, so it
    only has to move every weight. The steps take a tenth of the recipe's learning rate: at the full rate,
    Adam's first steps on 4 examples throw a network around (alexnet_cifar's loss went 2.3 -> 12.8 -> 1.8 on
    TensorFlow and stuck at a saturated 8.06 on JAX)."""
    name, config, model = built
    x, y = example_batch(model, config)
    model.optimizer.learning_rate.assign(float(model.optimizer.learning_rate) / 10)
    before = [v.numpy().copy() for v in model.trainable_variables]
    loss_before = model.test_on_batch(x, y, return_dict=True)
    for _ in range(5):
        logs = model.train_on_batch(x, y, return_dict=True)
        assert logs and all(np.isfinite(v) for v in logs.values()), logs
    frozen = [v.path for v, b in zip(model.trainable_variables, before) if np.array_equal(b, v.numpy())]
    assert not frozen, f"{name}: no gradient reached {frozen}"
    if "loss" in loss_before:
        after = model.test_on_batch(x, y, return_dict=True)["loss"]
        assert after < loss_before["loss"], (name, loss_before["loss"], after)


def test_keras_round_trip_reproduces_outputs(built, tmp_path):
    import keras

    name, config, model = built
    x, _ = example_batch(model, config, seed=1)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    before, after = model(x, training=False), restored(x, training=False)
    for a, b in zip(*(v if isinstance(v, (list, tuple)) else [v] for v in (before, after))):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    assert restored.name == model.name
