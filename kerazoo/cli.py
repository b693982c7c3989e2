"""The `kerazoo` command line: `kerazoo list | info | summary | plot ...`.

Every subcommand has `--help`. Model arguments are overridden with `--set key=value` (values are
read as YAML, so `--set input_shape=[28,28]` and `--set bidirectional=true` work) and checked like
`kerazoo.get` keyword arguments.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
from typing import Any, Sequence

import yaml

import kerazoo
from kerazoo import distribute
from kerazoo.config import ConfigError


def _parse_sets(pairs: Sequence[str]) -> dict[str, Any]:
    out = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, received {pair!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _cmd_list(args) -> int:
    names = kerazoo.list_models(args.pattern, task=args.task, pretrained=args.pretrained)
    if not names:
        print(f"No models match {args.pattern!r}.", file=sys.stderr)
        return 1
    rows = []
    for name in names:
        info = kerazoo.describe(name)
        tags = ", ".join(f"{info['name']}.{t}" for t in info["weights"]) or "-"
        params = f"{info['num_params']:,}" if info["num_params"] else "?"
        rows.append((name, info["task"], params, tags, info["description"]))
    header = ("name", "task", "params", "weights", "description")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(4)]
    for row in [header] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)) + "  " + row[4])
    return 0


def _cmd_info(args) -> int:
    info = kerazoo.describe(args.name)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"{info['name']}  ({info['family']} family, {info['task']})")
    print(f"  {info['description']}")
    print(f"  reference: {info['reference']}")
    print(f"  parameters: {info['num_params']:,}" if info["num_params"] else "  parameters: ?")
    print(f"  output shape: {info['output_shape']}")
    print("defaults:\n" + _indent(yaml.safe_dump(info["defaults"], sort_keys=False, default_flow_style=None)))
    print("recipe:\n" + _indent(yaml.safe_dump(info["recipe"], sort_keys=False, default_flow_style=None)))
    if info["search_space"]:
        print("search space:\n" + _indent(yaml.safe_dump(info["search_space"], sort_keys=False, default_flow_style=None)))
    if info["weights"]:
        print("weights:")
        for tag, card in info["weights"].items():
            metrics = ", ".join(f"{k}={v}" for k, v in card.get("metrics", {}).items())
            print(f"  {info['name']}.{tag}: {card.get('dataset', '?')} ({metrics})")
    else:
        print("weights: none shipped")
    return 0


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.rstrip().splitlines())


def _cmd_summary(args) -> int:
    model = kerazoo.get(args.name, **_parse_sets(args.set))
    model.summary(expand_nested=args.expand_nested)
    return 0


def _cmd_plot(args) -> int:
    import importlib.util

    missing = [what for what, ok in (("the pydot package (pip install pydot)", importlib.util.find_spec("pydot")),
                                     ("Graphviz's `dot` program (apt-get install graphviz, brew install "
                                      "graphviz or conda install graphviz)", shutil.which("dot"))) if not ok]
    if missing:
        print(f"kerazoo plot needs {' and '.join(missing)}; nothing was written.", file=sys.stderr)
        return 2
    import keras

    model = kerazoo.get(args.name, **_parse_sets(args.set))
    keras.utils.plot_model(model, to_file=args.output, show_shapes=True, show_layer_names=True,
                           expand_nested=args.expand_nested, dpi=args.dpi)
    print(f"wrote {args.output}")
    return 0


def _cmd_train(args) -> int:
    from kerazoo.training.run import train

    config = args.config
    if args.corpus or args.text_column:
        config = _corpus_overlay(args)
    result = train(args.name, output=args.output, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                   dataset=args.dataset, seed=args.seed, data_dir=args.data_dir, config=config,
                   model_overrides=_parse_sets(args.set), strategy=distribute.from_arguments(args))
    print(f"model: {result.output / 'model.keras'}\nplots: {', '.join(str(p) for p in result.plots)}")
    return 0


def _corpus_overlay(args) -> dict:
    """`--corpus PATH [--text-column C]`: the config overlay that trains on the user's text with the
    recipe's other settings (dataset `text`, the recipe's `data` options plus `path`)."""
    from pathlib import Path

    from kerazoo.config import read_overlay
    from kerazoo.training.run import resolve

    if not args.corpus:
        raise ValueError("--text-column names the text column of a --corpus table (.csv or .tsv); give --corpus.")
    if kerazoo.describe(args.name)["task"] != "word-embedding":
        raise ValueError(f"--corpus trains word vectors (word2vec); {args.name} is a "
                         f"{kerazoo.describe(args.name)['task']} model. Use --dataset / --data-dir for it.")
    if args.dataset:
        raise ValueError("--corpus and --dataset both name the training data; give one.")
    overlay = read_overlay(args.config) if args.config else {}
    recipe = resolve(args.name, config=overlay)[1]
    data = {**recipe.data, "path": str(Path(args.corpus).expanduser().resolve()), "text_column": args.text_column}
    data.pop("test_documents", None)  # IMDB's held-out reviews: a user's corpus has none
    return {**overlay, "recipe": {**overlay.get("recipe", {}), "dataset": "text", "data": data}}


def _cmd_evaluate(args) -> int:
    from kerazoo.training.run import evaluate

    metrics = evaluate(args.name, weights=args.weights, data_dir=args.data_dir)
    for key, value in metrics.items():
        print(f"{key}: {value:.4f}")
    return 0


def _cmd_export(args) -> int:
    from kerazoo.export import export

    print(f"wrote {export(args.run_dir, tag=args.tag, destination=args.destination)}")
    return 0


def _cmd_finetune(args) -> int:
    from pathlib import Path

    from kerazoo import data
    from kerazoo.training.finetune import finetune

    if args.strategy == "multiworker":
        raise distribute.StrategyError("--strategy multiworker: fine-tuning trains with Keras' fit, which fails "
                                       "under MultiWorkerMirroredStrategy. Accepted here: auto, cpu, gpu, "
                                       "mirrored, tpu.")
    strategy = distribute.as_strategy(distribute.from_arguments(args))  # first: before TensorFlow initialises
    splits = data.load(args.dataset, data_dir=args.data_dir, seed=args.seed,
                       batch_size=distribute.global_batch_size(args.batch_size, strategy))
    with distribute.scope(strategy) if strategy is not None else contextlib.nullcontext():
        model = kerazoo.get(args.name, weights=args.weights, **_parse_sets(args.set))
    finetune(model, splits["train"], splits["val"], head_epochs=args.head_epochs,
             finetune_epochs=args.finetune_epochs, learning_rate=args.lr, seed=args.seed, strategy=strategy)
    metrics = model.evaluate(splits["test"], return_dict=True, verbose=0)
    out = Path(args.output or f"kerazoo_runs/{args.name}-finetuned-{args.dataset}.keras")
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    print(", ".join(f"test_{k}={v:.4f}" for k, v in metrics.items()) + f"; model saved to {out}")
    return 0


def _cmd_demo(args) -> int:
    from kerazoo.demo import run_demo

    run_demo(args.output, data_dir=args.data_dir, quick=args.quick)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kerazoo", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"kerazoo {kerazoo.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list catalogue models (or shipped weights)")
    p.add_argument("pattern", nargs="?", default="*", help="shell pattern on the name, e.g. 'imdb_*'")
    p.add_argument("--task", help="only models of this task, e.g. image-classification")
    p.add_argument("--pretrained", action="store_true", help="list shipped weights as arch.tag names")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="config, parameter count, recipe and weights of a model")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=_cmd_info)

    for cmd, func, text in (("summary", _cmd_summary, "print the Keras summary of a model"),
                            ("plot", _cmd_plot, "draw the model graph to an image (needs Graphviz)")):
        p = sub.add_parser(cmd, help=text)
        p.add_argument("name")
        p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a builder argument")
        p.add_argument("--expand-nested", action="store_true", help="show nested sub-models")
        if cmd == "plot":
            p.add_argument("-o", "--output", default=None, help="output file (.png, .svg, .pdf)")
            p.add_argument("--dpi", type=int, default=96)
        p.set_defaults(func=func)

    p = sub.add_parser("train", help="train a model by its config's recipe (resumes an interrupted run)")
    p.add_argument("name")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--dataset", help="data set name (kerazoo.data loaders)")
    p.add_argument("--seed", type=int)
    p.add_argument("--output", help="run directory (default kerazoo_runs/NAME); rerun it to resume")
    p.add_argument("--data-dir", help="directory with the data set files (offline); or KERAZOO_DATA_DIR")
    p.add_argument("--config", help="config overlay YAML with model:/recipe: blocks (e.g. best.yaml from tune)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a builder argument")
    p.add_argument("--corpus", metavar="PATH", help="word2vec: train on your text, a .txt file (one document per "
                   "line), a folder of .txt files, or a .csv/.tsv table (with --text-column)")
    p.add_argument("--text-column", metavar="NAME", help="the column of a --corpus table that holds the text")
    distribute.add_arguments(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="test-split metrics of shipped weights or a .keras file")
    p.add_argument("name")
    p.add_argument("--weights", required=True, help="shipped tag (e.g. mnist) or path to a .keras file")
    p.add_argument("--data-dir")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("export", help="turn a training run into an artifact (.keras, SavedModel, card)")
    p.add_argument("run_dir", help="a directory written by `kerazoo train`")
    p.add_argument("--tag", help="artifact tag (default: the data set name)")
    p.add_argument("--destination", help="parent folder (default: the package's saved_models/)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("finetune", help="transfer pretrained weights to a new data set (two phases)")
    p.add_argument("name", help="model, e.g. lenet5")
    p.add_argument("--weights", required=True, help="shipped tag or .keras path")
    p.add_argument("--dataset", required=True, help="target data set (kerazoo.data loaders), e.g. digits")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="builder override, e.g. classes=5")
    p.add_argument("--head-epochs", type=int, default=5)
    p.add_argument("--finetune-epochs", type=int, default=5)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32, help="per replica")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--data-dir")
    p.add_argument("--output", help="where to save the fine-tuned .keras model")
    distribute.add_arguments(p)
    p.set_defaults(func=_cmd_finetune)

    p = sub.add_parser("demo", help="offline tour on the shipped weights: accuracy, transfer, text, plots")
    p.add_argument("--output", default="kerazoo-demo", help="folder for the report, numbers and plots")
    p.add_argument("--data-dir", help="optional: real MNIST/IMDB files for extra checks")
    p.add_argument("--quick", action="store_true", help="smaller budgets (for tests)")
    p.set_defaults(func=_cmd_demo)

    from kerazoo.tuning import add_tune_command  # no TensorFlow import until a search runs

    add_tune_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "output", "") is None and args.command == "plot":
        args.output = f"{args.name}.png"
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, NotImplementedError) as e:  # our errors say what was wrong
        print(f"kerazoo {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
