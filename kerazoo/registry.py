"""The catalogue: one registry, filled by `@register_model`.

A model is a builder function decorated with `@register_model` (timm's bare decorator; or
`@register_model(task="image-classification")`): its name is the function's name, its defaults are its
signature's, its description and reference its docstring's, its family the module that defines it.
Nothing else declares a model: a builder registered from a Python session works with `kerazoo.get`,
`train`, `export` and `tune` like the shipped ones; a `zoo_configs/<name>.yaml` adds only what differs
from the signature (a recipe, a search space).

`list_models` and `describe` do not import Keras: the built-in families' builders are read from the
decorators in their architecture files (`kerazoo/models/<family>/model.py`, parsed with `ast`, not
run), and their modules are imported only when a model is built (`builder`). A test checks that what
is read equals what the imported modules register.
"""
from __future__ import annotations

import ast
import dataclasses
import difflib
import fnmatch
import functools
import importlib
import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Iterator

from kerazoo.artifacts import artifacts, available, split_name
from kerazoo.config import ZooConfig, all_configs, find_config
from kerazoo.errors import ConfigError, UnknownModelError

__all__ = ["register_model", "list_models", "describe", "builder", "entry", "load_config", "measure",
           "ModelEntry", "ModelInfo", "family_of"]

MODELS_DIR = Path(__file__).parent / "models"


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One registered model, as the catalogue knows it."""

    name: str                       # the builder function's name
    family: str                     # "lenet" (kerazoo/models/lenet/) or the dotted module of an outside family
    task: str | None = None         # "image-classification", ... (the decorator's `task=`)
    description: str = ""           # the first line of the builder's docstring
    reference: str = ""             # its docstring's `Reference:` section
    defaults: dict | None = None    # keyword arguments and their defaults (None: not literals, import to read)
    builder: Callable | None = dataclasses.field(default=None, compare=False)  # None until its family is imported


_REGISTERED: dict[str, ModelEntry] = {}  # filled as family modules are imported


def family_of(module: str) -> str:
    """The family of the module a builder is defined in: `kerazoo.models.lenet.model` -> `lenet`."""
    parts = module.split(".")
    return parts[2] if parts[:2] == ["kerazoo", "models"] and len(parts) > 2 else module


def _describe_doc(doc: str | None) -> tuple[str, str]:
    """`(description, reference)` from a Google-style docstring."""
    lines = (doc or "").strip().splitlines()
    description = lines[0].strip() if lines else ""
    reference, inside = [], False
    for line in lines:
        stripped = line.strip()
        if stripped == "Reference:":
            inside = True
        elif inside and (not stripped or (stripped.endswith(":") and not line.startswith((" " * 6, "\t")))):
            break
        elif inside:
            reference.append(stripped)
    return description, " ".join(reference)


def register_model(fn: Callable | None = None, *, task: str | None = None):
    """Registers a builder under its own function name; `@register_model` or `@register_model(task=...)`.

    Args:
      fn: the builder: keyword-only, annotated arguments (see the README's naming table), returning a
        `keras.Model`.
      task: what the model does (`"image-classification"`, `"text-classification"`, or the family's own,
        e.g. `"translation"`); classification tasks get kerazoo's data pipelines, others their family's
        `recipe_data` hook.

    Raises:
      ConfigError: another module already registered a model of that name.

    Example:
      >>> @kerazoo.register_model(task="image-classification")
      ... def tiny_cnn(*, input_shape: tuple[int, ...] = (28, 28, 1), classes: int = 10) -> keras.Model: ...
    """
    def register(fn: Callable) -> Callable:
        name = fn.__name__
        old = _REGISTERED.get(name)
        if old is not None and old.builder is not None and old.builder.__module__ != fn.__module__:
            raise ConfigError(f"A model named {name!r} is already registered by {old.builder.__module__}; "
                              f"choose another name for {fn.__module__}.{name}.")
        description, reference = _describe_doc(fn.__doc__)
        defaults = {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}
        _REGISTERED[name] = ModelEntry(name, family_of(fn.__module__), task, description, reference, defaults, fn)
        return fn

    return register(fn) if fn is not None else register


# === Reading the built-in families without importing them ===

def _read_module(path: Path, family: str) -> dict[str, ModelEntry]:
    """The `@register_model` builders of one source file, read from its syntax tree."""
    found = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = call.func if call else decorator
            if not (isinstance(target, ast.Name) and target.id == "register_model"):
                continue
            task = next((ast.literal_eval(k.value) for k in (call.keywords if call else ()) if k.arg == "task"), None)
            args = node.args.kwonlyargs
            try:
                defaults = {a.arg: ast.literal_eval(d) for a, d in zip(args, node.args.kw_defaults) if d is not None}
            except ValueError:  # a default that is not a literal: read it by importing the family
                defaults = None
            found[node.name] = ModelEntry(node.name, family, task, *_describe_doc(ast.get_docstring(node)), defaults)
    return found


@functools.cache
def _built_in() -> dict[str, ModelEntry]:
    entries: dict[str, ModelEntry] = {}
    for path in sorted(MODELS_DIR.glob("*/model.py")):
        entries.update(_read_module(path, path.parent.name))
    return entries


def _outside_families() -> set[str]:
    """Families of configs in `$KERAZOO_CONFIGS` that name their module (`family: mypackage.tiny_mlp`)."""
    return {c.family for c in all_configs().values() if c.family and "." in c.family}


def _catalogue() -> dict[str, ModelEntry]:
    entries = dict(_built_in())
    for family in _outside_families():  # outside families are imported: their builders register themselves
        importlib.import_module(family)
    entries.update(_REGISTERED)
    return entries


def entry(name: str) -> ModelEntry:
    """The catalogue entry of model `name`; unknown names raise with the closest known names."""
    catalogue = _catalogue()
    if name not in catalogue:
        close = difflib.get_close_matches(name, list(catalogue), n=3, cutoff=0.5)
        hint = f" Closest: {', '.join(close)}." if close else ""
        raise UnknownModelError(f"Unknown model {name!r}.{hint} Known models: {', '.join(sorted(catalogue))}.")
    return catalogue[name]


def builder(name: str) -> Callable:
    """The registered builder function of model `name` (imports its family module on first use)."""
    found = entry(name)
    if found.builder is None:
        module = f"kerazoo.models.{found.family}" if "." not in found.family else found.family
        importlib.import_module(module)
        if name not in _REGISTERED:
            raise RuntimeError(f"{module} was read to register {name!r}, but importing it registered no builder of "
                               "that name (a function decorated with @register_model).")
    return _REGISTERED[name].builder


def load_config(name: str) -> ZooConfig:
    """Model `name`'s config: its YAML file's recipe, search space and defaults (empty without a file), with what
    the registry knows: family, task, the builder (and `.hooks`, the family's), so a run looks each up once.
    Imports the family's architecture; unknown names raise `UnknownModelError`."""
    found, fn = entry(name), builder(name)
    config = find_config(name) or ZooConfig(name)
    if config.family and config.family != found.family:
        raise ConfigError(f"{config.path}: family {config.family!r} differs from the module that registers {name!r} "
                          f"({found.family!r}); leave `family:` out or correct it.")
    return dataclasses.replace(config, family=found.family, task=found.task, builder=fn)


def measure(name: str, kwargs: dict) -> tuple[int | None, Any]:
    """`(parameter count, output shape without the batch axis)` of `name` built with `kwargs`, without
    allocating its weights: the builder runs in a `keras.StatelessScope`, where variables only record
    their shapes (about 0.1 s). `(None, None)` if the builder cannot run there."""
    import keras
    from keras.src.backend.common import global_state  # Keras 3.15: where deferred variables are queued

    uids = global_state.get_global_attribute("object_name_uids")
    saved_uids = dict(uids) if uids is not None else None
    queued = list(global_state.get_global_attribute("uninitialized_variables") or [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            model = builder(name)(**kwargs)
            shapes = model.output_shape
            shapes = [list(s[1:]) for s in shapes] if isinstance(shapes, list) else list(shapes[1:])
            return int(model.count_params()), shapes
    except Exception:  # noqa: BLE001 - the real build then runs and raises its own error, if any
        return None, None
    finally:  # the probe's variables are never initialised, and its layer names are not used up
        global_state.set_global_attribute("uninitialized_variables", queued)
        if saved_uids is not None:
            uids.clear()
            uids.update(saved_uids)


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
    for name, found in _catalogue().items():
        if task is not None and found.task != task:
            continue
        if pretrained:
            names += [a.name for a in artifacts(name).values() if a.error is None]
        else:
            names.append(name)
    return sorted(n for n in names if fnmatch.fnmatch(n, pattern) or fnmatch.fnmatch(split_name(n)[0], pattern))


class ModelInfo(Mapping):
    """What `describe` says of a model: a read-only mapping. `num_params` and `output_shape` are computed
    when first read (they build the model without allocating its weights, so they import Keras); the
    other keys never import it."""

    _COMPUTED = ("num_params", "output_shape")

    def __init__(self, name: str, static: dict):
        self._name, self._values = name, dict(static)

    def __getitem__(self, key: str):
        if key in self._COMPUTED and key not in self._values:
            self._values.update(zip(self._COMPUTED, measure(self._name, self._values["defaults"])))
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter([*self._values, *(k for k in self._COMPUTED if k not in self._values)])

    def __len__(self) -> int:
        return len(set(self._values) | set(self._COMPUTED))

    def __repr__(self) -> str:
        return f"ModelInfo({self._name!r}, {', '.join(map(repr, self._values))}, ...)"


def describe(name: str) -> ModelInfo:
    """Family, task, defaults, parameter count, recipe (and other named recipes), search space and weights of a model.

    Example:
      >>> info = kerazoo.describe("lenet5")
      >>> info["task"], info["defaults"]["variant"], info["num_params"]
      ('image-classification', 'classic', 61706)
    """
    arch = split_name(name)[0]
    found = entry(arch)
    if found.defaults is None:
        builder(arch)
        found = _REGISTERED[arch]
    config = find_config(arch)
    return ModelInfo(arch, {
        "name": arch, "family": found.family, "task": found.task, "description": found.description,
        "reference": found.reference, "defaults": {**found.defaults, **(config.model if config else {})},
        "recipe": dict(config.recipe) if config else {},
        "recipes": dict(config.recipes) if config else {},
        "search_space": dict(config.search_space) if config else {},
        "weights": available(arch)})
