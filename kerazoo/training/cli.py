"""`kerazoo finetune NAME --data PATH | --dataset NAME`: the command line of a fine-tune.

Importing this module imports neither TensorFlow nor Keras: the `kerazoo` command imports it at
start-up and registers the command with `add_finetune_command`.
"""
from __future__ import annotations

import contextlib
import os

import yaml

import kerazoo
from kerazoo import distribute
from kerazoo.config import builder_sets
from kerazoo.errors import ConfigError

__all__ = ["add_finetune_command", "check_weights_file"]


def add_finetune_command(sub) -> None:
    """Registers `kerazoo finetune NAME ...` on the CLI's argparse subparsers."""
    p = sub.add_parser("finetune", help="transfer pretrained weights to your own data (a folder or a table) or a "
                                        "named data set (two phases)")
    p.add_argument("name", help="the pretrained artifact (lenet5.mnist) or a model with --weights")
    p.add_argument("--weights", help="artifact tag, .keras file or artifact folder (when NAME has no tag)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", metavar="PATH", help="your data: a folder with one subfolder of images or .txt files "
                                                       "per class, or a .csv/.tsv table; the result is an artifact")
    source.add_argument("--dataset", help="a named data set (kerazoo.data loaders), e.g. digits")
    own = p.add_argument_group("with --data")
    own.add_argument("--tag", help="the new artifact's tag (default: from the folder or file name): NAME.TAG")
    own.add_argument("--validation", metavar="PATH", help="a held-out folder or table (default: hold out "
                                                          "--validation-split of each class)")
    own.add_argument("--validation-split", type=float, help="fraction of each class held out (default 0.2)")
    own.add_argument("--test-split", type=float, help="fraction of each class held out as a test split (default 0)")
    own.add_argument("--text-column", help="the table's text column (default: text)")
    own.add_argument("--label-column", help="the table's label column (default: label)")
    own.add_argument("--encoding", help="of text files and tables (default utf-8; e.g. cp1252, latin-1, utf-16)")
    own.add_argument("--baseline", action="store_true", default=None,
                     help="also train the same architecture from scratch on the same data, for comparison")
    own.add_argument("--destination", help="the store to write into (default: $KERAZOO_MODELS or ~/.kerazoo/models)")
    own.add_argument("--overwrite", action="store_true", default=None, help="replace an artifact of that name")
    own.add_argument("--shadow", action="store_true", default=None, help="allow the name of a shipped artifact")
    own.add_argument("--augment", nargs="?", const=True, type=_yaml_value, metavar="BLOCK",
                     help="distort the training images (default block: probability 0.5, translate 0.1, rotate 10, "
                          "zoom 0.1; or a YAML block, e.g. '{rotate: 15, elastic: {alpha: 34, sigma: 4}}')")
    own.add_argument("--class-weight", choices=["auto", "none"], help="auto: weigh each class by the inverse of its "
                                                                     "count (for imbalanced classes); default none")
    own.add_argument("--mixed-precision", action="store_true", default=None,
                     help="mixed float16 (recent GPUs) or bfloat16 (CPUs with AVX512-BF16/AMX); refused elsewhere")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="builder override, e.g. classes=5 (--dataset)")
    p.add_argument("--head-epochs", type=int, help="phase 1, the new head on the frozen backbone (default 5; with "
                                                   "--data: about 100 steps, 5 to 50 epochs)")
    p.add_argument("--finetune-epochs", type=int, help="phase 2, the backbone unfrozen at lr/10 (default as above)")
    p.add_argument("--learning-rate", "--lr", dest="learning_rate", type=float, default=1e-3)
    p.add_argument("--patience", type=int, help="stop a phase when val_loss has not improved for N epochs (its best "
                                                "weights kept)")
    p.add_argument("--batch-size", type=int, default=32, help="per replica")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--data-dir", help="where named data sets are (--dataset)")
    p.add_argument("--output", help="run folder (--data; default kerazoo_runs/NAME.TAG) or the .keras file (--dataset)")
    distribute.add_arguments(p)
    p.set_defaults(func=_cmd_finetune, interrupted=_interrupted)


def _interrupted(args) -> str:
    """What a Ctrl-C leaves (printed by the command line after `kerazoo finetune: interrupted.`)."""
    if args.data is None:  # --dataset: nothing is backed up, the .keras file is written at the end
        return "Nothing was saved; rerun the command to start again."
    return "The finished epochs are backed up in the run folder; rerun the same command to resume."


def check_weights_file(weights) -> None:
    """--weights naming a .keras file: a whole one, before TensorFlow and the data are loaded."""
    from kerazoo.artifacts import check_keras_file

    if weights and ("/" in weights or weights.endswith(".keras")) and not os.path.isdir(weights):
        check_keras_file(weights)


def _cmd_finetune(args) -> int:
    from pathlib import Path

    from kerazoo import data
    from kerazoo.rundir import check_writable
    from kerazoo.training.finetune import finetune, finetune_data

    distribute.refuse_multiworker(args.strategy, "kerazoo finetune")  # before any strategy is created
    strategy = distribute.as_strategy(distribute.from_arguments(args))  # first: before TensorFlow initialises
    check_weights_file(args.weights)
    if args.data is not None:
        return _finetune_data(args, finetune_data, strategy)
    mine = [f"--{k.replace('_', '-')}" for k in _DATA_ONLY if getattr(args, k) not in (None, False)]
    if mine:
        raise ConfigError(f"{', '.join(mine)}: only with --data PATH (your own folder or table), not --dataset")
    if args.weights is None and "." not in args.name:
        raise ConfigError(f"fine-tuning starts from pretrained weights: give {args.name}.TAG or --weights TAG "
                          "(kerazoo list --pretrained)")
    out = Path(args.output or f"kerazoo_runs/{args.name}-finetuned-{args.dataset}.keras")
    check_writable(out.parent, "the folder of --output")  # before any training
    splits = data.load(args.dataset, data_dir=args.data_dir, seed=args.seed,
                       batch_size=distribute.global_batch_size(args.batch_size, strategy))
    with distribute.scope(strategy) if strategy is not None else contextlib.nullcontext():
        model = kerazoo.get(args.name, weights=args.weights, **builder_sets(args.set))
    finetune(model, splits["train"], splits["val"], head_epochs=args.head_epochs, finetune_epochs=args.finetune_epochs,
             learning_rate=args.learning_rate, seed=args.seed, strategy=strategy, patience=args.patience)
    metrics = model.evaluate(splits["test"], return_dict=True, verbose=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    print(", ".join(f"test_{k}={v:.4f}" for k, v in metrics.items()) + f"; model saved to {out}")
    return 0


_DATA_ONLY = ("validation", "validation_split", "test_split", "text_column", "label_column", "encoding", "tag",
              "destination", "overwrite", "shadow", "baseline", "augment", "class_weight", "mixed_precision")


def _yaml_value(text: str):
    return yaml.safe_load(text)


def _finetune_data(args, finetune_data, strategy) -> int:
    if args.set:
        raise ConfigError("--set with --data: the model is the pretrained artifact's, with a new head sized from your "
                          "classes; builder overrides are not accepted here")
    options = {k: getattr(args, k) for k in _DATA_ONLY if getattr(args, k) is not None}
    result = finetune_data(args.name, args.data, weights=args.weights, head_epochs=args.head_epochs,
                           finetune_epochs=args.finetune_epochs, learning_rate=args.learning_rate,
                           batch_size=args.batch_size, seed=args.seed, output=args.output, strategy=strategy,
                           patience=args.patience, **options)
    name = result.artifact.name
    line = ", ".join(f"{k}={v:.4f}" for k, v in result.metrics.items())
    if result.baseline:
        line += "; from scratch: " + ", ".join(f"{k}={v:.4f}" for k, v in result.baseline.items())
    print(f"{name}: {line}\nartifact: {result.artifact} (kerazoo.get({name!r}))\n"
          f"plots: {', '.join(str(p) for p in result.plots)}")
    return 0
