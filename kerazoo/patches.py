"""Workarounds for third-party bugs, each with the upstream issue and the versions it applies to.

Delete an entry when the versions kerazoo supports no longer have the bug. Importing this module
imports nothing heavy; each function imports what it patches when called.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import io
import json
import logging
import os

__all__ = ["store_weights_once", "silence_kerastuner_debug_print", "atomic_kerastuner_state",
           "resumable_grid_search", "quiet_new_model_retracing_warning", "tf2onnx_for_numpy2"]


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
def atomic_kerastuner_state() -> None:
    """KerasTuner 1.4.8 writes its state files (`oracle.json`, `trial_*/trial.json`, `<tuner id>.json`)
    in place (`keras_tuner.src.utils.save_json`; no upstream issue found as of 2026-11, closest
    keras-team/keras-tuner#987): a kill during a write, e.g. of `trial.json` at the end of an epoch,
    leaves a torn file and the search can never be resumed. Wraps it to write local files through a
    temporary file and one rename, so a kill leaves the old file or the new one (other filesystems,
    `gs://...`, are written as before)."""
    from keras_tuner.src import utils

    original = utils.save_json
    if getattr(original, "atomic", False):
        return

    @functools.wraps(original)
    def save_json(path, obj):
        if "://" in str(path):
            return original(path, obj)
        text = json.dumps(obj)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
        return text

    save_json.atomic = True
    utils.save_json = save_json


@functools.cache
def resumable_grid_search() -> None:
    """KerasTuner 1.4.8's `GridSearchOracle` does not save where it is in the grid (`_ordered_ids`,
    `_populate_next`): a grid search resumed in a new process fails at its first finished trial with
    `KeyError` in `LinkedList.next`, every time (keras-team/keras-tuner#1055, open as of 2026-11).
    Saves both with the oracle's state and restores them (a state saved without them: the grid order
    of the trials' values, every finished trial to continue from). Does nothing where the class saves
    its own state."""
    from keras_tuner.src.engine import oracle as oracle_module
    from keras_tuner.src.tuners import gridsearch

    cls = gridsearch.GridSearchOracle
    if "get_state" in vars(cls):
        return

    def get_state(self):
        order, links = [], self._ordered_ids
        index = links._next_index[None]
        while index is not None:
            order.append(links._memory[index])
            index = links._next_index[index]
        return {**oracle_module.Oracle.get_state(self), "grid_order": order,
                "grid_populate_next": list(self._populate_next)}

    def set_state(self, state):
        oracle_module.Oracle.set_state(self, state)
        order = state.get("grid_order")
        if order is None:
            values = {trial_id: self.trials[trial_id].hyperparameters.values for trial_id in self.start_order}
            order = sorted(values, key=functools.cmp_to_key(lambda a, b: self._compare(values[a], values[b])))
        self._ordered_ids = gridsearch.LinkedList()
        for trial_id in order:
            self._ordered_ids.insert(trial_id)
        self._populate_next = list(state.get("grid_populate_next", self.end_order))

    cls.get_state, cls.set_state = get_state, set_state


class _NotRetracing(logging.Filter):
    def filter(self, record) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


@functools.cache
def quiet_new_model_retracing_warning() -> None:
    """TensorFlow (seen with 2.3-2.21) warns "5 out of the last 5 calls to <function ...> triggered
    tf.function retracing" when new models are trained in a row (tensorflow/tensorflow#42441, tracked
    in #43555): every search trial builds a model whose train function is new and traced once, which
    the heuristic counts as retracing, although nothing is retraced. Filters that one message from the
    `tensorflow` logger (other warnings pass)."""
    logging.getLogger("tensorflow").addFilter(_NotRetracing())


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
