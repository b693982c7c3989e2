"""The shape of the package: imports flow one way (no circles), modules stay small, families declare
their hooks in one place (STYLE.md rules 9, 11, 12)."""
import ast
import inspect
import typing
from pathlib import Path

import pytest

import kerazoo
from kerazoo import family
from kerazoo.config import all_configs

ROOT = Path(kerazoo.__file__).parent
MAX_LINES = 520  # STYLE.md: split a module past ~500 lines


def _modules() -> dict[str, Path]:
    return {".".join(p.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__"): p
            for p in ROOT.rglob("*.py")}


def _imports(name: str, path: Path, known) -> set[str]:
    """kerazoo modules `name` imports anywhere in its file (function-level imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            found |= {f"{target}.{a.name}" if f"{target}.{a.name}" in known else target for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {m for m in found if m in known and m != name and not name.startswith(m + ".")}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_no_import_circles():
    graph = _graph()
    index, low, stack, on_stack, circles, counter = {}, {}, [], set(), [], [0]

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def test_models_do_not_import_training_tuning_or_the_cli():
    above = ("kerazoo.training", "kerazoo.tuning", "kerazoo.cli", "kerazoo.demo", "kerazoo.exporting")
    for name, imported in _graph().items():
        if name.startswith("kerazoo.models"):
            bad = sorted(m for m in imported if m.startswith(above))
            assert not bad, f"{name} imports {bad}: families sit below training, tuning and export"


def test_ground_floor_imports_nothing_above_it():
    ground = ("kerazoo.errors", "kerazoo.family", "kerazoo.artifacts", "kerazoo._typecheck", "kerazoo.patches",
              "kerazoo.modelcard")
    graph = _graph()
    for name in ground:  # errors, and the card README's Hub front matter (modelcard, which imports no kerazoo module)
        assert graph[name] <= {"kerazoo.errors", "kerazoo.modelcard"}, f"{name} imports {sorted(graph[name])}"
    assert graph["kerazoo.modelcard"] == set()


def test_modules_stay_small():
    big = {name: n for name, path in _modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines (split them): {big}"


@pytest.mark.parametrize("family_name", sorted({c.family for c in all_configs().values()}))
def test_every_hook_like_function_is_declared(family_name):
    """A family function named like a hook must be the declared one: a typo or a forgotten `HOOKS`
    entry would otherwise be silently ignored by train, export and tune."""
    module = family.family_module(family_name)
    declared = family.hooks(family_name)
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        if fn.__module__ != module.__name__:
            continue
        hook_like = name in family.HOOK_NAMES or name.startswith(("recipe_", "tuning_", "serving_")) \
            or name.endswith(("_callbacks", "_monitor", "_endpoint"))
        if hook_like:
            assert name in family.HOOK_NAMES, f"{module.__name__}.{name} looks like a hook but FamilyHooks has no " \
                                              f"{name!r}; rename it or add the hook to kerazoo.family"
            assert getattr(declared, name) is fn, f"{module.__name__}.{name} is not declared in its HOOKS"
    hints = typing.get_type_hints(family.FamilyHooks)
    for name in family.HOOK_NAMES:
        hook = getattr(declared, name)
        if hook is None:
            continue
        arity = len(typing.get_args(typing.get_args(hints[name])[0])[0])  # Optional[Callable[[args], result]]
        params = [p for p in inspect.signature(hook).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        required = [p for p in params if p.default is p.empty]
        assert len(required) <= arity <= len(params), (
            f"{module.__name__}.{name} takes {len(required)}-{len(params)} positional arguments; the hook is called "
            f"with {arity} (see kerazoo.family.FamilyHooks)")
