"""Hyperparameter search with KerasTuner: a search space for every model, one-line searches,
chief/worker distributed tuning.

    >>> result = kerazoo.tune("lenet5", max_trials=20, epochs=3, data_dir="~/data")
    >>> kerazoo.train("lenet5", config=result.overlay_path)       # retrain with the best values

A model's search space is the `search_space:` block of `zoo_configs/<name>.yaml`. Each key is a
builder argument or a tunable recipe field (write `model.KEY` / `recipe.KEY` if a name is both);
each value says how KerasTuner samples it:

    search_space:
      objective: val_accuracy           # reserved key: a metric name, or {name: ..., direction: min|max}
      learning_rate: {type: float, min: 1.0e-4, max: 1.0e-2, sampling: log}
      batch_size: {type: choice, values: [32, 64, 128]}
      bidirectional: {type: boolean}
      dropout: {type: float, min: 0.0, max: 0.5, step: 0.1, when: {variant: modern}}
      pooling: {type: choice, values: [null, avg, max]}   # any YAML values, null included
      units:                            # tuple[int, ...]: a layer count, then one int per layer
        type: list
        length: {min: 1, max: 3}        # an int KerasTuner parameter named "units.length"
        item: {type: int, min: 32, max: 128, step: 32}    # "units.0", "units.1" (only if it exists), ...
      input_shape: {type: fixed, value: [28, 28]}

Types: `int` and `float` (`min`, `max`, optional `step`, `sampling`: linear | log | reverse_log),
`choice` (`values`, optional `ordered`), `boolean`, `fixed` (`value`) and `list` (`length`: an
int or `{min, max}`; `item`: an int, float or choice spec). Every type but `fixed` takes a
`default` (otherwise the value the config trains with, when it is in range); every type takes
`when: {PARAM: value-or-values}`, which makes the parameter exist only while an earlier one
(`PARAM`, or `NAME.length` of a list) has one of those values (KerasTuner's conditional scopes).
Keys are read in order. Mistakes are `ConfigError`s naming the key.

The objective defaults to the recipe's first metric on the validation data (`val_accuracy`),
or `val_loss` when the recipe has no metrics (`loss` without validation data). Models whose own
`train_step` needs no targets (recipe `loss: null`) tune the same way; name what their logs
contain (`objective: {name: val_reconstruction_loss, direction: min}`). A metric that `fit` does not
log (seq2seq's exact match, computed by decoding) comes from the family's
`FamilyHooks.metric_callbacks(data)`: they run first in every trial and may add entries to the
epoch logs (`logs["val_exact_match"] = ...`), which the objective can then name.

The search runs on the recipe's data (`kerazoo.training.tasks.prepare`), prepared once; when a
trial samples a builder argument the data is built from (one that `prepare` or the family's
`recipe_data` reads, e.g. an IMDB model's vocabulary size or word2vec's window), that trial's data
is prepared again for its value.

Importing this module does not import TensorFlow; searching does.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import functools
import json
import math
import os
import re
import sys
import time
import typing
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from kerazoo import distribute
from kerazoo._typecheck import coerce, type_name
from kerazoo.config import builder_args
from kerazoo.errors import ChiefUnreachableError, ConfigError, TuningError
from kerazoo.patches import silence_kerastuner_debug_print
from kerazoo.recipe import infer_direction

__all__ = ["SearchSpace", "Param", "parse_search_space", "check_search_space", "load_search_space",
           "hypermodel", "tune", "TuneResult", "TuningError", "ChiefUnreachableError", "TUNERS",
           "add_tune_command"]

TUNERS = {"random": "RandomSearch", "bayesian": "BayesianOptimization", "hyperband": "Hyperband",
          "grid": "GridSearch"}
SEARCH_VALIDATION_SPLIT = 0.1  # held out by searches of recipes that train on the whole training set
# Recipe fields a search may sample; the others change the data or what the objective measures.
TUNABLE_RECIPE_FIELDS = ("optimizer", "learning_rate", "clipnorm", "weight_decay", "batch_size", "epochs", "pretrain")
_TYPES = {  # type: accepted spec keys
    "int": {"type", "min", "max", "step", "sampling", "default", "when"},
    "float": {"type", "min", "max", "step", "sampling", "default", "when"},
    "choice": {"type", "values", "ordered", "default", "when"},
    "boolean": {"type", "default", "when"},
    "fixed": {"type", "value", "when"},
    "list": {"type", "length", "item", "default", "when"},
}
_ITEM_TYPES = ("int", "float", "choice")
_SAMPLINGS = ("linear", "log", "reverse_log")
_KT_ENV = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


# === Search spaces (no TensorFlow) ===

@dataclasses.dataclass
class Param:
    """One searched argument: its KerasTuner name (the YAML key), where it goes, how it is sampled."""

    key: str                     # YAML key; also the KerasTuner hyperparameter name
    target: str                  # "model" (builder argument) or "recipe" (Recipe field)
    arg: str                     # the builder argument / Recipe field it sets
    kind: str                    # int | float | choice | boolean | fixed | list
    spec: dict                   # validated options (min, max, step, sampling, values, value, length, item)
    default: Any = None          # KerasTuner default (encoded), None for KerasTuner's own
    labels: dict | None = None   # choice/fixed values that KerasTuner cannot hold: label -> value
    chain: tuple = ()            # ((parent name, (encoded parent values, ...)), ...) from `when:`

    def declare(self, hp) -> Any:
        """Registers the parameter on `hp` (inside its conditions); its value, or None if inactive."""
        with contextlib.ExitStack() as stack:
            for parent, values in self.chain:
                stack.enter_context(hp.conditional_scope(parent, list(values)))
            if self.kind != "list":
                return _declare_scalar(hp, self.key, self.kind, self.spec, self.default, self.labels)
            length, item = self.spec["length"], self.spec["item"]
            defaults = list(self.default) if self.default is not None else []
            if isinstance(length, int):
                lo = hi = n = length
            else:
                lo, hi = length["min"], length["max"]
                n = hp.Int(f"{self.key}.length", lo, hi, default=len(defaults) if defaults else lo)
                if n is None:
                    return None
            out = []
            for i in range(hi):
                scope = (hp.conditional_scope(f"{self.key}.length", list(range(i + 1, hi + 1))) if i >= lo
                         else contextlib.nullcontext())
                with scope:
                    value = _declare_scalar(hp, f"{self.key}.{i}", item["type"], item,
                                            defaults[i] if i < len(defaults) else None, item.get("labels"))
                if i < n:
                    out.append(value)
            return out


def _declare_scalar(hp, name, kind, spec, default, labels):
    def numeric(fn):
        options = {"sampling": spec.get("sampling", "linear"), "default": default}
        if spec.get("step") is not None:
            options["step"] = spec["step"]
        return fn(name, spec["min"], spec["max"], **options)

    if kind == "int":
        value = numeric(hp.Int)
    elif kind == "float":
        value = numeric(hp.Float)
        value = value if value is None else float(f"{value:.12g}")  # 0.30000000000000004 -> 0.3
    elif kind == "choice":
        options = {"default": default} if default is not None else {}
        if "ordered" in spec:
            options["ordered"] = spec["ordered"]
        value = hp.Choice(name, spec["kt_values"], **options)
    elif kind == "boolean":
        value = hp.Boolean(name, default=bool(default))
    else:  # fixed
        value = hp.Fixed(name, spec["kt_value"])
    return labels[value] if labels and value is not None else value


@dataclasses.dataclass
class SearchSpace:
    """A parsed `search_space:` block: parameters in declaration order and the objective."""

    params: list = dataclasses.field(default_factory=list)
    objective: tuple | None = None   # (name, "min" | "max") or None: derived from the recipe
    raw: dict = dataclasses.field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.params)

    def declare(self, hp) -> tuple[dict, dict]:
        """Declares every parameter on `hp`: `(builder values, recipe values)` of the active ones."""
        out: dict[str, dict] = {"model": {}, "recipe": {}}
        for param in self.params:
            value = param.declare(hp)
            if value is not None:
                out[param.target][param.arg] = value
        return out["model"], out["recipe"]

    def flat(self, model_values: Mapping, recipe_values: Mapping) -> dict:
        """Builder and recipe values in one dict, in declaration order, YAML-plain."""
        both = {**recipe_values, **model_values}
        return {p.arg: _plain(both[p.arg]) for p in self.params if p.arg in both}

    def values_of(self, hp_values: Mapping[str, Any]) -> tuple[dict, dict]:
        """`(builder values, recipe values)` of a trial from KerasTuner's flat values."""
        import keras_tuner as kt

        hp = kt.HyperParameters()
        hp.values = dict(hp_values)
        return self.declare(hp)


def check_search_space(raw: Any, where: str) -> SearchSpace:
    """Checks a `search_space:` block's structure (types, ranges, `when`) without TensorFlow.

    Names are not checked against the builder here (that needs its module): see
    `parse_search_space` / `load_search_space`.
    """
    return parse_search_space(raw, where)


def parse_search_space(raw: Any, where: str, *, model_args: Mapping[str, Any] | None = None,
                       recipe_args: Mapping[str, Any] | None = None, base: Mapping[str, Mapping] | None = None
                       ) -> SearchSpace:
    """Parses and validates a `search_space:` block.

    Args:
      raw: the block, as read from YAML.
      where: where it comes from, for messages (`zoo_configs/lenet5.yaml (search_space)`).
      model_args: builder argument name -> annotation; when given, names and sampled value types
        are checked against it (and `recipe_args`).
      recipe_args: tunable Recipe field name -> annotation.
      base: `{"model": {...}, "recipe": {...}}`, the values the config trains with; a parameter
        without `default:` starts from its base value when that is in range.

    Returns:
      A `SearchSpace`.

    Raises:
      ConfigError: naming the key that is wrong and what is accepted.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping of hyperparameters, received {raw!r}")
    base = base or {}
    space = SearchSpace(raw=dict(raw))
    declared: dict[str, tuple] = {}   # KerasTuner name -> (possible values or None, labels, chain)
    targets: dict[tuple, str] = {}
    for key, spec in raw.items():
        at = f"{where}: {key!r}"
        if key == "objective":
            space.objective = _parse_objective(spec, at)
            continue
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{where}: hyperparameter names are strings, received {key!r}")
        target, arg, annotation = _resolve_target(key, where, model_args, recipe_args)
        if (target, arg) in targets:
            raise ConfigError(f"{at} sets {target} argument {arg!r} again (already set by {targets[target, arg]!r}).")
        targets[target, arg] = key
        if not isinstance(spec, Mapping) or "type" not in spec:
            raise ConfigError(f"{at}: expected a mapping with a `type:` ({', '.join(_TYPES)}), received {spec!r}")
        kind = spec["type"]
        if kind not in _TYPES:
            raise ConfigError(f"{at}: unknown type {kind!r}. Accepted types: {', '.join(_TYPES)}.")
        _check_keys(spec, _TYPES[kind], f"{at} ({kind})")
        chain = _parse_when(spec.get("when"), declared, at)
        param = Param(key=key, target=target, arg=arg, kind=kind, spec={}, chain=chain)
        base_value = base.get(target, {}).get(arg)
        if kind == "list":
            _parse_list(param, spec, at, base_value)
            possible = None
            length = param.spec["length"]
            if not isinstance(length, int):
                lengths = list(range(length["min"], length["max"] + 1))
                declared[f"{key}.length"] = (lengths, lengths, chain)
        else:
            possible = _parse_scalar(param, spec, at, base_value)
        encoded = (param.spec["kt_values"] if param.kind == "choice" else
                   [param.spec["kt_value"]] if param.kind == "fixed" else possible)
        declared[key] = (possible, encoded, chain)
        if annotation is not None:
            _check_types(param, annotation, at)
        space.params.append(param)
    return space


def _check_keys(spec: Mapping, accepted: set, at: str) -> None:
    for k in spec:
        if k not in accepted:
            close = difflib.get_close_matches(str(k), sorted(accepted), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{at}: unknown option {k!r}.{hint} Accepted: {', '.join(sorted(accepted))}.")


def _resolve_target(key: str, where: str, model_args, recipe_args) -> tuple[str, str, Any]:
    prefix, dot, rest = key.partition(".")
    explicit = prefix if dot and prefix in ("model", "recipe") else None
    arg = rest if explicit else key
    if model_args is None:  # structural check only
        return explicit or ("recipe" if arg in TUNABLE_RECIPE_FIELDS else "model"), arg, None
    in_model, in_recipe = arg in model_args, arg in recipe_args
    if explicit == "model" or (explicit is None and in_model and not in_recipe):
        if not in_model:
            raise _unknown(key, where, model_args, {})
        return "model", arg, model_args[arg]
    if explicit == "recipe" or (explicit is None and in_recipe and not in_model):
        if not in_recipe:
            raise _unknown(key, where, {}, recipe_args)
        return "recipe", arg, recipe_args[arg]
    if in_model and in_recipe:
        raise ConfigError(f"{where}: {key!r} is both a builder argument and a recipe field; write "
                          f"'model.{key}' or 'recipe.{key}'.")
    raise _unknown(key, where, model_args, recipe_args)


def _unknown(key, where, model_args, recipe_args) -> ConfigError:
    from kerazoo.recipe import Recipe

    fields = {f.name for f in dataclasses.fields(Recipe)}
    if key in fields and key not in recipe_args:
        return ConfigError(f"{where}: recipe field {key!r} cannot be searched (it changes the data or what the "
                           f"objective measures). Tunable recipe fields: {', '.join(TUNABLE_RECIPE_FIELDS)}.")
    accepted = sorted(set(model_args) | set(recipe_args) | {"objective"})
    close = difflib.get_close_matches(key, accepted, n=3)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    return ConfigError(f"{where}: unknown key {key!r}: not a builder argument nor a tunable recipe field.{hint} "
                       f"Accepted keys: {', '.join(accepted)}.")


def _number(spec, name, at, *, integer):
    value = spec.get(name)
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok:
        raise ConfigError(f"{at}: {name!r} must be {'an int' if integer else 'a number'}, received {value!r}")
    return value if integer else float(value)


def _parse_scalar(param: Param, spec: Mapping, at: str, base_value) -> list | None:
    """Fills `param.spec/default/labels`; returns the values a `when` may compare with (None: any)."""
    kind = param.kind
    if kind in ("int", "float"):
        integer = kind == "int"
        options = _parse_range(spec, at, integer=integer)
        param.spec = options
        param.default = _pick_default(spec, base_value, lambda v: _in_range(v, options, integer), at)
        if integer and options.get("sampling", "linear") == "linear":
            return list(range(options["min"], options["max"] + 1, options.get("step") or 1))
        return None
    if kind == "choice":
        param.spec, param.labels = _parse_choice(spec, at)
        param.default = _encode_default(param, _pick_default(spec, base_value, lambda v: _find(spec["values"], v)
                                                             is not None, at))
        return list(spec["values"])
    if kind == "boolean":
        param.default = _pick_default(spec, base_value, lambda v: isinstance(v, bool), at)
        return [True, False]
    if "value" not in spec:  # fixed
        raise ConfigError(f"{at}: a fixed parameter needs `value:`")
    kt_values, labels = _encode([spec["value"]])
    param.spec, param.labels = {"value": spec["value"], "kt_value": kt_values[0]}, labels
    return [spec["value"]]


def _parse_range(spec, at, *, integer) -> dict:
    for name in ("min", "max"):
        if name not in spec:
            raise ConfigError(f"{at}: missing {name!r} ({'int' if integer else 'float'} needs min and max)")
    lo, hi = _number(spec, "min", at, integer=integer), _number(spec, "max", at, integer=integer)
    if lo > hi:
        raise ConfigError(f"{at}: min ({lo}) is greater than max ({hi})")
    sampling = spec.get("sampling", "linear")
    if sampling not in _SAMPLINGS:
        raise ConfigError(f"{at}: sampling {sampling!r} is not one of {', '.join(_SAMPLINGS)}")
    if sampling != "linear" and lo <= 0:
        raise ConfigError(f"{at}: {sampling} sampling needs min > 0, received min={lo}")
    out = {"min": lo, "max": hi, "sampling": sampling}
    if spec.get("step") is not None:
        step = _number(spec, "step", at, integer=integer)
        if step <= 0 or (sampling != "linear" and step <= 1):
            need = "> 1 (a factor between samples)" if sampling != "linear" else "> 0"
            raise ConfigError(f"{at}: step must be {need}, received {step}")
        if sampling == "linear" and hi > lo and step > hi - lo:
            raise ConfigError(f"{at}: step ({step}) is larger than the range max - min ({hi - lo}): only "
                              f"min could ever be sampled; use `type: fixed` or a smaller step")
        out["step"] = step
    return out


def _in_range(value, options, integer) -> bool:
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        return False
    return options["min"] <= value <= options["max"]


def _parse_choice(spec, at) -> tuple[dict, dict | None]:
    values = spec.get("values")
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{at}: a choice needs a non-empty list `values:`, received {values!r}")
    kt_values, labels = _encode(values)
    if len(set(map(repr, kt_values))) != len(kt_values):
        raise ConfigError(f"{at}: `values` has duplicates: {values!r}")
    options = {"values": values, "kt_values": kt_values}
    if "ordered" in spec:
        if not isinstance(spec["ordered"], bool):
            raise ConfigError(f"{at}: `ordered` must be true or false, received {spec['ordered']!r}")
        if spec["ordered"] and labels is not None or spec["ordered"] and isinstance(kt_values[0], str):
            raise ConfigError(f"{at}: only numeric choices can be `ordered`")
        options["ordered"] = spec["ordered"]
    return options, labels


def _encode(values: list) -> tuple[list, dict | None]:
    """KerasTuner holds one of bool/int/float/str per parameter; anything else gets text labels."""
    kinds = {type(v) for v in values}
    if kinds <= {int, float} and kinds:
        return ([float(v) for v in values] if len(kinds) == 2 else list(values)), None
    if len(kinds) == 1 and kinds <= {bool, str}:
        return list(values), None
    labels = {(v if isinstance(v, str) else json.dumps(_plain(v))): v for v in values}
    return list(labels), labels


def _find(values: list, value) -> int | None:
    """Index of `value` in `values`, comparing YAML-plainly (tuples as lists, bool is not int)."""
    for i, v in enumerate(values):
        if isinstance(v, bool) == isinstance(value, bool) and _plain(v) == _plain(value):
            return i
    return None


def _pick_default(spec, base_value, valid, at):
    if "default" in spec:
        if not valid(spec["default"]):
            raise ConfigError(f"{at}: default {spec['default']!r} is not one of the values it can take")
        return spec["default"]
    return base_value if base_value is not None and valid(base_value) else None


def _encode_default(param, value):
    if value is None:
        return None
    kt_values = param.spec["kt_values"]
    return kt_values[_find(param.spec["values"], value)]


def _parse_list(param: Param, spec: Mapping, at: str, base_value) -> None:
    length, item = spec.get("length"), spec.get("item")
    if isinstance(length, Mapping):
        _check_keys(length, {"min", "max"}, f"{at} length")
        options = _parse_range(length, f"{at} length", integer=True)
        length = {"min": options["min"], "max": options["max"]}
        lo, hi = length["min"], length["max"]
    elif isinstance(length, int) and not isinstance(length, bool):
        lo = hi = length
    else:
        raise ConfigError(f"{at}: a list needs `length:` (an int, or {{min: ..., max: ...}}), received {length!r}")
    if lo < 1:
        raise ConfigError(f"{at}: length must be at least 1, received {lo}")
    if not isinstance(item, Mapping) or item.get("type") not in _ITEM_TYPES:
        raise ConfigError(f"{at}: a list needs `item:` with a type among {', '.join(_ITEM_TYPES)}, received {item!r}")
    _check_keys(item, _TYPES[item["type"]] - {"default", "when"}, f"{at} item ({item['type']})")
    item_param = Param(key=f"{param.key}.item", target=param.target, arg=param.arg, kind=item["type"], spec={})
    _parse_scalar(item_param, item, f"{at} item", None)
    item_spec = {**item_param.spec, "type": item["type"], "labels": item_param.labels}

    def valid(value):
        if not isinstance(value, (list, tuple)) or not lo <= len(value) <= hi:
            return False
        if item["type"] == "choice":
            return all(_find(item["values"], v) is not None for v in value)
        return all(_in_range(v, item_spec, item["type"] == "int") for v in value)

    default = _pick_default(spec, base_value, valid, at)
    if default is not None and item["type"] == "choice":
        default = [item_spec["kt_values"][_find(item["values"], v)] for v in default]
    param.spec, param.default = {"length": length, "item": item_spec}, default


def _parse_when(when, declared: dict, at: str) -> tuple:
    if when is None:
        return ()
    if not isinstance(when, Mapping) or len(when) != 1:
        raise ConfigError(f"{at}: `when` takes one earlier parameter and its value(s), e.g. "
                          f"`when: {{variant: modern}}`; received {when!r}")
    (parent, values), = when.items()
    if parent not in declared:
        raise ConfigError(f"{at}: `when` names {parent!r}, which is not a parameter declared above it. "
                          f"Declared so far: {', '.join(declared) or 'none'}.")
    possible, encoded_possible, chain = declared[parent]
    values = list(values) if isinstance(values, list) else [values]
    if possible is None:
        raise ConfigError(f"{at}: `when` cannot depend on {parent!r} (a float, log-sampled int or list); "
                          f"condition on a choice, boolean, linear int or a list's `.length`.")
    encoded = []
    for v in values:
        i = _find(possible, v)
        if i is None:
            raise ConfigError(f"{at}: `when: {{{parent}: {v!r}}}`, but {parent!r} never takes {v!r}. "
                              f"It takes: {', '.join(map(repr, possible))}.")
        encoded.append(encoded_possible[i])
    return tuple(chain) + ((parent, tuple(encoded)),)


def _parse_objective(spec, at) -> tuple[str, str]:
    if isinstance(spec, str):
        name, direction = spec, None
    elif isinstance(spec, Mapping):
        _check_keys(spec, {"name", "direction"}, at)
        name, direction = spec.get("name"), spec.get("direction")
    else:
        raise ConfigError(f"{at}: expected a metric name or {{name: ..., direction: min|max}}, received {spec!r}")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{at}: the objective needs a metric `name`, received {name!r}")
    if direction is None:
        direction = infer_direction(name)
        if direction is None:
            raise ConfigError(f"{at}: cannot tell whether {name!r} should be minimised or maximised; "
                              f"write {{name: {name}, direction: min}} (or max)")
    if direction not in ("min", "max"):
        raise ConfigError(f"{at}: direction must be 'min' or 'max', received {direction!r}")
    return name, direction


def _check_types(param: Param, annotation, at) -> None:
    """Every value the parameter can take must pass the builder's / recipe's type check."""
    spec = param.spec
    if param.kind in ("int", "float"):
        candidates = [spec["min"], spec["max"]]
    elif param.kind == "choice":
        candidates = [param.labels[v] if param.labels else v for v in spec["kt_values"]]
    elif param.kind == "boolean":
        candidates = [True, False]
    elif param.kind == "fixed":
        candidates = [spec["value"]]
    else:
        item = spec["item"]
        singles = ([item["min"], item["max"]] if item["type"] != "choice"
                   else [item["labels"][v] if item["labels"] else v for v in item["kt_values"]])
        length = spec["length"]
        n = length if isinstance(length, int) else length["min"]
        candidates = [[v] * n for v in singles]
    for value in candidates:
        try:
            coerce(value, annotation)
        except TypeError:
            raise ConfigError(f"{at}: a sampled value {value!r} would not pass the type check of {param.arg!r} "
                              f"({type_name(annotation)}); change the parameter's type or values") from None


def _plain(value):
    """YAML/JSON-plain form: tuples as lists, NumPy scalars as Python numbers."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def _recipe_args() -> dict:
    from kerazoo.recipe import Recipe

    hints = typing.get_type_hints(Recipe)
    return {name: hints[name] for name in TUNABLE_RECIPE_FIELDS if name in hints}


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
    return _resolve_space(name, search_space, config, model_overrides, {})[3]


def _resolve_space(name, search_space, config, model_overrides, recipe_overrides):
    """`(config, recipe, builder kwargs, SearchSpace)`: what `kerazoo.train` would use, and the space."""
    import inspect

    from kerazoo.registry import builder
    from kerazoo.training.run import resolve

    cfg, recipe, kwargs = resolve(name, config=config, model_overrides=dict(model_overrides or {}), **recipe_overrides)
    fn = builder(name)
    defaults = {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}
    raw = cfg.search_space if search_space is None else search_space
    where = f"zoo_configs/{name}.yaml (search_space)" if search_space is None else f"{name} search_space"
    space = parse_search_space(raw, where, model_args=builder_args(fn), recipe_args=_recipe_args(),
                               base={"model": {**defaults, **kwargs}, "recipe": dataclasses.asdict(recipe)})
    return cfg, recipe, kwargs, space


# === The HyperModel ===

@functools.cache
def _classes():
    """KerasTuner/Keras classes, defined on first use so importing this module stays TensorFlow-free."""
    import keras
    import keras_tuner as kt

    class ZooHyperModel(kt.HyperModel):
        """A catalogue model as a `keras_tuner.HyperModel`: the builder with sampled arguments,
        compiled and fitted by the recipe with sampled recipe values."""

        def __init__(self, name, space, config, recipe, kwargs, *, epochs=None, fit_verbose="auto", strategy=None):
            super().__init__(name=f"kerazoo_{name}")
            self.model_name, self.space, self.config, self.recipe, self.kwargs = name, space, config, recipe, kwargs
            self.epochs, self.fit_verbose = epochs, fit_verbose
            self.strategy = strategy  # models are built in its scope; recipe batch sizes are per replica

        def data_recipe(self):
            """The recipe the data is prepared with: its batch size is the global batch under `strategy`,
            and a recipe that trains on everything (`validation_split: 0`, e.g. the DBN's final run)
            holds out `SEARCH_VALIDATION_SPLIT` for the search to score trials on."""
            recipe = self.recipe
            if not recipe.validation_split:
                recipe = dataclasses.replace(recipe, validation_split=SEARCH_VALIDATION_SPLIT)
            if self.strategy is None:
                return recipe
            return dataclasses.replace(recipe, batch_size=distribute.global_batch_size(recipe.batch_size,
                                                                                       self.strategy))

        def sample(self, hp):
            """`(builder kwargs, Recipe)` for the values in `hp` (declaring the space on it)."""
            from kerazoo.config import check_dataclass, check_kwargs
            from kerazoo.recipe import Recipe
            from kerazoo.registry import builder

            model_values, recipe_values = self.space.declare(hp)
            where = f"{self.model_name} sampled hyperparameters"
            kwargs = {**self.kwargs, **check_kwargs(builder(self.model_name), model_values, where)}
            recipe = dataclasses.replace(self.recipe, **check_dataclass(Recipe, recipe_values, where))
            return kwargs, recipe

        def build(self, hp):
            from kerazoo.recipe import compile_model
            from kerazoo.loading import get

            kwargs, recipe = self.sample(hp)
            keras.utils.set_random_seed(recipe.seed)
            # the tuner enters the strategy's scope (distribution_strategy=); this adds its precision policy
            with distribute.scope(self.strategy) if self.strategy is not None else contextlib.nullcontext():
                try:
                    model = get(self.model_name, **kwargs)
                except (ValueError, TypeError) as e:
                    changed = {k: v for k, v in kwargs.items() if self.kwargs.get(k, object()) != v}
                    raise kt.errors.FailedTrialError(f"{self.model_name}: the builder rejects the sampled values "
                                                     f"{changed}: {e}") from e
                return compile_model(model, recipe)

        def fit(self, hp, model, *args, **kwargs):
            import tensorflow as tf

            from kerazoo.training import callbacks as fit_assembly

            model_kwargs, recipe = self.sample(hp)
            _, sampled = self.space.declare(hp)
            if args and isinstance(args[0], _PerTrialData):
                args, data_kwargs = args[0].inputs(model_kwargs)
                kwargs.update(data_kwargs)
            kwargs.setdefault("epochs", recipe.epochs if "epochs" in sampled else self.epochs or recipe.epochs)
            sync = [distribute.SyncMovingStatistics()] if model.distribute_strategy.num_replicas_in_sync > 1 else []
            kwargs["callbacks"] = [*sync, *kwargs.get("callbacks", []), *fit_assembly.recipe_callbacks(recipe)]
            batch_size = distribute.global_batch_size(recipe.batch_size, model.distribute_strategy)
            kwargs["verbose"] = self.fit_verbose
            if recipe.pretrain and not kwargs.get("initial_epoch"):  # as kerazoo.train: e.g. DBN's RBMs first
                self._pretrain(model, recipe, args)
            if args and isinstance(args[0], tf.data.Dataset):
                kwargs.setdefault("shuffle", False)  # pipelines shuffle themselves, seeded
                if "batch_size" in sampled:  # they come batched by the recipe's default: rebatch
                    args = (self._rebatch(args[0], batch_size), *args[1:])
                    if isinstance(kwargs.get("validation_data"), tf.data.Dataset):
                        kwargs["validation_data"] = self._rebatch(kwargs["validation_data"], batch_size)
            else:
                kwargs.setdefault("batch_size", batch_size)
            return model.fit(*args, **kwargs)

        def _pretrain(self, model, recipe, args):
            import tempfile

            import tensorflow as tf

            from kerazoo.data.sources import to_dataset
            from kerazoo.family import TaskData, hooks
            from kerazoo.training import callbacks as fit_assembly

            train = args[0] if isinstance(args[0], tf.data.Dataset) else to_dataset(
                (args[0], args[1]), batch_size=recipe.batch_size, cache=False)
            self.work_dir = getattr(self, "work_dir", None) or Path(tempfile.mkdtemp(prefix="kerazoo-pretrain-"))
            task = getattr(self, "task", None)  # keeps what the stage may need besides the data (a vectorizer)
            data = dataclasses.replace(task, train=train) if task is not None else TaskData(train)
            try:
                fit_assembly.pretrain(self.model_name, hooks(self.config.family), model, data, recipe,
                                      Path(self.work_dir))
            except ValueError as e:
                raise kt.errors.FatalValueError(str(e)) from None

        def _rebatch(self, dataset, batch_size):
            """`dataset` in batches of `batch_size`, its length known to Keras (progress, no warnings)."""
            import tensorflow as tf

            counts = self.__dict__.setdefault("_counts", {})
            if id(dataset) not in counts:  # one pass over the (cached) pipeline per search
                counts[id(dataset)] = int(dataset.reduce(tf.constant(0, tf.int64), lambda n, batch: n + tf.shape(
                    tf.nest.flatten(batch)[0], out_type=tf.int64)[0]))
            steps = -(-counts[id(dataset)] // batch_size)
            shapes = [spec.shape for spec in tf.nest.flatten(dataset.element_spec)]
            if any(shape.rank and None in shape[1:] for shape in shapes):  # length-bucketed text batches
                return dataset.unbatch().padded_batch(batch_size).apply(tf.data.experimental.assert_cardinality(steps))
            return dataset.rebatch(batch_size).apply(tf.data.experimental.assert_cardinality(steps))

    class ObjectiveCheck(keras.callbacks.Callback):
        """Stops the search at the first epoch whose logs lack the objective, naming what they have."""

        def __init__(self, objective, model_name, has_val):
            super().__init__()
            self.objective, self.model_name, self.has_val = objective, model_name, has_val

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            if self.objective not in logs:
                hint = (" There is no validation data, so no val_ metrics: pass some or name a training metric."
                        if self.objective.startswith("val_") and not self.has_val else "")
                raise kt.errors.FatalValueError(
                    f"The search objective {self.objective!r} is not produced by {self.model_name}: its logs "
                    f"have {', '.join(sorted(logs)) or 'nothing'}.{hint} Set `objective:` in the search_space "
                    f"of zoo_configs/{self.model_name}.yaml or pass objective= to kerazoo.tune.")

    class Recording:
        """Mixed into each KerasTuner tuner: checks the objective, records the trials this process ran."""

        def __init__(self, *args, has_val=True, **kwargs):
            super().__init__(*args, **kwargs)
            self.has_val, self.ran = has_val, []

        def run_trial(self, trial, *args, **kwargs):
            check = ObjectiveCheck(self.oracle.objective.name, self.hypermodel.model_name, self.has_val)
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), check]
            return super().run_trial(trial, *args, **kwargs)

        def _try_run_and_update_trial(self, trial, *args, **kwargs):
            try:
                return super()._try_run_and_update_trial(trial, *args, **kwargs)
            except kt.errors.FatalError as e:  # tell the (possibly remote) oracle before stopping
                trial.status, trial.message = "FAILED", str(e)
                with contextlib.suppress(Exception):
                    self.oracle.end_trial(trial)
                raise

        def on_trial_begin(self, trial):
            super().on_trial_begin(trial)
            self._started = time.time()

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            done = self.oracle.get_trial(trial.trial_id)
            self.ran.append({"trial_id": done.trial_id, "status": str(done.status), "score": _plain(done.score),
                             "started": self._started, "ended": time.time(),
                             "hyperparameters": dict(done.hyperparameters.values)})

    tuners = {kind: type(f"Kerazoo{cls}", (Recording, getattr(kt, cls)), {}) for kind, cls in TUNERS.items()}
    silence_kerastuner_debug_print()
    return ZooHyperModel, tuners


def hypermodel(name: str, *, search_space: Mapping | None = None, config=None, model_overrides: Mapping | None = None,
               epochs: int | None = None, **recipe_overrides):
    """A catalogue model as a `keras_tuner.HyperModel` searching its config's `search_space:`.

    `build(hp)` declares the search space on `hp`, calls the registered builder (through
    `kerazoo.get`) with the sampled values over the config's training arguments, and compiles it
    with the recipe (sampled learning rate, optimizer, clipping, ... applied). `fit(hp, model, ...)`
    trains with the recipe's sampled batch size, epochs and callbacks, after the family's
    pretraining stage when the recipe has `pretrain:` (DBN's RBMs), as `kerazoo.train` does.

    Args:
      name: registered model name.
      search_space: a `search_space:` block to use instead of the config's.
      config: a config overlay (YAML path or dict), as for `kerazoo.train`.
      model_overrides: builder arguments on top of the config's.
      epochs: epochs per trial (default: the recipe's, unless `epochs` is itself searched).
      **recipe_overrides: recipe fields (`batch_size=...`, `learning_rate=...`).

    Returns:
      A `keras_tuner.HyperModel` (usable with any KerasTuner tuner).

    Example:
      >>> hm = kerazoo.hypermodel("imdb_lstm")
      >>> tuner = keras_tuner.RandomSearch(hm, objective="val_accuracy", max_trials=5)
    """
    cfg, recipe, kwargs, space = _resolve_space(name, search_space, config, model_overrides, recipe_overrides)
    hm_class, _ = _classes()
    hm = hm_class(name, space, cfg, recipe, kwargs, epochs=epochs)
    hm.model_overrides = dict(model_overrides or {})
    return hm


def sample_hyperparameters(hm, seed: int = 0):
    """A random point of `hm`'s search space as `keras_tuner.HyperParameters` (conditions respected).

    Example:
      >>> hm = kerazoo.hypermodel("lenet5")
      >>> model = hm.build(sample_hyperparameters(hm, seed=1))
    """
    import keras_tuner as kt

    space = kt.HyperParameters()
    hm.space.declare(space)  # registers every parameter, active or not
    hp = kt.HyperParameters()
    for i, param in enumerate(space.space):  # KerasTuner's RandomSearchOracle does the same
        hp.merge([param])
        if hp.is_active(param):
            hp.values[param.name] = param.random_sample(seed + i)
    return hp


# === Searching ===

@dataclasses.dataclass
class TuneResult:
    """What a search found (on the chief or a single machine) or ran (on a worker)."""

    name: str
    tuner: str
    objective: str
    direction: str
    directory: Path                      # the project directory
    role: str                            # "local", "chief" or "worker"
    trials: list                         # every trial: trial_id, status, score, values (builder/recipe)
    ran: list                            # trial ids this process trained
    best: dict | None = None             # the best trial (trial_id, score, values)
    overlay: dict | None = None          # {"name", "model": {...}, "recipe": {...}} of the best trial
    overlay_path: Path | None = None     # best.yaml: `kerazoo train NAME --config best.yaml`
    plot_path: Path | None = None        # search.png: score per trial and best so far
    tuner_object: Any = None             # the keras_tuner tuner

    @property
    def best_hyperparameters(self) -> dict:
        """The best trial's searched values, builder and recipe arguments together."""
        return {**self.overlay["model"], **self.overlay["recipe"]} if self.overlay else {}


class _RecordingDict(dict):
    """Records which builder arguments the data preparation reads."""

    def __init__(self, *args):
        super().__init__(*args)
        self.read = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)


class _PerTrialData:
    """The recipe's data, prepared again whenever a trial samples other values for the builder
    arguments it is built from (word2vec's window, an IMDB model's vocabulary size, ...)."""

    def __init__(self, hm, data_dir, seed, names, first):
        self.hm, self.data_dir, self.seed, self.names = hm, data_dir, seed, names
        self.key, self.task = self._key(hm.kwargs), first

    def _key(self, kwargs):
        return tuple(json.dumps(_plain(kwargs.get(n)), default=str) for n in self.names)

    def inputs(self, kwargs) -> tuple[tuple, dict]:
        from kerazoo.training.tasks import prepare

        if self._key(kwargs) != self.key:  # one data set kept at a time
            self.task = None
            self.task = prepare(self.hm.config, self.hm.data_recipe(), dict(kwargs), self.data_dir, self.seed)
            self.key = self._key(kwargs)
            self.hm.task = self.task
        return (self.task.train,), {"validation_data": self.task.val}


def _recipe_data(hm, data_dir, seed):
    """The recipe's data: a `TaskData`, or `_PerTrialData` when searched builder arguments shape it
    (those `prepare`, or the family's `recipe_data`, reads from the builder arguments it is given)."""
    from kerazoo.training.tasks import prepare

    reads = _RecordingDict(hm.kwargs)
    task = prepare(hm.config, hm.data_recipe(), reads, data_dir, seed)
    searched = {p.arg for p in hm.space.params if p.target == "model"}
    shaping = sorted(reads.read & searched)
    return _PerTrialData(hm, data_dir, seed, shaping, task) if shaping else task


def _fit_inputs(data, hm, data_dir, seed) -> tuple[tuple, dict, bool, Any]:
    """`(fit args, fit kwargs, has validation data, TaskData or None)` from the recipe's data or data passed in."""
    import numpy as np
    import tensorflow as tf

    from kerazoo.family import TaskData

    if data is None:
        data = _recipe_data(hm, data_dir, seed)
        if isinstance(data, _PerTrialData):
            return (data,), {}, data.task.val is not None, data.task
    task = data if isinstance(data, TaskData) else None
    if isinstance(data, TaskData):
        data = {"train": data.train, "val": data.val}
    if isinstance(data, Mapping):
        unknown = set(data) - {"train", "val"}
        if unknown or "train" not in data:
            raise TuningError(f"data: expected keys 'train' and optionally 'val', received {sorted(data)}")
        train, val = data["train"], data.get("val")
    else:
        train, val = data, None
    if isinstance(train, tf.data.Dataset):
        args = (train,)
    elif isinstance(train, (tuple, list)) and len(train) == 2:
        args = tuple(train)
    elif isinstance(train, np.ndarray):
        args = (train, _targets_of_inputs(hm, train))
    else:
        raise TuningError("data: expected a tf.data.Dataset, (x, y) arrays, x alone (autoencoders, models that need "
                          "no targets), "
                          f"a TaskData or {{'train': ..., 'val': ...}}; received {type(train).__name__}")
    kwargs = {}
    if isinstance(val, np.ndarray):
        val = (val, _targets_of_inputs(hm, val))
    if val is not None:
        kwargs["validation_data"] = val if isinstance(val, tf.data.Dataset) else tuple(val)
    elif not isinstance(train, tf.data.Dataset):
        kwargs["validation_split"] = hm.data_recipe().validation_split
    return args, kwargs, bool(kwargs), task


def _targets_of_inputs(hm, x):
    """Targets for inputs passed alone: what the family derives from them (`targets_of_inputs`, e.g. an
    autoencoder's rescaled images), else none (models whose `train_step` needs none)."""
    from kerazoo.family import hooks

    targets = hooks(hm.config.family).targets_of_inputs
    return targets(x, hm.kwargs) if targets else None


def _family_callbacks(hm, task) -> list:
    """Metric callbacks a family adds to every trial (`FamilyHooks.metric_callbacks`), e.g. an
    exact-match score computed by decoding, so that the objective can name it."""
    from kerazoo.family import TaskData, hooks

    metric = hooks(hm.config.family).metric_callbacks
    return list(metric(task if task is not None else TaskData(train=None))) if metric else []


def _default_objective(hm, has_val) -> tuple[str, str]:
    metric = hm.recipe.metrics[0] if hm.recipe.metrics else "loss"
    name = f"val_{metric}" if has_val else metric
    return name, infer_direction(name) or "max"


def _parse_objective_arg(objective, at) -> tuple[str, str] | None:
    if objective is None or isinstance(objective, tuple):
        return objective
    return _parse_objective(objective, at)


def tune(name: str, *, tuner: str = "random", max_trials: int | None = 10, epochs: int | None = None, data=None,
         data_dir=None, directory: str | Path = "kerazoo_tuning", project_name: str | None = None,
         overwrite: bool = False, executions_per_trial: int = 1, objective=None, search_space: Mapping | None = None,
         model_overrides: Mapping | None = None, config=None, seed: int | None = None, chief: str | None = None,
         worker: str | int | None = None, chief_timeout: float = 60.0, callbacks: Sequence = (),
         tensorboard: bool = True, verbose: int = 1, strategy=None) -> TuneResult:
    """Searches a catalogue model's hyperparameters with KerasTuner.

    Runs on one machine, or as the chief (the oracle, `chief=HOST:PORT`) or a worker
    (`chief=HOST:PORT, worker=ID`) of a distributed search; launchers may set the
    `KERASTUNER_TUNER_ID` / `KERASTUNER_ORACLE_IP` / `KERASTUNER_ORACLE_PORT` variables instead.
    Running again into the same project directory resumes the search (completed trials are
    kept, an interrupted one is run again); `overwrite=True` starts over.

    Args:
      name: registered model name.
      tuner: "random", "bayesian", "hyperband" (`max_trials` is ignored, `epochs` is its
        `max_epochs`) or "grid".
      max_trials: number of trials (None with "grid": the whole grid).
      epochs: epochs per trial (default: the recipe's).
      data: None for the recipe's data set (`data_dir` says where its files are), or a
        `tf.data.Dataset`, `(x, y)` arrays (the recipe's `validation_split`, or 10 % if it is 0,
        is held out), `x` alone (an autoencoder reconstructs it; DCGAN and word2vec need no targets),
        `{"train": ..., "val": ...}` or a `TaskData`.
      data_dir: directory with the data set files (see `kerazoo.data`).
      directory: parent of the project directory `<directory>/<project_name>`.
      project_name: default: the model name.
      overwrite: delete an earlier search in the project directory instead of resuming it.
      executions_per_trial: models trained (and averaged) per trial.
      objective: metric name or `(name, "min"|"max")`; default: the search space's `objective:`,
        else the recipe's first metric on validation data.
      search_space: a `search_space:` block to use instead of the config's.
      model_overrides: builder arguments on top of the config's (kept in the best overlay).
      config: a config overlay (YAML path or dict with `model:`/`recipe:` blocks) the search starts
        from, as `kerazoo.train`'s.
      seed: the oracle's and the models' seed (default: the recipe's).
      chief: "HOST:PORT" of the chief. Alone: this process is the chief (serves the oracle, trains
        nothing, returns when the workers are done). With `worker`: join that chief.
      worker: this worker's ID (`KERASTUNER_TUNER_ID=tuner<ID>`).
      chief_timeout: seconds a worker waits for the chief to answer before giving up.
      callbacks: extra Keras callbacks for every trial.
      tensorboard: write TensorBoard logs with the HParams dashboard to `<project>/logs`.
      verbose: 0 silent, 1 KerasTuner's progress and a line per epoch.
      strategy: None (TensorFlow's default), a kind of `kerazoo.distribute.strategy` (`auto`, `cpu`,
        `gpu`, `mirrored`, `tpu`) or a `tf.distribute.Strategy` every trial trains under (KerasTuner's
        `distribution_strategy`: each trial's model is built in its scope; recipe batch sizes are per
        replica). Not `multiworker`: the chief/worker mode above spreads a search over machines.

    Returns:
      A `TuneResult`; on the chief or a single machine also writes `best.yaml` (a config
      overlay for `kerazoo train NAME --config best.yaml`), `results.json` and `search.png` to
      the project directory and prints the results table.

    Example:
      >>> result = kerazoo.tune("lenet5", max_trials=10, epochs=3, data_dir="~/data")
      >>> result.best_hyperparameters
      {'learning_rate': 0.0021, 'batch_size': 64, ...}
    """
    if tuner not in TUNERS:
        raise TuningError(f"Unknown tuner {tuner!r}. Accepted: {', '.join(TUNERS)}.")
    if strategy == "multiworker" or distribute.is_multiworker(strategy):
        raise TuningError(f"tune does not run trials under MultiWorkerMirroredStrategy (received strategy={strategy!r}):"
                          " KerasTuner's chief/worker mode spreads a search over machines (chief=HOST:PORT, "
                          "worker=ID; --chief/--worker), each worker training its trials under a one-machine "
                          "strategy. Accepted: None, 'auto', 'cpu', 'gpu', 'mirrored', 'tpu' or a one-machine "
                          "tf.distribute.Strategy.")
    role, address, tuner_id = _role(chief, worker)
    # first: some strategies need TensorFlow uninitialised; the chief trains nothing
    strategy = distribute.as_strategy(strategy, what="tune strategy") if role != "chief" else None
    hm = hypermodel(name, search_space=search_space, config=config, model_overrides=model_overrides, epochs=epochs)
    hm.strategy = strategy
    if not hm.space:
        raise TuningError(f"{name} has nothing to search: its search_space is empty (zoo_configs/{name}.yaml). "
                          f"Add parameters there or pass search_space=.")
    hm.fit_verbose = 2 if verbose else 0
    seed = hm.recipe.seed if seed is None else seed
    project = Path(directory) / (project_name or name)
    hm.work_dir = project / "pretraining"  # a family's pretraining stage writes its records there
    if role == "worker":
        _wait_for_chief(address, chief_timeout)
        overwrite = False  # only the chief may clear a (possibly shared) project directory
    fit_args, fit_kwargs, has_val, task = (((), {}, True, None) if role == "chief"
                                           else _fit_inputs(data, hm, data_dir, seed))
    hm.task = task  # the pretraining stage reads what the data was made with (an IMDB vectorizer, ...)
    goal = (_parse_objective_arg(objective, "objective") or hm.space.objective
            or _default_objective(hm, has_val))
    signature = {"name": name, "tuner": tuner, "objective": list(goal), "search_space": _plain(hm.space.raw),
                 "model_overrides": _plain(dict(model_overrides or {}))}
    if tuner == "hyperband":
        signature["max_epochs"] = epochs or hm.recipe.epochs
    if role != "worker":
        _check_resume(project, signature, overwrite)

    import keras
    import keras_tuner as kt

    _, tuner_classes = _classes()
    options = {"hypermodel": hm, "objective": kt.Objective(*goal), "seed": seed, "directory": str(directory),
               "project_name": project_name or name, "overwrite": overwrite,
               "executions_per_trial": executions_per_trial, "has_val": has_val, "distribution_strategy": strategy}
    if tuner == "hyperband":
        options.update(max_epochs=epochs or hm.recipe.epochs, factor=3, hyperband_iterations=1)
    else:
        options["max_trials"] = max_trials
    with _kerastuner_env(role, address, tuner_id):
        try:
            search = tuner_classes[tuner](**options)
        except kt.errors.FailedTrialError as e:
            raise TuningError(f"The search space of {name} cannot be sampled: {e}") from None
        if role != "worker":
            project.mkdir(parents=True, exist_ok=True)
            (project / "kerazoo_search.json").write_text(json.dumps(signature, indent=2))
        if role == "chief":
            search.oracle.verbose = verbose
            search.save()  # as KerasTuner's own chief does: a restarted chief reloads it
            _serve_oracle(search.oracle, address)
        else:
            if role == "worker":
                _check_same_space(search, address)
            extra = [keras.callbacks.TensorBoard(str(project / "logs"))] if tensorboard else []
            first = _family_callbacks(hm, task)  # before the tuner's own: they add metrics to the logs
            try:
                search.search(*fit_args, **fit_kwargs, callbacks=[*first, *extra, *callbacks], verbose=verbose)
            except Exception as e:
                if role == "worker" and type(e).__module__.startswith("grpc"):
                    raise ChiefUnreachableError(f"Lost the KerasTuner chief at {address}: {e}") from e
                raise
    result = TuneResult(name=name, tuner=tuner, objective=goal[0], direction=goal[1], directory=project, role=role,
                        trials=[], ran=[t["trial_id"] for t in search.ran], tuner_object=search)
    if role == "worker":
        result.trials = [{**t, "values": hm.space.flat(*hm.space.values_of(t.pop("hyperparameters")))}
                         for t in search.ran]
        path = project / f"worker_{tuner_id}.json"
        project.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"tuner_id": tuner_id, "chief": address, "trials": result.trials}, indent=2,
                                   default=str))
        if verbose:
            print(f"{tuner_id} ran trials {', '.join(result.ran) or 'none'} for the chief at {address}")
        return result
    _report(result, search.oracle, hm, verbose)
    return result


def _check_resume(project: Path, signature: dict, overwrite: bool) -> None:
    saved = project / "kerazoo_search.json"
    if overwrite or not saved.exists():
        return
    before = json.loads(saved.read_text())
    changed = [k for k in signature if before.get(k) != signature[k]]
    if changed:
        raise TuningError(f"{project} holds a search with a different {', '.join(changed)}; it cannot be resumed "
                          f"with these settings. Pass overwrite=True (--overwrite) to start over, or use another "
                          f"directory / project name.")


def _report(result: TuneResult, oracle, hm, verbose) -> None:
    """Fills the result from the oracle; writes best.yaml, results.json and search.png; prints the table."""
    for trial_id in oracle.start_order:
        trial = oracle.trials[trial_id]
        model_values, recipe_values = hm.space.values_of(trial.hyperparameters.values)
        result.trials.append({"trial_id": trial_id, "status": str(trial.status), "score": _plain(trial.score),
                              "values": hm.space.flat(model_values, recipe_values),
                              "model": _plain(model_values), "recipe": _plain(recipe_values)})
    best = oracle.get_best_trials(1)
    project = result.directory
    if best and best[0].score is not None:
        row = next(t for t in result.trials if t["trial_id"] == best[0].trial_id)
        result.best = {k: row[k] for k in ("trial_id", "score", "values")}
        overrides = _plain(hm.model_overrides)
        result.overlay = {"name": result.name, "model": {**overrides, **row["model"]}, "recipe": row["recipe"]}
        result.overlay_path = project / "best.yaml"
        header = (f"# kerazoo tune {result.name}: best of {len(result.trials)} trials ({result.tuner} search), "
                  f"trial {row['trial_id']}, {result.objective}={row['score']:.6g}\n"
                  f"# retrain with: kerazoo train {result.name} --config {result.overlay_path}\n")
        result.overlay_path.write_text(header + yaml.safe_dump(result.overlay, sort_keys=False))
    (project / "results.json").write_text(json.dumps(
        {"name": result.name, "tuner": result.tuner, "objective": {"name": result.objective,
                                                                   "direction": result.direction},
         "best": result.best, "trials": result.trials}, indent=2, default=str))
    if any(t["score"] is not None for t in result.trials):
        result.plot_path = plot_search(result.trials, project / "search.png", objective=result.objective,
                                       direction=result.direction,
                                       title=f"{result.name}: {result.tuner} search")
    if verbose:
        print(results_table(result))


def results_table(result: TuneResult) -> str:
    """The trials as a text table: trial, status, score, hyperparameters (best marked with *)."""
    best_id = result.best["trial_id"] if result.best else None
    rows = [(f"{t['trial_id']}{' *' if t['trial_id'] == best_id else ''}", t["status"],
             "-" if t["score"] is None else f"{t['score']:.4f}",
             ", ".join(f"{k}={_short(v)}" for k, v in t["values"].items())) for t in result.trials]
    header = ("trial", "status", result.objective, "hyperparameters")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(3)]
    lines = [f"{result.name}: {result.tuner} search, {len(rows)} trials, objective {result.objective} "
             f"({result.direction}), in {result.directory}"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[3] for r in [header] + rows]
    if result.overlay_path:
        lines.append(f"best: trial {best_id}, {result.objective}={result.best['score']:.4f}; overlay "
                     f"{result.overlay_path} (kerazoo train {result.name} --config {result.overlay_path})")
    return "\n".join(lines)


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else value if isinstance(value, str) else json.dumps(value)


def plot_search(trials: Sequence[Mapping], path: str | Path, *, objective: str, direction: str, title: str = "") -> Path:
    """Score per trial (in start order) and the best-so-far curve, as a PNG."""
    import numpy as np

    from kerazoo.plots import pyplot

    plt = pyplot()
    points = [(i + 1, t["score"]) for i, t in enumerate(trials) if t["score"] is not None]
    x, y = np.array([p[0] for p in points]), np.array([p[1] for p in points], dtype=float)
    best = (np.maximum if direction == "max" else np.minimum).accumulate(y)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.plot(x, y, "o", color="tab:blue", label="trial")
    ax.step(x, best, where="post", color="tab:orange", label="best so far")
    i = int(np.argmax(y) if direction == "max" else np.argmin(y))
    ax.plot([x[i]], [y[i]], "*", markersize=14, color="tab:red", label=f"best: {y[i]:.4g}")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel("trial (in start order)")
    ax.set_ylabel(f"{objective} ({direction})")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


# === Distributed tuning: KerasTuner's chief/worker mode ===

def parse_address(address: str) -> tuple[str, int]:
    """`"HOST:PORT"` (or `"[::1]:PORT"`) -> `(host, port)`."""
    host, sep, port = str(address).rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TuningError(f"Expected the chief's address as HOST:PORT (e.g. 127.0.0.1:8000), received {address!r}")
    return host, int(port)


def _role(chief, worker) -> tuple[str, str | None, str | None]:
    """`(role, "host:port", KerasTuner tuner id)` from the arguments or the KERASTUNER_* variables."""
    if worker is not None and chief is None:
        if "KERASTUNER_ORACLE_IP" not in os.environ:
            raise TuningError("A worker needs the chief's address: --chief HOST:PORT (or KERASTUNER_ORACLE_IP/PORT).")
        chief = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ.get('KERASTUNER_ORACLE_PORT', '')}"
    if chief is not None:
        host, port = parse_address(chief)
        if worker is None:
            return "chief", f"{host}:{port}", "chief"
        worker = str(worker)
        if not re.fullmatch(r"[A-Za-z0-9_-]+", worker) or "chief" in worker:
            raise TuningError(f"Worker IDs are letters, digits, '-' or '_' (not 'chief'), received {worker!r}")
        return "worker", f"{host}:{port}", worker if worker.startswith("tuner") else f"tuner{worker}"
    if "KERASTUNER_ORACLE_IP" in os.environ:  # a cluster launcher set KerasTuner's variables itself
        missing = [k for k in _KT_ENV if not os.environ.get(k)]
        if missing:
            raise TuningError(f"KERASTUNER_ORACLE_IP is set but {', '.join(missing)} is not; set all of {', '.join(_KT_ENV)}.")
        host, port = parse_address(f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}")
        tuner_id = os.environ["KERASTUNER_TUNER_ID"]
        return ("chief" if "chief" in tuner_id else "worker"), f"{host}:{port}", tuner_id
    return "local", None, None


@contextlib.contextmanager
def _kerastuner_env(role, address, tuner_id):
    """KerasTuner reads its role from the environment: set it for the search, restore it after."""
    saved = {k: os.environ.get(k) for k in _KT_ENV}
    if role != "local":
        host, port = parse_address(address)
        os.environ.update(KERASTUNER_TUNER_ID=tuner_id, KERASTUNER_ORACLE_IP=host, KERASTUNER_ORACLE_PORT=str(port))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _wait_for_chief(address: str, timeout: float) -> None:
    import grpc

    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        raise ChiefUnreachableError(
            f"No KerasTuner chief answered at {address} within {timeout:g} s. Start it first "
            f"(kerazoo tune NAME --chief {address}), check the host and port, or wait longer "
            f"(--chief-timeout).") from None
    finally:
        channel.close()


def _check_same_space(search, address: str) -> None:
    """A worker whose config differs from the chief's would train other models than the oracle thinks."""
    import keras_tuner as kt

    mine = kt.HyperParameters()
    search.hypermodel.space.declare(mine)
    theirs = search.oracle.get_space()  # an RPC to the chief
    names = lambda hp: sorted(p.name for p in hp.space if not p.name.startswith("tuner/"))  # noqa: E731
    if names(mine) != names(theirs):
        raise TuningError(f"This worker's search space differs from the chief's at {address}: worker has "
                          f"{names(mine)}, chief has {names(theirs)}. Run the same kerazoo version and config.")


def _serve_oracle(oracle, address: str, *, linger: float = 30.0, poll: float = 0.5) -> None:
    """Serves the oracle to the workers until the search is done.

    KerasTuner's own `oracle_chief.start_server` is used as is except for three things: a port
    that cannot be bound is an error (not a silent hang), the exit check polls every `poll`
    seconds (not 20), and once every trial has finished, workers that never ask again (crashed,
    killed) are waited for at most `linger` seconds.
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = oracle_chief.OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise TuningError(f"The chief cannot listen on {address} (port in use, or not an address of this machine).")
    server.start()
    idle_since = None
    try:
        while True:
            time.sleep(poll)
            if not servicer.stop_triggered or oracle.ongoing_trials:
                idle_since = None
                continue
            if oracle_chief.exit_chief(oracle):
                break
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > linger:
                print(f"kerazoo tune: workers {sorted(oracle.tuner_ids)} did not come back for {linger:g} s; "
                      "the search is complete, stopping the chief.", file=sys.stderr)
                break
    finally:
        server.stop(grace=2).wait()


# === Command line: `kerazoo tune` ===

def add_tune_command(subparsers) -> argparse.ArgumentParser:
    """Registers `kerazoo tune NAME ...` on the CLI's argparse subparsers."""
    p = subparsers.add_parser(
        "tune", help="hyperparameter search over the config's search_space (KerasTuner; resumes; distributed)",
        description="Search a model's hyperparameters (its config's search_space:) with KerasTuner. Running "
                    "again into the same --directory resumes the search. Distributed: start the chief with "
                    "--chief HOST:PORT, then workers with --worker ID --chief HOST:PORT.")
    p.add_argument("name")
    p.add_argument("--tuner", default="random", choices=list(TUNERS))
    p.add_argument("--max-trials", type=int, default=10, help="number of trials (hyperband: ignored)")
    p.add_argument("--epochs", type=int, help="epochs per trial (default: the recipe's; hyperband: max epochs)")
    p.add_argument("--directory", default="kerazoo_tuning", help="parent of the project directory DIR/NAME")
    p.add_argument("--project-name", help="default: the model name")
    p.add_argument("--overwrite", action="store_true", help="start over instead of resuming")
    p.add_argument("--data-dir", help="directory with the data set files (offline); or KERAZOO_DATA_DIR")
    p.add_argument("--config", help="config overlay YAML with model:/recipe: blocks the search starts from")
    p.add_argument("--executions-per-trial", type=int, default=1)
    p.add_argument("--seed", type=int)
    p.add_argument("--chief", metavar="HOST:PORT", help="alone: run the oracle there; with --worker: join it")
    p.add_argument("--worker", metavar="ID", help="join the chief as worker ID (KERASTUNER_TUNER_ID=tuner<ID>)")
    p.add_argument("--chief-timeout", type=float, default=60.0, help="seconds a worker waits for the chief")
    p.add_argument("--no-tensorboard", action="store_true", help="skip the TensorBoard/HParams logs")
    p.add_argument("--quiet", action="store_true", help="only the results table")
    distribute.add_arguments(p)
    p.set_defaults(func=_cmd_tune)
    return p


def _cmd_tune(args) -> int:
    result = tune(args.name, tuner=args.tuner, max_trials=args.max_trials, epochs=args.epochs, data_dir=args.data_dir,
                  directory=args.directory, project_name=args.project_name, overwrite=args.overwrite,
                  executions_per_trial=args.executions_per_trial, config=args.config, seed=args.seed, chief=args.chief,
                  worker=args.worker, chief_timeout=args.chief_timeout, tensorboard=not args.no_tensorboard,
                  verbose=0 if args.quiet else 1, strategy=distribute.from_arguments(args))
    if args.quiet and result.role != "worker":
        print(results_table(result))
    if result.plot_path:
        print(f"plot: {result.plot_path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m kerazoo.tuning tune NAME ...`: the same as `kerazoo tune NAME ...`."""
    parser = argparse.ArgumentParser(prog="kerazoo")
    add_tune_command(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, NotImplementedError) as e:
        print(f"kerazoo {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
