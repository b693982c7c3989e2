"""The DCGAN card's reference points: what real digits and noise score under `lenet5.mnist`.

    python benchmarks/dcgan_references.py --data-dir ../shared/data

`dcgan.mnist`'s card scores 10,000 generated digits against the 10,000 MNIST test digits by the
LeNet-5 FID and LeNet-5 score (`kerazoo.models.dcgan.lenet_scores`). For scale, the same two numbers
for 10,000 real training digits (what a perfect generator would get) and for 10,000 images of
uniform noise in [-1, 1] (seed 0), against the same test digits. Writes
benchmarks/results/dcgan_references.json.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "dcgan_references.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--output", default=str(OUT))
    args = parser.parse_args()

    import numpy as np

    import kerazoo
    from kerazoo.data.catalog import load_numpy
    from kerazoo.models.dcgan import lenet_scores

    (x_train, _), (x_test, _) = load_numpy("mnist", data_dir=args.data_dir)
    classifier = kerazoo.get("lenet5.mnist")
    real = x_train[np.random.default_rng(0).permutation(len(x_train))[:args.n]]
    noise = np.random.default_rng(0).uniform(-1, 1, (args.n, 28, 28)).astype("float32")
    result = {"reference": f"{len(x_test):,} MNIST test digits", "classifier": "lenet5.mnist", "n": args.n,
              "real_training_digits": lenet_scores(real, x_test, classifier=classifier),
              "uniform_noise": lenet_scores(noise, x_test, classifier=classifier)}
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
