"""The catalogue: registration by decorator, `get`, `list_models`, `describe`.

The configs in `zoo_configs/` are the catalogue's index, so `list_models` reads YAML only and
never imports TensorFlow; `get` imports the model's family module (which registers its builder
with `@register_model`) only when a model is built.
"""
from __future__ import annotations

import fnmatch
import importlib
import os
from typing import Any, Callable

from kerazoo.config import ConfigError, all_configs, check_dataclass, check_kwargs, load_config
from kerazoo.weights import available, split_name

__all__ = ["register_model", "get", "list_models", "describe", "builder", "UnknownModelError",
           "WeightsError"]

_BUILDERS: dict[str, Callable] = {}


class UnknownModelError(ValueError):
    """The name is not in the catalogue (the message lists the closest names)."""


class WeightsError(ValueError):
    """Weights were asked for that do not exist or do not verify."""


def register_model(fn: Callable) -> Callable:
    """Registers a builder under its own function name (timm's bare `@register_model`)."""
    name = fn.__name__
    if name in _BUILDERS and _BUILDERS[name] is not fn:
        raise ValueError(f"A model named {name!r} is already registered by "
                         f"{_BUILDERS[name].__module__}; choose another name.")
    _BUILDERS[name] = fn
    return fn


def builder(name: str) -> Callable:
    """The registered builder function of model `name` (imports its family module)."""
    config = load_config(name)
    importlib.import_module(f"kerazoo.models.{config.family}")
    if name not in _BUILDERS:
        raise RuntimeError(f"zoo_configs/{name}.yaml names family {config.family!r}, but "
                           f"kerazoo.models.{config.family} registers no builder called {name!r}.")
    return _BUILDERS[name]


def list_models(pattern: str = "*", *, task: str | None = None, pretrained: bool = False) -> list[str]:
    """Names of catalogue models matching an fnmatch `pattern`, sorted.

    Args:
      pattern: shell-style pattern on the name, e.g. `"imdb_*"`.
      task: keep only models of this task (e.g. `"image-classification"`).
      pretrained: list shipped artifacts instead, as `"arch.tag"` names (`"lenet5.mnist"`), which
        `get` accepts directly.

    Example:
      >>> kerazoo.list_models("imdb_*")
      ['imdb_gru', 'imdb_lstm', 'imdb_rnn']
    """
    names = []
    for name, config in all_configs().items():
        if task is not None and config.task != task:
            continue
        if pretrained:
            names += [f"{name}.{tag}" for tag in available(name)]
        else:
            names.append(name)
    return sorted(n for n in names if fnmatch.fnmatch(n, pattern) or fnmatch.fnmatch(split_name(n)[0], pattern))


def describe(name: str) -> dict[str, Any]:
    """Family, task, defaults, parameter count, recipe, search space and weights of a model."""
    config = load_config(split_name(name)[0])
    return {
        "name": config.name,
        "family": config.family,
        "task": config.task,
        "description": config.description,
        "reference": config.reference,
        "num_params": config.num_params,
        "output_shape": config.output_shape,
        "defaults": dict(config.model),
        "recipe": dict(config.recipe),
        "search_space": dict(config.search_space),
        "weights": available(config.name),
    }


def get(name: str, /, *, weights: str | os.PathLike | None = None, compile: bool = False, **overrides: Any):
    """Builds a catalogue model: its config's defaults, overridden by keyword arguments.

    Args:
      name: a registered name (`"lenet5"`) or an artifact name (`"lenet5.mnist"`, same as
        `weights="mnist"`).
      weights: `None` for random initialisation, a shipped artifact's tag (see
        `list_models(pretrained=True)`; sha256-verified, loaded offline) or a `.keras` file path.
        With weights, `include_top=False` gives the pretrained backbone and `classes=N` a fresh
        head on it.
      compile: compile with the recipe's optimizer (learning rate, gradient clipping), loss and
        metrics.
      **overrides: builder arguments, checked against the builder's signature and types.

    Returns:
      A `keras.Model` (uncompiled unless `compile=True`).

    Example:
      >>> model = kerazoo.get("lenet5", variant="modern", classes=26)
    """
    arch, tag = split_name(name)
    if tag is not None:
        if weights is not None and weights != tag:
            raise WeightsError(f"{name!r} already names weights {tag!r}; received weights={weights!r} too.")
        weights = tag
    config = load_config(arch)
    fn = builder(arch)
    defaults = check_kwargs(fn, config.model, f"zoo_configs/{arch}.yaml (model)")
    given = check_kwargs(fn, overrides, f"kerazoo.get({arch!r}) overrides")
    if weights is not None:
        from kerazoo import loading

        weights = os.fspath(weights) if isinstance(weights, os.PathLike) else weights
        if not isinstance(weights, str):
            raise WeightsError(f"weights: expected None, a shipped tag (a str) or the path of a .keras file; "
                               f"received {type(weights).__name__} {weights!r}")

        shipped = available(arch)
        if weights in shipped:
            return loading.load_pretrained(arch, weights, compile=compile, **given)
        if weights.endswith(".keras") or "/" in weights or "\\" in weights:
            return loading.load_file(arch, weights, base=defaults, recipe=config.recipe, compile=compile, **given)
        listing = ", ".join(f"{arch}.{t}" for t in shipped) or "none"
        raise WeightsError(f"No weights {weights!r} for model {arch!r}. Shipped weights: {listing}; "
                           "or give the path of a .keras file.")
    model = fn(**{**defaults, **given})
    if compile:
        from kerazoo.recipe import Recipe, compile_model

        recipe = Recipe(**check_dataclass(Recipe, config.recipe, f"zoo_configs/{arch}.yaml (recipe)"))
        compile_model(model, recipe)
    return model


__all__ += ["ConfigError"]
