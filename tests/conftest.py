import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The suite runs on TensorFlow unless KERAS_BACKEND names another backend; then only the tests marked
# `backends` run (CI's second pass: KERAS_BACKEND=jax pytest -m backends), the others are skipped saying why.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
BACKEND = os.environ["KERAS_BACKEND"]
# Exports of the tests go to a throwaway user store, never into ~/.kerazoo/models (tests that need their own
# store set KERAZOO_MODELS themselves).
os.environ["KERAZOO_MODELS"] = tempfile.mkdtemp(prefix="kerazoo-test-models-")

SHARED_DATA = Path(os.environ.get("KERAZOO_SHARED_DATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data sets beside the checkout (../shared/data); tests skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (set KERAZOO_SHARED_DATA)")
    return SHARED_DATA


def shipped_lenet5() -> Path:
    """The shipped lenet5.mnist artifact folder (the package's saved_models/)."""
    from kerazoo import artifacts

    return artifacts.shipped_dir() / "lenet5.mnist"


def copy_shipped(store: Path, name: str = "lenet5.mine", **card_fields) -> Path:
    """A copy of the shipped lenet5.mnist as artifact `name` in `store`, as `kerazoo export` leaves it: its card
    renamed, updated with `card_fields` and stamped by card.sha256. (Tests import it: `from conftest import ...`.)"""
    from kerazoo import artifacts

    folder = store / name
    shutil.copytree(shipped_lenet5(), folder)
    card = json.loads((folder / "card.json").read_text())
    card.update(name=name, tag=name.split(".")[1], **card_fields)
    (folder / "card.json").write_text(json.dumps(card, indent=2))
    (folder / "card.sha256").write_text(artifacts.sha256(folder / "card.json") + "  card.json\n")
    return folder


@pytest.fixture
def store(tmp_path, monkeypatch):
    """An empty user store, `tmp_path/store`, made KERAZOO_MODELS."""
    monkeypatch.setenv("KERAZOO_MODELS", str(tmp_path / "store"))
    (tmp_path / "store").mkdir()
    return tmp_path / "store"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny `kerazoo train` run directory (model.keras + run.json) made from the shipped LeNet-5."""
    run = tmp_path_factory.mktemp("run")
    card = json.loads((shipped_lenet5() / "card.json").read_text())
    shutil.copy(shipped_lenet5() / "model.keras", run / "model.keras")
    (run / "run.json").write_text(json.dumps({**card, "name": "lenet5"}))
    return run


@pytest.fixture(autouse=True)
def _clear_keras_session():
    yield
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()


def pytest_collection_modifyitems(config, items):
    """On a backend other than TensorFlow, only `backends` tests run; on torch, only where torch is installed."""
    if BACKEND == "tensorflow":
        return
    if BACKEND == "torch" and importlib.util.find_spec("torch") is None:
        reason = "KERAS_BACKEND=torch but torch is not installed (pip install torch)"
        for item in items:
            item.add_marker(pytest.mark.skip(reason=reason))
        return
    only_tf = pytest.mark.skip(reason=f"TensorFlow-only test (KERAS_BACKEND={BACKEND}; tests marked `backends` run "
                                      "on every backend)")
    for item in items:
        if item.get_closest_marker("backends") is None:
            item.add_marker(only_tf)
