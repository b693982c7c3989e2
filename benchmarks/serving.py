"""Serving speed of an artifact in every format, side by side in one run, like with like.

    python benchmarks/serving.py --data-dir ../shared/data [--artifacts lenet5.mnist imdb_lstm.imdb ...]
                                 [--calls 300] [--quick]

Paths: `model.predict` and `model(x)` (eager) of the `.keras` model, the SavedModel's `serving_default`,
the LiteRT float and int8 files (ai-edge-litert's interpreter) and the ONNX file (ONNX Runtime),
each with every core of the machine. Per path: batch-1 latency (median and p99 over `--calls` calls,
each on the next held-out input, after 10 warm-up calls), batch-64 throughput (samples/s over
`--calls // 10` batches of 64 distinct inputs) and the size of its file(s). Ratios are against
`model(x)`, the direct call of the same Keras model on the same inputs (not `model.predict`, whose
per-call set-up dominates small batches).

What every path gets, per artifact:
- image artifacts (lenet5.mnist, autoencoder.mnist, dbn.mnist): the same uint8 pixel arrays (MNIST
  test digits; `model.predict`/`model(x)` cast them like the SavedModel does);
- text artifacts (imdb_*.imdb), the *id core*: the same int32 token ids of IMDB test reviews from
  `kerazoo.text.Tokenizer`, cut after the longest review of the batch (the networks mask padding);
  `model.predict`/`model(x)` run the Keras id network (the `.keras` model without its vectorizer),
  "SavedModel" is that id network written by `ExportArchive` for this run, the LiteRT/ONNX rows the
  shipped files (`Runner.invoke`). The shipped SavedModel takes strings: its own row,
  "SavedModel (strings)", gets the review strings and includes the tokenisation.
- dcgan.mnist: the same float32 latent vectors.

Prints a table per artifact and writes benchmarks/results/serving.json, with the load average
before and after (other processes share the machine) and the versions.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT = ["lenet5.mnist", "imdb_lstm.imdb", "autoencoder.mnist"]


def _inputs(card, data_dir, n):
    """`n` held-out inputs in the artifact's raw form (random ones without the data)."""
    from kerazoo import data

    rng = np.random.default_rng(0)
    try:
        if card["dataset"] == "imdb":
            return data.load_numpy("imdb", data_dir=data_dir)[1][0][rng.permutation(25000)[:n]].astype(str)
        if card["arch"] == "dcgan":
            return rng.standard_normal((n, card["model"]["latent_dim"])).astype("float32")
        return data.load_numpy(card["dataset"], data_dir=data_dir)[1][0][:n]
    except FileNotFoundError as e:
        print(f"(no real data: {e}; random inputs)")
        raw = card["core"]["raw_input"]
        return rng.integers(0, 256, (n, *raw["shape"][1:]), dtype=np.uint8)


def _trim(ids):
    used = np.flatnonzero(ids.any(0))
    return ids[:, :int(used[-1]) + 1 if len(used) else 1]


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def _paths(name: str, folder: Path, card: dict, tmp: Path):
    """`{path: (call(x) -> outputs, prepare(raw batch) -> x, what it gets, file, bytes)}`."""
    import keras
    import tensorflow as tf

    import kerazoo
    from kerazoo.models.common import split_string_model

    model = kerazoo.get(name)
    vectorizer, network = split_string_model(model)
    text = vectorizer is not None
    tokenizer = kerazoo.get(name, format="litert").tokenizer if text else None
    ids = (lambda raw: _trim(tokenizer(raw))) if text else (lambda raw: raw)
    what = "int32 token ids (batch, longest review)" if text else \
        f"{card['core']['raw_input']['dtype']} {card['core']['raw_input']['shape'][1:]}"
    paths = {
        "model.predict": (lambda x: network.predict(x, verbose=0), ids, what, "model.keras"),
        "model(x)": (lambda x: network(x, training=False), ids, what, "model.keras"),
    }
    if text:  # the same id network as a SavedModel, written for this run; the shipped one takes strings
        archive = keras.export.ExportArchive()
        archive.track(network)
        archive.add_endpoint("serving_default", tf.function(lambda t: network(t, training=False), input_signature=[
            tf.TensorSpec((None, None), tf.int32, name="tokens")]))
        archive.write_out(str(tmp / "ids"), verbose=False)
        serve = tf.saved_model.load(str(tmp / "ids")).signatures["serving_default"]
        paths["SavedModel"] = (lambda x: serve(tokens=tf.constant(x)), ids, what, None)
        shipped = kerazoo.load_saved_model(name).signatures["serving_default"]
        paths["SavedModel (strings)"] = (lambda x: shipped(text=tf.constant(x)), lambda raw: raw,
                                         "review strings (tokenised inside)", "saved_model")
    else:
        runner = kerazoo.get(name, format="saved_model")
        paths["SavedModel"] = (runner.invoke, lambda raw: raw, what, "saved_model")
    for fmt, label in (("litert", "LiteRT float"), ("litert_int8", "LiteRT int8"), ("onnx", "ONNX Runtime")):
        entry = card.get("formats", {}).get(fmt)
        if entry is None or "unsupported" in entry:
            continue
        runner = kerazoo.get(name, format=fmt)
        paths[label] = (runner.invoke, ids, what, entry["file"])
    return {k: (call, prepare, got, f, _size(folder / f) if f else None) for k, (call, prepare, got, f) in paths.items()}


def _measure(call, prepare, raw, calls: int) -> dict:
    singles = [prepare(raw[i:i + 1]) for i in range(calls + 10)]
    for x in singles[:10]:
        call(x)
    times = []
    for x in singles[10:]:
        start = time.perf_counter()
        call(x)
        times.append(time.perf_counter() - start)
    batches = [prepare(raw[i * 64:(i + 1) * 64]) for i in range(max(calls // 10, 2))]
    call(batches[0])
    start = time.perf_counter()
    for x in batches:
        call(x)
    seconds = time.perf_counter() - start
    ms = sorted(t * 1000 for t in times)
    return {"batch1_median_ms": round(statistics.median(ms), 3),
            "batch1_p99_ms": round(ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))], 3),
            "batch64_samples_per_s": round(64 * len(batches) / seconds, 1)}


def _ratios(rows: dict) -> None:
    """Each path against `model(x)`, the direct call of the same Keras model on the same inputs: batch-1
    median latency of `model(x)` / the path's, batch-64 samples/s of the path / `model(x)`'s (> 1: faster)."""
    base = rows["model(x)"]
    for r in rows.values():
        r["batch1_vs_model_call"] = round(base["batch1_median_ms"] / r["batch1_median_ms"], 1)
        r["batch64_vs_model_call"] = round(r["batch64_samples_per_s"] / base["batch64_samples_per_s"], 1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifacts", nargs="+", default=DEFAULT)
    parser.add_argument("--data-dir", default=os.environ.get("KERAZOO_DATA_DIR"))
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="30 calls: a smoke run")
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "serving.json"))
    args = parser.parse_args(argv)
    calls = 30 if args.quick else args.calls

    from importlib.metadata import version

    from kerazoo import artifacts

    result = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                          "loadavg_before": [round(v, 2) for v in os.getloadavg()],
                          "versions": {p: version(p) for p in ("tensorflow", "keras", "ai-edge-litert", "onnxruntime")}},
              "calls": calls, "artifacts": {}}
    for name in args.artifacts:
        artifact = artifacts.find(*artifacts.split_name(name))
        card = artifacts.verify(artifact.folder)
        raw = _inputs(card, args.data_dir, calls + 10 + 64 * max(calls // 10, 2))
        rows = {}
        with tempfile.TemporaryDirectory() as tmp:
            for path, (call, prepare, got, file, size) in _paths(name, artifact.folder, card, Path(tmp)).items():
                rows[path] = {**_measure(call, prepare, raw, calls), "input": got, "file": file, "bytes": size}
        _ratios(rows)
        result["artifacts"][name] = rows
        print(f"\n{name} (every path gets: {next(iter(rows.values()))['input']})")
        print("| path | batch 1 median (x `model(x)`) | batch 1 p99 | batch 64 samples/s (x `model(x)`) | file | bytes |"
              "\n|---|---|---|---|---|---|")
        for path, r in rows.items():
            size = f"{r['bytes']:,}" if r["bytes"] else ""
            print(f"| {path} | {r['batch1_median_ms']:.2f} ms ({r['batch1_vs_model_call']:.1f}x) | "
                  f"{r['batch1_p99_ms']:.2f} ms | {r['batch64_samples_per_s']:,.0f} ({r['batch64_vs_model_call']:.1f}x) | "
                  f"{r['file'] or '(written for this run)'} | {size} |")
    result["machine"]["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nload average before/after: {result['machine']['loadavg_before']} / "
          f"{result['machine']['loadavg_after']} on {os.cpu_count()} cores; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
