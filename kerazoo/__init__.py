"""kerazoo: a Keras 3 model zoo of classic architectures.

    >>> import kerazoo
    >>> kerazoo.list_models()
    >>> model = kerazoo.get("lenet5")

Importing kerazoo and listing models imports neither Keras nor TensorFlow; building a model imports Keras
with the backend the user chose (`KERAS_BACKEND`; TensorFlow when it is unset).
"""
import os

# Keras' backend is the user's: KERAS_BACKEND, else ~/.keras/keras.json, else Keras' default, TensorFlow.
# TensorFlow's C++ start-up chatter, unless asked for: a level the user set wins (the CLI reads this flag)
TF_LOG_LEVEL_SET_BY_USER = "TF_CPP_MIN_LOG_LEVEL" in os.environ
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerazoo.errors import (  # noqa: E402
    ArtifactError,
    ConfigError,
    DataError,
    DataNotFoundError,
    KerazooError,
    OutputError,
    UnknownModelError,
    UnknownWordError,
    WeightsError,
)
from kerazoo.loading import get, load_saved_model  # noqa: E402
from kerazoo.registry import describe, list_models, register_model  # noqa: E402

__version__ = "0.1.0"
__all__ = ["get", "list_models", "describe", "register_model", "load_saved_model", "train", "evaluate", "finetune",
           "export", "verify", "push", "pull", "predict", "tune", "hypermodel", "data", "KerazooError", "ConfigError",
           "UnknownModelError", "WeightsError", "ArtifactError", "DataError", "DataNotFoundError", "UnknownWordError",
           "OutputError", "__version__"]

_LAZY = {"train": "kerazoo.training.run", "evaluate": "kerazoo.training.run",
         "finetune": "kerazoo.training.finetune", "export": "kerazoo.exporting", "verify": "kerazoo.mirrors",
         "push": "kerazoo.mirrors", "pull": "kerazoo.mirrors", "predict": "kerazoo.predicting",
         "tune": "kerazoo.tuning", "hypermodel": "kerazoo.tuning"}


def __getattr__(name):  # heavy entry points load on first use, so `import kerazoo` stays instant
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name == "data":
        return importlib.import_module("kerazoo.data")
    raise AttributeError(f"module 'kerazoo' has no attribute {name!r}")
