"""Workarounds for third-party bugs, each with the upstream issue and the versions it applies to.

Delete an entry when the versions kerazoo supports no longer have the bug. Importing this module
imports nothing heavy; each function imports what it patches when called.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import io

__all__ = ["store_weights_once", "silence_kerastuner_debug_print", "tf2onnx_for_numpy2"]


def store_weights_once(archive) -> None:
    """Makes a `keras.export.ExportArchive` store every weight once; call it before `write_out`.

    Keras 3.15 writes each variable twice into a SavedModel (keras-team/keras#23553, fix pending in
    #23563; seen with Keras 3.10-3.15): `track()` keeps the `keras.Variable` wrappers, the endpoints
    capture the `tf.Variable`s inside them, and TensorFlow's checkpoint de-duplication sees two
    objects. Like that fix, this points the tracked collections at the `tf.Variable`s, halving the
    artifact (and the memory TF Serving holds) with the same signatures and variables. Harmless
    where the bug is fixed (the collections then already hold `tf.Variable`s).
    """
    for attr in ("variables", "trainable_variables", "non_trainable_variables"):
        tracked = getattr(archive._tf_trackable, attr, None)
        if tracked is not None:
            setattr(archive._tf_trackable, attr, [getattr(v, "value", v) for v in tracked])


@functools.cache
def silence_kerastuner_debug_print() -> None:
    """KerasTuner 1.4.8 left a `print` in `conditions.Parent.to_proto` (keras_tuner/src/engine/conditions.py;
    no upstream issue found as of 2026-11): every message between a distributed search's chief and
    workers printed the parents' values. Wraps it quietly, only where that print is present (so it
    does nothing on a release without it)."""
    from keras_tuner.src.engine import conditions

    original = conditions.Parent.to_proto
    if "print(" not in inspect.getsource(original):
        return

    @functools.wraps(original)
    def to_proto(self):
        with contextlib.redirect_stdout(io.StringIO()):
            return original(self)

    conditions.Parent.to_proto = to_proto


@functools.cache
def tf2onnx_for_numpy2() -> None:
    """tf2onnx 1.17 (the latest release) still uses NumPy aliases that NumPy removed (`np.object`; the
    same family as onnx/tensorflow-onnx#2317, `np.bool`) and constant folding that breaks under NumPy 2.
    Keras 3.15 carries a fix for its own ONNX export (`keras.src.export.tf2onnx_lib.patch_tf2onnx`,
    marked "remove once tf2onnx supports numpy 2"); this applies it before kerazoo converts with
    tf2onnx. A no-op under NumPy 1."""
    import numpy as np

    if np.__version__.startswith("1."):
        return
    try:
        from keras.src.export.tf2onnx_lib import patch_tf2onnx
    except ImportError:  # a Keras without the helper: at least the removed alias
        if not hasattr(np, "object"):
            np.object = object
        return
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # NumPy's warning about defining np.object
        patch_tf2onnx()
