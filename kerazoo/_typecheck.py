"""Checking and coercing user values against type annotations (no TensorFlow import).

YAML and the command line give lists where builders want tuples and ints where they want
floats; `coerce` converts those and rejects everything else with a message that says what
type was expected.
"""
from __future__ import annotations

import math
import types
import typing
from typing import Any, Literal, Union

__all__ = ["coerce", "type_name"]


def type_name(annotation: Any) -> str:
    """A short human name for an annotation: `int | None`, `'classic' | 'modern'`, ..."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return "any"
    if annotation is type(None):
        return "None"
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin in (tuple, list, dict):
        inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args)
        return f"{origin.__name__}[{inner}]" if args else origin.__name__
    return getattr(annotation, "__name__", str(annotation))


def coerce(value: Any, annotation: Any) -> Any:
    """Returns `value` converted to `annotation`, or raises `TypeError`.

    Accepted conversions: list -> tuple, int -> float, and element-wise inside containers.
    `bool` is never taken for `int` (YAML's `yes` is not a layer count), nor NaN or infinity for a
    `float` (`rescaling: .nan` would turn every input into NaN).
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    finite = " (a finite number)" if isinstance(value, float) and not math.isfinite(value) else ""
    fail = TypeError(f"expected {type_name(annotation)}{finite}, received {value!r} ({type(value).__name__})")
    if annotation is Any or annotation is typing.Any:
        return value
    if annotation is None or annotation is type(None):
        if value is None:
            return None
        raise fail
    if origin is Literal:
        if value in args and not (isinstance(value, bool) and not any(isinstance(a, bool) for a in args)):
            return value
        raise fail
    if origin in (Union, types.UnionType):
        for option in args:
            try:
                return coerce(value, option)
            except TypeError:
                continue
        raise fail
    if origin is tuple or annotation is tuple:
        if not isinstance(value, (list, tuple)):
            raise fail
        if not args:
            return tuple(value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_inner(v, args[0], fail) for v in value)
        if len(args) != len(value):
            raise fail
        return tuple(_inner(v, a, fail) for v, a in zip(value, args))
    if origin is list or annotation is list:
        if not isinstance(value, (list, tuple)):
            raise fail
        return [_inner(v, args[0], fail) for v in value] if args else list(value)
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise fail
        return dict(value)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise fail
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise fail
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise fail
            return float(value)
        raise fail
    if isinstance(annotation, type):
        if isinstance(value, annotation):
            return value
        raise fail
    return value


def _inner(value: Any, annotation: Any, fail: TypeError) -> Any:
    try:
        return coerce(value, annotation)
    except TypeError:
        raise fail from None
