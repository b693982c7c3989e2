"""Hyperparameter search with KerasTuner: a search space for every model, one-line searches,
chief/worker distributed tuning.

    >>> result = kerazoo.tune("lenet5", max_trials=20, epochs=3, data_dir="~/data")
    >>> kerazoo.train("lenet5", config=result.overlay_path)       # retrain with the best values

A model's search space is the `search_space:` block of `zoo_configs/<name>.yaml`; its grammar is
`kerazoo.tuning.space`'s docstring.

The objective defaults to the recipe's first metric on the validation data (`val_accuracy`),
or `val_loss` when the recipe has no metrics (`loss` without validation data). Models whose own
`train_step` needs no targets (recipe `loss: null`) tune the same way; name what their logs
contain (`objective: {name: val_reconstruction_loss, direction: min}`). A metric that `fit` does not
log (seq2seq's exact match, computed by decoding) comes from the family's
`FamilyHooks.metric_callbacks(data)`: they run first in every trial and may add entries to the
epoch logs (`logs["val_exact_match"] = ...`), which the objective can then name.

The search runs on the recipe's data (`kerazoo.training.tasks.prepare`), made afresh for every
trial with its sampled builder arguments (an IMDB model's vocabulary size, word2vec's window) and
batch size, or on data passed to `tune`.

A trial's score depends only on its values: every trial is seeded from the search seed and its
values (`trial_seed`), and starts from the same data order, so the same values score the same in a
serial search, after a resume and on any worker of a distributed search. A resume checks that
nothing that changes a trial's meaning changed (epochs, data, objective, recipe, space, ...); each
trial keeps its model (`trial_<id>/model.keras`), which `export_best` (`--export-best TAG`) makes an
artifact; `retrain_best` (`--retrain-best`) trains the best values by the full recipe; `prune=
"median"` (`--prune median`) stops trials worse than the median of the finished ones.

The package, one job per module: `space` and `specs` (the search-space grammar), `resolve`
(what a search trains: config, recipe, builder arguments, space), `zoo_hypermodel` (the
`keras_tuner.HyperModel` and the data its trials train on), `tuners` (KerasTuner's tuners as kerazoo
runs them: seeds, pruning, each trial's model kept), `search` (`tune`), `state` (the search record,
resume checks, unreadable state), `results` (table, `results.json`, `best.yaml`, plot), `best`
(exporting or retraining the best trial), `cluster` (chief/worker) and `cli` (`kerazoo tune`).

Importing this package does not import TensorFlow (the `kerazoo` command imports it at start-up);
searching does, and so do `hypermodel`, `sample_hyperparameters` and `ZooHyperModel`, which load on
first use.
"""
from __future__ import annotations

import importlib

from kerazoo.errors import ChiefUnreachableError, TuningError
from kerazoo.tuning.best import export_best, retrain_best
from kerazoo.tuning.cli import add_tune_command, main
from kerazoo.tuning.cluster import parse_address
from kerazoo.tuning.resolve import SearchSetup, load_search_space, resolve_search
from kerazoo.tuning.results import TuneResult, plot_search, results_table
from kerazoo.tuning.search import TUNERS, tune
from kerazoo.tuning.space import (TUNABLE_RECIPE_FIELDS, SearchSpace, check_search_space, parse_objective,
                                  parse_search_space, trial_seed)
from kerazoo.tuning.specs import Param

__all__ = ["SearchSpace", "Param", "parse_search_space", "check_search_space", "parse_objective", "load_search_space",
           "resolve_search", "SearchSetup", "hypermodel", "sample_hyperparameters", "ZooHyperModel", "tune",
           "TuneResult", "results_table", "plot_search", "TuningError", "ChiefUnreachableError", "TUNERS",
           "TUNABLE_RECIPE_FIELDS", "add_tune_command", "parse_address", "main", "export_best", "retrain_best",
           "trial_seed"]

_LAZY = {"hypermodel": "kerazoo.tuning.zoo_hypermodel", "sample_hyperparameters": "kerazoo.tuning.zoo_hypermodel",
         "ZooHyperModel": "kerazoo.tuning.zoo_hypermodel"}


def __getattr__(name):  # these import KerasTuner (and TensorFlow): loaded on first use
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
