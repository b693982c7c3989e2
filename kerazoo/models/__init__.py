"""The model families, one package each: `kerazoo/models/<family>/`.

Every family has the same files, named for their role (see `kerazoo.family`): `model.py`, the
architecture in `keras`/`keras.ops` only; `training.py`, what trains, scores and plots it, and its
`HOOKS`; `tf_export.py`, its TensorFlow-only serving and export. `common.py` holds what the builders
share. The catalogue (`kerazoo.registry`) imports a family when one of its models is built, so
nothing here is imported eagerly.
"""
from __future__ import annotations

import importlib
from typing import Callable

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, **modules: list[str]) -> Callable[[str], object]:
    """A module `__getattr__` (PEP 562) giving names of a family's `training`/`tf_export` modules from the
    package itself (`from kerazoo.models.dbn import DBN`), importing those modules on first use, so that
    importing a family imports its architecture only.

    Example:
      >>> __getattr__ = lazy_attributes(__name__, training=["DBN", "pretrain"])
    """
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{where[name]}"), name)

    return __getattr__
