"""The catalogue API: listing without TensorFlow, patterns, errors that help, config validation."""
import subprocess
import sys
import textwrap

import pytest

import kerazoo
from kerazoo.config import ConfigError, _read, all_configs, check_kwargs
from kerazoo.registry import builder


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
    from kerazoo.config import load_config
    from kerazoo.recipe import Recipe, compile_model

    model = compile_model(kerazoo.get("lenet5"), Recipe(loss="mse", steps_per_execution=8, jit_compile=True))
    assert model.steps_per_execution == 8 and model.jit_compile is True
    configured = load_config("lenet5").recipe.get("steps_per_execution", 1)
    assert kerazoo.get("lenet5", compile=True).steps_per_execution == configured
    with pytest.raises(ValueError, match="positive int. Received: steps_per_execution=0"):
        Recipe(steps_per_execution=0)


def test_describe_reports_catalogue_facts():
    info = kerazoo.describe("lenet5")
    assert info["family"] == "lenet" and info["num_params"] == 61706 and info["defaults"]["variant"] == "classic"
    assert set(info) >= {"task", "recipe", "search_space", "weights"}


@pytest.mark.parametrize("text, message", [
    ("name: x\nfamily: lenet\ntask: t\nmodle: {}\n", "unknown key 'modle'. Did you mean 'model'"),
    ("name: x\nfamily: lenet\ntask: t\nrecipe: {batchsize: 3}\n", "unknown key 'batchsize'. Did you mean 'batch_size'"),
    ("name: x\nfamily: lenet\ntask: t\nrecipe: {epochs: many}\n", "'epochs' expected int"),
    ("name: y\nfamily: lenet\ntask: t\n", "differs from the file name"),
    ("name: x\ntask: t\n", "missing required key 'family'"),
])
def test_bad_config_yaml_fails_naming_the_key(tmp_path, text, message):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        _read(path)


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
