"""`kerazoo.tune`: a catalogue model's hyperparameter search with KerasTuner, on one machine or as the
chief or a worker of a distributed search; resumable.

Importing this module imports neither TensorFlow nor Keras; searching does.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

from kerazoo import distribute
from kerazoo.errors import ChiefUnreachableError, StrategyError, TuningError
from kerazoo.recipe import infer_direction
from kerazoo.tuning import cluster
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
         model_overrides: Mapping | None = None, config=None, seed: int | None = None, chief: str | None = None,
         worker: str | int | None = None, chief_timeout: float = 60.0, callbacks: Sequence = (),
         tensorboard: bool = True, verbose: int = 1, strategy=None) -> TuneResult:
    """Searches a catalogue model's hyperparameters with KerasTuner.

    Runs on one machine, or as the chief (the oracle, `chief=HOST:PORT`) or a worker
    (`chief=HOST:PORT, worker=ID`) of a distributed search; launchers may set the
    `KERASTUNER_TUNER_ID` / `KERASTUNER_ORACLE_IP` / `KERASTUNER_ORACLE_PORT` variables instead.
    Running again into the same project directory resumes the search (completed trials are
    kept, an interrupted one is run again); `overwrite=True` starts over.

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
      objective: metric name or `(name, "min"|"max")`; default: the search space's `objective:`,
        else the recipe's first metric on validation data.
      search_space: a `search_space:` block to use instead of the config's.
      model_overrides: builder arguments on top of the config's (kept in the best overlay).
      config: a config overlay (YAML path or dict with `model:`/`recipe:` blocks) the search starts
        from, as `kerazoo.train`'s.
      seed: the oracle's and the models' seed (default: the recipe's).
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
    try:
        distribute.refuse_multiworker(strategy, "tune", instead=(
            "KerasTuner's chief/worker mode spreads a search over machines (chief=HOST:PORT, worker=ID; "
            "--chief/--worker), each worker training its trials under a one-machine strategy."))
    except StrategyError as e:
        raise TuningError(str(e)) from None
    role, address, tuner_id = cluster.role_of(chief, worker)
    # first: some strategies need TensorFlow uninitialised; the chief trains nothing
    strategy = distribute.as_strategy(strategy, what="tune strategy") if role != "chief" else None
    setup = resolve_search(name, search_space=search_space, config=config, model_overrides=model_overrides)
    if not setup.space:
        raise TuningError(f"{name} has nothing to search: its search_space is empty (zoo_configs/{name}.yaml). "
                          f"Add parameters there or pass search_space=.")
    seed = setup.recipe.seed if seed is None else seed
    project = Path(directory) / (project_name or name)
    if role == "worker":
        cluster.wait_for_chief(address, chief_timeout)
        overwrite = False  # only the chief may clear a (possibly shared) project directory

    import keras
    import keras_tuner as kt

    from kerazoo.tuning.tuners import tuner_class
    from kerazoo.tuning.zoo_hypermodel import ZooHyperModel, data_recipe, search_data

    trial_data = None if role == "chief" else search_data(setup, data, recipe=data_recipe(setup.recipe, strategy),
                                                          data_dir=data_dir, seed=seed)
    has_val = trial_data.has_val if trial_data is not None else True
    hm = ZooHyperModel(setup, data=trial_data, epochs=epochs, verbose=2 if verbose else 0, strategy=strategy,
                       work_dir=project / "pretraining")  # a family's pretraining stage writes its records there
    goal = (parse_objective(objective, "objective") or setup.space.objective or _default_objective(setup, has_val))
    signature = {"name": name, "tuner": tuner, "objective": list(goal), "search_space": plain(setup.space.raw),
                 "model_overrides": plain(setup.model_overrides)}
    if tuner == "hyperband":
        signature["max_epochs"] = epochs or setup.recipe.epochs
    if role != "worker":
        _check_resume(project, signature, overwrite)

    options = {"hypermodel": hm, "objective": kt.Objective(*goal), "seed": seed, "directory": str(directory),
               "project_name": project_name or name, "overwrite": overwrite,
               "executions_per_trial": executions_per_trial, "has_val": has_val, "distribution_strategy": strategy}
    if tuner == "hyperband":
        options.update(max_epochs=epochs or setup.recipe.epochs, factor=3, hyperband_iterations=1)
    else:
        options["max_trials"] = max_trials
    with cluster.kerastuner_env(role, address, tuner_id):
        try:
            search = tuner_class(TUNERS[tuner])(**options)
        except kt.errors.FailedTrialError as e:
            raise TuningError(f"The search space of {name} cannot be sampled: {e}") from None
        if role != "worker":
            project.mkdir(parents=True, exist_ok=True)
            (project / "kerazoo_search.json").write_text(json.dumps(signature, indent=2))
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
                        trials=[], ran=[t["trial_id"] for t in search.ran], tuner_object=search)
    if role == "worker":
        result.trials = [{**t, "values": setup.space.flat(*setup.space.values_of(t.pop("hyperparameters")))}
                         for t in search.ran]
        path = project / f"worker_{tuner_id}.json"
        project.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"tuner_id": tuner_id, "chief": address, "trials": result.trials}, indent=2,
                                   default=str))
        if verbose:
            print(f"{tuner_id} ran trials {', '.join(result.ran) or 'none'} for the chief at {address}")
        return result
    report(result, search.oracle, setup, verbose)
    return result


def _default_objective(setup, has_val: bool) -> tuple[str, str]:
    metric = setup.recipe.metrics[0] if setup.recipe.metrics else "loss"
    name = f"val_{metric}" if has_val else metric
    return name, infer_direction(name) or "max"


def _check_resume(project: Path, signature: dict, overwrite: bool) -> None:
    saved = project / "kerazoo_search.json"
    if overwrite or not saved.exists():
        return
    before = json.loads(saved.read_text())
    changed = [k for k in signature if before.get(k) != signature[k]]
    if changed:
        raise TuningError(f"{project} holds a search with a different {', '.join(changed)}; it cannot be resumed "
                          f"with these settings. Pass overwrite=True (--overwrite) to start over, or use another "
                          f"directory / project name.")
