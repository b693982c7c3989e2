"""The `kerazoo` command line: `kerazoo list | info | summary | plot ...`.

Every subcommand has `--help`. Model arguments are overridden with `--set key=value` (values are
read as YAML, so `--set input_shape=[28,28]` and `--set bidirectional=true` work) and checked like
`kerazoo.get` keyword arguments.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from typing import Any, Sequence

import yaml

import kerazoo
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "output", "") is None and args.command == "plot":
        args.output = f"{args.name}.png"
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:  # our errors say what was wrong: no traceback
        print(f"kerazoo {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
