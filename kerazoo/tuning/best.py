"""Keeping what a search found: the best trial's model exported as an artifact, or the best values
retrained by the full recipe (and exported).

Every trial keeps its model at its best epoch (`trial_<id>/model.keras`) with a `run.json` and a
`search.json`, so a trial folder exports like a `kerazoo train` run; the artifact's card records the
search, the trial and its values (`card["records"]["search"]`) and its metrics are the trial's, on
the validation data the search scored it on (`split: validation`). `retrain_best` trains the best
values for the recipe's full epochs on the recipe's data, held-out test metrics included.

Importing this module imports neither TensorFlow nor Keras.
"""
from __future__ import annotations

from pathlib import Path

from kerazoo.errors import TuningError
from kerazoo.tuning.results import TuneResult
from kerazoo.tuning.state import read_json, write_json

__all__ = ["export_best", "retrain_best"]


def _best_folder(result: TuneResult) -> Path:
    if result.best is None:
        raise TuningError(f"{result.directory}: the search has no scored trial to keep.")
    folder = result.best_trial_dir
    if not (folder / "model.keras").is_file() or not (folder / "run.json").is_file():
        raise TuningError(f"{folder} holds no model: the trial ran on a worker whose project directory is not this "
                          "one (export it there: kerazoo export FOLDER), or it was run by a kerazoo before 0.2.")
    return folder


def export_best(result: TuneResult, tag: str, *, run_dir: str | Path | None = None, destination=None,
                overwrite: bool = False, shadow: bool = False) -> Path:
    """Exports the best trial's model (or `run_dir`, the best values retrained by `retrain_best`) as the
    artifact `<name>.<tag>` in the user store (`kerazoo.export`); returns its folder.

    Example:
      >>> result = kerazoo.tune("lenet5", max_trials=10, epochs=3, data_dir="~/data")
      >>> kerazoo.tuning.export_best(result, "searched")
      >>> kerazoo.get("lenet5.searched")
    """
    from kerazoo.exporting import export

    best = result.best
    folder = Path(run_dir) if run_dir is not None else _best_folder(result)
    how = (f"the best values retrained by the full recipe ({folder})" if run_dir is not None else
           f"its model at its best epoch of {best['epochs_run']}, scored on the search's validation data")
    notes = (f"Best trial {best['trial_id']} of a {result.tuner} search of {result.name} ({result.directory}): "
             f"{result.objective}={best['score']:.6g}; values {best['values']}. This artifact is {how}.")
    return export(folder, tag=tag, notes=notes, destination=destination, overwrite=overwrite, shadow=shadow)


def retrain_best(result: TuneResult, *, output: str | Path | None = None, data_dir=None, strategy=None,
                 verbose: str | int = "auto"):
    """Trains the best values (`best.yaml`) by the full recipe with `kerazoo.train`, into `output`
    (default `<project>/best_run`); returns its `TrainResult`. The run folder gets a `search.json`, so
    its export's card records the search and the trial too.

    Example:
      >>> run = kerazoo.tuning.retrain_best(result, data_dir="~/data")
      >>> kerazoo.tuning.export_best(result, "searched", run_dir=run.output)
    """
    from kerazoo.training.run import train

    if result.overlay_path is None:
        raise TuningError(f"{result.directory}: the search has no scored trial to retrain.")
    output = Path(output) if output is not None else result.directory / "best_run"
    trained = train(result.name, config=result.overlay_path, data_dir=data_dir, output=output, strategy=strategy,
                    verbose=verbose)
    trial = result.best_trial_dir / "search.json"
    found = read_json(trial) if trial.is_file() else {"trial_id": result.best["trial_id"],
                                                      "values": result.best["values"], "search": result.record}
    write_json(trained.output / "search.json", {**found, "retrained": {"overlay": str(result.overlay_path)}})
    return trained
