"""Distributed tuning throughput (1 vs 2 local workers) and what a short LeNet-5 search finds on MNIST.

    python benchmarks/tuning_workers.py [--trials 8] [--epochs 1] [--data-dir ../shared/data] [--search-trials 8]
                                        [--repeats 3]

1. The same random search (LeNet-5 search space, `--trials` trials of `--epochs` epochs) runs
   with a chief and 1 worker, then a chief and 2 workers, each with TensorFlow's default threads
   and with one intra/inter-op thread per worker process, all `kerazoo tune` processes on
   127.0.0.1. Throughput is trials per minute from the first trial's start to the last trial's end
   (process start-up excluded; it is reported separately); each 2-worker setup is compared with
   1 worker of the same threads. Every setup runs `--repeats` times, interleaved; a row gives the
   median and range, with the 1-minute load average before each run. The data is a
   `--train-size` slice of MNIST when `--data-dir` has `mnist.npz`, else synthetic digits; it is
   written to a temporary directory, never to the repository.
2. With `--data-dir`: a `--search-trials` random search on the same slice against the default
   config (the recipe as shipped) trained for the same epochs; validation and test accuracy.
3. What making each trial's data afresh costs (kerazoo.tune does it so a trial's score depends
   only on its values): seconds of `kerazoo.training.tasks.prepare` for LeNet-5 on the same slice
   and, when `--data-dir` has the IMDB archive, for imdb_lstm (first call: reading the archive).
   `--only-preparation` runs this part alone.

Both workers share this machine's cores, so the ratio shows the overhead and contention of
distributed tuning here, not the speed-up of workers on separate machines.
Writes benchmarks/results/tuning_workers.json.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kerazoo.testing import synthetic_digits


def _write_data(folder: Path, data_dir, train_size: int, test_size: int) -> str:
    source = Path(data_dir or "/nonexistent") / "mnist" / "mnist.npz"
    source = source if source.exists() else Path(data_dir or "/nonexistent") / "mnist.npz"
    if source.exists():
        with np.load(source) as f:
            x, y, xt, yt = f["x_train"][:train_size], f["y_train"][:train_size], f["x_test"][:test_size], f["y_test"][:test_size]
        kind = f"MNIST (first {train_size} training / {test_size} test digits)"
    else:
        (x, y), (xt, yt) = synthetic_digits(train_size), synthetic_digits(test_size, seed=1)
        kind = f"synthetic digits ({train_size} / {test_size})"
    np.savez(folder / "mnist.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    return kind


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def distributed_run(workers: int, folder: Path, trials: int, epochs: int, timeout: float, threads: int = 0,
                    tag: str = "") -> dict:
    address = f"127.0.0.1:{_free_port()}"
    directory = folder / f"search-{workers}w-{threads}t{tag}"
    command = [sys.executable, "-m", "kerazoo.tuning", "tune", "lenet5", "--chief", address, "--max-trials",
               str(trials), "--epochs", str(epochs), "--directory", str(directory), "--data-dir", str(folder),
               "--no-tensorboard", "--quiet", "--seed", "7"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if threads:  # TensorFlow's thread pools per process (0: TensorFlow's default, all cores)
        env.update(TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS=str(threads))
    started = time.time()
    procs = []
    try:
        for extra in [[]] + [["--worker", str(i)] for i in range(1, workers + 1)]:
            log = open(folder / f"{workers}w-{threads}t{tag}-{len(procs)}.log", "w")
            procs.append(subprocess.Popen(command + extra, stdout=log, stderr=subprocess.STDOUT, env=env,
                                          start_new_session=True))
        while time.time() - started < timeout and any(p.poll() is None for p in procs):
            time.sleep(0.5)
        codes = [p.poll() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    wall = time.time() - started
    if codes != [0] * len(procs):
        raise RuntimeError(f"{workers} worker(s): exit codes {codes}; see the logs in {folder}")
    ran = [t for i in range(1, workers + 1)
           for t in json.loads((directory / "lenet5" / f"worker_tuner{i}.json").read_text())["trials"]]
    first, last = min(t["started"] for t in ran), max(t["ended"] for t in ran)
    return {"workers": workers, "threads_per_process": threads or "default", "trials": len(ran), "search_seconds": round(last - first, 1),
            "trials_per_minute": round(60 * len(ran) / (last - first), 2), "wall_seconds": round(wall, 1),
            "startup_seconds": round(first - started, 1),
            "per_worker": {i: sum(1 for t in json.loads((directory / "lenet5" / f"worker_tuner{i}.json")
                                                        .read_text())["trials"]) for i in range(1, workers + 1)}}


def summarise(runs: list[dict]) -> dict:
    """One setup's repeats: median and range of each measured figure, and the runs themselves."""
    import statistics

    row = {"workers": runs[0]["workers"], "threads_per_process": runs[0]["threads_per_process"]}
    for key in ("trials_per_minute", "search_seconds", "startup_seconds", "wall_seconds"):
        values = [r[key] for r in runs]
        row.update({f"{key}_median": round(statistics.median(values), 2), f"{key}_min": min(values),
                    f"{key}_max": max(values)})
    return {**row, "runs": runs}


def search_vs_default(folder: Path, trials: int, epochs: int) -> dict:
    import keras_tuner as kt

    from kerazoo import tuning

    result = tuning.tune("lenet5", max_trials=trials, epochs=epochs, data_dir=str(folder), directory=folder / "search",
                         overwrite=True, tensorboard=False, verbose=0, seed=7)

    def trained(hm, hp):  # the recipe's data, the same epochs
        from kerazoo.training.tasks import prepare

        kwargs, recipe = hm.sample(hp)
        data = prepare(hm.config, recipe, kwargs, str(folder), recipe.seed)
        model = hm.build(hp)
        history = hm.fit(hp, model, data.train, validation_data=data.val)
        return (max(history.history["val_accuracy"]),
                model.evaluate(data.test, return_dict=True, verbose=0)["accuracy"])

    hm = tuning.hypermodel("lenet5", epochs=epochs, verbose=0)
    default_val, default_test = trained(hm, kt.HyperParameters())
    best_hp = result.tuner_object.get_best_hyperparameters(1)[0]
    best_val, best_test = trained(hm, best_hp)
    budget = trials * epochs + epochs  # the search's training epochs plus the best config's retraining
    long_val, long_test = trained(tuning.hypermodel("lenet5", epochs=budget, verbose=0), kt.HyperParameters())
    return {"trials": trials, "epochs": epochs, "best_values": result.best["values"],
            "search_best_val_accuracy": result.best["score"],
            "default": {"val_accuracy": default_val, "test_accuracy": default_test},
            "best_retrained": {"val_accuracy": best_val, "test_accuracy": best_test},
            "default_same_budget": {"epochs": budget, "val_accuracy": long_val, "test_accuracy": long_test}}


def preparation_cost(folder: Path, data_dir) -> dict:
    """Seconds of each trial's data preparation: LeNet-5 on `folder`'s mnist.npz, imdb_lstm on IMDB."""
    from kerazoo.tuning import resolve_search
    from kerazoo.training.tasks import prepare

    def timed(name, where, repeats):
        setup = resolve_search(name)
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            prepare(setup.config, setup.recipe, dict(setup.kwargs), where, setup.recipe.seed)
            seconds.append(round(time.perf_counter() - started, 2))
        return seconds

    out = {"lenet5": timed("lenet5", str(folder), 3)}
    imdb = Path(data_dir or "/nonexistent")
    if (imdb / "aclImdb" / "aclImdb_v1.tar.gz").exists() or (imdb / "aclImdb_v1.tar.gz").exists():
        out["imdb_lstm"] = timed("imdb_lstm", str(imdb), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8, help="trials of the throughput search")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-size", type=int, default=20000)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--data-dir", help="folder with mnist.npz (or mnist/mnist.npz)")
    parser.add_argument("--search-trials", type=int, default=8, help="trials of the search-vs-default part")
    parser.add_argument("--search-epochs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--repeats", type=int, default=3, help="runs of every throughput setup (median and range)")
    parser.add_argument("--output", default="benchmarks/results/tuning_workers.json")
    parser.add_argument("--only-preparation", action="store_true", help="only part 3 (no searches)")
    args = parser.parse_args()
    if args.only_preparation:
        load_before = os.getloadavg()
        with tempfile.TemporaryDirectory(prefix="kerazoo-tune-bench-") as tmp:
            kind = _write_data(Path(tmp), args.data_dir, args.train_size, args.test_size)
            cost = preparation_cost(Path(tmp), args.data_dir)
        print(f"data preparation per trial (seconds, repeated): {cost}; LeNet-5 data: {kind}; "
              f"load average {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}")
        return

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="kerazoo-tune-bench-") as tmp:
        folder = Path(tmp)
        kind = _write_data(folder, args.data_dir, args.train_size, args.test_size)
        setups = ((1, 0), (2, 0), (1, 1), (2, 1))  # (workers, TensorFlow threads per process; 0: default)
        measured = {setup: [] for setup in setups}
        for r in range(args.repeats):  # interleaved: a slow spell of the machine touches every setup
            for w, t in setups:
                load = round(os.getloadavg()[0], 2)
                run = distributed_run(w, folder, args.trials, args.epochs, args.timeout, t, tag=f"-r{r}")
                measured[(w, t)].append({**run, "loadavg_1min_before": load})
                print(f"repeat {r + 1}/{args.repeats}: {w} worker(s), threads {t or 'default'}: "
                      f"{run['trials_per_minute']} trials/min (load {load})", flush=True)
        runs = [summarise(measured[setup]) for setup in setups]
        by_setup = dict(zip(setups, runs))
        for (w, t), row in by_setup.items():
            if w == 2:
                row["baseline"] = f"1 worker, threads {t or 'default'}"
                row["vs_baseline"] = round(row["trials_per_minute_median"] / by_setup[(1, t)]["trials_per_minute_median"], 2)
        print(f"\nLeNet-5 random search, {args.trials} trials x {args.epochs} epoch(s) on {kind}; "
              f"{os.cpu_count()} cores; median [min-max] of {args.repeats} runs")
        print(f"{'workers':>8}{'TF threads':>11}{'trials/min':>12}{'range':>14}{'start-up s':>12}{'wall s':>8}"
              "  x 1 worker, same threads")
        for r in runs:
            print(f"{r['workers']:>8}{r['threads_per_process']:>11}{r['trials_per_minute_median']:>12.2f}"
                  f"{r['trials_per_minute_min']:>7.2f}-{r['trials_per_minute_max']:<6.2f}{r['startup_seconds_median']:>12.1f}"
                  f"{r['wall_seconds_median']:>8.1f}  {r.get('vs_baseline', '')}")
        report = {"data": kind, "trials": args.trials, "epochs": args.epochs, "cores": os.cpu_count(),
                  "repeats": args.repeats, "load_average_before": load_before, "runs": runs}
        if args.data_dir and kind.startswith("MNIST"):
            comparison = search_vs_default(folder, args.search_trials, args.search_epochs)
            d, b = comparison["default"], comparison["best_retrained"]
            print(f"\nsearch ({args.search_trials} trials x {args.search_epochs} epochs) vs the default config, "
                  f"same data and epochs:")
            print(f"{'':>16}{'val acc':>10}{'test acc':>10}")
            print(f"{'default config':>16}{d['val_accuracy']:>10.4f}{d['test_accuracy']:>10.4f}")
            print(f"{'best found':>16}{b['val_accuracy']:>10.4f}{b['test_accuracy']:>10.4f}  {comparison['best_values']}")
            same = comparison["default_same_budget"]
            print(f"{'default, ' + str(same['epochs']) + ' epochs':>16}{same['val_accuracy']:>10.4f}"
                  f"{same['test_accuracy']:>10.4f}  (the search's whole budget in epochs)")
            report["search_vs_default"] = comparison
        report["preparation_seconds"] = preparation_cost(folder, args.data_dir)
        print(f"data preparation per trial (seconds, repeated): {report['preparation_seconds']}")
        report["load_average_after"] = os.getloadavg()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
