"""The catalogue API: listing without TensorFlow, patterns, errors that help, config validation."""
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import kerazoo
from kerazoo.config import ConfigError, _read, all_configs, check_kwargs
from kerazoo.registry import builder, load_config


def test_import_and_list_do_not_import_tensorflow():
    code = textwrap.dedent("""
        import sys, kerazoo
        names = kerazoo.list_models()
        kerazoo.describe(names[0]); kerazoo.list_models(pretrained=True)
        heavy = [m for m in ("tensorflow", "keras") if m in sys.modules]
        print(len(names), heavy)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    count, heavy = out.split(" ", 1)
    assert int(count) >= 6 and heavy.strip() == "[]"


def test_pattern_and_task_filters():
    assert kerazoo.list_models("imdb_*") == ["imdb_gru", "imdb_lstm", "imdb_rnn"]
    assert kerazoo.list_models("alex*") == ["alexnet", "alexnet_cifar"]
    images = kerazoo.list_models(task="image-classification")
    assert "lenet5" in images and not any(n.startswith("imdb") for n in images)
    assert kerazoo.list_models("nothing*") == []


def test_every_config_names_a_registered_builder_and_valid_defaults():
    for name, config in all_configs().items():
        fn = builder(name)
        assert fn.__name__ == name
        check_kwargs(fn, config.model, name)  # raises on an unknown or ill-typed default


def test_unknown_name_lists_closest():
    with pytest.raises(kerazoo.UnknownModelError, match=r"Unknown model 'lenet'.*Closest: lenet5"):
        kerazoo.get("lenet")


def test_overrides_are_applied_and_checked():
    model = kerazoo.get("lenet5", classes=26, input_shape=[28, 28], name="letters")
    assert model.output_shape == (None, 26) and model.input_shape == (None, 28, 28) and model.name == "letters"
    with pytest.raises(ConfigError, match=r"unknown key 'clases'.*Did you mean 'classes'.*Accepted keys:"):
        kerazoo.get("lenet5", clases=3)
    with pytest.raises(ConfigError, match=r"'classes' expected int, received 'ten'"):
        kerazoo.get("lenet5", classes="ten")
    with pytest.raises(ConfigError, match=r"'variant' expected 'classic' \| 'modern'"):
        kerazoo.get("lenet5", variant="vintage")
    with pytest.raises(ConfigError, match="'bidirectional' expected bool"):
        kerazoo.get("imdb_gru", bidirectional="yes")


def test_input_too_small_names_the_minimum():
    with pytest.raises(ValueError, match=r"lenet5: input of 8x8 is too small.*at least 28x28"):
        kerazoo.get("lenet5", input_shape=(8, 8, 1))
    with pytest.raises(ValueError, match=r"at least 67x67"):
        kerazoo.get("alexnet", input_shape=(32, 32, 3))
    kerazoo.get("alexnet", input_shape=(67, 67, 3))  # the stated minimum itself builds


def test_weights_that_do_not_exist_list_what_does():
    with pytest.raises(kerazoo.WeightsError, match=r"No weights 'imagenet' for model 'alexnet'. Shipped weights:"):
        kerazoo.get("alexnet", weights="imagenet")


def test_compile_uses_the_recipe_with_gradient_clipping():
    model = kerazoo.get("imdb_lstm", compile=True, vocab_size=100, embedding_dim=8, units=(4,))
    assert model.optimizer.clipnorm == 1.0 and model.loss == "binary_crossentropy"
    assert not kerazoo.get("lenet5").compiled  # uncompiled by default


def test_compile_applies_the_recipe_speed_settings():
    from kerazoo.recipe import Recipe, compile_model

    model = compile_model(kerazoo.get("lenet5"), Recipe(loss="mse", steps_per_execution=8, jit_compile=True))
    assert model.steps_per_execution == 8 and model.jit_compile is True
    configured = load_config("lenet5").recipe.get("steps_per_execution", 1)
    assert kerazoo.get("lenet5", compile=True).steps_per_execution == configured
    with pytest.raises(ValueError, match=r"positive int \(1 or more\)\. Received: steps_per_execution=0"):
        Recipe(steps_per_execution=0)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="Keras builds before tracing on other backends")
def test_a_compiled_models_first_step_is_traced_once():
    """TensorFlow defers making the optimizer's and named metrics' variables to the first trace, and a traced step
    that makes variables is traced again; `compile_model` makes them first, and the logs keep the metrics' names
    ("accuracy", whose class Keras picks by the data's shapes, is left to Keras)."""
    from kerazoo.recipe import Recipe, compile_model

    traces = []

    class Counted(keras.Model):
        def compute_loss(self, *args, **kwargs):
            traces.append(1)
            return super().compute_loss(*args, **kwargs)

    inputs = keras.Input((3,))
    model = Counted(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))
    compile_model(model, Recipe(loss="binary_crossentropy", metrics=["auc", "mae"]))
    x, y = np.random.default_rng(0).random((8, 3)), np.arange(8) % 2
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert len(traces) == 1 and {"loss", "auc", "mae"} == set(history.history)
    assert history.history["mae"][0] == pytest.approx(np.mean(np.abs(y - model.predict(x, verbose=0)[:, 0])), abs=0.2)


def test_describe_reports_catalogue_facts():
    info = kerazoo.describe("lenet5")
    assert info["family"] == "lenet" and info["num_params"] == 61706 and info["defaults"]["variant"] == "classic"
    assert set(info) >= {"task", "recipe", "search_space", "weights"}


@pytest.mark.parametrize("text, message", [
    ("modle: {}\n", "unknown key 'modle'. Did you mean 'model'"),
    ("recipe: {batchsize: 3}\n", "unknown key 'batchsize'. Did you mean 'batch_size'"),
    ("recipe: {epochs: many}\n", "'epochs' expected int"),
    ("name: y\n", "differs from the file name"),
    ("task: t\nnum_params: 3\n", r"'num_params', 'task' are not config keys.*@register_model\(task=...\).*computed"),
])
def test_bad_config_yaml_fails_naming_the_key(tmp_path, text, message):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        _read(path)


def test_named_recipes_say_what_differs_and_are_checked_like_the_recipe(tmp_path):
    """`recipes: {fast: {...}}` beside `recipe:`: a named recipe replaces what it gives, merges `model:` and `data:`
    key by key, and a mistake in it names the file, the recipe and the key."""
    from kerazoo.config import recipe_named

    path = tmp_path / "lenet5.yaml"
    path.write_text("recipe: {epochs: 30, batch_size: 128, model: {variant: modern, dropout: 0.2}, data: {a: 1},\n"
                    "         callbacks: {cosine_decay: {}}, augment: {rotate: 10}}\n"
                    "recipes:\n  fast: {epochs: 3, model: {dropout: 0.0}, callbacks: {one_cycle: {warmup: 0.2}},"
                    " augment: {}}\n")
    config = _read(path)
    fast = recipe_named(config.recipe, config.recipes, "fast", "lenet5")
    assert fast["epochs"] == 3 and fast["batch_size"] == 128                 # given / kept
    assert fast["model"] == {"variant": "modern", "dropout": 0.0} and fast["data"] == {"a": 1}  # merged
    assert fast["callbacks"] == {"one_cycle": {"warmup": 0.2}} and fast["augment"] == {}         # replaced
    assert recipe_named(config.recipe, config.recipes, None, "lenet5") == config.recipe
    with pytest.raises(ConfigError, match=r"no recipe named 'fats'. Did you mean 'fast'\? Recipes: the default"):
        recipe_named(config.recipe, config.recipes, "fats", "lenet5")
    path.write_text("recipe: {epochs: 30}\nrecipes:\n  fast: {epoch: 3}\n")
    with pytest.raises(ConfigError, match=r"lenet5.yaml \(recipes.fast\): unknown key 'epoch'. Did you mean 'epochs'"):
        _read(path)
    path.write_text("recipe: {epochs: 30}\nrecipes:\n  fast: {steps_per_execution: 0}\n")
    with pytest.raises(ValueError, match="steps_per_execution=0"):
        _read(path)
    path.write_text("recipe: {epochs: 30}\nrecipes:\n  fast: 3\n")
    with pytest.raises(ConfigError, match="recipes: expected names"):
        _read(path)


def test_shipped_named_recipes_resolve_to_valid_recipes():
    from kerazoo.training.run import resolve

    named = [(name, recipe) for name, config in all_configs().items() for recipe in config.recipes]
    assert ("lenet5", "fast") in named
    for name, recipe in named:
        base, chosen = resolve(name)[1], resolve(name, recipe=recipe)[1]
        assert chosen != base, (name, recipe)
    assert kerazoo.describe("lenet5")["recipes"]["fast"]["epochs"] == resolve("lenet5", recipe="fast")[1].epochs


def test_an_overlay_recipe_merges_model_and_data_as_a_named_recipe_does():
    """`config={"recipe": {"model": {...}}}` changes the builder arguments it names and keeps the recipe's others
    (the DBN's `input_shape`), on the card's recipe and on a named one; its other keys replace."""
    from kerazoo.training.run import resolve

    _, recipe, kwargs = resolve("dbn", config={"recipe": {"model": {"dropout": 0.4}}})
    assert kwargs["dropout"] == 0.4 and tuple(kwargs["input_shape"]) == (28, 28)
    assert kwargs["input_dropout"] == resolve("dbn")[2]["input_dropout"]
    _, fast, kwargs = resolve("dbn", recipe="fast", config={"recipe": {"model": {"dropout": 0.4}, "callbacks": {}}})
    assert kwargs["dropout"] == 0.4 and kwargs["input_dropout"] == resolve("dbn", recipe="fast")[2]["input_dropout"]
    assert fast.callbacks == {} and fast.epochs == resolve("dbn", recipe="fast")[1].epochs
    _, recipe, _ = resolve("imdb_lstm", config={"recipe": {"data": {"sequence_length": 16}}})
    assert recipe.data == {**resolve("imdb_lstm")[1].data, "sequence_length": 16}


def test_recipe_optimizer_may_carry_its_own_arguments():
    """`optimizer: {name: adam, beta_1: 0.5}` (Radford et al.'s GAN setting); a misspelt argument is named."""
    from kerazoo.config import check_dataclass
    from kerazoo.recipe import Recipe, make_optimizer

    recipe = Recipe(**check_dataclass(Recipe, {"optimizer": {"name": "adam", "beta_1": 0.5}, "learning_rate": 2e-4},
                                      "recipe"))
    optimizer = make_optimizer(recipe)
    assert type(optimizer).__name__ == "Adam" and float(optimizer.beta_1) == 0.5
    assert float(optimizer.learning_rate) == pytest.approx(2e-4)
    with pytest.raises(ValueError, match="bta_1"):
        make_optimizer(Recipe(optimizer={"name": "adam", "bta_1": 0.5}))
    with pytest.raises(ValueError, match="needs `name`"):
        make_optimizer(Recipe(optimizer={"beta_1": 0.5}))


def test_configs_say_only_what_differs_from_the_signature():
    """One registry: a shipped YAML holds no catalogue facts (task, counts: the builder's or computed) and no
    builder argument equal to the signature's default (in `model:` or the recipe's `model:`; a named recipe's
    `model:` only where the recipe's own `model:` gives another value, which it puts back)."""
    import inspect

    from kerazoo.config import YAML_KEYS

    def same(a, b):
        return (list(a) if isinstance(a, tuple) else a) == (list(b) if isinstance(b, tuple) else b)

    for name, config in all_configs().items():
        raw = __import__("yaml").safe_load(config.path.read_text())
        assert set(raw) <= set(YAML_KEYS), (name, sorted(raw))
        defaults = {k: p.default for k, p in inspect.signature(builder(name)).parameters.items()}
        blocks = [("model", raw.get("model") or {}), ("recipe.model", raw.get("recipe", {}).get("model") or {})]
        blocks += [(f"recipes.{k}.model", (v or {}).get("model") or {}) for k, v in (raw.get("recipes") or {}).items()]
        recipe_model = raw.get("recipe", {}).get("model") or {}
        for block, values in blocks:  # a named recipe may put back a default the recipe's `model:` changes
            restated = [k for k, v in values.items() if k in defaults and same(defaults[k], v)
                        and not (block.startswith("recipes.") and k in recipe_model and not same(recipe_model[k], v))]
            assert not restated, f"{config.path} {block}: {restated} restate the builder's defaults"


def test_builders_get_and_the_cli_raise_the_same_error_for_the_same_mistake(capsys):
    """One error vocabulary: a bad argument value is a ConfigError from the builder itself, from get and
    (one line, exit 2) from the CLI."""
    from kerazoo import cli
    from kerazoo.models.lenet import lenet5

    with pytest.raises(kerazoo.ConfigError, match="Received: dropout=1.5"):
        lenet5(dropout=1.5)
    with pytest.raises(kerazoo.ConfigError, match="Received: dropout=1.5"):
        kerazoo.get("lenet5", dropout=1.5)
    assert cli.main(["summary", "lenet5", "--set", "dropout=1.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "Received: dropout=1.5" in err and len(err.splitlines()) == 1
    assert issubclass(kerazoo.ConfigError, kerazoo.KerazooError) and issubclass(kerazoo.ConfigError, ValueError)
    assert issubclass(kerazoo.UnknownWordError, KeyError) and issubclass(kerazoo.UnknownWordError, kerazoo.KerazooError)


def test_the_readmes_naming_table_is_true():
    """Every row of the README's naming table: each model it names takes each argument, and no other
    registered model takes it (except `name`, which all take)."""
    import inspect
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    table = readme[readme.index("| argument | meaning | used by |"):]
    table = table[:table.index("\n\n")].splitlines()[2:]
    from kerazoo.registry import _built_in

    models = set(_built_in())  # the shipped catalogue
    takes = {m: set(inspect.signature(builder(m)).parameters) for m in models}
    assert table, "the naming table is empty"
    for row in table:
        _, arguments, _, used_by, _ = row.split("|")
        names = re.findall(r"`(\w+)`", arguments)
        if "; " in used_by:  # per-argument lists: `a`, `b` | models of a; models of b
            groups = [set(re.findall(r"\b([a-z0-9_]+)\b(?![^(]*\))", g)) for g in used_by.split(";")]
        else:
            groups = [set(re.findall(r"\b([a-z0-9_]+)\b(?![^(]*\))", used_by))] * len(names)
        for argument, claimed in zip(names, groups):
            actual = {m for m in models if argument in takes[m]}
            claimed = models if claimed == {"all"} else claimed & models
            assert claimed == actual, f"naming table row `{argument}`: says {sorted(claimed)}, builders {sorted(actual)}"
