import os
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_BACKEND"] = "tensorflow"
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


@pytest.fixture(autouse=True)
def _clear_keras_session():
    yield
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
