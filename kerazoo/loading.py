"""`kerazoo.get`: catalogue models built from their config, with pretrained weights when asked.

Weights come from an artifact (`"lenet5.mnist"`, or `weights="mnist"`: the user store, then the
shipped ones; every file verified against its card, `safe_mode=True`) or from a path
(`weights="run/model.keras"` or an artifact folder). `get(name, weights=tag, include_top=False)`
and `get(name, weights=tag, classes=N)` rebuild the architecture with the overrides and copy the
pretrained weights layer by layer, by the builders' stable layer names; a fresh `predictions` head
is the only layer allowed to differ.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kerazoo import artifacts, mirrors
from kerazoo.artifacts import TAG_PATTERN, split_name
from kerazoo.config import check_dataclass, check_kwargs
from kerazoo.errors import ArtifactError, ConfigError, WeightsError
from kerazoo.inputs import guard
from kerazoo.preprocessing import attach
from kerazoo.recipe import Recipe, compile_model
from kerazoo.registry import builder, load_config, measure

__all__ = ["get", "build", "check_fits", "count_params", "load_artifact", "load_file", "load_saved_model",
           "trained_with", "used_artifacts"]


def get(name: str, /, *, weights: str | os.PathLike | None = None, compile: bool = False, format: str = "keras",
        **overrides: Any):
    """Builds a catalogue model: its config's defaults, overridden by keyword arguments.

    Args:
      name: a registered name (`"lenet5"`) or an artifact name (`"lenet5.mnist"`, same as
        `weights="mnist"`).
      weights: `None` for random initialisation; an artifact tag (see
        `list_models(pretrained=True)`: the user store's, then the shipped ones; every file
        sha256-verified, loaded offline); or a path (`pathlib.Path`, or a string with a `/`) to a
        `.keras` file or an artifact folder. With weights, `include_top=False` gives the pretrained
        backbone and `classes=N` a fresh head on it.
      compile: compile with the recipe's optimizer (learning rate, gradient clipping), loss and
        metrics (the artifact's own recipe when weights are loaded).
      format: `"keras"` (a `keras.Model`), or an exported format of a pretrained artifact:
        `"saved_model"`, `"litert"`, `"litert_int8"`, `"onnx"` (see its card's `formats`). Those give
        a `kerazoo.runtimes.Runner`: a callable from the artifact's raw inputs (uint8 pixels, review
        strings, ...) to NumPy outputs, run by that format's own runtime, opened after its files verify.
      **overrides: builder arguments, checked against the builder's signature and types.

    Returns:
      A `keras.Model` (uncompiled unless `compile=True`), or a `Runner` for another `format`. Its
      `predict` also takes inputs as users have them and its answers read as class names
      (`class_names`, `decode`, `predict_names`): see `kerazoo.preprocessing`.

    Example:
      >>> model = kerazoo.get("lenet5", variant="modern", classes=26)
      >>> model = kerazoo.get("lenet5.mnist")
      >>> run = kerazoo.get("lenet5.mnist", format="litert"); probs = run(uint8_digits)
    """
    if format != "keras":
        return _runner(name, weights, format, compile=compile, overrides=overrides)
    model = guard(_get(name, weights, compile, overrides), name=name)
    return attach(model, getattr(model, "_kerazoo_card", None))  # paths, any image, lists of strings; class names


def _get(name, weights, compile, overrides):
    arch, tag = split_name(name)
    if tag is not None:
        if weights is not None and weights != tag:
            raise WeightsError(f"{name!r} already names weights {tag!r}; received weights={weights!r} too.")
        weights = tag
    config = load_config(arch)
    fn = builder(arch)
    given = check_kwargs(fn, overrides, f"kerazoo.get({arch!r}) overrides")
    if weights is None:
        defaults = check_kwargs(fn, config.model, f"{config.path} (model)")
        return build(arch, {**defaults, **given}, recipe=config.recipe if compile else None)
    if isinstance(weights, os.PathLike) or (isinstance(weights, str) and ("/" in weights or os.sep in weights
                                                                           or weights.endswith(".keras"))):
        path = Path(weights).expanduser()
        if path.is_dir():
            return load_artifact(arch, path, compile=compile, **given)
        return load_file(arch, path, compile=compile, **given)
    if not isinstance(weights, str):
        raise WeightsError(f"weights: expected None, a shipped tag or one of yours (a str), or a path (a .keras file or "
                           f"an artifact folder); received {type(weights).__name__} {weights!r}")
    artifact = artifacts.find(arch, weights) or mirrors.pull_configured(arch, weights)  # $KERAZOO_MIRRORS, if set
    if artifact is None:
        found = artifacts.artifacts(arch).values()
        shipped = ", ".join(a.name for a in found if a.shipped) or "none"
        yours = ", ".join(a.name for a in found if not a.shipped) or "none"
        raise WeightsError(f"No weights {weights!r} for model {arch!r}. Shipped weights: {shipped}; yours "
                           f"({artifacts.user_dir()}): {yours}; or give the path of a .keras file or an artifact "
                           f"folder (tags match {TAG_PATTERN}).")
    return load_artifact(arch, artifact.folder, compile=compile, **given)


def _runner(name: str, weights, format: str, *, compile: bool, overrides: dict):
    """`get(..., format=)`: the runner of an exported format of an artifact (by tag or folder)."""
    from kerazoo.runtimes import check_format, open_runner

    arch, tag = split_name(name)
    if tag is not None:
        if weights is not None and weights != tag:
            raise WeightsError(f"{name!r} already names weights {tag!r}; received weights={weights!r} too.")
        weights = tag
    check_format(format)
    if overrides or compile:
        raise WeightsError(f"format={format!r} runs an exported file as it is; builder overrides and compile=True "
                           f"apply to Keras models only (received {sorted(overrides) + (['compile'] if compile else [])})")
    if weights is None:
        raise WeightsError(f"format={format!r} needs an artifact: kerazoo.get('{arch}.TAG', format={format!r}) "
                           f"(artifacts of {arch}: {', '.join(artifacts.artifacts(arch)) or 'none'})")
    if isinstance(weights, os.PathLike) or "/" in str(weights) or os.sep in str(weights):
        folder = Path(weights).expanduser()
        if not folder.is_dir():
            raise WeightsError(f"format={format!r} needs an artifact folder; {folder} is not one")
    else:
        artifact = artifacts.find(arch, weights)
        if artifact is None:
            raise WeightsError(f"No artifact {arch}.{weights}. Artifacts of {arch}: "
                               f"{', '.join(artifacts.artifacts(arch)) or 'none'}")
        folder = artifact.folder
    return open_runner(folder, format)


def build(name: str, kwargs: dict, *, recipe: dict | Recipe | None = None, training: bool = False):
    """The registered builder of `name` called once with `kwargs` (already checked, e.g. by
    `kerazoo.training.resolve`), compiled by `recipe` when one is given.

    The builder runs in a `keras.StatelessScope`, where variables record their shapes without being
    allocated; the parameters are counted there, and arguments whose weights (with `training`, also their
    gradients and Adam moments) would not fit in memory are a `ConfigError` before anything is allocated.
    Then the same model's variables are initialised: one build, not a probe and a build.
    """
    import keras
    from keras.src.backend.common import global_state  # Keras 3.15: where deferred variables are queued
    from keras.src.backend.common.variables import initialize_all_variables

    fn = builder(name)
    queued = list(global_state.get_global_attribute("uninitialized_variables") or [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            model = fn(**kwargs)
        params = int(model.count_params())
    except Exception as e:  # noqa: BLE001 - nothing it queued is kept
        global_state.set_global_attribute("uninitialized_variables", queued)
        if not isinstance(e, ValueError) or "stateless scope" not in str(e):  # the builder's own error: as it is
            raise
        model, params = None, None  # a builder that creates a variable from a value: built the usual way
    try:
        _check_memory(name, kwargs, params, training=training)
    except ConfigError:  # refused: its variables are never made (nor made later by someone else's build)
        global_state.set_global_attribute("uninitialized_variables", queued)
        raise
    if model is None:
        model = fn(**kwargs)
    else:
        initialize_all_variables()
    if recipe is not None:
        compile_model(model, recipe if isinstance(recipe, Recipe) else _recipe(recipe, name))
    return model


def count_params(name: str, kwargs: dict) -> int | None:
    """The parameter count of `name` built with `kwargs`, without allocating its weights
    (`kerazoo.registry.measure`); None if the builder cannot run without allocating."""
    return measure(name, kwargs)[0]


def check_fits(name: str, kwargs: dict, *, training: bool = False) -> int | None:
    """Raises `ConfigError` when `name` built with `kwargs` cannot fit in this machine's memory.

    The parameters are counted without allocating them (`count_params`); float32 weights take 4
    bytes each, and training adds gradients and two Adam moments (16 bytes a parameter in all).
    Returns the parameter count (None if it cannot be counted without building).
    """
    params = count_params(name, kwargs)
    _check_memory(name, kwargs, params, training=training)
    return params


def _check_memory(name: str, kwargs: dict, params: int | None, *, training: bool) -> None:
    need = (params or 0) * (16 if training else 4)
    memory = _physical_memory()
    if memory and need > memory:
        config, fn = load_config(name), builder(name)
        bases = [check_kwargs(fn, config.model, str(config.path)),
                 check_kwargs(fn, {**config.model, **config.recipe.get("model", {})}, str(config.path))]
        changed = [f"{k}={v!r}" for k, v in kwargs.items() if all(k not in b or b[k] != v for b in bases)]
        state = "training state (weights, gradients and Adam moments)" if training else "float32 weights"
        raise ConfigError(
            f"{name}: {', '.join(changed) or 'these arguments'} give{'s' if len(changed) == 1 else ''} {params:,} "
            f"parameters, {need / 2 ** 30:,.1f} GiB of {state}, but this machine has {memory / 2 ** 30:.1f} GiB of "
            f"memory. Accepted: sizes whose {state.split(' (')[0]} fit in memory (the default arguments give "
            f"{count_params(name, bases[0]):,} parameters).")


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _recipe(raw: dict, where: str) -> Recipe:
    return Recipe(**check_dataclass(Recipe, raw, f"{where} recipe"))


def load_artifact(arch: str, folder: str | Path, *, compile: bool = False, **overrides):
    """Loads the `model.keras` of an artifact folder after verifying every file against its card."""
    folder = Path(folder)
    card = artifacts.verify(folder)
    if card.get("arch", arch) != arch:
        raise WeightsError(f"{folder} holds a {card.get('arch')!r} artifact, not {arch!r}.")
    model = load_file(arch, folder / "model.keras", base=card["model"], recipe=card["recipe"], compile=compile,
                      label=folder.name, _verified=True, **overrides)
    if not overrides:  # its class names and preprocessing hold (a new head or shape would not keep them)
        object.__setattr__(model, "_kerazoo_card", card)
    return model


def load_file(arch: str, path, *, base: dict | None = None, recipe: dict | None = None, compile: bool = False,
              label: str = "", _verified: bool = False, **overrides):
    """Loads a `.keras` file of model `arch` (safe mode); overrides rebuild it around its weights.

    Args:
      base: the builder arguments the file was made with (default: its run's `run.json`, else the config).
      recipe: the recipe block used when `compile=True` (default: the run's, else the config's).
    """
    import keras

    import kerazoo.layers  # noqa: F401 - registers kerazoo's serialisable objects
    from kerazoo.models.common import split_string_model, string_model
    from kerazoo.tokenized import runnable  # imports Keras

    fn = builder(arch)  # imports the family: registers its custom classes before loading
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist (give an artifact tag, a .keras file or an artifact "
                           "folder)")
    if base is None or recipe is None:
        record = trained_with(arch, path)
        base = record.get("model", base) if base is None else base
        recipe = record.get("recipe", recipe) if recipe is None else recipe
    model = keras.saving.load_model(path, compile=False, safe_mode=True)
    if overrides:
        vectorizer, network = split_string_model(model)
        base = check_kwargs(fn, base, f"{label or path} (recorded builder arguments)", recorded=True)
        _check_same_architecture(build(arch, base), network, label or str(path))
        new = build(arch, {**base, **overrides})
        _copy_weights(network, new, label or str(path), overrides)
        model = string_model(vectorizer, new, model.name) if vectorizer is not None else new
    model = runnable(model)  # on JAX and PyTorch a text model tokenises in Python (kerazoo.tokenized)
    if compile:
        compile_model(model, _recipe(recipe if recipe is not None else load_config(arch).recipe, arch))
    return model


def trained_with(arch: str, weights: str | os.PathLike) -> dict:
    """`{"model", "recipe"}` that an artifact (its card) or a run's `.keras` file (its `run.json`) was
    trained with; the config's when nothing was recorded."""
    path = Path(weights).expanduser() if not isinstance(weights, str) or "/" in weights or weights.endswith(
        ".keras") else None
    if path is None:
        artifact = artifacts.find(arch, weights)
        record = artifact.checked_card() if artifact is not None else {}
    elif path.is_dir():
        record = artifacts.read_card(path)
    else:
        run = path.parent / "run.json"
        record = json.loads(run.read_text()) if run.is_file() else {}
    config = load_config(arch)
    return {"model": record.get("model", config.model), "recipe": record.get("recipe", config.recipe)}


def used_artifacts(family_hooks, recipe: dict | Recipe) -> dict:
    """The artifacts a family's hooks use with `recipe` (`FamilyHooks.uses`: a GAN's scorer, word vectors an
    embedding starts from), loaded and verified, by role; one that is not available is left out (the hook
    does without it, or says it needs it)."""
    if family_hooks.uses is None:
        return {}
    recipe = recipe if isinstance(recipe, Recipe) else _recipe(recipe, "the recorded")
    loaded = {}
    for role, (name, weights) in family_hooks.uses(recipe).items():
        try:
            loaded[role] = get(name, weights=weights)
        except WeightsError:
            continue
    return loaded


def load_saved_model(name: str | os.PathLike):
    """Verifies an artifact's SavedModel files against its card, then opens it (`tf.saved_model.load`).

    Example:
      >>> serve = kerazoo.load_saved_model("lenet5.mnist").signatures["serving_default"]
      >>> serve(tf.constant(uint8_digits))["predictions"]
    """
    import tensorflow as tf

    if isinstance(name, os.PathLike) or "/" in str(name):
        folder = Path(name).expanduser()
    else:
        arch, tag = split_name(str(name))
        artifact = artifacts.find(arch, tag or "")
        if artifact is None:
            raise WeightsError(f"No artifact {name!r}. Artifacts: {', '.join(artifacts.artifacts()) or 'none'}")
        folder = artifact.folder
    card = artifacts.read_card(folder)
    files = tuple(k for k in card["files"] if k.startswith("saved_model/"))
    if not files:
        raise ArtifactError(f"{folder.name} has no saved_model/ listed in its card")
    artifacts.verify(folder, files=files)
    return tf.saved_model.load(str(folder / "saved_model"))


def _check_same_architecture(expected, loaded, name: str) -> None:
    """The card's builder arguments must rebuild the network stored in `model.keras` (layer by layer:
    names, classes, weight shapes and configs)."""
    def layers(model):
        skip = ("name", "trainable", "dtype")
        return [(layer.name, type(layer).__name__, [list(w.shape) for w in layer.weights],
                 json.loads(json.dumps({k: v for k, v in layer.get_config().items() if k not in skip}, default=str)))
                for layer in model.layers]

    mine, theirs = layers(expected), layers(loaded)
    if mine == theirs:
        return
    if len(mine) != len(theirs):
        what = f"{len(mine)} layers rebuilt, {len(theirs)} stored"
    else:
        a, b = next((a, b) for a, b in zip(mine, theirs) if a != b)
        keys = sorted(k for k in set(a[3]) | set(b[3]) if a[3].get(k) != b[3].get(k))
        what = (f"layer {b[0]!r} ({b[1]}) differs" + (f" in {', '.join(keys)}" if keys else "")
                + (f": rebuilt {[a[3].get(k) for k in keys][:3]}, stored {[b[3].get(k) for k in keys][:3]}"
                   if keys and len(str(a[3].get(keys[0]))) < 80 else ""))
    raise ArtifactError(f"{name}: the builder arguments recorded with the weights do not rebuild the stored network "
                        f"({what}); the card or run.json was edited or belongs to other weights. Nothing was loaded.")


def _copy_weights(source, target, name: str, overrides: dict) -> None:
    by_name = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        src = by_name.get(layer.name)
        if src is None or not layer.weights:
            continue
        shapes = [tuple(w.shape) for w in layer.weights], [tuple(w.shape) for w in src.weights]
        if shapes[0] == shapes[1]:
            layer.set_weights(src.get_weights())
        elif layer.name != "predictions":
            raise WeightsError(f"{name}: with {overrides} layer {layer.name!r} needs weights of shapes {shapes[0]} "
                               f"but the pretrained ones are {shapes[1]}; those overrides cannot keep the "
                               "pretrained weights (only the `predictions` head may change).")
