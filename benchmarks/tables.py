"""The README's Performance tables, printed as Markdown from the committed results files.

    python benchmarks/tables.py [speed] [tuning] [serving] [word2vec] [mirrors] [time_to_accuracy]
                                [time_to_accuracy_ablation] [backends] [--results benchmarks/results]

Copy its output into README.md after re-running a benchmark: every figure then comes from the
results file (tests/test_readme_figures.py checks that), and none is typed by hand.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _n(value, decimals=0) -> str:
    return f"{value:,.{decimals}f}"


def _range(row, key, decimals=0) -> str:
    return f"{_n(row[f'{key}_min'], decimals)}–{_n(row[f'{key}_max'], decimals)}"  # an en dash: not a minus


def training_table(section: dict, label: str, batch: int) -> str:
    names = {"numpy fit, Keras defaults (batch 32)": "`model.fit(x, y)`, Keras defaults (batch 32)",
             f"numpy fit, batch {batch}": f"`model.fit(x, y, batch_size={batch})`",
             f"kerazoo pipeline, batch {batch}": f"kerazoo's tf.data pipeline, batch {batch}",
             f"kerazoo pipeline, batch {batch}, length buckets": f"pipeline, batch {batch}, length buckets"}
    repeats = section["repeats"]
    lines = [f"| {label} | samples/s, median of {repeats} | range | **x `fit(x, y)`, batch {batch}** | "
             f"x `fit(x, y)`, Keras default batch 32 | test accuracy, median | range |",
             "|---|---|---|---|---|---|---|"]
    for row in section["rows"]:
        name = row["variant"]
        if name.startswith("kerazoo train path"):
            name = "kerazoo's path: " + name.split(": ", 1)[1].replace("(steps_per_execution=", "`steps_per_execution=") \
                .rstrip(")") + "`"
        elif "jit_compile" in name:
            name = (f"pipeline, batch {batch}, `jit_compile=True` (XLA; {name.split('(')[1].split(' ')[0]} "
                    "samples, so its accuracy is not comparable)")
        else:
            name = names.get(name, name)
        if "samples_per_s_median" not in row:
            lines.append(f"| {name} | failed | | | | | |")
            continue
        lines.append(f"| {name} | {_n(row['samples_per_s_median'])} | {_range(row, 'samples_per_s')} | "
                     f"{row['vs_numpy_same_batch']:.2f} | {row['vs_numpy_default']:.2f} | "
                     f"{row['test_accuracy_median']:.4f} | {_range(row, 'test_accuracy', 4)} |")
    return "\n".join(lines)


BASELINES = {"1 process, default strategy, model.fit": "one process",
             "1 worker, MultiWorkerMirroredStrategy, fit_multiworker": "one worker",
             "1 worker, fit_multiworker, steps_per_execution=32": "one worker, same `steps_per_execution`"}


def scaling_table(section: dict) -> str:
    lines = [f"| scaling, LeNet-5, {section['train_samples'] // 1000}k digits, global batch {section['global_batch']} "
             f"| samples/s, median of {section['repeats']} | range | x 1 process | x its baseline |",
             "|---|---|---|---|---|"]
    for row in section["rows"]:
        setup = row["setup"].replace("MultiWorkerMirroredStrategy", "`MultiWorkerMirroredStrategy`") \
            .replace("MirroredStrategy, model.fit", "`MirroredStrategy`, `model.fit`") \
            .replace("default strategy, model.fit", "default strategy, `model.fit`") \
            .replace("fit_multiworker", "`fit_multiworker`").replace("steps_per_execution=32", "`steps_per_execution=32`")
        setup = setup.replace("``", "`")
        baseline = f"{row['vs_baseline']:.2f} of {BASELINES[row['baseline']]}" if "baseline" in row else ""
        lines.append(f"| {setup} | {_n(row['samples_per_s_median'])} | {_range(row, 'samples_per_s')} | "
                     f"{row['vs_one_process']:.2f} | {baseline} |")
    return "\n".join(lines)


def tuning_table(report: dict) -> str:
    lines = [f"| tuning, {report['trials']} trials x {report['epochs']} epoch | trials/min, median of "
             f"{report['repeats']} | range | x 1 worker, same threads | start-up, s | wall, s |",
             "|---|---|---|---|---|---|"]
    for row in report["runs"]:
        threads = ("TensorFlow's default threads" if row["threads_per_process"] == "default"
                   else f"{row['threads_per_process']} TensorFlow thread per process")
        who = f"{row['workers']} worker{'s' if row['workers'] > 1 else ''}, {threads}"
        lines.append(f"| {who} | {row['trials_per_minute_median']:.2f} | {_range(row, 'trials_per_minute', 2)} | "
                     f"{row.get('vs_baseline', 1.0):.2f} | {row['startup_seconds_median']:.1f} | "
                     f"{row['wall_seconds_median']:.1f} |")
    return "\n".join(lines)


SERVING_PATHS = {"model(x)": ("`model(x)` (`.keras`, direct call)", "`model(x)` (`.keras`)"),
                 "SavedModel": ("SavedModel `serving_default`",) * 2,
                 "LiteRT float": ("LiteRT float",) * 2, "LiteRT int8": ("LiteRT int8",) * 2,
                 "ONNX Runtime": ("ONNX Runtime",) * 2,
                 "model.predict": ("`model.predict` (`.keras`)",) * 2}


def serving_tables(report: dict, artifact: str = "lenet5.mnist") -> tuple[str, str]:
    """The Performance section's serving table (with ratios) and the Deployment section's short one."""
    rows = report["artifacts"][artifact]
    full = [f"| serving `{artifact}` | batch 1, median | **x `model(x)`** | batch 1, p99 | batch 64, samples/s | "
            "**x `model(x)`** | file, bytes |", "|---|---|---|---|---|---|---|"]
    short = [f"| serving `{artifact}` | batch 1, median | batch 64, samples/s | file, bytes |", "|---|---|---|---|"]
    for path, (long_name, short_name) in SERVING_PATHS.items():
        if path not in rows:
            continue
        r = rows[path]
        ms, p99 = f"{r['batch1_median_ms']:g} ms", f"{r['batch1_p99_ms']:g} ms"
        file = f"`{r['file']}`, {_n(r['bytes'])}"
        full.append(f"| {long_name} | {ms} | {r['batch1_vs_model_call']:.1f} | {p99} | "
                    f"{_n(r['batch64_samples_per_s'])} | {r['batch64_vs_model_call']:.1f} | {file} |")
        short.append(f"| {short_name} | {ms} | {_n(r['batch64_samples_per_s'])} | {file} |")
    return "\n".join(full), "\n".join(short)


def mirrors_table(report: dict) -> str:
    """The Performance section's transfer table (benchmarks/mirrors.py)."""
    lines = [f"| pull from 127.0.0.1 | bytes | files | `kerazoo pull`, MB/s, median of {report['repeats']} | range | "
             "HTTP transfer alone, MB/s, median | cut at half of its largest file: bytes fetched twice | "
             "the same from a server without Range |", "|---|---|---|---|---|---|---|---|"]
    for r in report["artifacts"]:
        low, high = r["pull"]["mb_per_s_range"]
        lines.append(f"| `{r['artifact']}` | {_n(r['bytes'])} | {r['file_count']} | {r['pull']['mb_per_s_median']} | "
                     f"{low}–{high} | {r['http_only']['mb_per_s_median']} | {_n(r['resume']['bytes_refetched'])} | "
                     f"{_n(r['restart_without_range']['bytes_refetched'])} |")
    return "\n".join(lines)


def _pair(a: str, b: str, a_value: float, b_value: float) -> str:
    """`a / b` with the higher one in bold."""
    return f"**{a}** / {b}" if a_value > b_value else f"{a} / **{b}**" if b_value > a_value else f"{a} / {b}"


def word2vec_tables(report: dict) -> tuple[str, str]:
    """The Performance section's word2vec-against-gensim tables: one epoch each, then equal wall time."""
    speed = ["| mode | gensim words/s | kerazoo words/s | kerazoo / gensim | per kept word | from text | CPU time | "
             "WordSim-353 after 1 epoch (gensim / kerazoo) |", "|---|---|---|---|---|---|---|---|"]
    equal = ["| mode, equal wall time | gensim (epochs, s) | kerazoo (epochs, s) | an epoch once compiled, s (gensim / "
             "kerazoo) | WordSim-353 (gensim / kerazoo) | linear probe (gensim / kerazoo) |", "|---|---|---|---|---|---|"]
    for mode, r in report["modes"].items():
        one, g, k = r["one_epoch"], r["one_epoch"]["gensim"], r["one_epoch"]["kerazoo"]
        runs = one.get("ratio_words_per_s_runs", [])  # median of interleaved repeats, their range
        spread = f" ({min(runs):.2f}–{max(runs):.2f}, {len(runs)} runs)" if len(runs) > 1 else ""
        speed.append(f"| {mode} | {_n(g['words_per_s'])} | {_n(k['words_per_s'])} | **{one['ratio_words_per_s']:.2f}x**{spread} | "
                     f"{one['ratio_per_kept_word']:.2f}x | {one['ratio_from_text']:.2f}x | "
                     f"{one['ratio_cpu_seconds']:.2f}x | {g['wordsim353']:.3f} / {k['wordsim353']:.3f} "
                     f"({g['wordsim_pairs']} pairs) |")
        g, k = r["equal_time"]["gensim"], r["equal_time"]["kerazoo"]
        wordsim = _pair(f"{g['wordsim353']:.3f}", f"{k['wordsim353']:.3f}", g["wordsim353"], k["wordsim353"])
        probe = _pair(f"{100 * g['probe_accuracy']:.1f} %", f"{100 * k['probe_accuracy']:.1f} %",
                      g["probe_accuracy"], k["probe_accuracy"])
        compiled = r["equal_time"].get("compiled_epoch_speed")  # runs before it was measured: not recorded
        epoch = (f"{g['epoch_seconds']:.2f} / {k['compiled_epoch_seconds']:.2f} ({compiled:.2f}x)" if compiled
                 else "n/a (no whole epoch after the first)" if "epoch_seconds" in g else "not recorded")
        equal.append(f"| {mode} | {g['epochs']}, {g['seconds']:.1f} | {k['epochs_run']}, {k['seconds']:.1f} | "
                     f"{epoch} | {wordsim} | {probe} |")
    return "\n".join(speed), "\n".join(equal)


def import_table(speed: dict) -> str:
    """`import kerazoo` against `import tensorflow`, fresh interpreters (speed.json's import section)."""
    lines = ["| import, fresh interpreter | seconds, median | imports TensorFlow or Keras |", "|---|---|---|"]
    for r in speed["import"]["rows"]:
        heavy = r["imports_tensorflow"] if r["imports_tensorflow"] is not None else r["program"] == "import tensorflow"
        lines.append(f"| `{r['program']}` | {r['median_s']:.3f} | {'yes' if heavy else 'no'} |")
    return "\n".join(lines)


# benchmarks/time_to_accuracy.py FAMILIES
TARGETS = {"lenet5": "LeNet-5: 99.0 % MNIST test accuracy", "dbn": "DBN: 98.5 % MNIST test accuracy",
           "imdb_lstm": "IMDB LSTM: 88 % test accuracy", "imdb_gru": "IMDB GRU: 88 % test accuracy",
           "seq2seq_attention": "seq2seq: 99 % exact match, test dates in unseen formats",
           "dcgan": "DCGAN: LeNet-FID 10, 10,000 samples against the MNIST test digits",
           "word2vec": "word2vec: 85 % linear-probe IMDB sentiment accuracy"}


def _seconds(runner: dict | None, direction: str) -> str:
    """A runner's seconds to target: median [range] of the repeats, or how long it trained without getting there."""
    if runner is None:
        return "not run"
    if runner["median_seconds"] is None:
        best = runner.get("best_median")
        best = "" if best is None else f", best {best * 100:.2f} %" if direction == "max" else f", best {best:.2f}"
        return f"not reached in {_n(runner.get('not_reached_within_seconds') or 0)} s{best} ({runner['reached']})"
    spread = "" if runner["min_seconds"] == runner["max_seconds"] else \
        f" ({_n(runner['min_seconds'])}–{_n(runner['max_seconds'])})"
    return f"{_n(runner['median_seconds'])}{spread}"


def _ratio(family: dict, runner: str) -> str:
    if f"reference_over_{runner}" in family:
        return f"{family[f'reference_over_{runner}']:.2f}x"
    if f"reference_over_{runner}_at_least" in family:
        return f"> {family[f'reference_over_{runner}_at_least']:.2f}x"
    return ""


def _bold(text: str) -> str:
    return f"**{text}**" if text else ""


def time_to_accuracy_table(report: dict) -> str:
    """One row per family: kerazoo's `fast` and card recipes and the outside reference, seconds to the target
    (median and range of the repeats) and the reference / kerazoo ratios of medians (the load of every run is in
    the JSON and the line `load_line` prints: tests/test_readme_figures.py reads no table figure from a load)."""
    lines = [f"| family: target on held-out data | kerazoo `fast`, s (median of {report['repeats']}, range) | "
             "outside reference | reference, s | **reference / `fast`** | CPU s, reference / `fast` | "
             "kerazoo recipe (the card's), s | reference / recipe |",
             "|---|---|---|---|---|---|---|---|"]
    for name, family in report["families"].items():
        runners, direction = family["runners"], family["direction"]
        cpu = family.get("reference_over_fast_cpu")
        lines.append(f"| {TARGETS.get(name, name)} | {_seconds(runners.get('fast'), direction)} | {family['reference']} | "
                     f"{_seconds(runners.get('reference'), direction)} | {_bold(_ratio(family, 'fast'))} | "
                     f"{'' if cpu is None else f'{cpu:.2f}x'} | {_seconds(runners.get('recipe'), direction)} | "
                     f"{_ratio(family, 'recipe')} |")
    return "\n".join(lines)


ABLATED = {"fast": "`fast` as shipped", "fast+augment": "+ the card's distortions",
           "fast+validation": "+ the card's 10 % validation split", "fast+batch128": "at the card's batch size",
           "fast+cosine": "with the card's learning rate and schedule",
           "fast+pretrain": "+ the card's RBM pretraining (10 epochs each)", "fast+dropout": "with the card's dropout",
           "fast+epochs": "over the card's epochs", "fast-word2vec": "without the card's word2vec.imdb embedding init",
           "recipe": "the card's recipe (every setting put back)"}


def ablation_table(report: dict) -> str:
    """Leave-one-out ablations of `fast` (time_to_accuracy.py --runners fast fast+augment ...): seconds to the target
    and the ratio to `fast` run beside them, a row per family and runner."""
    lines = ["| family | `fast` with one card setting put back | runs (seeds) | seconds to target, median (range) | "
             "x `fast` | best accuracy seen, median |", "|---|---|---|---|---|---|"]
    for name, family in report["families"].items():
        for runner, summary in family["runners"].items():
            ratio = family.get(f"{runner}_over_fast")
            lines.append(f"| {name} | {ABLATED.get(runner, runner)} | {len(summary['runs'])} | "
                         f"{_seconds(summary, family['direction'])} | "
                         f"{'1.00' if runner == 'fast' else '' if ratio is None else f'{ratio:.2f}'} | "
                         f"{100 * summary['best_median']:.2f} % |")
    return "\n".join(lines)


def load_line(report: dict) -> str:
    """The 1-minute load averages before the runs of each family (min-max), for the prose beside the table."""
    parts = []
    for name, family in report["families"].items():
        loads = [v for r in family["runners"].values() for v in r.get("loadavg_1min_before", []) if v is not None]
        if loads:
            parts.append(f"{name} {min(loads):.1f}-{max(loads):.1f}")
    return "1-minute load average before the runs: " + ", ".join(parts)


BACKEND_FAMILIES = {"lenet5": "LeNet-5 (MNIST)", "dbn": "DBN, fine-tuning (MNIST)", "autoencoder": "autoencoder (MNIST)",
                    "dcgan": "DCGAN (MNIST)", "imdb_lstm": "IMDB LSTM", "word2vec": "word2vec skip-gram",
                    "seq2seq_attention": "seq2seq with attention (dates)"}


def backends_speed_table(report: dict) -> str:
    """benchmarks/backends.py's speed section: `model.fit` samples/s per family on TensorFlow and JAX (medians and
    ranges of the interleaved repeats, each in a fresh process). The held-out figures after these few short epochs
    stay in the JSON: too early to compare quality (the parity table does that on the trained artifacts)."""
    speed = report["speed"]
    lines = [f"| family | examples x epochs, batch | TensorFlow samples/s, median of {speed['repeats']} (range) | "
             "JAX samples/s (range) | **JAX / TensorFlow** |",
             "|---|---|---|---|---|"]
    for row in speed["rows"]:
        tf, jax = row["tensorflow"], row["jax"]
        lines.append(f"| {BACKEND_FAMILIES.get(row['family'], row['family'])} | {_n(row['examples'])} x "
                     f"{row['epochs']}, {row['batch']} | {_n(tf['samples_per_s'])} ({_n(tf['min'])}–{_n(tf['max'])}) | "
                     f"{_n(jax['samples_per_s'])} ({_n(jax['min'])}–{_n(jax['max'])}) | "
                     f"**{row['jax_over_tensorflow']:.2f}x** |")
    return "\n".join(lines)


def backends_kernels_table(report: dict) -> str:
    """benchmarks/backends.py's kernels section: why JAX trails on some families (the same runs as speed, with
    TensorFlow's oneDNN kernels switched off and with JAX's step run op by op beside the defaults)."""
    kernels = report["kernels"]
    lines = [f"| family, samples/s (median of {kernels['repeats']}) | TensorFlow | TensorFlow, oneDNN off | "
             "JAX, step compiled | JAX, step op by op | **JAX / TensorFlow** | JAX op by op / TensorFlow |",
             "|---|---|---|---|---|---|---|"]
    for row in kernels["rows"]:
        speeds = [_n(row[label]["samples_per_s"]) for label in ("tensorflow", "tensorflow, oneDNN off", "jax",
                                                                  "jax, step op by op")]
        lines.append(f"| {BACKEND_FAMILIES.get(row['family'], row['family'])} | {' | '.join(speeds)} | "
                     f"**{row['jax_over_tensorflow']:.2f}x** | {row['jax_op_by_op_over_tensorflow']:.2f}x |")
    return "\n".join(lines)


def backends_parity_table(report: dict) -> str:
    """benchmarks/backends.py's parity section: each shipped artifact on JAX against its TensorFlow SavedModel."""
    lines = ["| artifact on JAX | held-out inputs | max abs difference from the SavedModel | same answers |",
             "|---|---|---|---|"]
    for row in report["parity"]["rows"]:
        same = (f"top-1 {100 * row['top1']:.2f} %" if row.get("top1") is not None
                else f"translations {100 * row['equal']:.2f} %" if row.get("equal") is not None
                else "(outputs, no classes)")
        diff = "" if row.get("max_abs_diff") is None else f"{row['max_abs_diff']:.1e}"
        lines.append(f"| {row['name']} | {row['inputs']} | {diff} | {same} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*",
                        choices=("speed", "tuning", "serving", "word2vec", "mirrors", "time_to_accuracy",
                                 "time_to_accuracy_ablation", "backends"),
                        default=["speed", "tuning", "serving", "word2vec", "mirrors", "time_to_accuracy",
                                 "time_to_accuracy_ablation", "backends"])
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of speed.json and tuning_workers.json")
    args = parser.parse_args()
    if "speed" in args.which:
        speed = json.loads((args.results / "speed.json").read_text())
        print(f"load average (1, 5, 15 min) before {speed['machine']['loadavg_before']}, "
              f"after {speed['machine']['loadavg_after']}\n")
        lenet, imdb = speed["training"]
        print(training_table(lenet, f"LeNet-5, MNIST {lenet['train_samples'] // 1000}k x {lenet['epochs']} epochs",
                             128), end="\n\n")
        print(training_table(imdb, f"IMDB LSTM, {imdb['train_samples'] // 1000}k reviews x {imdb['epochs']} epochs",
                             64), end="\n\n")
        print(import_table(speed), end="\n\n")
        print(scaling_table(speed["scaling"]), end="\n\n")
    if "tuning" in args.which:
        print(tuning_table(json.loads((args.results / "tuning_workers.json").read_text())), end="\n\n")
    if "serving" in args.which:
        full, short = serving_tables(json.loads((args.results / "serving.json").read_text()))
        print(full, short, sep="\n\n")
    if "word2vec" in args.which:
        print(*word2vec_tables(json.loads((args.results / "word2vec_gensim.json").read_text())), sep="\n\n")
    if "mirrors" in args.which:
        mirrors = json.loads((args.results / "mirrors.json").read_text())
        print(f"\nload average (1, 5, 15 min) before {mirrors['machine']['loadavg_before']}, "
              f"after {mirrors['machine']['loadavg_after']}\n")
        print(mirrors_table(mirrors))
    if "time_to_accuracy" in args.which:
        report = json.loads((args.results / "time_to_accuracy.json").read_text())
        print(f"\nload average (1, 5, 15 min) before {report['machine']['loadavg_before']}, "
              f"after {report['machine']['loadavg_after']}\n")
        print(load_line(report), end="\n\n")
        print(time_to_accuracy_table(report))
    if "time_to_accuracy_ablation" in args.which:
        print(ablation_table(json.loads((args.results / "time_to_accuracy_ablation.json").read_text())))
    if "backends" in args.which:
        report = json.loads((args.results / "backends.json").read_text())
        print(f"\nload average (1 min) before the speed runs: "
              f"{min(v for r in report['speed']['rows'] for b in ('tensorflow', 'jax') for v in r[b]['loadavg_before'])}"
              f"-{max(v for r in report['speed']['rows'] for b in ('tensorflow', 'jax') for v in r[b]['loadavg_before'])}\n")
        print(backends_speed_table(report), end="\n\n")
        if "kernels" in report:
            print(backends_kernels_table(report), end="\n\n")
        if "parity" in report:
            print(backends_parity_table(report))


if __name__ == "__main__":
    main()
