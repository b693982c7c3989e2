"""The benchmark scripts still run against the package: every `kerazoo` name they import exists.

The scripts import lazily, inside the functions that measure, so a module split or a renamed
function only shows when somebody re-runs a benchmark (speed.py imported `load_numpy` from
`kerazoo.data.sources` for a whole round after it moved to `kerazoo.data.catalog`). Running them is
minutes of training; checking their imports is not.
"""
from __future__ import annotations

import ast
import json
import importlib
import importlib.util
import sys
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


def _time_to_accuracy():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "time_to_accuracy.py"
    spec = importlib.util.spec_from_file_location("bench_time_to_accuracy", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    saved = list(sys.path)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved  # the script puts benchmarks/ first, for its own `import references`
    return module


def _runs(*curves):
    """Runs of `time_to_accuracy.child`'s form, none at the target: `curves` of (seconds, FID) evaluations."""
    return [{"reached": False, "seconds": None, "best": min(v for _, v in curve), "trained_seconds": curve[-1][0],
             "curve": [[0.5 * (i + 1), s, v] for i, (s, v) in enumerate(curve)]} for curve in curves]


def test_time_to_the_references_best_is_read_off_the_same_runs():
    """When the reference never reaches the target (DCGAN's FID 10 in equal time), the benchmark says how much sooner
    kerazoo got as far as the reference did: each runner's first evaluation at or below the reference's median best,
    medians over the runs, a run that never got there counting as slower than any that did."""
    tta = _time_to_accuracy()
    reference = _runs([(300, 90.0), (600, 60.0)], [(300, 95.0), (600, 70.0)], [(300, 80.0), (600, 65.0)])
    recipe = _runs([(100, 64.0), (600, 30.0)], [(100, 70.0), (200, 50.0)], [(100, 90.0), (600, 80.0)])
    family = {"direction": "min", "runners": {"reference": {**tta.summarise(reference), "runs": reference},
                                               "recipe": {**tta.summarise(recipe), "runs": recipe}}}
    tta.ratios(family)
    best = family["reference_best"]
    assert best["value"] == 65.0  # the reference's median best
    assert best["median_seconds"] == {"reference": 600, "recipe": 200}  # [600, inf, 600] and [100, 200, inf]
    assert best["reference_over_recipe"] == 3.0
    assert "reference_over_recipe" not in family and "reference_over_recipe_at_least" not in family  # no FID 10


def test_no_time_to_the_references_best_when_it_reached_the_target_or_never_moved():
    tta = _time_to_accuracy()
    flat = _runs([(300, 0.0), (600, 0.0)])  # seq2seq's reference: 0 % exact match throughout
    reached = {**_runs([(300, 9.0)])[0], "reached": True, "seconds": 300, "cpu_seconds": 500}  # FID 10 reached
    for runs in ([{**flat[0], "best": 0.0}], [reached]):
        family = {"direction": "min", "runners": {"reference": {**tta.summarise(runs), "runs": runs},
                                                   "recipe": {**tta.summarise(runs), "runs": runs}}}
        tta.ratios(family)
        assert "reference_best" not in family


def test_an_interrupted_measurement_is_resumed_by_the_same_command(tmp_path, monkeypatch):
    """A DCGAN measurement is hours of runs: Ctrl-C (or a closed session) keeps every finished run, and the same
    command measures only the missing ones, in the same interleaved order; another plan does not mix into it."""
    tta = _time_to_accuracy()
    out = tmp_path / "tta.json"
    command = ["time_to_accuracy.py", "--data-dir", str(tmp_path), "--only", "lenet5", "--runners", "reference",
               "recipe", "--repeats", "2", "--output", str(out)]
    launched, interrupt_at = [], [3]

    def launch(name, runner, seed, *args):
        if len(launched) in interrupt_at:
            raise KeyboardInterrupt
        launched.append((runner, seed))
        return {"seed": seed, "reached": True, "seconds": 10.0 * len(launched), "cpu_seconds": 1.0, "best": 99.1,
                "curve": [[1, 10.0, 99.1]]}

    monkeypatch.setattr(tta, "_launch", launch)
    monkeypatch.setattr(sys, "argv", command)
    with pytest.raises(SystemExit, match="interrupted: 3 finished runs are kept"):
        tta.main()
    assert not out.exists() and (tmp_path / "tta.partial.json").is_file()

    monkeypatch.setattr(sys, "argv", command[:-4] + ["--repeats", "3", "--output", str(out)])
    with pytest.raises(SystemExit, match="another plan"):
        tta.main()

    interrupt_at.clear()
    monkeypatch.setattr(sys, "argv", command)
    tta.main()
    assert launched == [("reference", 1337), ("recipe", 1337), ("reference", 1338), ("recipe", 1338)]
    runs = json.loads(out.read_text())["families"]["lenet5"]["runners"]
    assert [r["seconds"] for r in runs["reference"]["runs"]] == [10.0, 30.0]
    assert [r["seconds"] for r in runs["recipe"]["runs"]] == [20.0, 40.0]
    assert not (tmp_path / "tta.partial.json").exists()
