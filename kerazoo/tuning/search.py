"""`kerazoo.tune`: a catalogue model's hyperparameter search with KerasTuner, on one machine or as the
chief or a worker of a distributed search; resumable.

Importing this module imports neither TensorFlow nor Keras; searching does.
"""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Mapping, Sequence

from kerazoo import distribute
from kerazoo.errors import ChiefUnreachableError, StrategyError, TuningError
from kerazoo.recipe import infer_direction
from kerazoo.rundir import check_writable
from kerazoo.tuning import cluster, state
from kerazoo.tuning.resolve import resolve_search
from kerazoo.tuning.results import TuneResult, report
from kerazoo.tuning.space import parse_objective
from kerazoo.tuning.specs import plain

__all__ = ["TUNERS", "tune"]

TUNERS = {"random": "RandomSearch", "bayesian": "BayesianOptimization", "hyperband": "Hyperband",
          "grid": "GridSearch"}  # kerazoo's name -> KerasTuner's tuner class


def tune(name: str, *, tuner: str = "random", max_trials: int | None = 10, epochs: int | None = None, data=None,
         data_dir=None, directory: str | Path = "kerazoo_tuning", project_name: str | None = None,
         overwrite: bool = False, executions_per_trial: int = 1, objective=None, search_space: Mapping | None = None,
         model_overrides: Mapping | None = None, recipe_overrides: Mapping | None = None,
         train_size: int | None = None, config=None, seed: int | None = None,
         tuner_options: Mapping | None = None, prune: str | None = None, prune_min_trials: int = 3,
         chief: str | None = None, worker: str | int | None = None, chief_timeout: float = 60.0,
         callbacks: Sequence = (), tensorboard: bool = True, verbose: int = 1, strategy=None) -> TuneResult:
    """Searches a catalogue model's hyperparameters with KerasTuner.

    Runs on one machine, or as the chief (the oracle, `chief=HOST:PORT`) or a worker
    (`chief=HOST:PORT, worker=ID`) of a distributed search; launchers may set the
    `KERASTUNER_TUNER_ID` / `KERASTUNER_ORACLE_IP` / `KERASTUNER_ORACLE_PORT` variables instead.
    Running again into the same project directory resumes the search (completed trials are
    kept, an interrupted one is run again); `overwrite=True` starts over. A resume with anything
    that changes what a trial's score means (epochs, data, objective, recipe, builder arguments,
    search space, seed, tuner options, pruning) is refused, naming it.

    A trial's score depends only on its values: each is seeded from `seed` and its values, and
    starts from the same data order, so the same values score the same in a serial search, after
    a resume and on any worker. Each trial keeps its model (`trial_<id>/model.keras`, its best
    epoch, with a `run.json`): `export_best(result, TAG)` (or `kerazoo export` of the folder)
    makes it an artifact; `retrain_best(result)` trains the best values by the full recipe.

    Args:
      name: registered model name.
      tuner: "random", "bayesian", "hyperband" (`max_trials` is ignored, `epochs` is its
        `max_epochs`) or "grid".
      max_trials: number of trials (None with "grid": the whole grid).
      epochs: epochs per trial (default: the recipe's).
      data: None for the recipe's data set (`data_dir` says where its files are), or a
        `tf.data.Dataset`, `(x, y)` arrays (the recipe's `validation_split`, or 10 % if it is 0,
        is held out), `x` alone (an autoencoder reconstructs it; DCGAN and word2vec need no targets),
        `{"train": ..., "val": ...}` or a `TaskData`.
      data_dir: directory with the data set files (see `kerazoo.data`).
      directory: parent of the project directory `<directory>/<project_name>`.
      project_name: default: the model name.
      overwrite: delete an earlier search in the project directory instead of resuming it.
      executions_per_trial: models trained (and averaged) per trial.
      objective: metric name (`"val_loss"`, `"val_loss:min"`) or `(name, "min"|"max")`; default: the
        search space's `objective:`, else the recipe's first metric on validation data.
      search_space: a `search_space:` block to use instead of the config's (and the overlay's).
      model_overrides: fixed builder values on top of the config's (kept in the best overlay); a
        searched one is no longer searched (`kerazoo tune --set`).
      recipe_overrides: fixed recipe fields (`{"batch_size": 128}`, `kerazoo tune --set batch_size=128`):
        a searched one is no longer searched; kept in the best overlay.
      train_size: search on this many training examples (drawn by the search seed; the validation split
        is kept whole): `kerazoo.data.load`'s `train_size`.
      config: a config overlay (YAML path or dict) the search starts from, as `kerazoo.train`'s:
        `model:`/`recipe:` blocks, and a `search_space:` block replacing the config's.
      seed: the search seed: the oracle's, and every trial's seeds derive from it and the trial's
        values (default: the recipe's).
      tuner_options: the tuner's own options: `num_initial_points` (the Bayesian search's random
        warm-up, by default 3 x the hyperparameters), `alpha`, `beta` (bayesian); `factor`,
        `hyperband_iterations` (hyperband).
      prune: "median" stops a trial whose objective at epoch k is worse than the median of the
        finished trials' at epoch k (random, bayesian, grid); None runs every trial to the end.
      prune_min_trials: finished trials that must have reached epoch k before the rule prunes there.
      chief: "HOST:PORT" of the chief. Alone: this process is the chief (serves the oracle, trains
        nothing, returns when the workers are done). With `worker`: join that chief.
      worker: this worker's ID (`KERASTUNER_TUNER_ID=tuner<ID>`).
      chief_timeout: seconds a worker waits for the chief to answer before giving up.
      callbacks: extra Keras callbacks for every trial.
      tensorboard: write TensorBoard logs with the HParams dashboard to `<project>/logs`.
      verbose: 0 silent, 1 KerasTuner's progress and a line per epoch.
      strategy: None (TensorFlow's default), a kind of `kerazoo.distribute.strategy` (`auto`, `cpu`,
        `gpu`, `mirrored`, `tpu`) or a `tf.distribute.Strategy` every trial trains under (KerasTuner's
        `distribution_strategy`: each trial's model is built in its scope; recipe batch sizes are per
        replica). Not `multiworker`: the chief/worker mode above spreads a search over machines.

    Returns:
      A `TuneResult`; on the chief or a single machine also writes `best.yaml` (a config
      overlay for `kerazoo train NAME --config best.yaml`), `results.json` and `search.png` to
      the project directory and prints the results table.

    Example:
      >>> result = kerazoo.tune("lenet5", max_trials=10, epochs=3, data_dir="~/data")
      >>> result.best_hyperparameters
      {'learning_rate': 0.0021, 'batch_size': 64, ...}
    """
    if tuner not in TUNERS:
        raise TuningError(f"Unknown tuner {tuner!r}. Accepted: {', '.join(TUNERS)}.")
    tuner_options = _check_tuner_options(tuner, tuner_options)
    prune_min_trials = _check_prune(tuner, prune, prune_min_trials)
    try:
        distribute.refuse_multiworker(strategy, "tune", instead=(
            "KerasTuner's chief/worker mode spreads a search over machines (chief=HOST:PORT, worker=ID; "
            "--chief/--worker), each worker training its trials under a one-machine strategy."))
    except StrategyError as e:
        raise TuningError(str(e)) from None
    role, address, tuner_id = cluster.role_of(chief, worker)
    # first: some strategies need TensorFlow uninitialised; the chief trains nothing
    strategy = distribute.as_strategy(strategy, what="tune strategy") if role != "chief" else None
    setup = resolve_search(name, search_space=search_space, config=config, model_overrides=model_overrides,
                           train_size=train_size, **dict(recipe_overrides or {}))
    if not setup.space:
        raise TuningError(f"{name} has nothing to search: its search_space is empty (zoo_configs/{name}.yaml), or "
                          f"every parameter is fixed. Add parameters there, in a --config overlay's search_space:, "
                          f"or pass search_space=.")
    seed = setup.recipe.seed if seed is None else int(seed)
    project = check_writable(Path(directory) / (project_name or name), "--directory")  # before anything heavy
    if role == "worker":
        cluster.wait_for_chief(address, chief_timeout)
        overwrite = False  # only the chief may clear a (possibly shared) project directory

    import keras
    import keras_tuner as kt

    from kerazoo.tuning.tuners import tuner_class
    from kerazoo.tuning.zoo_hypermodel import ZooHyperModel, search_data

    trial_data = None if role == "chief" else search_data(setup, data, data_dir=data_dir, seed=seed,
                                                          strategy=strategy)
    has_val = trial_data.has_val if trial_data is not None else True
    hm = ZooHyperModel(setup, data=trial_data, epochs=epochs, verbose=2 if verbose else 0, strategy=strategy,
                       work_dir=project / "pretraining", seed=seed)  # the family's pretraining records go there
    goal = (parse_objective(objective, "objective") or setup.space.objective or _default_objective(setup, has_val))
    record = {"name": name, "tuner": tuner, "objective": list(goal), "search_space": plain(setup.space.raw),
              "epochs": int(epochs or setup.recipe.epochs), "model": plain(setup.kwargs),
              "recipe": plain(dataclasses.asdict(setup.recipe)), "data": _data_record(data, trial_data, setup, data_dir),
              "seed": seed, "executions_per_trial": executions_per_trial, "tuner_options": plain(tuner_options),
              "prune": {"rule": prune, "min_trials": prune_min_trials} if prune else None}
    if role != "worker" and not overwrite:
        state.recover(project)  # state files that cannot be read: moved aside, the search starts over
        state.check_resume(project, record)

    options = {"hypermodel": hm, "objective": kt.Objective(*goal), "seed": seed, "directory": str(directory),
               "project_name": project_name or name, "overwrite": overwrite, "executions_per_trial":
               executions_per_trial, "has_val": has_val, "distribution_strategy": strategy, "record": record,
               "prune_min_trials": prune_min_trials if prune else None, **tuner_options}
    if tuner == "hyperband":
        options["max_epochs"] = record["epochs"]
    else:
        options["max_trials"] = max_trials
    with cluster.kerastuner_env(role, address, tuner_id):
        try:
            try:
                search = tuner_class(TUNERS[tuner])(**options)
            except state.UnreadableState as e:  # JSON of a shape KerasTuner cannot load: set aside, start over
                if role == "worker":
                    raise TuningError(f"{project}: {e}") from None
                state.set_aside(project, str(e))
                search = tuner_class(TUNERS[tuner])(**options)
        except kt.errors.FailedTrialError as e:
            raise TuningError(f"The search space of {name} cannot be sampled: {e}") from None
        notes = [] if role == "worker" else _notes(tuner, search.oracle, max_trials, tuner_options)
        if role != "worker":
            state.write_json(project / state.RECORD, record)
        if role == "chief":
            search.oracle.verbose = verbose
            search.save()  # as KerasTuner's own chief does: a restarted chief reloads it
            cluster.serve_oracle(search.oracle, address)
        else:
            if role == "worker":
                cluster.check_same_space(search, address)
            extra = [keras.callbacks.TensorBoard(str(project / "logs"))] if tensorboard else []
            try:
                search.search(callbacks=[*extra, *callbacks], verbose=verbose)
            except Exception as e:
                if role == "worker" and type(e).__module__.startswith("grpc"):
                    raise ChiefUnreachableError(f"Lost the KerasTuner chief at {address}: {e}") from e
                raise
    result = TuneResult(name=name, tuner=tuner, objective=goal[0], direction=goal[1], directory=project, role=role,
                        trials=[], ran=[t["trial_id"] for t in search.ran], tuner_object=search, record=record,
                        notes=notes)
    if role == "worker":
        result.trials = [{**t, "values": setup.space.flat(*setup.space.values_of(t.pop("hyperparameters")))}
                         for t in search.ran]
        state.write_json(project / f"worker_{tuner_id}.json",
                         {"tuner_id": tuner_id, "chief": address, "trials": result.trials})
        if verbose:
            print(f"{tuner_id} ran trials {', '.join(result.ran) or 'none'} for the chief at {address}")
        return result
    report(result, search.oracle, setup, verbose)
    return result


def _default_objective(setup, has_val: bool) -> tuple[str, str]:
    metric = setup.recipe.metrics[0] if setup.recipe.metrics else "loss"
    name = f"val_{metric}" if has_val else metric
    return name, infer_direction(name) or "max"


_TUNER_OPTIONS = {"random": {}, "grid": {}, "bayesian": {"num_initial_points": int, "alpha": float, "beta": float},
                  "hyperband": {"factor": int, "hyperband_iterations": int}}


def _check_tuner_options(tuner: str, options: Mapping | None) -> dict:
    accepted = _TUNER_OPTIONS[tuner]
    out = {}
    for key, value in dict(options or {}).items():
        if key not in accepted:
            raise TuningError(f"tuner_options: {key!r} is not an option of the {tuner} search. Accepted: "
                              f"{', '.join(accepted) or 'none'} (bayesian: num_initial_points, alpha, beta; "
                              f"hyperband: factor, hyperband_iterations).")
        kind, smallest = accepted[key], {"factor": 2}.get(key, 1)
        number = isinstance(value, int) if kind is int else isinstance(value, (int, float))
        if isinstance(value, bool) or not number or (value < smallest if kind is int else not value > 0):
            need = f"an int >= {smallest}" if kind is int else "a number > 0"
            raise TuningError(f"tuner_options: {key} must be {need}. Received: {value!r}")
        out[key] = value
    return out


def _check_prune(tuner: str, prune, min_trials) -> int:
    if prune is None:
        return min_trials
    if prune != "median":
        raise TuningError(f"prune: {prune!r} is not a pruning rule. Accepted: 'median' (or None: no pruning).")
    if tuner == "hyperband":
        raise TuningError("prune: Hyperband stops trials itself (successive halving); the median rule is for the "
                          "random, bayesian and grid searches.")
    if isinstance(min_trials, bool) or not isinstance(min_trials, int) or min_trials < 1:
        raise TuningError(f"prune_min_trials must be an int >= 1. Received: {min_trials!r}")
    return min_trials


def _notes(tuner: str, oracle, max_trials, options: dict) -> list[str]:
    """What the user should know about this search before trusting it."""
    if tuner != "bayesian" or max_trials is None:
        return []
    dims = len(oracle.hyperparameters.space)
    warmup = options.get("num_initial_points") or max(3 * dims, 3)
    if max_trials > warmup:
        return []
    note = (f"this bayesian search is a random search: its {max_trials} trials are all within the warm-up of "
            f"{warmup} random trials (num_initial_points; by default 3 x its {dims} hyperparameters) before the "
            f"Gaussian process proposes any. Pass --initial-points N (tuner_options={{'num_initial_points': N}}) "
            f"below --max-trials, or more trials.")
    warnings.warn(note, UserWarning, stacklevel=3)
    return [note]


def _data_record(data, trial_data, setup, data_dir) -> dict:
    """What the trials train on, as a resume compares it: the recipe's data set and where its files are (the
    `RecipeData`'s record; the chief, which loads no data, makes the same), or a fingerprint of the data given."""
    from kerazoo.tuning.zoo_hypermodel import recipe_data_record  # with keras_tuner, as tune imports it

    if data is None:
        return trial_data.record if trial_data is not None else recipe_data_record(setup, data_dir)
    return {"source": "given", "fingerprint": _fingerprint(data)}


def _fingerprint(data) -> str:
    """sha256 of arrays (their bytes, shapes and dtypes); of a pipeline, its element spec and length."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()

    def add(value):
        if isinstance(value, Mapping):
            for key in sorted(value):
                digest.update(str(key).encode())
                add(value[key])
        elif isinstance(value, (tuple, list)):
            for item in value:
                add(item)
        elif isinstance(value, np.ndarray):
            digest.update(f"{value.dtype}{value.shape}".encode())
            digest.update(np.ascontiguousarray(value).tobytes())
        elif hasattr(value, "element_spec"):  # a tf.data pipeline
            digest.update(f"{value.element_spec}{int(value.cardinality())}".encode())
        elif dataclasses.is_dataclass(value):  # a TaskData
            add({"train": value.train, "val": value.val})
        elif value is not None:
            digest.update(repr(value).encode())

    add(data)
    return digest.hexdigest()
