"""Adding a model (README, "Adding a model"): a builder registered from Python, with a config of only a
recipe, is listed, built, trained, exported and loaded like the shipped ones; so is a family kept outside
kerazoo that a config names by its dotted path; and a builder with no config at all works with `get`."""
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


@register_model(task="classification")
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
family: tinypkg.tinyfam
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
    from kerazoo import registry

    monkeypatch.setattr(registry, "_REGISTERED", dict(registry._REGISTERED))  # tiny_mlp is forgotten afterwards
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


def _contract(tiny_family, name="tiny_mlp"):
    """Built, trained, exported and loaded like a shipped model."""
    from kerazoo.registry import load_config
    from kerazoo.testing import example_batch

    assert name in kerazoo.list_models() and name in kerazoo.list_models(task="classification")
    model = kerazoo.get(name, compile=True)
    assert model.count_params() == kerazoo.describe(name)["num_params"] == 8 * 16 + 16 + 16 * 3 + 3
    x, y = example_batch(model, load_config(name))
    assert np.isfinite(model.train_on_batch(x, y)).all()

    result = kerazoo.train(name, output=tiny_family / "run", verbose=0)
    assert result.metrics["test_accuracy"] > 0.8  # the classes are separable: the hook's data was used
    artifact = kerazoo.export(result.output, tag="mine")
    assert artifact.parent == tiny_family / "models"
    assert json.loads((artifact / "card.json").read_text())["class_names"] == ["a", "b", "c"]
    loaded = kerazoo.get(f"{name}.mine")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), result.model.predict(x, verbose=0), rtol=1e-6)
    assert kerazoo.get(name, weights="mine", classes=5).output_shape == (None, 5)
    return result, artifact, x


def test_a_family_named_by_its_config_is_built_trained_exported_and_loaded(tiny_family):
    result, artifact, x = _contract(tiny_family)
    # exported formats need no hook either: the forward pass, checked against the SavedModel at export
    kerazoo.export(result.output, tag="mine", overwrite=True, formats="onnx")
    card = json.loads((artifact / "card.json").read_text())
    assert "agreement" in card["formats"]["onnx"], card["formats"]
    assert card["formats"]["onnx"]["agreement"]["max_abs_diff"] < 1e-5
    np.testing.assert_allclose(kerazoo.get("tiny_mlp.mine", format="onnx")(x), result.model.predict(x, verbose=0),
                               atol=1e-5)


def test_a_builder_registered_from_python_with_a_config_of_only_a_recipe(tiny_family):
    """The README's "Adding a model": `@register_model` in the user's own module, imported; its YAML holds only
    what differs from the signature, a recipe. Nothing else declares the model."""
    (tiny_family / "configs" / "tiny_mlp.yaml").write_text(textwrap.dedent(CONFIG).replace("family: tinypkg.tinyfam\n", ""))
    config.all_configs.cache_clear()
    import tinypkg.tinyfam  # noqa: F401 - registering is importing the module that defines the builder

    assert kerazoo.describe("tiny_mlp")["family"] == "tinypkg.tinyfam"
    _contract(tiny_family)


def test_a_builder_without_a_config_works_with_get(monkeypatch):
    """Registering alone makes a model: listed, described from its signature and docstring, built by `get`."""
    import keras

    from kerazoo import registry

    monkeypatch.setattr(registry, "_REGISTERED", dict(registry._REGISTERED))  # forgotten after the test

    @kerazoo.register_model(task="image-classification")
    def two_layer_probe(*, input_shape: tuple[int, ...] = (4,), classes: int = 2, name: str = "probe") -> keras.Model:
        """A two-layer probe: a test's throwaway model.

        Reference:
          None, a test.
        """
        inputs = keras.Input(shape=input_shape)
        return keras.Model(inputs, keras.layers.Dense(classes, name="predictions")(inputs), name=name)

    assert "two_layer_probe" in kerazoo.list_models(task="image-classification")
    info = kerazoo.describe("two_layer_probe")
    assert info["description"] == "A two-layer probe: a test's throwaway model." and info["reference"] == "None, a test."
    assert info["defaults"] == {"input_shape": (4,), "classes": 2, "name": "probe"} and info["recipe"] == {}
    assert kerazoo.get("two_layer_probe", classes=3).output_shape == (None, 3) and info["num_params"] == 10
    with pytest.raises(kerazoo.ConfigError, match="unknown key 'clases'"):
        kerazoo.get("two_layer_probe", clases=3)


def test_a_hook_with_the_wrong_type_is_refused():
    with pytest.raises(TypeError, match="FamilyHooks.recipe_data must be a function"):
        family.FamilyHooks(recipe_data="not a function")


def test_export_and_verify_stay_callable_after_their_module_is_imported():
    """`kerazoo.export` is a function; importing the module that defines it must not shadow it."""
    import importlib

    importlib.import_module("kerazoo.exporting")
    assert kerazoo.verify("lenet5.mnist") == {"lenet5.mnist": None}
    assert callable(kerazoo.export) and kerazoo.export.__module__ == "kerazoo.exporting"
