"""TensorFlow against JAX: training speed and accuracy per family, and the shipped artifacts' parity.

    python benchmarks/backends.py --data-dir ../shared/data [--only speed parity sparse] [--families lenet5 ...]
                                  [--repeats 3] [--quick]

Sections:
  speed   each family's model trained by `model.fit` with its recipe's compile (`kerazoo.get(name, compile=True)`:
          optimizer, loss, `steps_per_execution`, `jit_compile`) on the same data, batch and seed under
          KERAS_BACKEND=tensorflow and KERAS_BACKEND=jax, each run in a fresh process: steady-state samples/s
          (the mean of the epochs after the first, which compiles) and a held-out figure (accuracy, or the loss
          where a family has no accuracy). The runs are interleaved: repeat r runs every family on both backends
          before repeat r+1, seeded seed + r; the 1-minute load average is recorded before each run (the
          machine is shared). A row gives medians and ranges; the ratio is JAX's median over TensorFlow's.
  parity  every shipped artifact loaded by `kerazoo.get` under KERAS_BACKEND=jax against its TensorFlow
          SavedModel on the held-out data its card was measured on (kerazoo.parity.compare): max abs difference,
          top-1 agreement, identical translations.
  kernels the convolutional families on TensorFlow, TensorFlow with oneDNN off (TF_ENABLE_ONEDNN_OPTS=0) and JAX,
          interleaved as in speed (--only kernels --families lenet5 autoencoder dcgan): whether JAX's gap is the
          convolution kernels (oneDNN against XLA:CPU's Eigen and naive transposed convolutions).
  sparse  word2vec's RowwiseAdagrad on TensorFlow: its sparse path (tf.IndexedSlices) against the dense update
          every other backend runs, same model and batches: why TensorFlow keeps the sparse path.

Writes benchmarks/results/backends.json (`python benchmarks/tables.py backends` prints the README's tables).
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
BACKENDS = ("tensorflow", "jax")
# family -> (examples, epochs, batch): the recipe's batch where it fits the shared 2-core machine
WORKLOADS = {"lenet5": (12000, 3, 128), "dbn": (12000, 3, 100), "autoencoder": (6000, 3, 128),
             "dcgan": (4096, 3, 128), "imdb_lstm": (2000, 3, 64), "word2vec": (131072, 3, 4096),
             "seq2seq_attention": (8000, 3, 64)}


# === One run, in a child process with its backend ===

def _data(family: str, n: int, data_dir: str, seed: int):
    """`(x, y, x_test, y_test)` as the model takes them (NumPy), `n` training examples."""
    import numpy as np

    import kerazoo

    if family in ("lenet5", "dbn", "autoencoder", "dcgan"):
        (x, y), (xt, yt) = kerazoo.data.load_numpy("mnist", data_dir=data_dir)
        x, y, xt, yt = x[:n], y[:n], xt[:2000], yt[:2000]
        if family == "autoencoder":
            return x, x.reshape(len(x), 28, 28).astype("float32") / 255, xt, xt.astype("float32") / 255
        return x, (None if family == "dcgan" else y), xt, yt
    if family == "imdb_lstm":
        from kerazoo.data.imdb import load_imdb
        from kerazoo.text import Tokenizer

        splits = load_imdb(data_dir=data_dir)
        folder = kerazoo.artifacts.find("imdb_lstm", "imdb").folder
        tok = Tokenizer.from_folder(folder) if (folder / "tokenizer.json").is_file() else None
        texts, labels = splits["train"]
        order = np.random.default_rng(0).permutation(len(texts))[:n]
        test_texts, test_labels = splits["test"]
        return (tok(texts[order])[:, :200], labels[order].astype("float32"), tok(test_texts[:1000])[:, :200],
                test_labels[:1000].astype("float32"))
    if family == "word2vec":
        rng = np.random.default_rng(seed)
        words = rng.zipf(1.3, size=n) % 11999 + 1
        candidates = np.concatenate([words[:, None] % 97 + 1, rng.integers(1, 12000, (n, 4))], 1)
        y = np.zeros((n, 5), "float32")
        y[:, 0] = 1
        x = [words.astype("int32"), candidates.astype("int32")]
        return x, y, [a[:8192] for a in x], y[:8192]
    if family == "seq2seq_attention":
        from kerazoo.data.dates import date_splits
        from kerazoo.data.parallel import date_vectorizer

        splits, vec = date_splits(n, 10, 1000, seed=0), date_vectorizer()

        def arrays(examples):  # one padded array per part: every batch has the same shape
            decoder_in, target = vec.encode_target([e.target for e in examples])
            return [np.asarray(vec.encode_source([e.source for e in examples])), np.asarray(decoder_in)], np.asarray(target)

        (x, y), (xt, yt) = arrays(splits["train"]), arrays(splits["test"])
        return x, y, xt, yt
    raise ValueError(family)


def child(family: str, n: int, epochs: int, batch: int, data_dir: str, seed: int) -> None:
    import keras
    import numpy as np

    import kerazoo

    x, y, xt, yt = _data(family, n, data_dir, seed)
    keras.utils.set_random_seed(seed)
    overrides = {"vocab_size": 12000, "embedding_dim": 64, "sequence_length": 200,
                 "pooling": "max", "bidirectional": True} if family == "imdb_lstm" else (
        {"vocab_size": 12000, "embedding_dim": 64} if family == "word2vec" else {})
    from kerazoo.registry import load_config

    recipe_model = {k: tuple(v) if isinstance(v, list) else v for k, v in load_config(family).recipe.get("model", {}).items()}
    model = kerazoo.get(family, compile=True, **{**recipe_model, **overrides})  # the recipe's variant
    if os.environ.get("KERAZOO_BENCH_OP_BY_OP"):  # what JAX ran before it compiled every recipe's step
        model.jit_compile = False
    seconds = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.t)

    model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0, shuffle=True, callbacks=[Timer()])
    steady = seconds[1:] or seconds
    result = {"samples_per_s": n * len(steady) / sum(steady), "epoch_seconds": [round(s, 2) for s in seconds],
              "first_epoch_s": round(seconds[0], 2)}
    if family != "dcgan":
        logs = model.evaluate(xt, yt, batch_size=batch, verbose=0, return_dict=True)
        result["test"] = {k: float(v) for k, v in logs.items()}
    print(json.dumps(result), flush=True)


# === The parent: interleaved repeats, fresh processes ===

def _launch(backend: str, args: list[str], timeout: int = 3600, **extra_env: str) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2", **extra_env}
    done = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise RuntimeError(f"{backend} {args}: exit {done.returncode}\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def _headline(family: str, test: dict) -> tuple[str, float]:
    for key in ("accuracy", "auc", "loss"):
        if key in test:
            return key, test[key]
    return "", float("nan")


def bench_speed(families, data_dir, repeats, seed, quick):
    runs = {(f, b): [] for f in families for b in BACKENDS}
    for r in range(repeats):
        for family in families:
            n, epochs, batch = WORKLOADS[family]
            n = n // 8 if quick else n
            for backend in BACKENDS:
                load = round(os.getloadavg()[0], 2)
                out = _launch(backend, ["--child", family, str(n), str(epochs), str(batch), str(data_dir),
                                        str(seed + r)])
                out["loadavg_before"] = load
                runs[(family, backend)].append(out)
                print(f"{family} {backend} repeat {r}: {out['samples_per_s']:,.0f} samples/s, load {load}",
                      flush=True)
    rows = []
    for family in families:
        n, epochs, batch = WORKLOADS[family]
        row = {"family": family, "examples": n // 8 if quick else n, "epochs": epochs, "batch": batch}
        for backend in BACKENDS:
            speeds = [run["samples_per_s"] for run in runs[(family, backend)]]
            row[backend] = {"samples_per_s": statistics.median(speeds), "min": min(speeds), "max": max(speeds),
                            "first_epoch_s": statistics.median(run["first_epoch_s"] for run in runs[(family, backend)]),
                            "loadavg_before": [run["loadavg_before"] for run in runs[(family, backend)]]}
            tests = [run.get("test") for run in runs[(family, backend)] if run.get("test")]
            if tests:
                metric = _headline(family, tests[0])[0]
                values = [t[metric] for t in tests]
                row[backend].update({"metric": metric, "test": statistics.median(values), "test_min": min(values),
                                     "test_max": max(values)})
        row["jax_over_tensorflow"] = row["jax"]["samples_per_s"] / row["tensorflow"]["samples_per_s"]
        rows.append(row)
    return {"repeats": repeats, "seed": seed, "rows": rows}


# Why JAX is slower on the convolutional families: TensorFlow's CPU convolutions are oneDNN kernels, XLA:CPU's (what
# JAX runs) are Eigen's, and its transposed convolutions fall back to a naive loop (jax-ml/jax#23783). The check:
# TensorFlow with oneDNN switched off (TF_ENABLE_ONEDNN_OPTS=0) beside both defaults, same workloads, interleaved; and
# JAX running the step op by op (jit_compile=False, what every recipe but word2vec's did on JAX before recipe.py
# compiled the step there).
KERNEL_VARIANTS = (("tensorflow", "tensorflow", {}), ("tensorflow, oneDNN off", "tensorflow", {"TF_ENABLE_ONEDNN_OPTS": "0"}),
                   ("jax", "jax", {}), ("jax, step op by op", "jax", {"KERAZOO_BENCH_OP_BY_OP": "1"}))


def bench_kernels(families, data_dir, repeats, seed, quick):
    runs = {(f, label): [] for f in families for label, _, _ in KERNEL_VARIANTS}
    for r in range(repeats):
        for family in families:
            n, epochs, batch = WORKLOADS[family]
            n = n // 8 if quick else n
            for label, backend, env in KERNEL_VARIANTS:
                load = round(os.getloadavg()[0], 2)
                out = _launch(backend, ["--child", family, str(n), str(epochs), str(batch), str(data_dir), str(seed + r)],
                              **env)
                runs[(family, label)].append({**out, "loadavg_before": load})
                print(f"kernels: {family} {label} repeat {r}: {out['samples_per_s']:,.0f} samples/s, load {load}",
                      flush=True)
    rows = []
    for family in families:
        row = {"family": family, "examples": WORKLOADS[family][0] // 8 if quick else WORKLOADS[family][0]}
        for label, _, _ in KERNEL_VARIANTS:
            speeds = [run["samples_per_s"] for run in runs[(family, label)]]
            row[label] = {"samples_per_s": statistics.median(speeds), "min": min(speeds), "max": max(speeds),
                          "loadavg_before": [run["loadavg_before"] for run in runs[(family, label)]]}
        base = row["tensorflow"]["samples_per_s"]
        row["onednn_off_over_tensorflow"] = row["tensorflow, oneDNN off"]["samples_per_s"] / base
        row["jax_over_tensorflow"] = row["jax"]["samples_per_s"] / base
        row["jax_op_by_op_over_tensorflow"] = row["jax, step op by op"]["samples_per_s"] / base
        rows.append(row)
    return {"repeats": repeats, "seed": seed, "rows": rows}


def parity_child(names: list[str], data_dir: str, limit: int | None) -> None:
    from kerazoo.parity import compare

    for name in names:
        print(json.dumps({"name": name, **compare(name, data_dir=data_dir, limit=limit)}), flush=True)


def bench_parity(data_dir, limit):
    import kerazoo

    names = kerazoo.list_models(pretrained=True)
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2"}
    args = ["--parity-child", str(data_dir)] + (["--limit", str(limit)] if limit else [])
    done = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True, timeout=14400)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or len(rows) != len(names):
        raise RuntimeError(done.stderr[-3000:])
    return {"backend": "jax", "reference": "the artifact's TensorFlow SavedModel", "rows": rows}


def sparse_child(repeats: int) -> None:
    import keras
    import numpy as np
    from keras import ops

    import kerazoo
    from kerazoo.optimizers import RowwiseAdagrad

    class Dense(RowwiseAdagrad):  # what JAX and PyTorch run: the IndexedSlices made dense first
        def update_step(self, gradient, variable, learning_rate):
            if type(gradient).__name__ == "IndexedSlices":
                gradient = ops.convert_to_tensor(gradient)
            return super().update_step(gradient, variable, learning_rate)

    rng = np.random.default_rng(0)
    n, vocab = 4096 * 64, 12000
    x = [rng.integers(1, vocab, n).astype("int32"), rng.integers(1, vocab, (n, 5)).astype("int32")]
    y = np.zeros((n, 5), "float32")
    y[:, 0] = 1
    out = {"sparse": [], "dense": [], "loadavg_before": []}
    for r in range(repeats):
        for kind, cls in (("sparse", RowwiseAdagrad), ("dense", Dense)):
            keras.utils.set_random_seed(r)
            model = kerazoo.get("word2vec", vocab_size=vocab, embedding_dim=64, window_size=4)
            model.compile(cls(0.5), loss="binary_crossentropy", steps_per_execution=32, jit_compile=True)
            model.fit(x, y, batch_size=4096, epochs=1, verbose=0, shuffle=False)  # compiles
            out["loadavg_before"].append(round(os.getloadavg()[0], 2))
            start = time.perf_counter()
            model.fit(x, y, batch_size=4096, epochs=2, verbose=0, shuffle=False)
            out[kind].append(2 * n / (time.perf_counter() - start))
    print(json.dumps(out), flush=True)


def bench_sparse(repeats):
    out = _launch("tensorflow", ["--sparse-child", str(repeats)])
    return {**out, "sparse_median": statistics.median(out["sparse"]), "dense_median": statistics.median(out["dense"]),
            "sparse_over_dense": statistics.median(out["sparse"]) / statistics.median(out["dense"]),
            "examples_per_run": 4096 * 64 * 2, "batch": 4096, "repeats": repeats}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        family, n, epochs, batch, data_dir, seed = sys.argv[2:8]
        return child(family, int(n), int(epochs), int(batch), data_dir, int(seed))
    if len(sys.argv) > 1 and sys.argv[1] == "--parity-child":
        limit = int(sys.argv[sys.argv.index("--limit") + 1]) if "--limit" in sys.argv else None
        import kerazoo

        return parity_child(kerazoo.list_models(pretrained=True), sys.argv[2], limit)
    if len(sys.argv) > 1 and sys.argv[1] == "--sparse-child":
        return sparse_child(int(sys.argv[2]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--only", nargs="*", choices=("speed", "parity", "sparse", "kernels"),
                        default=["speed", "parity", "sparse"])
    parser.add_argument("--families", nargs="*", choices=sorted(WORKLOADS), default=sorted(WORKLOADS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--parity-limit", type=int, default=None, help="first N held-out inputs per artifact")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "backends.json")
    args = parser.parse_args()
    result = json.loads(args.out.read_text()) if args.out.is_file() else {}
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                         "loadavg_before": [round(v, 2) for v in os.getloadavg()]}
    started = time.time()
    if "sparse" in args.only:
        result["sparse"] = bench_sparse(args.repeats)
    if "speed" in args.only:
        result["speed"] = bench_speed(args.families, args.data_dir, args.repeats, args.seed, args.quick)
    if "kernels" in args.only:
        result["kernels"] = bench_kernels(args.families, args.data_dir, args.repeats, args.seed, args.quick)
    if "parity" in args.only:
        result["parity"] = bench_parity(args.data_dir, args.parity_limit)
    result["machine"]["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    result["machine"]["minutes"] = round((time.time() - started) / 60, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
