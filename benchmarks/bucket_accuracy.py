"""Why length-bucketed batches cost the IMDB LSTM accuracy at a short budget: controlled variants.

    python benchmarks/bucket_accuracy.py --data-dir ../shared/data [--reviews 5000] [--epochs 4]
                                          [--seeds 1337 1338 1339] [--only NAME ...]

`benchmarks/speed.py` found length buckets at 0.769 test accuracy against 0.854 for the same
pipeline without them (imdb_lstm's recipe network, 5k reviews, 4 epochs, medians of 3 seeds). Each
variant here changes one thing between those two pipelines, on the same reviews, network and seeds:

  shuffled            the unbucketed pipeline: shuffle, batches of 64 padded to 500 tokens
  shuffled_trimmed    the same batches, each trimmed to its longest review (padding alone)
  buckets             the recipe's `bucket_by_length`: batches of reviews of similar length
  buckets_shuffled    the same batches, their order shuffled within the epoch (batch order)
  buckets_per_token   buckets whose batch size is set so every batch holds about as many tokens as
                      an unbucketed one (steps per epoch and tokens per step)
  shuffled_noclip, buckets_noclip   without the recipe's `clipnorm` (gradient clipping per batch)

Runs are interleaved (every variant of seed s before seed s+1) and seeded (weights, dropout and
shuffling). Each run records the test accuracy after every epoch (5,000 held-out test reviews,
evaluated trimmed and sorted by length, which the masked network scores as padded: checked on the
first run), the training loss per epoch, the number of steps per epoch and, per step, the largest
norm of one variable's gradient before clipping (Keras' `clipnorm` clips each variable on its own). Writes benchmarks/results/bucket_accuracy.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "bucket_accuracy.json"
VARIANTS = ("shuffled", "shuffled_trimmed", "buckets", "buckets_shuffled", "buckets_per_token", "shuffled_noclip",
            "buckets_noclip")


def _trim(ids, y):
    import tensorflow as tf

    longest = tf.maximum(tf.reduce_max(tf.math.count_nonzero(ids, axis=-1, dtype=tf.int32)), 1)
    return ids[:, :longest], y


def pipeline(name, x, y, batch_size, seed, boundaries):
    """The training batches of variant `name` (see the module docstring)."""
    import numpy as np
    import tensorflow as tf

    from kerazoo.training.tasks import bucket_by_length

    ds = tf.data.Dataset.from_tensor_slices((x, y)).cache().shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    if name.startswith("shuffled"):
        batches = ds.batch(batch_size)
        return (batches.map(_trim) if name == "shuffled_trimmed" else batches).prefetch(tf.data.AUTOTUNE)
    if name == "buckets_per_token":  # as many tokens per batch as an unbucketed batch of the mean length
        lengths = np.maximum((x != 0).sum(1), 1)
        edges = [0, *boundaries, x.shape[1]]
        mean_in = [lengths[(lengths > lo) & (lengths <= hi)].mean() if ((lengths > lo) & (lengths <= hi)).any()
                   else hi for lo, hi in zip(edges[:-1], edges[1:])]
        sizes = [int(np.clip(round(batch_size * lengths.mean() / m), 8, 8 * batch_size)) for m in mean_in]
        per_bucket = np.bincount(np.searchsorted(boundaries, lengths, side="right"), minlength=len(sizes))
        count = int(sum(-(-n // size) for n, size in zip(per_bucket, sizes)))
        trimmed = ds.map(lambda ids, label: (ids[:tf.maximum(tf.math.count_nonzero(ids, dtype=tf.int32), 1)], label))
        return (trimmed.bucket_by_sequence_length(lambda ids, label: tf.shape(ids)[0], list(boundaries), sizes)
                .apply(tf.data.experimental.assert_cardinality(count)).prefetch(tf.data.AUTOTUNE))
    batches = bucket_by_length(ds, boundaries, batch_size)
    if name == "buckets_shuffled":
        return batches.shuffle(1024, seed=seed + 1, reshuffle_each_iteration=True)
    return batches


class Recorder:
    """Keras callback: test accuracy after every epoch, steps per epoch, gradient norms per step."""

    def __new__(cls, test):
        import keras

        class _Recorder(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.test, self.accuracy, self.loss, self.steps, self._steps = test, [], [], [], 0

            def on_train_batch_end(self, batch, logs=None):
                self._steps += 1

            def on_epoch_end(self, epoch, logs=None):
                self.loss.append(round(float(logs["loss"]), 4))
                self.steps.append(self._steps)
                self._steps = 0
                self.accuracy.append(round(float(self.model.evaluate(self.test, verbose=0, return_dict=True)
                                                 ["accuracy"]), 4))

        return _Recorder()


def _log_gradient_norms(model):
    """Wraps the optimizer's `apply_gradients` to log, per step and before it clips, the largest
    norm of one variable's gradient (Keras' `clipnorm` clips each variable's gradient on its own)."""
    import tensorflow as tf

    norms = []
    optimizer = model.optimizer
    apply = optimizer.apply_gradients

    def logged(grads_and_vars, *args, **kwargs):
        pairs = list(grads_and_vars)
        largest = tf.reduce_max(tf.stack([tf.norm(tf.convert_to_tensor(g)) for g, _ in pairs if g is not None]))
        tf.py_function(lambda n: norms.append(float(n)) or 0, [largest], tf.int64)
        return apply(pairs, *args, **kwargs)

    optimizer.apply_gradients = logged
    return norms


def run_variant(name, x, y, test, recipe, kwargs, seed, epochs, boundaries):
    import keras

    import kerazoo
    from kerazoo.recipe import compile_model

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = kerazoo.get("imdb_lstm", **kwargs)
    clipnorm = None if name.endswith("noclip") else recipe.clipnorm
    compile_model(model, dataclasses.replace(recipe, clipnorm=clipnorm, steps_per_execution=1))  # a norm per step
    norms = _log_gradient_norms(model)
    recorder = Recorder(test)
    started = time.perf_counter()
    model.fit(pipeline(name, x, y, recipe.batch_size, seed, boundaries), epochs=epochs, verbose=0,
              callbacks=[recorder])
    return {"seed": seed, "test_accuracy": recorder.accuracy[-1], "test_accuracy_by_epoch": recorder.accuracy,
            "train_loss_by_epoch": recorder.loss, "steps_per_epoch": recorder.steps,
            "grad_norm_median": round(statistics.median(norms), 4) if norms else None,
            "grad_norm_share_above_clipnorm": round(sum(n > recipe.clipnorm for n in norms) / len(norms), 4)
            if norms else None,
            "seconds": round(time.perf_counter() - started, 1), "loadavg_1min_before": round(os.getloadavg()[0], 2)}


def _write(out, runs, meta, checked=None) -> dict:
    """The results file from the runs so far: a row per variant (median and range over its seeds)."""
    rows = []
    for name in [v for v in VARIANTS if v in runs]:
        rs = sorted(runs[name], key=lambda r: r["seed"])
        accuracies = [r["test_accuracy"] for r in rs]
        rows.append({"variant": name, "test_accuracy_median": statistics.median(accuracies),
                     "test_accuracy_min": min(accuracies), "test_accuracy_max": max(accuracies),
                     "test_accuracy_by_epoch_median": [statistics.median(e) for e in
                                                       zip(*(r["test_accuracy_by_epoch"] for r in rs))],
                     "best_epoch_accuracy_median": statistics.median(max(r["test_accuracy_by_epoch"]) for r in rs),
                     "steps_per_epoch": rs[0]["steps_per_epoch"][0],
                     "grad_norm_median": statistics.median(r["grad_norm_median"] for r in rs),
                     "grad_norm_share_above_clipnorm": statistics.median(r["grad_norm_share_above_clipnorm"]
                                                                         for r in rs),
                     "runs": rs})
    seeds = sorted({r["seed"] for rs in runs.values() for r in rs})
    result = {**meta, "seeds": seeds, "max_diff_trimmed_vs_padded_test_scores": checked, "rows": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--reviews", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="*", default=[1337, 1338, 1339])
    parser.add_argument("--only", nargs="*", choices=VARIANTS)
    parser.add_argument("--output", default=str(OUT))
    parser.add_argument("--resume", action="store_true", help="keep the runs already in --output, run the others")
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    from kerazoo.data.catalog import load_numpy
    from kerazoo.text import make_vectorizer
    from kerazoo.training.run import resolve

    _, recipe, kwargs = resolve("imdb_lstm")  # the recipe's network (without its word2vec start, as speed.py)
    (texts, labels), (test_texts, test_labels) = load_numpy("imdb", data_dir=args.data_dir)
    rng = np.random.default_rng(0)  # the reviews speed.py draws
    train_idx, test_idx = rng.permutation(len(labels))[:args.reviews], rng.permutation(len(test_labels))[:5000]
    boundaries = recipe.data.get("bucket_boundaries")
    vectorizer = make_vectorizer(texts.astype(str), vocab_size=kwargs["vocab_size"],
                                 sequence_length=recipe.data.get("sequence_length", 500))

    def ids(t):
        return np.concatenate([vectorizer(tf.constant(t[i:i + 2048].astype(str))).numpy()
                               for i in range(0, len(t), 2048)])

    x, y = ids(texts[train_idx]), labels[train_idx].astype("float32")
    xt, yt = ids(test_texts[test_idx]), test_labels[test_idx].astype("float32")
    order = np.argsort((xt != 0).sum(1))
    test = tf.data.Dataset.from_tensor_slices((xt[order], yt[order])).batch(256).map(_trim).cache()
    meta = {"reviews": args.reviews, "epochs": args.epochs, "batch_size": recipe.batch_size,
            "bucket_boundaries": boundaries, "clipnorm": recipe.clipnorm, "units": kwargs.get("units"),
            "mean_tokens_per_review": round(float((x != 0).sum(1).mean()), 1), "test_reviews": len(yt)}

    out = Path(args.output)
    previous = json.loads(out.read_text()) if args.resume and out.is_file() else {"rows": []}
    runs: dict[str, list] = {row["variant"]: row["runs"] for row in previous["rows"]}
    for seed in args.seeds:
        for name in args.only or VARIANTS:
            if any(r["seed"] == seed for r in runs.get(name, [])):
                continue  # --resume: measured already
            run = run_variant(name, x, y, test, recipe, kwargs, seed, args.epochs, boundaries)
            runs.setdefault(name, []).append(run)
            print(f"seed {seed} {name}: {run}", flush=True)
            _write(out, runs, meta)  # after every run: an interruption loses one run at most

    import keras

    import kerazoo

    keras.utils.set_random_seed(0)  # the trimmed, sorted test batches score as the padded reviews
    model = kerazoo.get("imdb_lstm", **kwargs)
    padded = model.predict(xt[order][:512], batch_size=256, verbose=0)
    trimmed = model.predict(test.take(2).map(lambda a, b: a), verbose=0)
    checked = float(np.max(np.abs(padded - trimmed)))
    rows = _write(out, runs, meta, checked)["rows"]
    print(f"\n{'variant':<20}{'median':>8}{'range':>16}  by epoch (medians){'':>8}steps  |g| median  >clip")
    for r in rows:
        print(f"{r['variant']:<20}{r['test_accuracy_median']:>8.4f}  {r['test_accuracy_min']:.4f}-"
              f"{r['test_accuracy_max']:.4f}  {r['test_accuracy_by_epoch_median']}  {r['steps_per_epoch']:>5}  "
              f"{r['grad_norm_median']:>9}  {r['grad_norm_share_above_clipnorm']}")
    print(f"trimmed and sorted test batches vs padded, an untrained network: max diff {checked:.1e}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
