"""`kerazoo tune NAME ...`: the command line of a search (also `python -m kerazoo.tuning tune NAME ...`).

Importing this module imports neither TensorFlow nor Keras: the `kerazoo` command imports it at
start-up.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from kerazoo import distribute
from kerazoo.config import parse_sets
from kerazoo.errors import TuningError
from kerazoo.interrupts import INTERRUPTED_EXIT, until_interrupted
from kerazoo.tuning.best import export_best, retrain_best
from kerazoo.tuning.results import results_table
from kerazoo.tuning.search import TUNERS, tune

__all__ = ["add_tune_command", "main"]


def add_tune_command(subparsers) -> argparse.ArgumentParser:
    """Registers `kerazoo tune NAME ...` on the CLI's argparse subparsers."""
    p = subparsers.add_parser(
        "tune", help="hyperparameter search over the config's search_space (KerasTuner; resumes; distributed)",
        description="Search a model's hyperparameters (its config's search_space:, or a --config overlay's) with "
                    "KerasTuner. Running again into the same --directory resumes the search (with the same "
                    "settings). Distributed: start the chief with --chief HOST:PORT, then workers with --worker ID "
                    "--chief HOST:PORT.")
    p.add_argument("name")
    p.add_argument("--tuner", default="random", choices=list(TUNERS))
    p.add_argument("--max-trials", type=int, default=10, help="number of trials (hyperband: ignored)")
    p.add_argument("--epochs", type=int, help="epochs per trial (default: the recipe's; hyperband: max epochs)")
    p.add_argument("--objective", metavar="NAME[:min|max]", help="metric to optimise, e.g. val_loss:min "
                   "(default: the search space's objective:, else the recipe's first metric on validation data)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="fix a builder argument or a recipe field (YAML value; recipe.KEY / model.KEY when both "
                        "have it), e.g. --set variant=modern --set batch_size=128; a searched one is no longer "
                        "searched")
    p.add_argument("--train-size", type=int, metavar="N", help="search on N training examples (drawn by the seed; "
                                                               "the validation split is kept whole)")
    p.add_argument("--report", metavar="DIR", help="then write trials.csv, parameter importance (importance.csv, "
                                                   ".png) and each trial's learning curves (curves/) to DIR")
    p.add_argument("--directory", default="kerazoo_tuning", help="parent of the project directory DIR/NAME")
    p.add_argument("--project-name", help="default: the model name")
    p.add_argument("--overwrite", action="store_true", help="start over instead of resuming")
    p.add_argument("--data-dir", help="directory with the data set files (offline); or KERAZOO_DATA_DIR")
    p.add_argument("--config", help="config overlay YAML: model:/recipe: blocks the search starts from, and a "
                                    "search_space: block replacing the config's")
    p.add_argument("--executions-per-trial", type=int, default=1)
    p.add_argument("--seed", type=int, help="the search seed; every trial's seeds derive from it and its values")
    p.add_argument("--initial-points", type=int, metavar="N", help="bayesian: random trials before the Gaussian "
                   "process proposes (default: 3 x the hyperparameters)")
    p.add_argument("--factor", type=int, help="hyperband: the reduction factor between rounds (default 3)")
    p.add_argument("--hyperband-iterations", type=int, metavar="N", help="hyperband: brackets run (default 1)")
    p.add_argument("--prune", choices=["median"], help="stop a trial whose objective at epoch k is worse than the "
                   "median of the finished trials' at epoch k")
    p.add_argument("--prune-min-trials", type=int, default=3, metavar="N",
                   help="finished trials needed at an epoch before --prune stops trials there (default 3)")
    p.add_argument("--export-best", metavar="TAG", help="export the best trial's model (with --retrain-best: the "
                   "retrained model) as the artifact NAME.TAG in the user store")
    p.add_argument("--retrain-best", action="store_true",
                   help="then train the best values by the full recipe (kerazoo train NAME --config best.yaml)")
    p.add_argument("--retrain-output", metavar="DIR", help="run directory of --retrain-best (default: "
                                                           "the project directory's best_run/)")
    p.add_argument("--chief", metavar="HOST:PORT", help="alone: run the oracle there; with --worker: join it")
    p.add_argument("--worker", metavar="ID", help="join the chief as worker ID (KERASTUNER_TUNER_ID=tuner<ID>)")
    p.add_argument("--chief-timeout", type=float, default=60.0, help="seconds a worker waits for the chief")
    p.add_argument("--no-tensorboard", action="store_true", help="skip the TensorBoard/HParams logs")
    p.add_argument("--quiet", action="store_true", help="only the results table (and TensorFlow's errors only)")
    distribute.add_arguments(p)
    p.set_defaults(func=_cmd_tune, interrupted=_interrupted)
    return p


def _cmd_tune(args) -> int:
    if args.quiet and os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") == "2":
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before TensorFlow loads: no "failed call to cuInit" line
    options = {"num_initial_points": args.initial_points, "factor": args.factor,
               "hyperband_iterations": args.hyperband_iterations}
    if (args.export_best or args.retrain_best) and args.worker is not None:
        raise TuningError("--export-best and --retrain-best run on the chief (or a single machine), not a worker.")
    strategy = distribute.from_arguments(args)
    model_sets, recipe_sets = split_sets(args.name, parse_sets(args.set))
    result = _search(args, options, strategy, model_sets, recipe_sets)
    if result.role == "worker":
        return 0
    if args.quiet:
        print(results_table(result))
    if result.plot_path:
        print(f"plot: {result.plot_path}")
    if args.report:
        from kerazoo.tuning.analysis import write_report

        written = write_report(result.directory, args.report)
        print(f"report: {', '.join(str(p) for p in written.values())}")
    run = None
    if args.retrain_best:
        run = retrain_best(result, output=args.retrain_output, data_dir=args.data_dir, strategy=strategy,
                           verbose=0 if args.quiet else "auto")
        print(f"retrained the best values by the full recipe: {run.output}")
    if args.export_best:
        print(f"wrote {export_best(result, args.export_best, run_dir=run.output if run else None)}")
    return 0


def _interrupted(args) -> str:
    """What a Ctrl-C leaves (printed by the command line after `kerazoo tune: interrupted.`)."""
    project = os.path.join(args.directory, args.project_name or args.name)
    return (f"The finished trials are kept in {project}; rerun the same command to resume (the interrupted trial "
            "runs again), or add --overwrite to start over.")


def split_sets(name: str, sets: dict) -> tuple[dict, dict]:
    """`--set` values as `(builder arguments, recipe fields)`: a key is the builder's if it takes it, else
    the recipe's if it has that field; `model.KEY` / `recipe.KEY` say which when both do."""
    import dataclasses

    from kerazoo.config import RENAMED, builder_args
    from kerazoo.recipe import Recipe
    from kerazoo.registry import builder

    fields = {f.name for f in dataclasses.fields(Recipe)}
    takes = builder_args(builder(name))
    model, recipe = {}, {}
    for key, value in sets.items():
        prefix, dot, rest = key.partition(".")
        if dot and prefix in ("model", "recipe"):
            (model if prefix == "model" else recipe)[rest] = value
        elif key in takes or key in RENAMED or key not in fields:
            model[key] = value  # checked with the builder's signature (unknown keys get its suggestions)
        else:
            recipe[key] = value
    return model, recipe


def _search(args, options, strategy, model_sets, recipe_sets):
    return tune(args.name, tuner=args.tuner, max_trials=args.max_trials, epochs=args.epochs, data_dir=args.data_dir,
                  directory=args.directory, project_name=args.project_name, overwrite=args.overwrite,
                  executions_per_trial=args.executions_per_trial, objective=args.objective,
                  model_overrides=model_sets, recipe_overrides=recipe_sets, train_size=args.train_size,
                  config=args.config, seed=args.seed,
                  tuner_options={k: v for k, v in options.items() if v is not None}, prune=args.prune,
                  prune_min_trials=args.prune_min_trials, chief=args.chief, worker=args.worker,
                  chief_timeout=args.chief_timeout, tensorboard=not args.no_tensorboard,
                  verbose=0 if args.quiet else 1, strategy=strategy)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m kerazoo.tuning tune NAME ...`: the same as `kerazoo tune NAME ...`."""
    parser = argparse.ArgumentParser(prog="kerazoo")
    add_tune_command(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    try:
        return until_interrupted(lambda: args.func(args))
    except KeyboardInterrupt:
        print(f"\nkerazoo {args.command}: interrupted. {args.interrupted(args)}", file=sys.stderr)
        return INTERRUPTED_EXIT
    except (ValueError, FileNotFoundError, NotImplementedError) as e:
        print(f"kerazoo {args.command}: {e}", file=sys.stderr)
        return 2
