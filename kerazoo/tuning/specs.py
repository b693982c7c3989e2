"""One searched parameter: its spec parsed (types, ranges, sampling, choices, lists, defaults),
checked against the argument's annotation, and declared on KerasTuner's `HyperParameters`.
The block around it (names, conditions, objective) is `kerazoo.tuning.space`.

Importing this module imports neither TensorFlow nor Keras.
"""
from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
from typing import Any, Mapping

from kerazoo._typecheck import coerce, type_name
from kerazoo.errors import ConfigError

__all__ = ["Param", "TYPES", "find_value", "encoded", "plain", "parse_param", "check_types", "check_keys"]

TYPES = {  # type: accepted spec keys
    "int": {"type", "min", "max", "step", "sampling", "default", "when"},
    "float": {"type", "min", "max", "step", "sampling", "default", "when"},
    "choice": {"type", "values", "ordered", "default", "when"},
    "boolean": {"type", "default", "when"},
    "fixed": {"type", "value", "when"},
    "list": {"type", "length", "item", "default", "when"},
}
_ITEMTYPES = ("int", "float", "choice")
_SAMPLINGS = ("linear", "log", "reverse_log")


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


def check_keys(spec: Mapping, accepted: set, at: str) -> None:
    """A `ConfigError` naming the first key of `spec` not in `accepted` (and the closest accepted one)."""
    for k in spec:
        if k not in accepted:
            close = difflib.get_close_matches(str(k), sorted(accepted), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{at}: unknown option {k!r}.{hint} Accepted: {', '.join(sorted(accepted))}.")


def _number(spec, name, at, *, integer):
    value = spec.get(name)
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok:
        raise ConfigError(f"{at}: {name!r} must be {'an int' if integer else 'a number'}, received {value!r}")
    return value if integer else float(value)


def parse_param(param: Param, spec: Mapping, at: str, base_value) -> list | None:
    """Fills `param.spec/default/labels` from its YAML `spec`; returns the values a `when` may compare
    with (None: any). `base_value` is what the config trains with, the default when in range.
    `spec`'s type and keys are checked already (`check_keys` against `TYPES`)."""
    if param.kind == "list":
        _parse_list(param, spec, at, base_value)
        return None
    return _parse_scalar(param, spec, at, base_value)


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
        param.default = _encode_default(param, _pick_default(spec, base_value, lambda v: find_value(spec["values"], v)
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
    labels = {(v if isinstance(v, str) else json.dumps(plain(v))): v for v in values}
    return list(labels), labels


def find_value(values: list, value) -> int | None:
    """Index of `value` in `values`, comparing YAML-plainly (tuples as lists, bool is not int)."""
    for i, v in enumerate(values):
        if isinstance(v, bool) == isinstance(value, bool) and plain(v) == plain(value):
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
    return kt_values[find_value(param.spec["values"], value)]


def _parse_list(param: Param, spec: Mapping, at: str, base_value) -> None:
    length, item = spec.get("length"), spec.get("item")
    if isinstance(length, Mapping):
        check_keys(length, {"min", "max"}, f"{at} length")
        options = _parse_range(length, f"{at} length", integer=True)
        length = {"min": options["min"], "max": options["max"]}
        lo, hi = length["min"], length["max"]
    elif isinstance(length, int) and not isinstance(length, bool):
        lo = hi = length
    else:
        raise ConfigError(f"{at}: a list needs `length:` (an int, or {{min: ..., max: ...}}), received {length!r}")
    if lo < 1:
        raise ConfigError(f"{at}: length must be at least 1, received {lo}")
    if not isinstance(item, Mapping) or item.get("type") not in _ITEMTYPES:
        raise ConfigError(f"{at}: a list needs `item:` with a type among {', '.join(_ITEMTYPES)}, received {item!r}")
    check_keys(item, TYPES[item["type"]] - {"default", "when"}, f"{at} item ({item['type']})")
    item_param = Param(key=f"{param.key}.item", target=param.target, arg=param.arg, kind=item["type"], spec={})
    _parse_scalar(item_param, item, f"{at} item", None)
    item_spec = {**item_param.spec, "type": item["type"], "labels": item_param.labels}

    def valid(value):
        if not isinstance(value, (list, tuple)) or not lo <= len(value) <= hi:
            return False
        if item["type"] == "choice":
            return all(find_value(item["values"], v) is not None for v in value)
        return all(_in_range(v, item_spec, item["type"] == "int") for v in value)

    default = _pick_default(spec, base_value, valid, at)
    if default is not None and item["type"] == "choice":
        default = [item_spec["kt_values"][find_value(item["values"], v)] for v in default]
    param.spec, param.default = {"length": length, "item": item_spec}, default


def check_types(param: Param, annotation, at) -> None:
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


def encoded(param: Param, value) -> Any:
    """`value` of `param` as KerasTuner holds it (a choice's label, ...); None if it cannot take it."""
    if param.kind == "choice":
        i = find_value(param.spec["values"], value)
        return None if i is None else param.spec["kt_values"][i]
    if param.kind == "fixed":
        return param.spec["kt_value"] if plain(value) == plain(param.spec["value"]) else None
    return plain(value)


def plain(value):
    """YAML/JSON-plain form: tuples as lists, NumPy scalars as Python numbers."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value

