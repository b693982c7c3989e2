"""Retrains shipped artifacts by their recipes and compares with their cards and the literature.

    python benchmarks/retrain_artifacts.py --data-dir ../shared/data [--epochs N] [--only lenet5.mnist]

Prints a table (artifact, metric, retrained, card, reference target) and writes
benchmarks/results/retrain_artifacts.json. `--epochs` gives a documented shorter schedule.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import kerazoo

# metric (as in the cards), target, where the target comes from; "lower" = lower is better
TARGETS = {
    "lenet5.mnist": ("test_error", 0.007, "lower", "LeCun et al. 1998: 0.95 %, 0.8 % with distortions"),
    "dbn.mnist": ("test_error", 0.0125, "lower", "Hinton et al. 2006: 1.25 %"),
    "imdb_lstm.imdb": ("test_accuracy", 0.88, "higher", "Keras examples: 0.82-0.85"),
    "imdb_gru.imdb": ("test_accuracy", 0.88, "higher", "Keras examples: 0.82-0.85"),
    "imdb_rnn.imdb": ("test_accuracy", 0.80, "higher", "issue target"),
    "autoencoder.mnist": ("test_loss", 0.09, "lower", "Keras blog: 0.094 BCE"),
    "seq2seq_attention.dates": ("test_exact_match_unseen", 0.995, "higher", "issue 14: formats never seen in training"),
    "dcgan.mnist": ("test_lenet_fid", None, "lower", "FID on lenet5.mnist features: real train vs test 0.45, noise 291"),
    "word2vec.imdb": ("test_probe_accuracy", None, "higher", "linear probe on mean vectors (Maas et al. 2011's test)"),
}
# further rows of an artifact: the digits on the perturbed test set (kerazoo.data.perturb, issue 14)
MORE_TARGETS = {
    "lenet5.mnist": [("test_perturbed_accuracy", 0.985, "higher", "shifted/rotated/rescaled test digits")],
    "dbn.mnist": [("test_perturbed_accuracy", 0.93, "higher", "shifted/rotated/rescaled test digits")],
}

# further card metrics printed (and compared with the card) after an artifact's target metric
ALSO_REPORTED = {
    "seq2seq_attention.dates": ("test_exact_match_seen", "test_exact_match_unseen_beam3", "test_exact_match_seen_beam3",
                                "test_exact_match_strftime", "test_flag_precision", "test_flag_recall",
                                "test_flag_recall_by_model", "test_false_flag_rate_unseen"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--epochs", type=int, help="shorter schedule than the recipe's")
    parser.add_argument("--only", nargs="*", help="artifact names (default: every shipped one)")
    parser.add_argument("--output", default="benchmarks/results/retrain_artifacts.json")
    args = parser.parse_args()

    rows = []
    for name in args.only or kerazoo.list_models(pretrained=True):
        arch, tag = name.split(".")
        card = kerazoo.describe(arch)["weights"][tag]
        started = time.time()
        result = kerazoo.train(arch, data_dir=args.data_dir, epochs=args.epochs, output=f"kerazoo_runs/bench-{name}",
                               verbose=2)
        for metric, target, better, source in [TARGETS.get(name, (next(iter(card["metrics"])), None, "", "")),
                                               *MORE_TARGETS.get(name, [])]:
            value = result.metrics.get(metric)
            ok = None if target is None or value is None else (value <= target if better == "lower" else value >= target)
            rows.append({"artifact": name, "metric": metric, "retrained": value, "card": card["metrics"].get(metric),
                         "target": target, "meets_target": ok, "reference": source,
                         "epochs": len(result.history.get("loss", [])), "seconds": round(time.time() - started, 1)})
        rows += [{"artifact": name, "metric": key, "retrained": result.metrics.get(key),
                  "card": card["metrics"].get(key), "target": None, "meets_target": None, "reference": ""}
                 for key in ALSO_REPORTED.get(name, ())]

    print(f"\n{'artifact':<26}{'metric':<30}{'retrained':>10}{'card':>10}{'target':>9}  ok   reference")
    for r in rows:
        fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
        print(f"{r['artifact']:<26}{r['metric']:<30}{fmt(r['retrained']):>10}{fmt(r['card']):>10}"
              f"{fmt(r['target']):>9}  {'yes' if r['meets_target'] else 'NO ' if r['meets_target'] is False else '-  '}  "
              f"{r['reference']}")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "epochs_override": args.epochs}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
