"""The benchmark scripts still run against the package: every `kerazoo` name they import exists.

The scripts import lazily, inside the functions that measure, so a module split or a renamed
function only shows when somebody re-runs a benchmark (speed.py imported `load_numpy` from
`kerazoo.data.sources` for a whole round after it moved to `kerazoo.data.catalog`). Running them is
minutes of training; checking their imports is not.
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("**/*.py"))  # repro/ too


def kerazoo_imports(path: Path) -> list[tuple[int, str, str | None]]:
    """`(line, module, name or None)` for every import of a kerazoo module in `path`, nested ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "kerazoo":
            found += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None) for alias in node.names if alias.name.split(".")[0] == "kerazoo"]
    return found


def test_the_benchmarks_are_found():
    assert len(BENCHMARKS) >= 5, BENCHMARKS


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: str(p.relative_to(p.parents[1])) if p.parent.name != "benchmarks" else p.name)
def test_every_kerazoo_import_of_a_benchmark_resolves(script):
    missing = []
    for line, module, name in kerazoo_imports(script):
        try:
            imported = importlib.import_module(module)
        except ImportError as e:
            missing.append(f"{script.name}:{line}: import {module}: {e}")
            continue
        if name is not None and not hasattr(imported, name):
            try:  # `from package import submodule`
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{script.name}:{line}: {module} has no {name}")
    assert not missing, "\n".join(missing)


def test_the_import_check_sees_a_moved_name(tmp_path):
    """The check itself: a script importing a name from the module it left is reported."""
    script = tmp_path / "bench.py"
    script.write_text("def f():\n    from kerazoo.data.sources import load_numpy\n")
    assert kerazoo_imports(script) == [(2, "kerazoo.data.sources", "load_numpy")]
    assert not hasattr(importlib.import_module("kerazoo.data.sources"), "load_numpy")
