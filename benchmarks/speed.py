"""Speed on one machine, measured side by side in one run and reported as ratios.

    python benchmarks/speed.py --data-dir ../shared/data [--only training import scaling] [--repeats 3] [--quick]

Sections:
  training  kerazoo's training path (the kerazoo.data pipeline: cache -> shuffle -> batch ->
            prefetch, length buckets for text, compiled by the recipe: `steps_per_execution`, XLA
            `jit_compile`) vs plain `model.fit` on NumPy arrays, same model and epochs: steady-state
            samples/s (the mean of the epochs after the first, which traces) and held-out accuracy.
            LeNet-5 on MNIST, IMDB LSTM on token ids. Each step's contribution has its own row.
  import    `import kerazoo; kerazoo.list_models()` vs `import tensorflow`, fresh interpreters.
  scaling   one process vs two logical CPU replicas (MirroredStrategy + fit) and vs two local
            workers (MultiWorkerMirroredStrategy + kerazoo.distribute.fit_multiworker), fresh
            processes, same global batch.

Every training and scaling measurement is repeated `--repeats` times, the repeats interleaved (repeat
r runs every variant before repeat r+1 starts, so a slow spell of the machine touches all variants)
and seeded `seed + r` (weights and shuffling), so the accuracy spread is a seed spread. A row reports
the median of its repeats and their range (min-max); ratios are of medians. The 1-minute load average
is recorded before every measurement: other processes may share the machine.
Serving latency is measured by benchmarks/serving.py (every format, like with like).

Prints a table per section and writes benchmarks/results/speed.json. `--quick` shrinks everything
for a smoke run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


# === Training ===

def _epoch_timer():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._t)

    return EpochTimer()


def _run_variant(build, fit_data, n_train, epochs, test, fit_kwargs=None, compile_kwargs=None):
    """Builds, fits and evaluates one variant once; returns the measurement."""
    import keras

    keras.backend.clear_session()
    load = round(os.getloadavg()[0], 2)
    model = build(**(compile_kwargs or {}))
    timer = _epoch_timer()
    started = time.perf_counter()
    x, y = fit_data if isinstance(fit_data, tuple) else (fit_data, None)
    model.fit(x, y, epochs=epochs, verbose=0, callbacks=[timer], **(fit_kwargs or {}))
    total = time.perf_counter() - started
    accuracy = model.evaluate(*test, batch_size=512, verbose=0, return_dict=True)["accuracy"]
    return {**_throughput(n_train, timer.seconds), "fit_seconds": round(total, 1),
            "test_accuracy": round(float(accuracy), 4), "loadavg_1min_before": load}


def _throughput(n, epoch_seconds):
    """samples/s over the epochs after the first (which traces)."""
    steady = epoch_seconds[1:] or epoch_seconds
    return {"samples_per_s": round(n * len(steady) / sum(steady), 1),
            "epoch_seconds": [round(t, 2) for t in epoch_seconds]}


def _summary(runs, key):
    """Median and range of `key` over the repeats that ran."""
    values = [r[key] for r in runs if key in r]
    if not values:
        return {}
    return {f"{key}_median": round(statistics.median(values), 4 if key == "test_accuracy" else 1),
            f"{key}_min": min(values), f"{key}_max": max(values)}


RECIPE = {"_as_kerazoo_train": True}  # compile options of a variant: exactly kerazoo.recipe.compile_model's


def _compile(model, recipe, **options):
    """Compiled as a user would (Keras' defaults, plus `options`), or as `kerazoo train` does (`RECIPE`)."""
    from kerazoo.recipe import compile_model, make_optimizer

    if options == RECIPE:
        return compile_model(model, recipe)
    model.compile(optimizer=make_optimizer(recipe), loss=recipe.loss, metrics=list(recipe.metrics), **options)
    return model


def bench_lenet(data_dir, epochs, quick, repeats):
    import keras

    import kerazoo
    from kerazoo.data.catalog import load_numpy
    from kerazoo.data.sources import to_dataset
    from kerazoo.training.run import resolve

    _, recipe, kwargs = resolve("lenet5")
    (x, y), (xt, yt) = load_numpy("mnist", data_dir=data_dir)
    if quick:
        x, y, xt, yt = x[:4096], y[:4096], xt[:1024], yt[:1024]
    bs = recipe.batch_size

    def build(seed):
        def built(**options):
            keras.utils.set_random_seed(seed)
            return _compile(kerazoo.get("lenet5", **kwargs), recipe, **options)
        return built

    jit_n = min(len(x), 15000)  # XLA is several times slower here: samples/s on a subset, accuracy not comparable

    def variants(seed):
        pipeline = to_dataset((x, y), batch_size=bs, shuffle=True, seed=seed)  # what kerazoo.data.load gives
        return [
            ("numpy fit, Keras defaults (batch 32)", (x, y), {"shuffle": True}, {}),
            (f"numpy fit, batch {bs}", (x, y), {"batch_size": bs, "shuffle": True}, {}),
            (f"kerazoo pipeline, batch {bs}", pipeline, {}, {}),
            (f"kerazoo train path: pipeline + recipe (steps_per_execution={recipe.steps_per_execution})", pipeline,
             {}, RECIPE),
            (f"kerazoo pipeline, batch {bs}, jit_compile ({jit_n} samples)",
             to_dataset((x[:jit_n], y[:jit_n]), batch_size=bs, shuffle=True, seed=seed), {}, {"jit_compile": True},
             jit_n),
        ]
    return _variants("lenet5 / MNIST", variants, build, len(x), epochs, (xt, yt), recipe.seed, repeats)


def bench_imdb(data_dir, epochs, quick, n_train, repeats):
    import keras
    import numpy as np
    import tensorflow as tf

    import kerazoo
    from kerazoo.data.catalog import load_numpy
    from kerazoo.data.sources import to_dataset
    from kerazoo.training.run import resolve
    from kerazoo.text import make_vectorizer

    _, recipe, kwargs = resolve("imdb_lstm")
    (texts, y), (test_texts, yt) = load_numpy("imdb", data_dir=data_dir)
    rng = np.random.default_rng(0)
    n_train = 1024 if quick else n_train
    train_idx, test_idx = rng.permutation(len(y))[:n_train], rng.permutation(len(yt))[:min(n_train, 5000)]
    length = recipe.data.get("sequence_length", 400)
    buckets = recipe.data.get("bucket_boundaries") or [64, 128, 192, 256, 384]
    vectorizer = make_vectorizer(texts.astype(str), vocab_size=kwargs["vocab_size"], sequence_length=length)

    def ids(t):
        return np.concatenate([vectorizer(tf.constant(t[i:i + 2048].astype(str))).numpy()
                               for i in range(0, len(t), 2048)])

    x, y = ids(texts[train_idx]), y[train_idx].astype("float32")
    xt, yt = ids(test_texts[test_idx]), yt[test_idx].astype("float32")
    bs = recipe.batch_size

    def build(seed):
        def built(**options):
            keras.utils.set_random_seed(seed)
            return _compile(kerazoo.get("imdb_lstm", **kwargs), recipe, **options)
        return built

    def variants(seed):
        return [
            ("numpy fit, Keras defaults (batch 32)", (x, y), {"shuffle": True}, {}),
            (f"numpy fit, batch {bs}", (x, y), {"batch_size": bs, "shuffle": True}, {}),
            (f"kerazoo pipeline, batch {bs}", to_dataset((x, y), batch_size=bs, shuffle=True, seed=seed), {}, {}),
            (f"kerazoo pipeline, batch {bs}, length buckets", bucketed(x, y, bs, seed, buckets), {}, {}),
            (f"kerazoo train path: buckets + recipe (steps_per_execution={recipe.steps_per_execution})",
             bucketed(x, y, bs, seed, buckets), {}, RECIPE),
        ]
    section = _variants(f"imdb_lstm / IMDB ({len(x)} reviews, {length} tokens)", variants, build, len(x), epochs,
                        (xt, yt), recipe.seed, repeats)
    section["mean_tokens_per_review"] = round(float((x != 0).sum(1).mean()), 1)
    section["title"] += f", {section['mean_tokens_per_review']:.0f} non-padding on average"
    return section


def bucketed(x, y, batch_size, seed, boundaries):
    """kerazoo's text training pipeline: cached, shuffled, reviews of similar length batched together."""
    import tensorflow as tf

    from kerazoo.training.tasks import bucket_by_length

    ds = tf.data.Dataset.from_tensor_slices((x, y)).cache().shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return bucket_by_length(ds, boundaries, batch_size)


def _variants(title, variants, build, n_train, epochs, test, seed, repeats):
    """Runs every variant `repeats` times, interleaved, repeat r seeded `seed + r`; a row per variant."""
    runs = {}  # label -> its runs, in the variants' order
    for r in range(repeats):
        for label, data, fit_kwargs, compile_kwargs, *n in variants(seed + r):
            try:
                run = _run_variant(build(seed + r), data, n[0] if n else n_train, epochs, test, fit_kwargs,
                                   compile_kwargs)
            except Exception as e:  # noqa: BLE001 - a setting that does not run is a result too
                run = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"}
            runs.setdefault(label, []).append({"seed": seed + r, **run})
            print(f"  {title}: repeat {r + 1}/{repeats}: {label}: {run}", flush=True)
    rows = [{"variant": label, **_summary(runs[label], "samples_per_s"), **_summary(runs[label], "test_accuracy"),
             "runs": runs[label]} for label in runs]
    first, same_batch = rows[0].get("samples_per_s_median"), rows[1].get("samples_per_s_median")
    for row in rows:  # ratios of medians
        if "samples_per_s_median" in row:
            row["vs_numpy_default"] = round(row["samples_per_s_median"] / first, 2) if first else None
            row["vs_numpy_same_batch"] = round(row["samples_per_s_median"] / same_batch, 2) if same_batch else None
    return {"title": title, "epochs": epochs, "train_samples": n_train, "repeats": repeats, "rows": rows}


def print_training(section):
    print(f"\n{section['title']}, {section['epochs']} epochs of {section['train_samples']} samples, "
          f"{section['repeats']} repeats (samples/s after the first epoch: median [min-max]; ratios of medians)")
    print(f"{'variant':<62}{'median':>8}{'range':>14}{'x numpy32':>10}{'x numpy=bs':>11}{'test acc [range]':>26}")
    for r in section["rows"]:
        if "samples_per_s_median" not in r:
            print(f"{r['variant']:<62}  failed: {r['runs'][0].get('error')}")
            continue
        spread = f"{r['samples_per_s_min']:.0f}-{r['samples_per_s_max']:.0f}"
        acc = f"{r['test_accuracy_median']:.4f} [{r['test_accuracy_min']:.4f}-{r['test_accuracy_max']:.4f}]"
        print(f"{r['variant']:<62}{r['samples_per_s_median']:>8.0f}{spread:>14}"
              f"{r['vs_numpy_default']:>10.2f}{r['vs_numpy_same_batch']:>11.2f}{acc:>26}")


# === Import ===

def bench_import(quick):
    runs = 3 if quick else 7
    heavy = "print(int('tensorflow' in sys.modules or 'keras' in sys.modules))"
    programs = {"python -c pass": "pass",
                "import kerazoo; kerazoo.list_models()": f"import sys, kerazoo; kerazoo.list_models(); {heavy}",
                "import tensorflow": "import tensorflow"}
    rows = []
    for label, code in programs.items():
        seconds, imported_tf = [], None
        for _ in range(runs):
            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            seconds.append(time.perf_counter() - t)
            if out.stdout.strip():
                imported_tf = out.stdout.strip() == "1"
        rows.append({"program": label, "median_s": round(statistics.median(seconds), 3),
                     "min_s": round(min(seconds), 3), "imports_tensorflow": imported_tf})
    return {"runs": runs, "rows": rows}


def print_import(section):
    print(f"\nimport time, fresh interpreters (median of {section['runs']})")
    for r in section["rows"]:
        extra = "" if r["imports_tensorflow"] is None else f"  imports TensorFlow/Keras: {r['imports_tensorflow']}"
        print(f"  {r['program']:<42}{r['median_s']:>7.3f} s (min {r['min_s']:.3f}){extra}")


# === Scaling: fresh processes ===

def _child_scaling(mode: str, n: int, epochs: int, batch: int, data_dir: str, spe: int = 1) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    from kerazoo import distribute

    if mode == "mirrored2":
        s = distribute.strategy("mirrored", cpu_replicas=2, verbose=False)
    elif mode == "worker":
        s = distribute.strategy("multiworker", verbose=False)
    else:
        s = None
    import keras

    import kerazoo
    from kerazoo.data.catalog import load_numpy
    from kerazoo.data.sources import to_dataset
    from kerazoo.training.run import resolve

    _, recipe, kwargs = resolve("lenet5")
    (x, y), _ = load_numpy("mnist", data_dir=data_dir)
    x, y = x[:n], y[:n]
    data = to_dataset((x, y), batch_size=batch, shuffle=True, seed=recipe.seed)  # global batch
    keras.utils.set_random_seed(recipe.seed)
    with distribute.scope(s, precision=None):
        model = _compile(kerazoo.get("lenet5", **kwargs), recipe, steps_per_execution=spe)
    timer = _epoch_timer()
    if distribute.is_multiworker(s):
        import tempfile

        distribute.fit_multiworker(model, data, epochs=epochs, strategy=s, callbacks=[timer], verbose=0,
                                   checkpoint_dir=tempfile.mkdtemp(prefix="kerazoo-bench-"))
    else:
        model.fit(data, epochs=epochs, verbose=0, callbacks=[timer], shuffle=False)
    print(json.dumps({**_throughput(n, timer.seconds), "replicas": s.num_replicas_in_sync if s else 1}), flush=True)


def _launch(args_list, envs, timeout):
    procs = [subprocess.Popen([sys.executable, __file__, *args], env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
             for args, env in zip(args_list, envs)]
    try:
        outs = [p.communicate(timeout=timeout)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, 9)
                p.wait()
    results = [json.loads(line) for out in outs for line in out.splitlines() if line.startswith("{")]
    if len(results) != len(procs):
        raise RuntimeError(f"scaling run failed (exit codes {[p.returncode for p in procs]})")
    return results


def bench_scaling(data_dir, quick, repeats):
    import socket

    from kerazoo.distribute import tf_config

    n, epochs, batch = (2048, 2, 128) if quick else (16384, 4, 128)
    common = ["--n", str(n), "--epochs", str(epochs), "--batch", str(batch), "--data-dir", str(data_dir)]

    def ports(k):
        socks = [socket.socket() for _ in range(k)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        out = [f"127.0.0.1:{s.getsockname()[1]}" for s in socks]
        for s in socks:
            s.close()
        return out

    def workers(k, spe):
        addresses = ports(k)
        return ([["--_child", "worker", "--spe", str(spe), *common]] * k,
                [{"TF_CONFIG": json.dumps(tf_config(addresses, i))} for i in range(k)])

    setups = {  # label: (how to launch it, its baseline)
        "1 process, default strategy, model.fit": (lambda: ([["--_child", "single", *common]], [{}]), None),
        "2 logical CPU replicas, MirroredStrategy, model.fit":
            (lambda: ([["--_child", "mirrored2", *common]], [{}]), "1 process, default strategy, model.fit"),
        "1 worker, MultiWorkerMirroredStrategy, fit_multiworker": (lambda: workers(1, 1), None),
        "2 local workers, MultiWorkerMirroredStrategy, fit_multiworker":
            (lambda: workers(2, 1), "1 worker, MultiWorkerMirroredStrategy, fit_multiworker"),
        "1 worker, fit_multiworker, steps_per_execution=32": (lambda: workers(1, 32), None),
        "2 local workers, fit_multiworker, steps_per_execution=32":
            (lambda: workers(2, 32), "1 worker, fit_multiworker, steps_per_execution=32"),
    }
    runs = {label: [] for label in setups}
    for r in range(repeats):  # interleaved, like the training section
        for label, (launch, _) in setups.items():
            load = round(os.getloadavg()[0], 2)
            first = _launch(*launch(), timeout=1800)[0]  # worker 0 of a cluster (all workers run the same steps)
            runs[label].append({**first, "loadavg_1min_before": load})
            print(f"  scaling: repeat {r + 1}/{repeats}: {label}: {runs[label][-1]}", flush=True)
    rows = [{"setup": label, "replicas": runs[label][0]["replicas"], **_summary(runs[label], "samples_per_s"),
             "runs": runs[label]} for label in setups]
    median = {row["setup"]: row["samples_per_s_median"] for row in rows}
    base = rows[0]["samples_per_s_median"]
    for row in rows:
        row["vs_one_process"] = round(row["samples_per_s_median"] / base, 2)
        baseline = setups[row["setup"]][1]
        if baseline:
            row["baseline"] = baseline
            row["vs_baseline"] = round(row["samples_per_s_median"] / median[baseline], 2)
    return {"model": "lenet5 (recipe variant)", "train_samples": n, "epochs": epochs, "global_batch": batch,
            "cpu_count": os.cpu_count(), "repeats": repeats, "rows": rows}


def print_scaling(section):
    print(f"\nscaling on {section['cpu_count']} cores: lenet5, {section['train_samples']} MNIST samples, global batch "
          f"{section['global_batch']}, samples/s after the first epoch, median [min-max] of {section['repeats']}")
    for r in section["rows"]:
        spread = f"[{r['samples_per_s_min']:.0f}-{r['samples_per_s_max']:.0f}]"
        extra = f", x{r['vs_baseline']:.2f} of {r['baseline']}" if "baseline" in r else ""
        print(f"  {r['setup']:<62}{r['samples_per_s_median']:>7.0f} {spread:>13}  x{r['vs_one_process']:.2f} of 1 process"
              + extra)


# === Main ===

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=False, help="folder with mnist.npz and aclImdb_v1.tar.gz")
    parser.add_argument("--only", nargs="*", choices=("training", "import", "scaling"))
    parser.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run, not a measurement")
    parser.add_argument("--epochs", type=int, default=4, help="training epochs per variant (first one is warm-up)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of every measurement (median and range)")
    parser.add_argument("--imdb-reviews", type=int, default=5000, help="IMDB training reviews (subset, seeded)")
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "speed.json"))
    parser.add_argument("--_child", help=argparse.SUPPRESS)  # a scaling measurement in a fresh process
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--spe", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        _child_scaling(args._child, args.n, args.epochs, args.batch, args.data_dir, args.spe)
        return
    sections = args.only or ["training", "import", "scaling"]
    if any(s in sections for s in ("training", "scaling")) and not args.data_dir:
        parser.error("--data-dir is needed for the training and scaling sections")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    epochs = 2 if args.quick else args.epochs
    repeats = 1 if args.quick else args.repeats
    result = {"machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                          "loadavg_before": [round(v, 2) for v in os.getloadavg()]},
              "quick": args.quick}
    started = time.time()
    if "import" in sections:  # first: nothing of ours is warm
        result["import"] = bench_import(args.quick)
        print_import(result["import"])
    if "scaling" in sections:
        result["scaling"] = bench_scaling(args.data_dir, args.quick, repeats)
        print_scaling(result["scaling"])
    if "training" in sections:
        result["training"] = [bench_lenet(args.data_dir, epochs, args.quick, repeats),
                              bench_imdb(args.data_dir, epochs, args.quick, args.imdb_reviews, repeats)]
        for section in result["training"]:
            print_training(section)
    from kerazoo.training.run import versions

    result["machine"]["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    result["seconds"] = round(time.time() - started)
    result["versions"] = versions()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nload average before/after: {result['machine']['loadavg_before']} / {result['machine']['loadavg_after']}"
          f"; wrote {out}")


if __name__ == "__main__":
    main()
