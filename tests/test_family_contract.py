"""Adding a family touches one model file and one config (README, "Adding a model"): a throwaway
family written by this test's fixture is built, trained, exported and loaded like the shipped ones."""
import json
import sys
import textwrap

import numpy as np
import pytest

import kerazoo
from kerazoo import config, family

FAMILY = '''
"""A throwaway family: one dense layer on 8 features, with its own data."""
import keras
import numpy as np

from kerazoo.family import FamilyHooks, TaskData
from kerazoo.registry import register_model


@register_model
def tiny_mlp(*, input_shape: tuple[int, ...] = (8,), units: int = 16, classes: int = 3,
             classifier_activation: str | None = "softmax", name: str = "tiny_mlp") -> keras.Model:
    inputs = keras.Input(shape=input_shape, name="features")
    x = keras.layers.Dense(units, activation="relu", name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(classes, activation=classifier_activation,
                                                  name="predictions")(x), name=name)


def recipe_data(recipe, model_kwargs, data_dir, seed):
    """Three classes told apart by which third of the features is largest."""
    from kerazoo.data.sources import to_dataset

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(600, 8)).astype("float32")
    y = np.argmax([x[:, :3].sum(1), x[:, 3:6].sum(1), x[:, 6:].sum(1)], axis=0)
    split = lambda a, b, shuffle: to_dataset((x[a:b], y[a:b]), batch_size=recipe.batch_size, shuffle=shuffle)
    return TaskData(split(0, 400, True), split(400, 500, False), split(500, 600, False), class_names=["a", "b", "c"])


HOOKS = FamilyHooks(recipe_data=recipe_data)
'''

CONFIG = '''
name: tiny_mlp
family: tinypkg.tinyfam
task: classification
description: a throwaway family for the contract test
num_params: 195
output_shape: [3]
model: {units: 16}
recipe:
  dataset: synthetic
  optimizer: adam
  learning_rate: 0.01
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
  batch_size: 32
  epochs: 8
'''


@pytest.fixture
def tiny_family(tmp_path, monkeypatch):
    (tmp_path / "code" / "tinypkg").mkdir(parents=True)
    (tmp_path / "code" / "tinypkg" / "__init__.py").write_text("")
    (tmp_path / "code" / "tinypkg" / "tinyfam.py").write_text(textwrap.dedent(FAMILY))
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "tiny_mlp.yaml").write_text(textwrap.dedent(CONFIG))
    monkeypatch.syspath_prepend(str(tmp_path / "code"))
    monkeypatch.setenv("KERAZOO_CONFIGS", str(tmp_path / "configs"))
    monkeypatch.setenv("KERAZOO_MODELS", str(tmp_path / "models"))
    config.all_configs.cache_clear()
    yield tmp_path
    config.all_configs.cache_clear()
    family.hooks.cache_clear()
    for module in ("tinypkg", "tinypkg.tinyfam"):
        sys.modules.pop(module, None)


def test_a_new_family_is_built_trained_exported_and_loaded(tiny_family):
    from kerazoo.testing import example_batch

    assert "tiny_mlp" in kerazoo.list_models()
    model = kerazoo.get("tiny_mlp", compile=True)
    assert model.count_params() == config.load_config("tiny_mlp").num_params
    x, y = example_batch(model, config.load_config("tiny_mlp"))
    assert np.isfinite(model.train_on_batch(x, y)).all()

    result = kerazoo.train("tiny_mlp", output=tiny_family / "run", verbose=0)
    assert result.metrics["test_accuracy"] > 0.8  # the classes are separable: the hook's data was used
    artifact = kerazoo.export(result.output, tag="mine")
    assert artifact.parent == tiny_family / "models"
    assert json.loads((artifact / "card.json").read_text())["class_names"] == ["a", "b", "c"]
    loaded = kerazoo.get("tiny_mlp.mine")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), result.model.predict(x, verbose=0), rtol=1e-6)
    assert kerazoo.get("tiny_mlp", weights="mine", classes=5).output_shape == (None, 5)
    # exported formats need no hook either: the forward pass, checked against the SavedModel at export
    kerazoo.export(result.output, tag="mine", overwrite=True, formats="onnx")
    card = json.loads((artifact / "card.json").read_text())
    assert card["formats"]["onnx"]["agreement"]["max_abs_diff"] < 1e-5
    np.testing.assert_allclose(kerazoo.get("tiny_mlp.mine", format="onnx")(x), result.model.predict(x, verbose=0),
                               atol=1e-5)


def test_a_hook_with_the_wrong_type_is_refused():
    with pytest.raises(TypeError, match="FamilyHooks.recipe_data must be a function"):
        family.FamilyHooks(recipe_data="not a function")


def test_export_and_verify_stay_callable_after_their_module_is_imported():
    """`kerazoo.export` is a function; importing the module that defines it must not shadow it."""
    import importlib

    importlib.import_module("kerazoo.exporting")
    assert kerazoo.verify("lenet5.mnist") == {"lenet5.mnist": None}
    assert callable(kerazoo.export) and kerazoo.export.__module__ == "kerazoo.exporting"
