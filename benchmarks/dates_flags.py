"""Date models side by side on the same held-out examples: formats seen and unseen in training,
Python's own strftime, and how well each says "not a date".

    python benchmarks/dates_flags.py [--models seq2seq_attention.dates PATH.keras ...] [--n-test 4000]

For every model (a shipped name or a `.keras` file, e.g. one trained with `invalid_fraction: 0`,
which can flag only by checking its output is a calendar date, or the previous artifact): exact
match on dates in training formats and in formats training never used, on `STRFTIME_FORMATS`,
and the flag (`Translation.valid == False`) as a detector of non-dates, impossible and
out-of-window dates: precision, recall, recall from the model's own "not a date" answer alone,
false flags on real dates. Also what a confidence threshold adds: the threshold is chosen on the
validation split (the lowest confidence among 99.5 % of its real dates, i.e. at most 0.5 %
false flags there), then applied to test as `flag or confidence < threshold`.

All models see the examples of the current generator with the shipped recipe's options and seed
(`date_splits`), so the figures are comparable; prints a table and writes
benchmarks/results/dates_flags.json (with the load average before and after).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def _load(spec: str):
    import kerazoo

    if spec.endswith(".keras"):
        return kerazoo.get("seq2seq_attention", weights=spec)
    return kerazoo.get(spec)


def _threshold_rows(model, val, test) -> dict:
    """The flag with a confidence threshold chosen on validation (<= 0.5 % false flags on its dates)."""
    val_t = model.translate([e.source for e in val])
    confidences = np.array([t.confidence for t, e in zip(val_t, val) if e.kind == "date" and t.valid])
    threshold = float(np.quantile(confidences, 0.005)) if confidences.size else 0.0
    test_t = model.translate([e.source for e in test])
    flagged = np.array([(not t.valid) or t.confidence < threshold for t in test_t])
    invalid = np.array([e.kind != "date" for e in test])
    date = ~invalid
    return {"confidence_threshold": threshold,
            "thresholded_flag_precision": float(np.mean(invalid[flagged])) if flagged.any() else float("nan"),
            "thresholded_flag_recall": float(np.mean(flagged[invalid])),
            "thresholded_false_flag_rate": float(np.mean(flagged[date]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["seq2seq_attention.dates"],
                        help="shipped names or .keras files")
    parser.add_argument("--n-test", type=int, help="test examples (default: the recipe's)")
    parser.add_argument("--output", default="benchmarks/results/dates_flags.json")
    args = parser.parse_args()

    import kerazoo
    from kerazoo.data.dates import date_splits, strftime_dates
    from kerazoo.models.seq2seq import date_metrics

    recipe = kerazoo.describe("seq2seq_attention")["recipe"]
    options = {**recipe["data"], **({"n_test": args.n_test} if args.n_test else {})}
    seed = recipe.get("seed", 1337)
    splits = date_splits(1, options["n_val"], options["n_test"], seed=seed,
                         invalid_fraction=options.get("invalid_fraction", 0.2))
    probe = strftime_dates(options["n_test"], seed=seed)
    load_before = os.getloadavg()
    rows = []
    for spec in args.models:
        model = _load(spec)
        started = time.time()
        metrics = date_metrics(model, splits["test"], strftime=probe)
        metrics.update(_threshold_rows(model, splits["val"], splits["test"]))
        rows.append({"model": spec, "seconds": round(time.time() - started, 1), **metrics})
        print(f"{spec}: done in {rows[-1]['seconds']} s", flush=True)

    keys = [k for k in rows[0] if k not in ("model", "seconds")]
    print(f"\n{'metric':<34}" + "".join(f"{Path(r['model']).name[:28]:>30}" for r in rows))
    for key in keys:
        print(f"{key:<34}" + "".join(f"{r.get(key, float('nan')):>30.4f}" for r in rows))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "data": options, "seed": seed,
                               "load_average_before": load_before, "load_average_after": os.getloadavg()}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
