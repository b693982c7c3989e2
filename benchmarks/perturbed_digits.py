"""The digit classifiers on the perturbed MNIST test digits, per kind of perturbation and per seed.

    python benchmarks/perturbed_digits.py --data-dir ../shared/data [--weights lenet5=OLD.keras ...]

Prints, for `lenet5.mnist`, `dbn.mnist` (and any `--weights arch=path.keras`, e.g. a previous
model), accuracy on the clean test digits, on `kerazoo.data.perturb.perturb(x_test, seed)` for
seeds 0 (the cards' set) and 1, and on each quarter of seed 0 (shift, rotation, rescale, all
three); writes benchmarks/results/perturbed_digits.json.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import kerazoo
from kerazoo.data.perturb import KINDS, perturb, perturbation_parameters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--weights", nargs="*", default=[], help="more models as arch=path.keras")
    parser.add_argument("--output", default="benchmarks/results/perturbed_digits.json")
    args = parser.parse_args()

    _, (x, y) = kerazoo.data.load_numpy("mnist", data_dir=args.data_dir)
    sets = {seed: perturb(x, seed) for seed in (0, 1)}
    kinds = np.array([p["kind"] for p in perturbation_parameters(len(x), 0)])
    models = {"lenet5.mnist": ("lenet5", "mnist"), "dbn.mnist": ("dbn", "mnist")}
    models.update({f"{w.split('=', 1)[0]} {w.split('=', 1)[1]}": tuple(w.split("=", 1)) for w in args.weights})
    rows = []
    for label, (arch, weights) in models.items():
        model = kerazoo.get(arch, weights=weights)
        right = lambda images: model.predict(images, batch_size=1000, verbose=0).argmax(-1) == y  # noqa: E731
        ok = right(sets[0])
        rows.append({"model": label, "clean": float(right(x).mean()), "perturbed_seed0": float(ok.mean()),
                     "perturbed_seed1": float(right(sets[1]).mean()),
                     **{kind: float(ok[kinds == kind].mean()) for kind in KINDS}})
    print(f"\n{'model':<40}{'clean':>8}{'seed 0':>8}{'seed 1':>8}" + "".join(f"{k:>10}" for k in KINDS))
    for r in rows:
        print(f"{r['model']:<40}{r['clean']:>8.4f}{r['perturbed_seed0']:>8.4f}{r['perturbed_seed1']:>8.4f}"
              + "".join(f"{r[k]:>10.4f}" for k in KINDS))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "test_digits": int(len(y))}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
