"""The catalogue: registration by decorator, `builder`, `list_models`, `describe`.

The configs in `zoo_configs/` are the catalogue's index, so `list_models` reads YAML only and
never imports TensorFlow; `builder` imports the model's family module (which registers its
builders with `@register_model`) only when a model is built (`kerazoo.get`, in `kerazoo.loading`).
"""
from __future__ import annotations

import fnmatch
from typing import Any, Callable

from kerazoo.artifacts import artifacts, available, split_name
from kerazoo.config import all_configs, load_config
from kerazoo.family import family_module

__all__ = ["register_model", "list_models", "describe", "builder"]

_BUILDERS: dict[str, Callable] = {}  # model name -> builder, filled as family modules are imported


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
    module = family_module(config.family)
    if name not in _BUILDERS:
        raise RuntimeError(f"{config.path} names family {config.family!r}, but {module.__name__} registers no "
                           f"builder called {name!r} (a function `{name}` decorated with @register_model).")
    return _BUILDERS[name]


def list_models(pattern: str = "*", *, task: str | None = None, pretrained: bool = False) -> list[str]:
    """Names of catalogue models matching an fnmatch `pattern`, sorted.

    Args:
      pattern: shell-style pattern on the name, e.g. `"imdb_*"`.
      task: keep only models of this task (e.g. `"image-classification"`).
      pretrained: list artifacts instead (shipped and the user store's), as `"arch.tag"` names
        (`"lenet5.mnist"`), which `get` accepts directly; broken ones are left out.

    Example:
      >>> kerazoo.list_models("imdb_*")
      ['imdb_gru', 'imdb_lstm', 'imdb_rnn']
    """
    names = []
    for name, config in all_configs().items():
        if task is not None and config.task != task:
            continue
        if pretrained:
            names += [a.name for a in artifacts(name).values() if a.error is None]
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
