"""The `kerazoo` command line: `kerazoo list | info | summary | plot ...`.

Every subcommand has `--help`. Model arguments are overridden with `--set key=value` (values are
read as YAML, so `--set input_shape=[28,28]` and `--set bidirectional=true` work) and checked like
`kerazoo.get` keyword arguments.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import re
import shutil
import sys
import tempfile
from typing import Sequence

import yaml

import kerazoo
from kerazoo import distribute
from kerazoo.config import builder_sets, parse_sets
from kerazoo.errors import DataError, KerazooError
from kerazoo.interrupts import INTERRUPTED_EXIT, until_interrupted
from kerazoo.training.cli import add_finetune_command, check_weights_file


WITHOUT_TENSORFLOW = {"verify", "push", "pull"}  # never import TensorFlow (list and info do: they count parameters)
# Errors of the machine, not of kerazoo: a read-only or full disk, a path that is not a folder. The CLI prints them as
# one line (the file and the system's reason) instead of a traceback.
USER_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR, errno.EISDIR,
               errno.ENAMETOOLONG, errno.ELOOP, errno.EFBIG, errno.EMLINK, errno.ENOENT, errno.EEXIST}
MAX_MESSAGE = 2000  # characters of an error line; the rest is cut, saying how much
QUIET_LOG_LEVEL = "3"  # TF_CPP_MIN_LOG_LEVEL: 3 also hides the ERROR 'failed call to cuInit' of machines without a GPU


def _quiet_tensorflow(args) -> None:
    """Keeps TensorFlow's and absl's start-up logs off stderr unless the user asked for them.

    Measured on TF 2.21: `TF_CPP_MIN_LOG_LEVEL`, read when TensorFlow is imported, hides the CPU
    feature notice (>= 1) and `E0000 ... failed call to cuInit: ... UNKNOWN ERROR (303)` of machines
    without a GPU (3), but not the lines absl writes before its logging is initialised ("All log
    messages before absl::InitializeLog()", oneDNN, cudart_stub; once per TensorFlow library), which
    no variable controls and `CUDA_VISIBLE_DEVICES` does not avoid: those go to a temporary file while
    TensorFlow is imported, and are shown only if the import fails. A `TF_CPP_MIN_LOG_LEVEL` the
    user set is kept (0 also keeps the start-up lines, as TensorFlow prints them); `--verbose` shows
    everything (level 0 unless the user set one).
    """
    if args.command in WITHOUT_TENSORFLOW or "tensorflow" in sys.modules:
        return
    if getattr(args, "verbose", False):
        if not kerazoo.TF_LOG_LEVEL_SET_BY_USER:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        return
    if not kerazoo.TF_LOG_LEVEL_SET_BY_USER:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = QUIET_LOG_LEVEL
    if os.environ["TF_CPP_MIN_LOG_LEVEL"].strip() in ("", "0"):
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)



def _cmd_list(args) -> int:
    import fnmatch

    from kerazoo.artifacts import artifacts

    models = kerazoo.list_models(args.pattern, task=args.task)
    if args.pretrained:  # every artifact, broken ones marked, with the artifact's own parameter count
        found = [a for a in artifacts().values() if (a.arch in kerazoo.list_models(task=args.task))
                 and (fnmatch.fnmatch(a.name, args.pattern) or fnmatch.fnmatch(a.arch, args.pattern))]
        rows = [(a.name, "shipped" if a.shipped else "user", f"{a.card['num_params']:,}" if a.card else "?",
                 _formats(a.card), "ok" if a.error is None else "BROKEN", a.error or a.card.get("dataset", ""))
                for a in found]
        header = ("name", "store", "params", "formats", "status", "data / problem")
    else:
        rows = []
        for name in models:
            info = kerazoo.describe(name)
            tags = [a.name + ("(broken)" if a.error else "") for a in artifacts(name).values()]
            params = f"{info['num_params']:,}" if info["num_params"] else "?"
            rows.append((name, info["task"], params, ", ".join(tags) or "-", info["description"]))
        header = ("name", "task", "params", "weights", "description")
    if not rows:
        print(f"No {'artifacts' if args.pretrained else 'models'} match {args.pattern!r}.", file=sys.stderr)
        return 1
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header) - 1)]
    for row in [header] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    return 0


def _formats(card: dict | None) -> str:
    """The exported formats an artifact has (`kerazoo.get(name, format=...)`), from its card."""
    if not card:
        return "?"
    formats = card.get("formats") or {"saved_model": {}}
    return ",".join(f for f, e in formats.items() if "unsupported" not in e)


def _cmd_info(args) -> int:
    info = kerazoo.describe(args.name)
    if args.json:
        print(json.dumps(dict(info), indent=2, default=str))
        return 0
    print(f"{info['name']}  ({info['family']} family, {info['task']})")
    print(f"  {info['description']}")
    print(f"  reference: {info['reference']}")
    print(f"  parameters: {info['num_params']:,}" if info["num_params"] else "  parameters: ?")
    print(f"  output shape: {info['output_shape']}")
    defaults = {k: list(v) if isinstance(v, tuple) else v for k, v in info["defaults"].items()}  # the signature's
    print("defaults:\n" + _indent(yaml.safe_dump(defaults, sort_keys=False, default_flow_style=None)))
    print("recipe:\n" + _indent(yaml.safe_dump(info["recipe"], sort_keys=False, default_flow_style=None)))
    for named, differs in info["recipes"].items():  # what each named recipe changes (kerazoo train --recipe NAME)
        print(f"recipe {named} (differs from recipe):\n"
              + _indent(yaml.safe_dump(differs, sort_keys=False, default_flow_style=None)))
    if info["search_space"]:
        print("search space:\n" + _indent(yaml.safe_dump(info["search_space"], sort_keys=False, default_flow_style=None)))
    if info["weights"]:
        print("weights:")
        for tag, card in info["weights"].items():
            metrics = ", ".join(f"{k}={_rounded(v)}" for k, v in card.get("metrics", {}).items())
            print(f"  {info['name']}.{tag}: {card.get('dataset', '?')} ({metrics}); formats: {_formats(card)}")
    else:
        print("weights: none shipped")
    return 0


def _rounded(value) -> str:
    """A metric as the README prints it: 4 significant digits (0.9913, 14.22, 0.0087); `--json` keeps them all."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.rstrip().splitlines())


def _cmd_summary(args) -> int:
    model = kerazoo.get(args.name, **builder_sets(args.set))
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

    model = kerazoo.get(args.name, **builder_sets(args.set))
    keras.utils.plot_model(model, to_file=args.output, show_shapes=True, show_layer_names=True,
                           expand_nested=args.expand_nested, dpi=args.dpi)
    print(f"wrote {args.output}")
    return 0


def _cmd_train(args) -> int:
    from kerazoo.training.run import train

    config = args.config
    if args.corpus or args.text_column:
        config = _corpus_overlay(args)
    result = train(args.name, output=args.output, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                   dataset=args.dataset, seed=args.seed, data_dir=args.data_dir, config=config,
                   model_overrides=parse_sets(args.set), strategy=distribute.from_arguments(args), recipe=args.recipe)
    print(f"model: {result.output / 'model.keras'}\nplots: {', '.join(str(p) for p in result.plots)}")
    return 0


def _train_interrupted(args) -> str:
    """What a Ctrl-C leaves of `kerazoo train` (the interrupted-run contract of kerazoo/training/run.py)."""
    out = args.output or os.path.join("kerazoo_runs", args.name)
    return (f"The finished epochs are backed up in {os.path.join(out, 'backup')}; rerun the same command to resume "
            "(a run stopped before its first epoch ended leaves nothing).")


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
    recipe = resolve(args.name, config=overlay, recipe=args.recipe)[1]
    data = {**recipe.data, "path": str(Path(args.corpus).expanduser().resolve()), "text_column": args.text_column}
    data.pop("test_documents", None)  # IMDB's held-out reviews: a user's corpus has none
    return {**overlay, "recipe": {**overlay.get("recipe", {}), "dataset": "text", "data": data}}


def _cmd_evaluate(args) -> int:
    from kerazoo.training.run import evaluate

    check_weights_file(args.weights)
    metrics = evaluate(args.name, weights=args.weights, data_dir=args.data_dir)
    for key, value in metrics.items():
        print(f"{key}: {value:.4f}")
    return 0


def _cmd_export(args) -> int:
    from kerazoo.exporting import export

    print(f"wrote {export(args.run_dir, tag=args.tag, destination=args.destination, overwrite=args.overwrite, shadow=args.shadow, shipped=args.shipped, formats=args.format, data_dir=args.data_dir)}")
    return 0


def _cmd_verify(args) -> int:
    report = kerazoo.verify(args.name)
    for name, problem in report.items():
        print(f"{name}: {'ok' if problem is None else 'FAILED'}")
        if problem is not None:
            print("  " + problem.replace("\n", "\n  "))
    bad = sum(problem is not None for problem in report.values())
    print(f"{len(report) - bad} of {len(report)} artifacts verify.")
    return 1 if bad else 0


def _cmd_push(args) -> int:
    from kerazoo.mirrors import push

    print(f"pushed {args.name} to {push(args.name, args.destination, overwrite=args.overwrite)}")
    return 0


def _cmd_pull(args) -> int:
    from kerazoo.artifacts import shipped_dir
    from kerazoo.mirrors import pull

    folder = pull(args.source, args.name, destination=args.destination, overwrite=args.overwrite, shadow=args.shadow)
    how = ("shipped with kerazoo, the same card as the mirror's" if folder.parent == shipped_dir()
           else f"verified against the index of {args.source}")
    print(f"{args.name}: {folder} ({how}; kerazoo.get({args.name!r}))")
    return 0


def _cmd_predict(args) -> int:
    from pathlib import Path

    from kerazoo.predicting import predict

    if args.output and Path(args.output).suffix.lower() not in (".csv", ".tsv", ".json"):  # before any work
        raise DataError(f"--output {args.output}: answers are written as .csv, .tsv or .json")
    answers = predict(args.name, args.inputs, top=args.top, column=args.column, encoding=args.encoding,
                      batch_size=args.batch_size, progress=False if args.no_progress else None, weights=args.weights)
    if args.output:
        print(f"wrote {len(answers.rows)} answers to {answers.write(args.output)}")
    elif answers.rows:
        print(answers.table())
    if answers.skipped:
        print(f"skipped {len(answers.skipped)} of {len(answers.skipped) + len(answers.rows)} inputs:", file=sys.stderr)
        for origin, why in answers.skipped:
            print(f"  {origin}: {why}", file=sys.stderr)
    if not answers.rows:
        print(f"kerazoo predict: no input could be answered ({', '.join(map(str, args.inputs))})", file=sys.stderr)
        return 1
    return 0


def _cmd_demo(args) -> int:
    from kerazoo.demo import run_demo

    run_demo(args.output, data_dir=args.data_dir, quick=args.quick)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors as one line (`kerazoo train: argument --epochs: invalid int value: 'x'`)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {_one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kerazoo", description=__doc__.splitlines()[0])
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
    p.add_argument("--learning-rate", "--lr", dest="learning_rate", type=float, help="learning rate")
    p.add_argument("--dataset", help="data set name (kerazoo.data loaders)")
    p.add_argument("--seed", type=int)
    p.add_argument("--output", help="run directory (default kerazoo_runs/NAME); rerun it to resume")
    p.add_argument("--data-dir", help="directory with the data set files (offline); or KERAZOO_DATA_DIR")
    p.add_argument("--config", help="config overlay YAML with model:/recipe: blocks (e.g. best.yaml from tune)")
    p.add_argument("--recipe", metavar="NAME", help="a named recipe of the config's recipes: block (e.g. fast) "
                   "instead of its recipe:")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a builder argument")
    p.add_argument("--corpus", metavar="PATH", help="word2vec: train on your text, a .txt file (one document per "
                   "line), a folder of .txt files, or a .csv/.tsv table (with --text-column)")
    p.add_argument("--text-column", metavar="NAME", help="the column of a --corpus table that holds the text")
    distribute.add_arguments(p)
    p.set_defaults(func=_cmd_train, interrupted=_train_interrupted)

    p = sub.add_parser("evaluate", help="test-split metrics of shipped weights or a .keras file")
    p.add_argument("name")
    p.add_argument("--weights", required=True, help="shipped tag (e.g. mnist) or path to a .keras file")
    p.add_argument("--data-dir")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("export", help="turn a training run into an artifact (.keras, SavedModel, card)")
    p.add_argument("run_dir", help="a directory written by `kerazoo train` (or an artifact folder)")
    p.add_argument("--tag", help="artifact tag, a name like my-digits_2 (default: the data set name)")
    p.add_argument("--destination", help="the store to write into (default: $KERAZOO_MODELS or ~/.kerazoo/models)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing artifact of that name (atomically)")
    p.add_argument("--shadow", action="store_true", help="allow the name of a shipped artifact (yours is then loaded)")
    p.add_argument("--shipped", action="store_true", help="maintainers: write into the package's saved_models/")
    p.add_argument("--format", help="comma-separated: saved_model,litert,litert_int8,onnx or all (default: the "
                                    "artifact's own formats when re-exporting one, else saved_model); each file is "
                                    "measured on the held-out data and checked against the SavedModel")
    p.add_argument("--data-dir", "--data", dest="data_dir",
                   help="where the data set is, for those measurements and int8 calibration; a fine-tuned artifact: "
                        "its folder or table (default: the one its card records)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("verify", help="check artifacts against their cards (every file's sha256, the card's own)")
    p.add_argument("name", nargs="?", help="an artifact (lenet5.mnist), a model (all its artifacts) or a folder; "
                                           "default: every artifact")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("push", help="write or update a mirror (a folder or hf://ORG/REPO) with an artifact")
    p.add_argument("name", help="an artifact (lenet5.mnist) or an artifact folder")
    p.add_argument("destination", help="a folder (serve it over HTTP to share it) or hf://ORG/REPO[@BRANCH]")
    p.add_argument("--overwrite", action="store_true", help="replace another artifact of that name in the mirror")
    p.set_defaults(func=_cmd_push)

    p = sub.add_parser("pull", help="bring an artifact from a mirror into your store, every file verified")
    p.add_argument("source", help="a mirror: a folder, an http(s):// root or hf://ORG/REPO[@REVISION]")
    p.add_argument("name", help="the artifact, ARCH.TAG")
    p.add_argument("--destination", help="the store to pull into (default: $KERAZOO_MODELS or ~/.kerazoo/models)")
    p.add_argument("--overwrite", action="store_true", help="replace a different artifact of that name")
    p.add_argument("--shadow", action="store_true", help="allow the name of a shipped artifact (yours is then loaded)")
    p.set_defaults(func=_cmd_pull)

    add_finetune_command(sub)  # kerazoo/training/cli.py

    p = sub.add_parser("predict", help="a model's answers on your files: top classes and probabilities, dates, "
                                       "nearest words, reconstruction errors")
    p.add_argument("name", help="an artifact (lenet5.myletters, imdb_gru.imdb) or a model with --weights")
    p.add_argument("inputs", nargs="+", metavar="PATH", help="image or text files, folders of them, a .csv/.tsv table "
                                                             "(--column), or - for lines of text on standard input")
    p.add_argument("--weights", help="artifact tag, .keras file or artifact folder (when NAME has no tag)")
    p.add_argument("--top", type=int, default=5, help="answers per input (default 5)")
    p.add_argument("--output", metavar="FILE", help="write the answers to FILE.csv, .tsv or .json instead of a table")
    p.add_argument("--column", help="the table column to read (default: text, path for image models, or the only one)")
    p.add_argument("--encoding", default="utf-8", help="of text files, tables and standard input (default utf-8)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("demo", help="offline tour on the shipped weights: accuracy, transfer, text, plots")
    p.add_argument("--output", default="kerazoo-demo", help="folder for the report, numbers and plots")
    p.add_argument("--data-dir", help="optional: real MNIST/IMDB files for extra checks")
    p.add_argument("--quick", action="store_true", help="smaller budgets (for tests)")
    p.set_defaults(func=_cmd_demo)

    from kerazoo.tuning import add_tune_command  # no TensorFlow import until a search runs

    add_tune_command(sub)
    for p in sub.choices.values():
        p.add_argument("-v", "--verbose", action="store_true",
                       help="show TensorFlow's start-up logs (by default only a TF_CPP_MIN_LOG_LEVEL you set does)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "output", "") is None and args.command == "plot":
        args.output = f"{args.name}.png"
    _quiet_tensorflow(args)
    try:
        return until_interrupted(lambda: args.func(args))  # one Ctrl-C stops any command for good
    except KeyboardInterrupt:  # after the work has stopped: what it left is the command's to say
        said = getattr(args, "interrupted", None)
        print(f"\nkerazoo {args.command}: interrupted." + (f" {said(args)}" if said else ""), file=sys.stderr)
        return INTERRUPTED_EXIT
    except (KerazooError, ValueError, FileNotFoundError, NotImplementedError) as e:  # our errors say what was wrong
        print(f"kerazoo {args.command}: {_one_line(str(e))}", file=sys.stderr)
        return 2
    except OSError as e:  # the machine's: a read-only or full disk, ...
        if e.errno not in USER_ERRNOS:
            raise
        where = f"{e.filename}: " if e.filename else ""
        print(f"kerazoo {args.command}: {_one_line(where + (e.strerror or str(e)))}", file=sys.stderr)
        return 2


def _one_line(message: str) -> str:
    """An error message as one line: whitespace runs (newlines included) and terminal colour codes collapsed, cut
    at `MAX_MESSAGE` characters."""
    text = " ".join(re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", message).split())
    if len(text) > MAX_MESSAGE:
        text = f"{text[:MAX_MESSAGE]}... ({len(text) - MAX_MESSAGE:,} more characters)"
    return text or "failed without a message"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
