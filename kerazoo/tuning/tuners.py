"""KerasTuner's tuners as kerazoo runs them. Each tuner checks that the trials log the objective,
stops bad trials early when asked (`MedianStopping`), seeds every execution of a trial from the
search seed and the trial's values, keeps each trial's model (`trial_<id>/model.keras` with a
`run.json`, so `kerazoo export` takes a trial folder) and records the trials its process ran. The
console numbers trials by their id, as the table, the plot and the trial folders do.

Every epoch's logs go to the oracle as the epoch ends (`EpochReport`; KerasTuner 1.4 itself reports
the best epoch once, at the end): the trial records hold each epoch's objective, which the median
rule compares, and the epochs each trial ran.

Imports KerasTuner (and TensorFlow).
"""
from __future__ import annotations

import contextlib
import functools
import math
import time
from datetime import datetime
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
from keras_tuner.src import backend as kt_backend
from keras_tuner.src import utils as kt_utils
from keras_tuner.src.engine import oracle as oracle_module
from keras_tuner.src.engine import tuner_utils
from keras_tuner.src.engine.tuner import maybe_distribute

from kerazoo.patches import (atomic_kerastuner_state, quiet_new_model_retracing_warning, resumable_grid_search,
                             silence_kerastuner_debug_print)
from kerazoo.tuning.results import PRUNED_METRIC, epochs_run, trial_status
from kerazoo.tuning.specs import plain
from kerazoo.tuning.state import UnreadableState, write_json

__all__ = ["ObjectiveCheck", "MedianStopping", "EpochReport", "TrialDisplay", "tuner_class"]


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


class MedianStopping(keras.callbacks.Callback):
    """The median stopping rule: stops a trial whose objective at epoch k is worse than the median of the
    finished trials' objective at epoch k, once at least `min_trials` finished trials reached epoch k.

    The trial ends as a completed trial scored on the epochs it ran, its logs marked with
    `PRUNED_METRIC` (the epochs it ran), so every process (a chief included) sees it was pruned.
    """

    def __init__(self, oracle, trial_id: str, min_trials: int):
        super().__init__()
        self.oracle, self.trial_id, self.min_trials = oracle, trial_id, min_trials

    def __deepcopy__(self, memo):  # KerasTuner copies callbacks per execution; the oracle is shared
        return MedianStopping(self.oracle, self.trial_id, self.min_trials)

    def on_epoch_end(self, epoch, logs=None):
        objective = self.oracle.objective
        value = (logs or {}).get(objective.name)
        if value is None or epoch + 1 >= self.params.get("epochs", math.inf):
            return
        finished = [t for t in self.oracle.get_best_trials(10 ** 6)
                    if t.status == "COMPLETED" and t.trial_id != self.trial_id and t.metrics.exists(objective.name)]
        at_epoch = [obs.mean() for t in finished for obs in t.metrics.get_history(objective.name) if obs.step == epoch]
        if len(at_epoch) < self.min_trials:
            return
        median = float(np.median(at_epoch))
        if value < median if objective.direction == "max" else value > median:
            logs[PRUNED_METRIC] = float(epoch + 1)
            self.model.stop_training = True


class EpochReport(keras.callbacks.Callback):
    """Reports every epoch's logs to the oracle (KerasTuner 1.4 reports only the best epoch, at the end), so
    the trial records carry each epoch's objective: what the median rule compares and the epochs run."""

    def __init__(self, oracle, trial_id: str):
        super().__init__()
        self.oracle, self.trial_id = oracle, trial_id

    def __deepcopy__(self, memo):  # KerasTuner copies callbacks per execution; the oracle is shared
        return EpochReport(self.oracle, self.trial_id)

    def on_epoch_end(self, epoch, logs=None):
        self.oracle.update_trial(self.trial_id, {k: float(v) for k, v in (logs or {}).items()}, step=epoch)


class TrialDisplay(oracle_module.Display):
    """KerasTuner's console lines, with trials named by their id (as the trial folders, the results table
    and the plot name them) instead of a running count."""

    def on_trial_begin(self, trial):
        if self.verbose < 1:
            return
        now = datetime.now()
        self.trial_start[trial.trial_id] = now
        self.search_start = self.search_start or now
        self.trial_number[trial.trial_id] = trial.trial_id
        continues = trial.hyperparameters.values.get("tuner/trial_id")
        print(f"\nSearch: running trial {trial.trial_id}" + (f" (continues trial {continues})" if continues else ""))
        self.show_hyperparameter_table(trial)
        print()

    def on_trial_end(self, trial):
        if self.verbose < 1:
            return
        started = self.trial_start.get(trial.trial_id)
        took = f" [{self.format_duration(datetime.now() - started)}]" if started else ""
        print(f"Trial {trial.trial_id} {trial_status(trial)}{took}"
              + (f": {self.oracle.objective.name}={trial.score:.6g}" if trial.score is not None else ""))
        best = self.oracle.get_best_trials()
        if best and best[0].score is not None:
            print(f"Best {self.oracle.objective.name} so far: {best[0].score:.6g} (trial {best[0].trial_id})")


class _Kerazoo:
    """Mixed into each KerasTuner tuner (see the module docstring)."""

    def __init__(self, *args, has_val: bool = True, prune_min_trials: int | None = None, record: dict | None = None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.has_val, self.prune_min_trials, self.record = has_val, prune_min_trials, record or {}
        self.ran: list = []
        self._started = self._model = None
        self._executions = 0
        if isinstance(self.oracle, oracle_module.Oracle):  # the chief's or a single machine's oracle: it prints
            display = TrialDisplay(self.oracle, verbose=self.oracle.verbose)
            display.set_state(self.oracle._display.get_state())
            self.oracle._display = display

    def reload(self):
        """KerasTuner's; state it cannot load (JSON of another shape: a hand edit, another version) is an
        `UnreadableState`, on which the search sets the directory aside and starts over."""
        try:
            super().reload()
        except (KeyError, TypeError, AttributeError, ValueError, IndexError, RuntimeError) as e:
            raise UnreadableState(f"its KerasTuner state cannot be loaded ({type(e).__name__}: {e})") from e

    def run_trial(self, trial, *args, **kwargs):
        extra = [ObjectiveCheck(self.oracle.objective.name, self.hypermodel.model_name, self.has_val)]
        if self.prune_min_trials is not None:
            extra.append(MedianStopping(self.oracle, trial.trial_id, self.prune_min_trials))
        extra.append(EpochReport(self.oracle, trial.trial_id))  # last: the logs are complete
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), *extra]
        self._executions, started = 0, time.time()
        histories = super().run_trial(trial, *args, **kwargs)
        self._keep(trial, histories, time.time() - started)
        return histories

    def _build_hypermodel(self, hp):
        """KerasTuner's; a Hyperband round continuing a trial also gets that trial's optimizer state (Keras'
        `load_weights` skips it, with a warning, when the optimizer is not built yet)."""
        continues = hp.values.get("tuner/trial_id")
        if continues is None or not isinstance(self, kt.Hyperband):
            return super()._build_hypermodel(hp)
        model = kt.Tuner._build_hypermodel(self, hp)  # built and compiled, without Hyperband's weight loading
        with maybe_distribute(self.distribution_strategy):
            model.build_from_config(kt_utils.load_json(self._get_build_config_fname(continues)))
            if model.optimizer is not None:
                model.optimizer.build(model.trainable_variables)
            model.load_weights(self._get_checkpoint_fname(continues))
        return model

    def _run_and_update_trial(self, trial, *fit_args, **fit_kwargs):
        """KerasTuner's, but the epochs were reported as they ended (`EpochReport`): the score is the best
        epoch's (the mean over executions), reported once more only if no epoch was."""
        results = self.run_trial(trial, *fit_args, **fit_kwargs)
        objective = self.oracle.objective
        if not self.oracle.get_trial(trial.trial_id).metrics.exists(objective.name):
            tuner_utils.validate_trial_results(results, objective, "Tuner.run_trial()")
            self.oracle.update_trial(trial.trial_id, tuner_utils.convert_to_metrics_dict(results, objective),
                                     step=tuner_utils.get_best_step(results, objective))

    def _build_and_fit_model(self, trial, *args, **kwargs):
        """KerasTuner's, with every execution seeded from the search seed, the trial's values and its
        number; keeps the model for `_keep`."""
        hp = trial.hyperparameters
        with self.hypermodel.executing(self._executions):
            model = self._try_build(hp)
            results = self.hypermodel.fit(hp, model, *args, **kwargs)
        self._executions += 1
        self._model = model
        if kt_backend.config.multi_backend():  # as KerasTuner's: a Hyperband round rebuilds the model from it
            kt_utils.save_json(self._get_build_config_fname(trial.trial_id), model.get_build_config())
        tuner_utils.validate_trial_results(results, self.oracle.objective, "HyperModel.fit()")
        return results

    def _keep(self, trial, histories, seconds: float) -> None:
        """The trial's model at its best epoch (what its score measured) as `model.keras` in its folder, in
        the form it ships (a text model takes strings), and a `run.json` describing it for `kerazoo export`."""
        folder = Path(self.get_trial_dir(trial.trial_id))
        model, self._model = self._model, None
        checkpoint = Path(self._get_checkpoint_fname(trial.trial_id))
        if checkpoint.exists():
            model.load_weights(str(checkpoint))
        tmp = folder / f".model.{trial.trial_id}.keras"
        self.hypermodel.shipped_form(model).save(tmp)
        tmp.replace(folder / "model.keras")
        objective = self.oracle.objective
        epochs = [{k: v[i] for k, v in h.history.items() if len(v) == len(h.epoch)} for h in histories
                  for i in range(len(h.epoch))]  # every execution's epochs (the pruning mark is logged once)
        scored = [e for e in epochs if objective.name in e] or epochs
        pick = max if objective.direction == "max" else min
        best = pick(scored, key=lambda e: e.get(objective.name, 0.0)) if scored else {}
        run = self.hypermodel.run_record(trial.hyperparameters, seconds=seconds,
                                         metrics={k: float(v) for k, v in best.items()},
                                         epochs_run=max((h.epoch[-1] + 1 for h in histories if h.epoch), default=0))
        write_json(folder / "run.json", run)

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._started = time.time()

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        done = self.oracle.get_trial(trial.trial_id)
        entry = {"trial_id": done.trial_id, "status": trial_status(done), "score": plain(done.score),
                 "epochs_run": epochs_run(done), "started": self._started, "ended": time.time(),
                 "hyperparameters": dict(done.hyperparameters.values)}
        self.ran.append(entry)
        folder = Path(self.get_trial_dir(done.trial_id))
        if (folder / "model.keras").exists():  # what the card of an export of this trial records
            write_json(folder / "search.json", {**self.hypermodel.trial_record(done.hyperparameters),
                                                "trial_id": done.trial_id, "status": entry["status"],
                                                "score": entry["score"], "epochs_run": entry["epochs_run"],
                                                "objective": {"name": self.oracle.objective.name,
                                                              "direction": self.oracle.objective.direction},
                                                "directory": str(Path(self.project_dir).resolve()),
                                                "search": self.record})

    def _try_run_and_update_trial(self, trial, *args, **kwargs):
        try:
            return super()._try_run_and_update_trial(trial, *args, **kwargs)
        except kt.errors.FatalError as e:  # tell the (possibly remote) oracle before stopping
            trial.status, trial.message = "FAILED", str(e)
            with contextlib.suppress(Exception):
                self.oracle.end_trial(trial)
            raise


@functools.cache
def tuner_class(name: str) -> type:
    """kerazoo's version of KerasTuner's tuner class `name` (e.g. "RandomSearch"): a subclass of it."""
    silence_kerastuner_debug_print()
    atomic_kerastuner_state()
    resumable_grid_search()
    quiet_new_model_retracing_warning()
    return type(f"Kerazoo{name}", (_Kerazoo, getattr(kt, name)), {})
