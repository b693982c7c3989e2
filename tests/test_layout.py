"""The shape of the package: imports flow one way (no circles, function-level imports and `importlib`
included), modules stay small, a family's architecture is one small file of `keras` only, families
declare their hooks in one place (STYLE.md rules 1, 9, 11, 12)."""
import ast
import inspect
import json
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import kerazoo
from kerazoo import family

ROOT = Path(kerazoo.__file__).parent
MAX_LINES = 500            # STYLE.md: split a module past ~500 lines
MAX_ARCHITECTURE = 300     # a family's architecture read in one sitting
FAMILIES = sorted(p.parent.name for p in (ROOT / "models").glob("*/model.py"))
ROLES = ("model", "training", "tf_export")  # the files every family may have, named for their role


def _modules() -> dict[str, Path]:
    return {".".join(p.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__"): p
            for p in ROOT.rglob("*.py")}


def _imports(name: str, path: Path, known) -> set[str]:
    """kerazoo modules `name` imports anywhere in its file: function-level imports, `importlib.import_module`
    of a literal name and a family's `lazy_attributes(__name__, training=[...])` count too."""
    found = set()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            found |= {f"{target}.{a.name}" if f"{target}.{a.name}" in known else target for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name)):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            if called == "import_module" and node.args and isinstance(node.args[0], ast.Constant):
                found.add(node.args[0].value)
            elif called == "lazy_attributes":
                found |= {f"{name}.{k.arg}" for k in node.keywords}
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


def test_the_circle_check_sees_function_level_and_importlib_imports(tmp_path):
    """The check itself: a circle closed inside a function, or through importlib, is found."""
    (tmp_path / "a.py").write_text("import importlib\ndef f():\n    importlib.import_module('pkg.b')\n")
    (tmp_path / "b.py").write_text("def g():\n    from pkg import a\n")
    known = {"pkg.a", "pkg.b"}
    assert _imports("pkg.a", tmp_path / "a.py", known) == {"pkg.b"}
    assert _imports("pkg.b", tmp_path / "b.py", known) == {"pkg.a"}


def test_models_sit_below_loading_training_tuning_and_the_cli():
    """No model loads another artifact: whoever needs a scorer or word vectors passes them in."""
    above = ("kerazoo.loading", "kerazoo.training", "kerazoo.tuning", "kerazoo.cli", "kerazoo.demo",
             "kerazoo.exporting", "kerazoo.formats", "kerazoo.distribute")
    for name, imported in _graph().items():
        if name.startswith("kerazoo.models"):
            bad = sorted(m for m in imported if m.startswith(above))
            assert not bad, f"{name} imports {bad}: families sit below loading, training, tuning and export"


def test_ground_floor_imports_nothing_above_it():
    leaves = ("kerazoo.errors", "kerazoo.modelcard", "kerazoo.rundir", "kerazoo.interrupts")  # import nothing of kerazoo but the errors
    ground = ("kerazoo.cards", "kerazoo.family", "kerazoo.artifacts", "kerazoo._typecheck", "kerazoo.patches")
    graph = _graph()
    for name in leaves:
        assert graph[name] <= {"kerazoo.errors"}, f"{name} imports {sorted(graph[name])}"
    assert graph["kerazoo.modelcard"] == set()
    for name in ground:
        assert graph[name] <= set(leaves) | {"kerazoo.cards"}, f"{name} imports {sorted(graph[name])}"


def test_modules_stay_small():
    big = {name: n for name, path in _modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines (split them): {big}"


@pytest.mark.parametrize("name", FAMILIES)
def test_a_family_is_a_folder_of_roles_and_its_architecture_is_keras_only(name):
    """`model.py` holds the architecture in `keras`/`keras.ops`: at most 300 lines, no TensorFlow (not even
    inside a function), nothing above it (data, training, export, loading); only `tf_export.py` may import
    TensorFlow; the role files are the same in every family."""
    folder = ROOT / "models" / name
    model = folder / "model.py"
    assert len(model.read_text().splitlines()) <= MAX_ARCHITECTURE, f"{model}: over {MAX_ARCHITECTURE} lines"
    modules = _modules()
    graph = _graph()
    allowed = ("kerazoo.errors", "kerazoo.registry", "kerazoo.models.common", f"kerazoo.models.{name}.",
               "kerazoo.data.parallel")  # seq2seq's vectorizer config: tf.strings only when strings are tokenised
    for path in folder.glob("*.py"):
        text = ast.parse(path.read_text())
        tf = [n.lineno for n in ast.walk(text) if isinstance(n, (ast.Import, ast.ImportFrom))
              and any((a.name if isinstance(n, ast.Import) else n.module or "").startswith("tensorflow")
                      for a in n.names)]
        if path.stem in ("model", "decoding", "vectors", "scores"):  # the architecture and what it imports
            assert not tf, f"{path} imports TensorFlow (lines {tf}): the architecture runs on every backend"
    module = f"kerazoo.models.{name}.model"
    bad = sorted(m for m in graph[module] if m.startswith("kerazoo") and not m.startswith(allowed)
                 and m != f"kerazoo.models.{name}")
    assert not bad, f"{module} imports {bad}: an architecture file imports only errors, registry and models.common"
    assert {p.stem for p in folder.glob("*.py")} & set(ROLES) <= set(ROLES) and model.name in {
        p.name for p in folder.glob("*.py")}, modules


def test_architectures_import_without_tensorflow_on_jax():
    """Importing every family (its architecture) with Keras on JAX does not import TensorFlow."""
    pytest.importorskip("jax")
    code = ("import sys, importlib, kerazoo\n"
            f"for f in {FAMILIES!r}:\n    importlib.import_module('kerazoo.models.' + f)\n"
            "print(sorted(m for m in ('tensorflow',) if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "KERAS_BACKEND": "jax"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1].replace("'", '"')) == []


@pytest.mark.parametrize("family_name", FAMILIES)
def test_every_hook_like_function_is_declared(family_name):
    """A family function named like a hook must be the declared one: a typo or a forgotten `HOOKS`
    entry would otherwise be silently ignored by train, export and tune."""
    declared = family.hooks(family_name)
    for path in (ROOT / "models" / family_name).glob("*.py"):
        module = __import__(f"kerazoo.models.{family_name}.{path.stem}" if path.stem != "__init__"
                            else f"kerazoo.models.{family_name}", fromlist=["_"])
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__:
                continue
            hook_like = name in family.HOOK_NAMES or name.startswith(("recipe_", "tuning_", "serving_")) \
                or name.endswith(("_callbacks", "_monitor", "_endpoint"))
            if hook_like:
                assert name in family.HOOK_NAMES, f"{module.__name__}.{name} looks like a hook but FamilyHooks has " \
                                                  f"no {name!r}; rename it or add the hook to kerazoo.family"
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
            f"{family_name}.{name} takes {len(required)}-{len(params)} positional arguments; the hook is called "
            f"with {arity} (see kerazoo.family.FamilyHooks)")


def test_what_the_catalogue_reads_equals_what_the_families_register():
    """`list_models` reads the decorators without importing the families: it must agree with the import."""
    from kerazoo import registry

    read = registry._built_in()
    for name in read:
        registry.builder(name)
    registered = {n: e for n, e in registry._REGISTERED.items() if e.family in FAMILIES}
    assert set(read) == set(registered)
    for name, entry in read.items():
        got = registered[name]
        assert (entry.family, entry.task, entry.description, entry.reference) == \
            (got.family, got.task, got.description, got.reference), name
        assert entry.defaults == got.defaults, name
