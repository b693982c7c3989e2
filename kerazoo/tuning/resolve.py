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
from kerazoo.errors import ConfigError
from kerazoo.tuning.space import SearchSpace, parse_search_space, recipe_args, settle_fixed_conditions

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
                   model_overrides: Mapping | None = None, train_size: int | None = None,
                   **recipe_overrides: Any) -> SearchSetup:
    """The `SearchSetup` of model `name`: what `kerazoo.train` would use, and the search space.

    Args:
      name: registered model name.
      search_space: a block to use instead of the config's `search_space:` (and the overlay's).
      config: a config overlay (YAML path or dict), as for `kerazoo.train`: `model:`/`recipe:` blocks the
        search starts from, and optionally a `search_space:` block that replaces the config's.
      model_overrides: builder arguments fixed on top of the config's: a searched one leaves the space
        (and so do the parameters that exist only for its other values).
      train_size: train on this many examples of the training split (seeded; the validation split is
        kept whole), for data sets read by `kerazoo.data.load` (image and text classification,
        autoencoders, DCGAN).
      **recipe_overrides: recipe fields (`batch_size=...`), fixed: a searched one leaves the space; None
        values are ignored.
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
    if train_size is not None:
        if not isinstance(train_size, int) or isinstance(train_size, bool) or train_size < 1:
            raise ConfigError(f"train_size (--train-size) is a positive number of examples; received {train_size!r}")
        if cfg.task in ("translation", "word-embedding"):
            raise ConfigError(f"train_size (--train-size) applies to data sets read by kerazoo.data.load; {name} is a "
                              f"{cfg.task} model with its own corpus (set its recipe's data: options instead)")
        recipe = dataclasses.replace(recipe, data={**recipe.data, "train_size": train_size})
    renamed = [k if k in kwargs else RENAMED.get(k, k) for k in model_overrides]  # resolve checked them
    fixed = {k: kwargs[k] for k in renamed}
    recipe_fixed = {k: getattr(recipe, k) for k, v in recipe_overrides.items() if v is not None}
    known = {**overlay.get("model", {}), **fixed}  # chosen, not searched: conditions on them are decided now
    space = parse_search_space(settle_fixed_conditions(raw, known), where, model_args=builder_args(fn),
                               recipe_args=recipe_args(),
                               base={"model": {**defaults, **kwargs}, "recipe": dataclasses.asdict(recipe)})
    blocks = {k: dict(overlay[k]) for k in ("model", "recipe") if overlay.get(k)}
    if recipe_fixed:  # best.yaml retrains with them
        blocks["recipe"] = {**blocks.get("recipe", {}), **recipe_fixed}
    return SearchSetup(name, cfg, recipe, kwargs, space.fix(fixed, recipe_fixed), fixed, blocks)


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
