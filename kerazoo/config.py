"""Model configs: `zoo_configs/<name>.yaml`, loaded with `yaml.safe_load` and validated.

A model is declared by its builder (`kerazoo.registry.register_model`); its config says only what
differs from the builder's signature: a training recipe (`recipe:`, whose `model:` block holds the
builder arguments the recipe trains with), other named recipes beside it (`recipes: {fast: {...}}`, each
saying only what differs from `recipe:`; `kerazoo train NAME --recipe fast`), a KerasTuner search space
(`search_space:`) and, rarely, catalogue defaults of its own (`model:`). A model without a config has an empty one. Every key is
checked: a typo is an error naming the key and the accepted ones, never a silently ignored setting.
Importing this module does not import TensorFlow.

Shipped configs live in `zoo_configs/` (installed as `kerazoo.zoo_configs`); directories listed in
`$KERAZOO_CONFIGS` (separated like PATH) are read after them, for families kept outside kerazoo
(their config names the family module by its dotted path, `family: mypackage.tiny_mlp`, so the
catalogue can import it).
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib.resources
import inspect
import os
import typing
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from kerazoo._typecheck import coerce
from kerazoo.errors import ConfigError
from kerazoo.family import hooks as family_hooks

__all__ = ["ConfigError", "builder_sets", "ZooConfig", "find_config", "recipe_named", "all_configs", "config_dir", "config_dirs",
           "check_kwargs", "check_dataclass", "builder_args", "read_overlay", "read_yaml", "parse_yaml_value",
           "parse_sets", "RENAMED", "RENAMED_VALUES", "YAML_KEYS"]

# Builder arguments renamed to the one vocabulary of the README's naming table: the old names keep
# working for one release (0.2), with a FutureWarning.
RENAMED = {"code_size": "latent_dim", "image_shape": "input_shape", "hidden_units": "units",
           "dense_units": "units", "kind": "variant", "mode": "variant", "cell": "variant",
           "batch_norm": "normalization"}
# Renamed arguments whose values changed form too: old value -> new value.
RENAMED_VALUES = {"batch_norm": lambda on: None if on is None else ("batchnorm" if on else "none")}


def config_dir() -> Path:
    """The directory holding the shipped `<name>.yaml` configs (inside the installed package)."""
    return Path(str(importlib.resources.files("kerazoo.zoo_configs")))


def config_dirs() -> list[Path]:
    """Where configs are read from: the shipped ones, then each directory in `$KERAZOO_CONFIGS`."""
    extra = [Path(p).expanduser() for p in os.environ.get("KERAZOO_CONFIGS", "").split(os.pathsep) if p]
    return [config_dir(), *extra]


@dataclasses.dataclass(frozen=True)
class ZooConfig:
    """One model's config: its YAML (what differs from the builder's signature), and what the registry says."""

    name: str                      # the registered name (the YAML file's stem)
    family: str | None = None      # the family (filled by the registry; a YAML names it only for outside families)
    task: str | None = None        # the registered task (not a YAML key: `@register_model(task=...)`)
    model: dict = dataclasses.field(default_factory=dict)         # catalogue defaults that differ from the builder's
    recipe: dict = dataclasses.field(default_factory=dict)        # see kerazoo.recipe.Recipe
    recipes: dict = dataclasses.field(default_factory=dict)       # named recipes: {name: what differs from `recipe`}
    search_space: dict = dataclasses.field(default_factory=dict)  # KerasTuner hyperparameters
    path: Path | None = None       # where it was read from (not a YAML key)
    builder: Callable | None = dataclasses.field(default=None, repr=False)  # the registered builder (not a YAML key)

    @property
    def hooks(self):
        """The family's `FamilyHooks` (imports its `training` module on first use)."""
        return family_hooks(self.family)


YAML_KEYS = ("name", "family", "model", "recipe", "recipes", "search_space")  # what a config file may hold


def check_dataclass(cls: type, data: Mapping[str, Any], where: str, *, skip: tuple = ()) -> dict:
    """Validates `data` against the fields of dataclass `cls`; returns coerced values."""
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
    return _check(data, {k: hints[k] for k in fields}, where)


def builder_args(fn: Callable) -> dict[str, Any]:
    """`{argument: annotation}` of a builder's keyword arguments."""
    hints = typing.get_type_hints(fn)
    return {name: hints.get(name, Any) for name, p in inspect.signature(fn).parameters.items()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def check_kwargs(fn: Callable, kwargs: Mapping[str, Any], where: str, *, recorded: bool = False) -> dict:
    """Validates keyword arguments against `fn`'s signature and annotations; returns coerced values.

    A name in `RENAMED` that `fn` accepts under its new name is renamed (its value converted by
    `RENAMED_VALUES`), with a FutureWarning; silently when `recorded` (arguments an earlier kerazoo wrote
    into a card or a run's record, which the user cannot change).
    """
    params = builder_args(fn)
    if isinstance(kwargs, Mapping):
        kwargs = dict(_renamed(k, v, params, where, recorded) for k, v in kwargs.items())
    return _check(kwargs, params, where)


def _renamed(key: str, value: Any, params: Mapping, where: str, recorded: bool) -> tuple[str, Any]:
    new = RENAMED.get(key)
    if new is None or key in params or new not in params:
        return key, value
    if not recorded:
        warnings.warn(f"{where}: {key!r} is now called {new!r} (kerazoo's naming table); the old name stops "
                      "working in kerazoo 0.2.", FutureWarning, stacklevel=4)
    return new, RENAMED_VALUES.get(key, lambda v: v)(value)


def _check(data: Mapping[str, Any], accepted: Mapping[str, Any], where: str) -> dict:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping of settings, received {data!r}")
    out = {}
    for key, value in data.items():
        if key not in accepted:
            close = difflib.get_close_matches(str(key), list(accepted), n=3)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ConfigError(f"{where}: unknown key {key!r}.{hint} "
                              f"Accepted keys: {', '.join(sorted(accepted))}.")
        try:
            out[key] = coerce(value, accepted[key])
        except TypeError as e:
            raise ConfigError(f"{where}: {key!r} {e}") from None
    return out


# The most values a YAML document may expand to through its aliases (`*name`): a config has a few hundred;
# 334 bytes of nested aliases (an "alias bomb") expand to billions, and printing them took 31 s and 2.1 GB.
MAX_YAML_VALUES = 100_000


def read_yaml(path: str | Path):
    """A YAML file's contents (`yaml.safe_load`); malformed YAML is a `ConfigError` naming the file,
    line and column, and so is a document that is not a file of text, or whose aliases expand past
    `MAX_YAML_VALUES` values or refer to themselves."""
    try:
        with open(path, encoding="utf-8") as f:
            return _load(f, str(path))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}{_at(e)}: not valid YAML ({_problem(e)}).") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not a UTF-8 text file ({e}).") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory; accepted: a YAML file (e.g. best.yaml from kerazoo tune)") from None
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist; accepted: a YAML file (e.g. best.yaml from kerazoo tune)") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot be read ({e.strerror or e}); accepted: a readable YAML file") from None


def parse_yaml_value(text: str, where: str):
    """A command-line value read as YAML (`--set input_shape=[28,28]`); malformed YAML is a `ConfigError`."""
    try:
        return _load(text, where)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: {_clip(text)!r} is not valid YAML ({_problem(e)}{_at(e, 'column')}). Values are "
                          "read as YAML: 3, 0.5, true, null, [28, 28], {a: 1}, or quote a string.") from None


def _load(stream, where: str):
    """`yaml.safe_load(stream)`, refusing documents nested too deeply or expanding past `MAX_YAML_VALUES`."""
    loader = yaml.SafeLoader(stream)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise ConfigError(f"{where}: nested too deeply to be a config; accepted: YAML of a few levels") from None
        if node is not None:
            _check_size(node, where)
        return None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()


def _check_size(root, where: str) -> None:
    """Counts the values `root` expands to (an alias counts its whole target again), without expanding it."""
    sizes: dict[int, int] = {}
    stack, visiting = [(root, False)], set()
    while stack:
        node, done = stack.pop()
        if done:
            visiting.discard(id(node))
            children = _children(node)
            sizes[id(node)] = min(1 + sum(sizes[id(c)] for c in children), MAX_YAML_VALUES + 1)
            if sizes[id(node)] > MAX_YAML_VALUES:
                mark = node.start_mark
                raise ConfigError(f"{where}:{mark.line + 1}:{mark.column + 1}: its aliases (*name) expand to more than "
                                  f"{MAX_YAML_VALUES:,} values; accepted: YAML whose aliases repeat small blocks")
            continue
        if id(node) in sizes:
            continue
        if id(node) in visiting:
            mark = node.start_mark
            raise ConfigError(f"{where}:{mark.line + 1}:{mark.column + 1}: an alias refers to the block that holds it "
                              "(a recursive value); accepted: YAML without self-reference")
        visiting.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _at(error, style: str = "line") -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if mark is None:
        return ""
    return f", column {mark.column + 1}" if style == "column" else f":{mark.line + 1}:{mark.column + 1}"


def _problem(error) -> str:
    return ": ".join(str(p) for p in (getattr(error, "context", None), getattr(error, "problem", None)) if p) \
        or type(error).__name__


def _read(path: Path) -> ZooConfig:
    raw = read_yaml(path) or {}
    where = str(path)
    if isinstance(raw, Mapping):
        moved = sorted(k for k in ("task", "description", "reference", "num_params", "output_shape") if k in raw)
        if moved:
            raise ConfigError(f"{where}: {', '.join(map(repr, moved))} {'is' if len(moved) == 1 else 'are'} not config "
                              "keys: a model's task, description and reference are its builder's "
                              "(@register_model(task=...), its docstring), and its parameter count and output shape "
                              f"are computed. Accepted keys: {', '.join(YAML_KEYS)}.")
    data = check_dataclass(ZooConfig, raw, where, skip=("path", "task", "builder"))
    if data.setdefault("name", path.stem) != path.stem:
        raise ConfigError(f"{where}: name {data['name']!r} differs from the file name {path.stem!r}")
    from kerazoo.recipe import Recipe  # no TensorFlow there either

    Recipe(**check_dataclass(Recipe, data.get("recipe", {}), f"{where} (recipe)"))  # and its own checks
    for named in data.get("recipes", {}):
        recipe_named(data.get("recipe", {}), data["recipes"], named, where)
    return ZooConfig(**data, path=path)


def recipe_named(recipe: dict, recipes: dict, name: str | None, where: str) -> dict:
    """The raw recipe `name` of a config (`None`: its `recipe:` block), checked: a named recipe is a mapping of
    `Recipe` fields saying what differs from `recipe:` (`kerazoo.recipe.named_recipe` merges them).

    Raises:
      ConfigError: naming `where`, the recipe and the key, or the recipes there are.
    """
    from kerazoo.recipe import Recipe, named_recipe

    if name is None:
        return dict(recipe)
    if name not in recipes:
        close = difflib.get_close_matches(str(name), list(recipes), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{where}: no recipe named {name!r}.{hint} Recipes: the default (`recipe:`)"
                          + "".join(f", {n!r}" for n in recipes) + ".")
    named = recipes[name]
    if not isinstance(name, str) or not name.isidentifier() or not isinstance(named, Mapping):
        raise ConfigError(f"{where}: recipes: expected names (letters, digits, _) of mappings of recipe settings, "
                          f"such as {{fast: {{epochs: 3}}}}. Received: {name!r}: {named!r}")
    check_dataclass(Recipe, named, f"{where} (recipes.{name})")  # a typo named in its own block
    merged = named_recipe(dict(recipe), dict(named))
    Recipe(**check_dataclass(Recipe, merged, f"{where} (recipes.{name})"))
    return merged


@functools.cache
def all_configs() -> dict[str, ZooConfig]:
    """Every config file by model name (shipped, then `$KERAZOO_CONFIGS`), read once per process."""
    configs: dict[str, ZooConfig] = {}
    for folder in config_dirs():
        for path in sorted(folder.glob("*.yaml")):
            if path.stem in configs:
                raise ConfigError(f"{path}: model {path.stem!r} is already defined by {configs[path.stem].path}")
            configs[path.stem] = _read(path)
    return configs


def find_config(name: str) -> ZooConfig | None:
    """The config file of model `name`, or None when it has none (`kerazoo.registry.load_config` gives
    every registered model's config, empty for those without a file)."""
    return all_configs().get(name)


def read_overlay(path: str | Path) -> dict:
    """Reads a config overlay (e.g. the best hyperparameters of a search): `model:` and `recipe:` blocks
    on top of the config's, a `search_space:` block that replaces the config's for `kerazoo tune`
    (checked there against the builder), and `search:`, what the search that wrote it found (a record:
    training ignores it)."""
    raw = read_yaml(path) or {}
    return _check(raw, {"name": str, "model": dict, "recipe": dict, "search_space": dict, "search": dict}, str(path))


def builder_sets(pairs) -> dict:
    """`--set KEY=VALUE` pairs for `kerazoo.get`: builder arguments only, not `get`'s own options."""
    sets = parse_sets(pairs)
    for key in ("weights", "format", "compile"):
        if key in sets:
            raise ConfigError(f"--set {key}: {key!r} is an option of kerazoo.get, not a builder argument (received "
                              f"{key}={sets[key]!r}); --set takes builder arguments (e.g. --set classes=5). Name "
                              "weights as NAME.TAG or with --weights; summary and plot show Keras models.")
    return sets


def parse_sets(pairs) -> dict[str, Any]:
    """`["key=value", ...]` (the CLI's `--set`) as a dict; values are read as YAML (`[28, 28]`, `true`)."""
    out = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, received {pair!r}")
        out[key.strip()] = parse_yaml_value(value, f"--set {key.strip()}")
    return out
