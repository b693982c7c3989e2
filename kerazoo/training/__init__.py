"""Training by recipe: `train`, `evaluate`, and the per-task data preparation.

Importing this package imports neither TensorFlow nor Keras (`kerazoo.training.cli` is read at the
command line's start-up); `train`, `evaluate` and `TrainResult` load `kerazoo.training.run` on first use.
"""
__all__ = ["train", "evaluate", "TrainResult"]


def __getattr__(name):
    if name in __all__:
        from kerazoo.training import run

        return getattr(run, name)
    raise AttributeError(f"module 'kerazoo.training' has no attribute {name!r}")
