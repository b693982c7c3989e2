"""What a search trains: a model's config, recipe and builder arguments as `kerazoo.train` would
resolve them, and its search space checked against the builder's signature and the Recipe.

Importing this module imports neither TensorFlow nor Keras; resolving imports the model's family.
"""
from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any, Mapping

from kerazoo.config import RENAMED, ZooConfig, builder_args, read_overlay
from kerazoo.recipe import Recipe
from kerazoo.training.run import resolve
from kerazoo.tuning.space import SearchSpace, parse_search_space, recipe_args

__all__ = ["SearchSetup", "resolve_search", "load_search_space"]


@dataclasses.dataclass(frozen=True)
class SearchSetup:
    """A model as a search starts from it: every trial samples its values over these."""

    name: str                   # registered model name
    config: ZooConfig           # its config (family, task, ...)
    recipe: Recipe              # config < overlay < recipe overrides
    kwargs: dict                # builder arguments, checked: config < overlay < model_overrides
    space: SearchSpace          # the search space, checked against the builder and the Recipe
    model_overrides: dict = dataclasses.field(default_factory=dict)  # fixed builder values (--set), not searched
    overlay: dict = dataclasses.field(default_factory=dict)  # the --config overlay's model:/recipe: blocks


def resolve_search(name: str, *, search_space: Mapping | None = None, config=None,
                   model_overrides: Mapping | None = None, **recipe_overrides: Any) -> SearchSetup:
    """The `SearchSetup` of model `name`: what `kerazoo.train` would use, and the search space.

    Args:
      name: registered model name.
      search_space: a block to use instead of the config's `search_space:` (and the overlay's).
      config: a config overlay (YAML path or dict), as for `kerazoo.train`: `model:`/`recipe:` blocks the
        search starts from, and optionally a `search_space:` block that replaces the config's.
      model_overrides: builder arguments fixed on top of the config's: a searched one leaves the space
        (and so do the parameters that exist only for its other values).
      **recipe_overrides: recipe fields (`batch_size=...`); None values are ignored.
    """
    model_overrides = dict(model_overrides or {})
    overlay = read_overlay(config) if isinstance(config, (str, Path)) else dict(config or {})
    cfg, recipe, kwargs = resolve(name, config=overlay, model_overrides=model_overrides, **recipe_overrides)
    fn = cfg.builder
    defaults = {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}
    if search_space is not None:
        raw, where = search_space, f"{name} search_space"
    elif overlay.get("search_space") is not None:
        raw, where = overlay["search_space"], f"{config if isinstance(config, (str, Path)) else 'config'} " \
                                              "(search_space)"
    else:
        raw, where = cfg.search_space, f"zoo_configs/{name}.yaml (search_space)"
    space = parse_search_space(raw, where, model_args=builder_args(fn), recipe_args=recipe_args(),
                               base={"model": {**defaults, **kwargs}, "recipe": dataclasses.asdict(recipe)})
    renamed = [k if k in kwargs else RENAMED.get(k, k) for k in model_overrides]  # resolve checked them
    fixed = {k: kwargs[k] for k in renamed}
    blocks = {k: dict(overlay[k]) for k in ("model", "recipe") if overlay.get(k)}
    return SearchSetup(name, cfg, recipe, kwargs, space.fix(fixed), fixed, blocks)


def load_search_space(name: str, search_space: Mapping | None = None, *, config=None,
                      model_overrides: Mapping | None = None) -> SearchSpace:
    """A model's search space, validated against its builder's signature and the Recipe.

    Args:
      name: registered model name.
      search_space: a block to use instead of the config's `search_space:`.
      config, model_overrides: as for `kerazoo.train` (they set the base values defaults start from).

    Example:
      >>> space = kerazoo.tuning.load_search_space("imdb_lstm")
      >>> [p.key for p in space.params]
    """
    return resolve_search(name, search_space=search_space, config=config, model_overrides=model_overrides).space
