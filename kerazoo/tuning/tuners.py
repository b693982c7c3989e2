"""KerasTuner's tuners as kerazoo runs them: each checks that the trials log the objective and records
the trials its process ran.

Imports KerasTuner (and TensorFlow).
"""
from __future__ import annotations

import contextlib
import functools
import time

import keras
import keras_tuner as kt

from kerazoo.patches import silence_kerastuner_debug_print
from kerazoo.tuning.specs import plain

__all__ = ["ObjectiveCheck", "tuner_class"]


class ObjectiveCheck(keras.callbacks.Callback):
    """Stops the search at the first epoch whose logs lack the objective, naming what they have."""

    def __init__(self, objective: str, model_name: str, has_val: bool):
        super().__init__()
        self.objective, self.model_name, self.has_val = objective, model_name, has_val

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.objective not in logs:
            hint = (" There is no validation data, so no val_ metrics: pass some or name a training metric."
                    if self.objective.startswith("val_") and not self.has_val else "")
            raise kt.errors.FatalValueError(
                f"The search objective {self.objective!r} is not produced by {self.model_name}: its logs "
                f"have {', '.join(sorted(logs)) or 'nothing'}.{hint} Set `objective:` in the search_space "
                f"of zoo_configs/{self.model_name}.yaml or pass objective= to kerazoo.tune.")


class _Recording:
    """Mixed into each KerasTuner tuner: checks the objective, records the trials this process ran."""

    def __init__(self, *args, has_val: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.has_val, self.ran, self._started = has_val, [], None

    def run_trial(self, trial, *args, **kwargs):
        check = ObjectiveCheck(self.oracle.objective.name, self.hypermodel.model_name, self.has_val)
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), check]
        return super().run_trial(trial, *args, **kwargs)

    def _try_run_and_update_trial(self, trial, *args, **kwargs):
        try:
            return super()._try_run_and_update_trial(trial, *args, **kwargs)
        except kt.errors.FatalError as e:  # tell the (possibly remote) oracle before stopping
            trial.status, trial.message = "FAILED", str(e)
            with contextlib.suppress(Exception):
                self.oracle.end_trial(trial)
            raise

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._started = time.time()

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        done = self.oracle.get_trial(trial.trial_id)
        self.ran.append({"trial_id": done.trial_id, "status": str(done.status), "score": plain(done.score),
                         "started": self._started, "ended": time.time(),
                         "hyperparameters": dict(done.hyperparameters.values)})


@functools.cache
def tuner_class(name: str) -> type:
    """kerazoo's version of KerasTuner's tuner class `name` (e.g. "RandomSearch"): a subclass of it."""
    silence_kerastuner_debug_print()
    return type(f"Kerazoo{name}", (_Recording, getattr(kt, name)), {})
