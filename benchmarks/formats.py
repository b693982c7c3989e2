"""Every artifact in every format, measured on its held-out data and checked against its SavedModel.

    python benchmarks/formats.py --data-dir ../shared/data [--artifacts lenet5.mnist ...] [--skip-on-demand]

Shipped formats are read from the artifacts' cards (`kerazoo export` measured them, each file by its
own runtime on the whole held-out set: 10,000 MNIST test digits, 25,000 IMDB test reviews through
`kerazoo.text.Tokenizer` and the id core, ...). Formats that do not ship (ONNX of the larger models,
see `kerazoo.formats.shipped_formats`) are made on demand here, exactly as a user would
(`kerazoo export NAME --tag ondemand --format onnx` into a throwaway store), and measured the same way.

Prints the deployment table (the README's) and writes benchmarks/results/formats.json: per artifact
and format the file size, the held-out metrics, the int8 delta against float and the agreement with
the SavedModel (max abs difference, same top-1), or the reason a format cannot hold the model.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORMATS = ("saved_model", "litert", "litert_int8", "onnx")


def _row(entry: dict, shipped: bool) -> dict:
    if "unsupported" in entry:
        return {"unsupported": entry["unsupported"]}
    keep = ("file", "bytes", "runtime", "metrics", "agreement", "delta_vs_float", "size_vs_float", "quantization")
    return {**{k: entry[k] for k in keep if k in entry}, "shipped": shipped}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifacts", nargs="+")
    parser.add_argument("--data-dir", default=os.environ.get("KERAZOO_DATA_DIR"))
    parser.add_argument("--skip-on-demand", action="store_true", help="only read the shipped cards")
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "formats.json"))
    args = parser.parse_args(argv)

    import kerazoo
    from kerazoo import artifacts

    names = args.artifacts or [a.name for a in artifacts.artifacts().values() if a.shipped]
    result = {"loadavg_before": [round(v, 2) for v in os.getloadavg()], "artifacts": {}}
    with tempfile.TemporaryDirectory() as store:
        os.environ["KERAZOO_MODELS"] = store
        for name in names:
            card = artifacts.verify(artifacts.find(*artifacts.split_name(name)).folder)
            rows = {f: _row(e, True) for f, e in card.get("formats", {}).items()}
            missing = [f for f in FORMATS if f not in rows]
            if missing and not args.skip_on_demand:
                started = time.time()
                made = kerazoo.export(name, tag="ondemand", formats=missing, data_dir=args.data_dir, overwrite=True)
                extra = json.loads((made / "card.json").read_text())
                rows.update({f: {**_row(extra["formats"][f], False), "export_seconds": round(time.time() - started)}
                             for f in missing})
            result["artifacts"][name] = {"measured_on": card.get("formats_measured_on"), "metrics": card["metrics"],
                                         "formats": {f: rows[f] for f in FORMATS if f in rows}}
    result["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"\nwrote {out}")
    return 0


def table(result: dict) -> str:
    """The README's deployment table from formats.json."""
    lines = ["| artifact | measured on | format | shipped | bytes | held-out metric | agreement with the SavedModel |",
             "|---|---|---|---|---|---|---|"]
    for name, a in result["artifacts"].items():
        for fmt, r in a["formats"].items():
            if "unsupported" in r:
                lines.append(f"| `{name}` | | {fmt} | no | | not exported: {r['unsupported']} | |")
                continue
            metrics = ", ".join(f"{k.removeprefix('test_')} {v:.4f}" for k, v in r.get("metrics", {}).items())
            if r.get("delta_vs_float"):
                metrics += " (" + ", ".join(f"{v * 100:+.2f} pt" if abs(v) < 1 else f"{v:+.3f}"
                                            for v in r["delta_vs_float"].values()) + " vs float)"
            agree = r.get("agreement", {})
            shown = ", ".join(p for p in (f"max diff {agree['max_abs_diff']:.1e}" if "max_abs_diff" in agree else "",
                                          f"top-1 {100 * agree['top1']:.2f} %" if "top1" in agree else "") if p)
            lines.append(f"| `{name}` | {a['measured_on'] or ''} | {fmt} | {'yes' if r['shipped'] else 'on demand'} | "
                         f"{r.get('bytes', 0):,} | {metrics} | {shown or 'reference'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
