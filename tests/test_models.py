"""Every registered model, parametrised over the catalogue (timm's tests/test_models.py).

A new model is tested by being registered: it builds with its defaults, its forward pass gives
the documented output shape, one training step gives a finite loss, a `.keras` round trip
reproduces its outputs exactly, and its parameter count is the one its config states.
"""
import numpy as np
import pytest

import kerazoo
from kerazoo.config import load_config
from kerazoo.testing import example_batch

MODELS = kerazoo.list_models()


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
    expected = config.output_shape if isinstance(config.output_shape[0], list) else [config.output_shape]
    assert len(outs) == len(expected)
    for o, shape in zip(outs, expected):
        o = np.asarray(o)
        assert o.shape[0] == len(x if not isinstance(x, list) else x[0])
        assert all(e is None or e == s for e, s in zip(shape, o.shape[1:])) and len(shape) == o.ndim - 1, (
            f"{name}: output {o.shape[1:]} differs from the documented {shape}")
        assert np.isfinite(o).all()


def test_num_params_matches_config(built):
    name, config, model = built
    assert model.count_params() == config.num_params, f"{name}: update num_params in its config"


def test_one_training_step_is_finite(built):
    name, config, model = built
    x, y = example_batch(model, config)
    logs = model.train_on_batch(x, y, return_dict=True)
    assert logs and all(np.isfinite(v) for v in logs.values()), logs


def test_keras_round_trip_reproduces_outputs(built, tmp_path):
    import keras

    name, config, model = built
    x, _ = example_batch(model, config, seed=1)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    before, after = model(x, training=False), restored(x, training=False)
    for a, b in zip(*(v if isinstance(v, (list, tuple)) else [v] for v in (before, after))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert restored.name == model.name
