"""The search-space grammar: a `search_space:` block parsed, checked and declared on KerasTuner's
`HyperParameters`.

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

Importing this module imports neither TensorFlow nor Keras (`SearchSpace.values_of` imports
KerasTuner when called).
"""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import typing
from typing import Any, Mapping

from kerazoo.errors import ConfigError
from kerazoo.recipe import infer_direction
from kerazoo.tuning.specs import TYPES, Param, check_keys, check_types, encoded, find_value, parse_param, plain

__all__ = ["Param", "SearchSpace", "check_search_space", "parse_search_space", "parse_objective", "trial_seed",
           "recipe_args", "TUNABLE_RECIPE_FIELDS"]

# Recipe fields a search may sample; the others change the data or what the objective measures.
TUNABLE_RECIPE_FIELDS = ("optimizer", "learning_rate", "clipnorm", "weight_decay", "batch_size", "epochs", "pretrain")


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
        return {p.arg: plain(both[p.arg]) for p in self.params if p.arg in both}

    def fix(self, fixed: Mapping[str, Any], recipe_fixed: Mapping[str, Any] | None = None) -> SearchSpace:
        """The space with these builder arguments (and recipe fields) fixed (`--set`): their parameters
        leave it, and so do the parameters that exist only while one of them has another value; a
        condition the fixed value meets is dropped."""
        fixed_values: dict[str, Any] = {}   # KerasTuner name of a fixed parameter -> its value, encoded
        kept = []
        by_target = {"model": fixed, "recipe": recipe_fixed or {}}
        for param in self.params:
            if param.arg in by_target[param.target]:
                value = by_target[param.target][param.arg]
                fixed_values[param.key] = encoded(param, value)
                if param.kind == "list":
                    fixed_values[f"{param.key}.length"] = len(value)
                continue
            chain = tuple((parent, values) for parent, values in param.chain if parent not in fixed_values)
            if any(parent in fixed_values and fixed_values[parent] not in values for parent, values in param.chain):
                fixed_values[param.key] = _NEVER  # exists only for values the fixed parameter does not take
                continue
            kept.append(dataclasses.replace(param, chain=chain))
        raw = {key: spec for key, spec in self.raw.items() if key == "objective" or key in {p.key for p in kept}}
        for param in kept:  # a condition on a fixed parameter is met: it goes
            if isinstance(raw[param.key], Mapping) and "when" in raw[param.key] and not param.chain:
                raw[param.key] = {k: v for k, v in raw[param.key].items() if k != "when"}
        return SearchSpace(params=kept, objective=self.objective, raw=raw)

    def values_of(self, hp_values: Mapping[str, Any]) -> tuple[dict, dict]:
        """`(builder values, recipe values)` of a trial from KerasTuner's flat values."""
        import keras_tuner as kt

        hp = kt.HyperParameters()
        hp.values = dict(hp_values)
        return self.declare(hp)


_NEVER = object()  # the "value" of a parameter that left the space with its condition unmet


def trial_seed(seed: int, values: Mapping[str, Any], execution: int = 0) -> int:
    """The seed of a trial's execution: a function of the search seed, the trial's values (KerasTuner's,
    `tuner/*` included but the number of the trial a Hyperband round continues) and the execution's
    number only, so the same values train alike wherever and whenever they run."""
    values = {k: plain(v) for k, v in values.items() if k != "tuner/trial_id"}
    text = json.dumps([int(seed), values, int(execution)], sort_keys=True, default=str)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


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
            space.objective = parse_objective(spec, at)
            continue
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{where}: hyperparameter names are strings, received {key!r}")
        target, arg, annotation = _resolve_target(key, where, model_args, recipe_args)
        if (target, arg) in targets:
            raise ConfigError(f"{at} sets {target} argument {arg!r} again (already set by {targets[target, arg]!r}).")
        targets[target, arg] = key
        if not isinstance(spec, Mapping) or "type" not in spec:
            raise ConfigError(f"{at}: expected a mapping with a `type:` ({', '.join(TYPES)}), received {spec!r}")
        kind = spec["type"]
        if kind not in TYPES:
            raise ConfigError(f"{at}: unknown type {kind!r}. Accepted types: {', '.join(TYPES)}.")
        check_keys(spec, TYPES[kind], f"{at} ({kind})")
        chain = _parse_when(spec.get("when"), declared, at)
        param = Param(key=key, target=target, arg=arg, kind=kind, spec={}, chain=chain)
        possible = parse_param(param, spec, at, base.get(target, {}).get(arg))
        length = param.spec.get("length")
        if param.kind == "list" and not isinstance(length, int):
            lengths = list(range(length["min"], length["max"] + 1))
            declared[f"{key}.length"] = (lengths, lengths, chain)
        encoded = (param.spec["kt_values"] if param.kind == "choice" else
                   [param.spec["kt_value"]] if param.kind == "fixed" else possible)
        declared[key] = (possible, encoded, chain)
        if annotation is not None:
            check_types(param, annotation, at)
        space.params.append(param)
    return space


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


def settle_fixed_conditions(raw: Mapping, fixed: Mapping[str, Any]) -> dict:
    """A `search_space:` block whose `when:` conditions name parameters not searched but fixed (`--set`,
    an overlay's `model:`) with those conditions decided: a met one is dropped, a parameter whose
    condition is not met leaves the space (it would never be active)."""
    if not isinstance(raw, Mapping):
        return raw
    out, declared = {}, set()
    for key, spec in raw.items():
        when = spec.get("when") if isinstance(spec, Mapping) else None
        if isinstance(when, Mapping) and len(when) == 1:
            (parent, values), = when.items()
            if parent not in declared and parent in fixed:
                if plain(fixed[parent]) not in [plain(v) for v in (values if isinstance(values, list) else [values])]:
                    continue
                spec = {k: v for k, v in spec.items() if k != "when"}
        declared.add(key)
        out[key] = spec
    return out


def _parse_when(when, declared: dict, at: str) -> tuple:
    if when is None:
        return ()
    if not isinstance(when, Mapping) or len(when) != 1:
        raise ConfigError(f"{at}: `when` takes one earlier parameter and its value(s), e.g. "
                          f"`when: {{variant: modern}}`; received {when!r}")
    (parent, values), = when.items()
    if parent not in declared:
        raise ConfigError(f"{at}: `when` names {parent!r}, which is not a parameter declared above it. "
                          f"Declared so far: {', '.join(declared) or 'none'}; or fix it (--set {parent}=VALUE).")
    possible, encoded_possible, chain = declared[parent]
    values = list(values) if isinstance(values, list) else [values]
    if possible is None:
        raise ConfigError(f"{at}: `when` cannot depend on {parent!r} (a float, log-sampled int or list); "
                          f"condition on a choice, boolean, linear int or a list's `.length`.")
    encoded = []
    for v in values:
        i = find_value(possible, v)
        if i is None:
            raise ConfigError(f"{at}: `when: {{{parent}: {v!r}}}`, but {parent!r} never takes {v!r}. "
                              f"It takes: {', '.join(map(repr, possible))}.")
        encoded.append(encoded_possible[i])
    return tuple(chain) + ((parent, tuple(encoded)),)


def parse_objective(spec, at: str) -> tuple[str, str] | None:
    """`(metric name, "min" | "max")` from a name (`"val_loss"`, `"val_loss:min"`), `{name, direction}` or
    such a tuple; None stays None. Without a direction, it is inferred from the name."""
    if spec is None or isinstance(spec, tuple):
        return spec
    if isinstance(spec, str):  # "val_loss", or "val_loss:min" as the CLI's --objective takes it
        name, colon, direction = spec.rpartition(":")
        name, direction = (name, direction) if colon and direction in ("min", "max") else (spec, None)
    elif isinstance(spec, Mapping):
        check_keys(spec, {"name", "direction"}, at)
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


def recipe_args() -> dict:
    """`{field: annotation}` of the Recipe fields a search may sample."""
    from kerazoo.recipe import Recipe

    hints = typing.get_type_hints(Recipe)
    return {name: hints[name] for name in TUNABLE_RECIPE_FIELDS if name in hints}
