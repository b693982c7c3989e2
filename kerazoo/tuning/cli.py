"""`kerazoo tune NAME ...`: the command line of a search (also `python -m kerazoo.tuning tune NAME ...`).

Importing this module imports neither TensorFlow nor Keras: the `kerazoo` command imports it at
start-up.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from kerazoo import distribute
from kerazoo.tuning.results import results_table
from kerazoo.tuning.search import TUNERS, tune

__all__ = ["add_tune_command", "main"]


def add_tune_command(subparsers) -> argparse.ArgumentParser:
    """Registers `kerazoo tune NAME ...` on the CLI's argparse subparsers."""
    p = subparsers.add_parser(
        "tune", help="hyperparameter search over the config's search_space (KerasTuner; resumes; distributed)",
        description="Search a model's hyperparameters (its config's search_space:) with KerasTuner. Running "
                    "again into the same --directory resumes the search. Distributed: start the chief with "
                    "--chief HOST:PORT, then workers with --worker ID --chief HOST:PORT.")
    p.add_argument("name")
    p.add_argument("--tuner", default="random", choices=list(TUNERS))
    p.add_argument("--max-trials", type=int, default=10, help="number of trials (hyperband: ignored)")
    p.add_argument("--epochs", type=int, help="epochs per trial (default: the recipe's; hyperband: max epochs)")
    p.add_argument("--directory", default="kerazoo_tuning", help="parent of the project directory DIR/NAME")
    p.add_argument("--project-name", help="default: the model name")
    p.add_argument("--overwrite", action="store_true", help="start over instead of resuming")
    p.add_argument("--data-dir", help="directory with the data set files (offline); or KERAZOO_DATA_DIR")
    p.add_argument("--config", help="config overlay YAML with model:/recipe: blocks the search starts from")
    p.add_argument("--executions-per-trial", type=int, default=1)
    p.add_argument("--seed", type=int)
    p.add_argument("--chief", metavar="HOST:PORT", help="alone: run the oracle there; with --worker: join it")
    p.add_argument("--worker", metavar="ID", help="join the chief as worker ID (KERASTUNER_TUNER_ID=tuner<ID>)")
    p.add_argument("--chief-timeout", type=float, default=60.0, help="seconds a worker waits for the chief")
    p.add_argument("--no-tensorboard", action="store_true", help="skip the TensorBoard/HParams logs")
    p.add_argument("--quiet", action="store_true", help="only the results table")
    distribute.add_arguments(p)
    p.set_defaults(func=_cmd_tune)
    return p


def _cmd_tune(args) -> int:
    result = tune(args.name, tuner=args.tuner, max_trials=args.max_trials, epochs=args.epochs, data_dir=args.data_dir,
                  directory=args.directory, project_name=args.project_name, overwrite=args.overwrite,
                  executions_per_trial=args.executions_per_trial, config=args.config, seed=args.seed, chief=args.chief,
                  worker=args.worker, chief_timeout=args.chief_timeout, tensorboard=not args.no_tensorboard,
                  verbose=0 if args.quiet else 1, strategy=distribute.from_arguments(args))
    if args.quiet and result.role != "worker":
        print(results_table(result))
    if result.plot_path:
        print(f"plot: {result.plot_path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m kerazoo.tuning tune NAME ...`: the same as `kerazoo tune NAME ...`."""
    parser = argparse.ArgumentParser(prog="kerazoo")
    add_tune_command(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, NotImplementedError) as e:
        print(f"kerazoo {args.command}: {e}", file=sys.stderr)
        return 2
