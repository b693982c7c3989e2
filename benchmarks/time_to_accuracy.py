"""Time to accuracy: how soon a recipe's model first reaches its card's target on held-out data, against an outside
recipe run side by side.

    python benchmarks/time_to_accuracy.py --data-dir ../shared/data [--only lenet5] [--runners fast reference]
                                          [--repeats 3] [--quick]

For a family, on this machine, the wall seconds from the start of training (data read from the files, model
built, compilation and every per-epoch task of the recipe included) to the first evaluation at or past the
target on the held-out split. The families (issue 29):

  family     target                                               outside reference (benchmarks/references.py)
  lenet5     99.0 % accuracy, the 10,000 MNIST test digits        keras-io "Simple MNIST convnet"
  dbn        98.5 % accuracy, the 10,000 MNIST test digits        scikit-learn's RBM features + logistic regression
  imdb_lstm  88 % accuracy, the 25,000 IMDB test reviews          keras-io "Bidirectional LSTM on IMDB"
  imdb_gru   88 % accuracy, the 25,000 IMDB test reviews          the same with GRU cells
  seq2seq    99 % greedy exact match, the test dates written in   keras-io "Character-level recurrent
             formats training never writes                        sequence-to-sequence model" (LSTM 256)
  dcgan      LeNet-FID 10: 10,000 samples against the 10,000      keras-io guide "Customizing what happens in
             MNIST test digits, lenet5.mnist's F6 features        fit()", its GAN on MNIST
  word2vec   85 % sentiment accuracy of a linear probe on the     gensim 4 Word2Vec (skip-gram, 2 worker threads)
             averaged vectors, 25,000 IMDB train -> 25,000 test   with the recipe's settings

Runners: `recipe` is `kerazoo.train(NAME)` (the config's recipe, its card's), `fast` is
`kerazoo.train(NAME, recipe="fast")` (the config's `recipes: {fast: ...}`), `reference` the outside recipe. Every
run is a fresh process. The held-out evaluation runs at fixed intervals, every `every` epochs of the runner's own
training split (the same for all runners of a family: `FAMILIES`; with `steps_per_execution` it runs at the first
callback at or past each point), and once more when training ends; the clock stops while it runs (evaluation is
not the recipe's work; the recipe's own validation, scoring and checkpoints are, and count). A run stops at the
target, or at its budget: the recipe's own epochs, the reference's (published), or `max_minutes` of training
(`--max-minutes` sets one budget for every run: how far each runner gets in equal time).

Each measurement is repeated `--repeats` times, interleaved (repeat r of every runner of every family before
repeat r+1) and seeded `seed + r`; a row gives the median and range of the seconds to target (a run that did not
reach it counts as slower than any that did), and the ratio of medians reference / kerazoo. The load averages
(1, 5, 15 min) before and after every run, and each run's CPU seconds, are recorded: the machine may be shared,
so only ratios measured side by side mean anything. `--quick` caps every run at 45 s of training and scores a
1,000-example prefix of the held-out data: a smoke run of the plumbing, not a measurement.

Every finished run is written at once to `time_to_accuracy.partial.json` beside the output: an interrupted
measurement (Ctrl-C, a closed session) is resumed by running the same command again, which measures only the runs
still missing. Writes benchmarks/results/time_to_accuracy.json; `python benchmarks/tables.py time_to_accuracy`
prints the README's table from it.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))


@dataclasses.dataclass(frozen=True)
class Family:
    target: float
    metric: str
    direction: str                 # "max": accuracy-like; "min": FID
    every: float                   # evaluations every `every` epochs of the runner's training split
    reference: str                 # what the outside recipe is
    max_minutes: float             # training minutes a run may take (evaluation not counted)


FAMILIES = {
    "lenet5": Family(0.99, "test accuracy (10,000 MNIST test digits)", "max", 0.5,
                     "keras-io Simple MNIST convnet", 40),
    "dbn": Family(0.985, "test accuracy (10,000 MNIST test digits)", "max", 1.0,
                  "scikit-learn BernoulliRBM (500) + LogisticRegression", 10),
    "imdb_lstm": Family(0.88, "test accuracy (25,000 IMDB test reviews)", "max", 0.5,
                        "keras-io Bidirectional LSTM on IMDB", 15),
    "imdb_gru": Family(0.88, "test accuracy (25,000 IMDB test reviews)", "max", 0.5,
                       "keras-io Bidirectional LSTM on IMDB, GRU cells", 15),
    "seq2seq_attention": Family(0.99, "greedy exact match, the test dates in formats training never writes", "max",
                                0.25, "keras-io character-level LSTM seq2seq", 10),
    "dcgan": Family(10.0, "LeNet-FID, 10,000 samples against the 10,000 MNIST test digits", "min", 0.5,
                    "keras-io guide's GAN (Customizing what happens in fit), MNIST", 90),
    "word2vec": Family(0.85, "linear-probe sentiment accuracy (25,000 IMDB train -> 25,000 test reviews)", "max", 1.0,
                       "gensim 4.4 Word2Vec, skip-gram, 2 worker threads", 15),
}
# Leave-one-out ablations of the `fast` recipe (`--runners fast fast+augment ...`): each is `recipe="fast"` with the
# card recipe's own values of these keys put back (a config overlay; a key the card leaves out, its `Recipe` default),
# so it says what leaving that out of `fast` buys; a mapping is a recipe overlay of its own (what `fast` keeps from
# the card taken out).
ABLATIONS = {"fast+augment": ("augment",), "fast+validation": ("validation_split",), "fast+batch128": ("batch_size",),
             "fast+cosine": ("learning_rate", "callbacks"), "fast+pretrain": ("pretrain",), "fast+dropout": ("model",),
             "fast+epochs": ("epochs",), "fast-word2vec": {"pretrain": {}}}
RUNNERS = ("reference", "fast", "recipe", *ABLATIONS)


# === In the child: the clock, the tracker, the evaluators ===

def at_or_past(value: float, target: float, direction: str) -> bool:
    """Whether `value` is at `target` or better: higher for "max" (accuracies), lower for "min" (FID)."""
    return value >= target if direction == "max" else value <= target


class Stop(Exception):
    """Raised by the tracker at the target or at the end of the budget: the run ends there."""


class Clock:
    """Wall seconds since `start`, less the paused ones."""

    def __init__(self):
        self.started, self.paused, self.cpu = time.perf_counter(), 0.0, time.process_time()

    def seconds(self) -> float:
        return time.perf_counter() - self.started - self.paused

    def exclude(self, seconds: float) -> None:
        self.paused += seconds

    @contextlib.contextmanager
    def pause(self):
        began, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.paused += time.perf_counter() - began
            self.cpu += time.process_time() - cpu  # the evaluation's CPU time is not counted either


class Tracker:
    """Evaluates `tracker.model` at fixed points, records the curve, raises `Stop` at the target or past the budget."""

    def __init__(self, evaluate, family: Family, max_seconds: float):
        self.evaluate, self.family, self.max_seconds = evaluate, family, max_seconds
        self.model, self.extra, self.curve, self.clock = None, {}, [], Clock()
        self.reached_at = self.cpu_at = None
        self.last_progress = None

    def reached(self, value: float) -> bool:
        return at_or_past(value, self.family.target, self.family.direction)

    def check(self, progress: float, not_counted: float = 0.0) -> None:
        seconds, cpu = self.clock.seconds(), time.process_time() - self.clock.cpu
        with self.clock.pause():
            value = float(self.evaluate(self))
        self.clock.exclude(not_counted)  # counted at this point only (e.g. a classifier fitted to score the features)
        self.curve.append([round(progress, 3), round(seconds, 2), round(value, 5)])
        self.last_progress = progress
        print(f"    {progress:.2f} epochs, {seconds:.1f} s: {value:.4f}", file=sys.stderr, flush=True)
        if self.reached(value):
            self.reached_at, self.cpu_at = seconds, cpu
            raise Stop
        if seconds > self.max_seconds:
            raise Stop

    def over_budget(self) -> bool:
        return self.clock.seconds() > self.max_seconds

    def finish(self) -> None:
        """End of a hand-written training loop (each of its epochs was evaluated): the run ends."""
        raise Stop

    def keras_callback(self, every: float):
        import keras

        tracker = self

        class Every(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.steps, self.next, self.epoch = self.params.get("steps") or 1, every, 0
                if tracker.model is None:
                    tracker.model = self.model

            def on_epoch_begin(self, epoch, logs=None):
                self.epoch = epoch

            def on_train_batch_end(self, batch, logs=None):
                done = self.epoch + min(batch + 1, self.steps) / self.steps
                if done >= self.next - 1e-9:
                    self.next = (int(done / every + 1e-9) + 1) * every
                    tracker.check(done)
                elif tracker.over_budget():
                    tracker.check(done)

            def on_train_end(self, logs=None):
                done = self.epoch + 1
                if tracker.last_progress is None or tracker.last_progress < done - 1e-9:
                    tracker.check(done)
                raise Stop

        return Every()


def _mnist_test(data_dir, n):
    with np.load(f"{data_dir}/mnist/mnist.npz") as f:
        return f["x_test"][:n], f["y_test"][:n]


def mnist_accuracy(data_dir, n):
    x, y = _mnist_test(data_dir, n)

    def evaluate(tracker):
        model = tracker.model
        if isinstance(model, tuple):  # scikit-learn: (feature extractor, classifier) on pixels in [0, 1]
            features, classifier = model
            return np.mean(classifier.predict(features.transform(x.reshape(len(x), -1) / 255.0)) == y)
        if len(model.input_shape) == 4:  # keras-io: float images in [0, 1] with a channel axis
            probs = model.predict(np.expand_dims(x.astype("float32") / 255, -1), batch_size=1000, verbose=0)
        else:  # kerazoo: raw uint8 digits
            probs = model.predict(x, batch_size=1000, verbose=0)
        return np.mean(np.asarray(probs).argmax(-1) == y)

    return evaluate


def imdb_accuracy(data_dir, n):
    """Accuracy on the IMDB test reviews. The reference's model reads its own ids (its vocabulary, the last 200
    words, padded at the front, unmasked); kerazoo's network reads the recipe's test pipeline (its vectorizer's
    ids, masked), here sorted by length and cut to each batch's longest review: masking makes that the same
    output, sooner."""
    from kerazoo.data.imdb import load_imdb

    texts, labels = load_imdb(data_dir=data_dir)["test"]
    texts, labels = texts[:n].astype(str), labels[:n] > 0.5

    def evaluate(tracker):
        import references

        if "vectorize" in tracker.extra:  # the test ids are made once per run, at its first evaluation
            if "test_ids" not in tracker.extra:
                tracker.extra["test_ids"] = references.imdb_ids(tracker.extra["vectorize"], texts)
            x = tracker.extra["test_ids"]
            probs = np.asarray(tracker.model.predict(x, batch_size=256, verbose=0)).reshape(-1)
        else:
            if "test_ids" not in tracker.extra:
                test = tracker.extra["data"].test
                tracker.extra["test_ids"] = np.concatenate([xb for xb, _ in test.as_numpy_iterator()])[:n]
            x = tracker.extra["test_ids"]
            lengths = np.count_nonzero(x, axis=1)
            order = np.argsort(lengths, kind="stable")
            probs = np.empty(len(x), "float32")
            for i in range(0, len(x), 256):
                rows = order[i:i + 256]
                cut = max(int(lengths[rows].max()), 1)
                probs[rows] = np.asarray(tracker.model.predict_on_batch(x[rows, :cut])).reshape(-1)
        return np.mean((probs > 0.5) == labels[:len(probs)])

    return evaluate


def dates_exact_match(data_dir, n):
    """Greedy exact match on the test split's real dates in unseen formats (`kerazoo.data.dates.date_splits`, the
    recipe's own split: kerazoo's run makes it, the reference is handed the same one). kerazoo's model decodes with
    its own `translate`; the reference with the keras-io example's greedy loop."""
    def evaluate(tracker):
        test = tracker.extra["test"] if "test" in tracker.extra else tracker.extra["data"].extra["pairs"]["test"]
        examples = [e for e in test if e.kind == "date" and e.unseen][:n]
        if "translate" in tracker.extra:
            answers = tracker.extra["translate"]([e.source for e in examples])
            return np.mean([a == e.target for a, e in zip(answers, examples)])
        from kerazoo.models.seq2seq.training import exact_match

        return exact_match(tracker.model, examples)

    return evaluate


def lenet_fid(data_dir, n):
    """The card's LeNet-FID (`kerazoo.models.dcgan.lenet_scores`): `n` samples against the first `n` MNIST test
    digits, under the shipped lenet5.mnist's F6 features."""
    import kerazoo
    from kerazoo.models.dcgan.scores import lenet_scores
    from kerazoo.models.dcgan.training import SAMPLE_SEED

    scorer, real = kerazoo.get("lenet5.mnist"), _mnist_test(data_dir, n)[0]

    def evaluate(tracker):
        model = tracker.model
        if "latent_dim" in tracker.extra:  # the reference's generator: N(0, 1) latents in, [0, 1] images out
            z = np.random.default_rng(SAMPLE_SEED).standard_normal((n, tracker.extra["latent_dim"])).astype("float32")
            images = np.asarray(model.predict(z, batch_size=1000, verbose=0)) * 2 - 1
        else:  # kerazoo's DCGAN: the card's samples
            images = model.sample(n, seed=SAMPLE_SEED)
        return lenet_scores(images, real, classifier=scorer)["lenet_fid"]

    return evaluate


def probe_accuracy(data_dir, n):
    """`kerazoo.models.word2vec.linear_probe_accuracy`'s probe (the averaged vectors of a review, scaled, a logistic
    regression fitted on the training reviews and scored on the test reviews), with the reviews tokenised once
    before the clock starts; gensim's vectors and kerazoo's are read by their own vocabularies."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from kerazoo.data.imdb import load_imdb
    from kerazoo.data.word2vec import tokenize

    splits, tokenised = load_imdb(data_dir=data_dir), {}
    for split in ("train", "test"):
        texts, labels = splits[split]
        order = np.random.default_rng(0).permutation(len(labels))[:n]  # a prefix would hold one class only
        rows = [[w.decode() for w in row] for batch in tokenize(list(texts[order])) for row in batch.to_list()]
        words, inverse = np.unique(np.array([w for row in rows for w in row] or [""], dtype=object),
                                   return_inverse=True)
        tokenised[split] = (words, inverse, np.cumsum([0] + [len(r) for r in rows]), labels[order])

    def means(vectors, index, split):  # each review's mean known vector (zeros if it has none)
        from scipy.sparse import csr_matrix

        words, inverse, bounds, _ = tokenised[split]
        rows = np.array([index.get(w, -1) if w else -1 for w in words])[inverse]
        review, known = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds)), rows >= 0
        counts = csr_matrix((np.ones(known.sum()), (review[known], rows[known])), shape=(len(bounds) - 1, len(vectors)))
        return (counts @ vectors) / np.maximum(np.asarray(counts.sum(axis=1)), 1)

    def evaluate(tracker):
        model = tracker.model
        if hasattr(model, "wv"):  # gensim
            vectors, index = model.wv.vectors, model.wv.key_to_index
        else:
            vectors = np.asarray(model.vectors, "float64")
            index = {w: i for i, w in enumerate(tracker.extra["data"].extra["vocabulary"].words) if w}
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        probe.fit(means(vectors, index, "train"), tokenised["train"][3])
        return probe.score(means(vectors, index, "test"), tokenised["test"][3])

    return evaluate


EVALUATORS = {"lenet5": (mnist_accuracy, 10000), "dbn": (mnist_accuracy, 10000), "imdb_lstm": (imdb_accuracy, 25000),
              "imdb_gru": (imdb_accuracy, 25000), "seq2seq_attention": (dates_exact_match, 10 ** 9),
              "dcgan": (lenet_fid, 10000), "word2vec": (probe_accuracy, 25000)}


# === In the child: one run ===

def _capture_task_data(tracker):
    """The recipe's `TaskData` as `kerazoo.train` prepares it (its test pipeline in the network's input form),
    handed to the evaluator: a wrapper of `kerazoo.training.tasks.prepare`."""
    from kerazoo.training import tasks

    prepare = tasks.prepare

    def capturing(*args, **kwargs):
        tracker.extra["data"] = data = prepare(*args, **kwargs)
        return data

    tasks.prepare = capturing


def run_kerazoo(tracker, name, runner, data_dir, seed):
    """`kerazoo.train(name)` (`runner == "recipe"`), `kerazoo.train(name, recipe=runner)`, or for an ablation the
    `fast` recipe with the card recipe's values of its keys as a config overlay; into a temporary run folder,
    with the tracker's callback last."""
    import kerazoo
    from kerazoo.recipe import Recipe
    from kerazoo.registry import load_config

    overlay = None
    if runner in ABLATIONS:
        change, card = ABLATIONS[runner], load_config(name).recipe
        defaults = {f.name: f.default_factory() if f.default is dataclasses.MISSING else f.default
                    for f in dataclasses.fields(Recipe)}
        overlay = {"recipe": dict(change) if isinstance(change, dict) else
                   {key: card[key] if key in card else defaults[key] for key in change}}
        runner = "fast"
    _capture_task_data(tracker)
    with tempfile.TemporaryDirectory(prefix="kerazoo-tta-") as out:
        kerazoo.train(name, recipe=None if runner == "recipe" else runner, data_dir=data_dir, seed=seed,
                      output=Path(out) / "run", callbacks=[tracker.keras_callback(FAMILIES[name].every)], verbose=0,
                      config=overlay)


def run_reference(tracker, name, data_dir, seed):
    import references

    every = FAMILIES[name].every
    if name == "lenet5":
        references.lenet_keras_io(tracker, data_dir, seed, every=every)
    elif name == "dbn":
        references.dbn_sklearn(tracker, data_dir, seed, every=every)
    elif name in ("imdb_lstm", "imdb_gru"):
        references.imdb_keras_io(tracker, data_dir, seed, cell=name.split("_")[1], every=every)
    elif name == "seq2seq_attention":  # the recipe's own generated pairs (counted: kerazoo's run makes them too)
        from kerazoo.data.dates import date_splits
        from kerazoo.registry import load_config

        splits = date_splits(**load_config(name).recipe.get("data", {}), seed=seed)  # recipe_data's own call
        tracker.extra["test"] = splits["test"]
        references.seq2seq_keras_io(tracker, splits["train"], seed, every=every)
    elif name == "dcgan":
        references.dcgan_keras_io(tracker, data_dir, seed, every=every)
    elif name == "word2vec":  # the recipe's corpus: the train and unsup reviews (read and tokenised on the clock)
        from kerazoo.data.imdb import load_imdb

        splits = load_imdb(data_dir=data_dir, unsup=True)
        references.word2vec_gensim(tracker, list(splits["train"][0]) + list(splits["unsup"]), seed)
    else:
        raise ValueError(f"no reference for {name}")


def child(name, runner, seed, data_dir, quick, max_minutes=None) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras  # noqa: F401  imported before the clock starts, as kerazoo's side imports it
    import tensorflow  # noqa: F401

    import kerazoo  # noqa: F401

    family = FAMILIES[name]
    make, n = EVALUATORS[name]
    evaluate = make(data_dir, 1000 if quick else n)
    load = [round(v, 2) for v in os.getloadavg()]
    tracker = Tracker(evaluate, family, 45 if quick else 60 * (max_minutes or family.max_minutes))
    error = None
    tracker.clock = Clock()
    try:
        if runner == "reference":
            run_reference(tracker, name, data_dir, seed)
        else:
            run_kerazoo(tracker, name, runner, data_dir, seed)
    except Stop:
        pass
    except Exception as e:  # noqa: BLE001 - a run that fails is reported, not hidden
        import traceback

        traceback.print_exc()
        error = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
    values = [v for _, _, v in tracker.curve]
    best = (max if family.direction == "max" else min)(values) if values else None
    return {"seed": seed, "reached": tracker.reached_at is not None,
            "seconds": None if tracker.reached_at is None else round(tracker.reached_at, 2),
            "cpu_seconds": None if tracker.cpu_at is None else round(tracker.cpu_at, 2),
            "trained_seconds": tracker.curve[-1][1] if tracker.curve else None,
            "best": best, "curve": tracker.curve, "loadavg_start": load,
            "loadavg_end": [round(v, 2) for v in os.getloadavg()], **({"error": error} if error else {})}


# === In the parent: interleaved repeats, summaries ===

def _launch(name, runner, seed, data_dir, quick, timeout, max_minutes=None) -> dict:
    command = [sys.executable, __file__, "--_child", name, runner, "--seed", str(seed), "--data-dir", str(data_dir)]
    command += ["--quick"] if quick else []
    command += ["--max-minutes", str(max_minutes)] if max_minutes else []
    before = [round(v, 2) for v in os.getloadavg()]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, start_new_session=True,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()
        return {"seed": seed, "reached": False, "error": f"killed after {timeout} s", "loadavg_before": before}
    except KeyboardInterrupt:  # the child is in its own session: Ctrl-C does not reach it
        os.killpg(process.pid, 9)
        process.wait()
        raise
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        return {"seed": seed, "reached": False, "error": f"exit code {process.returncode}", "loadavg_before": before}
    return {**json.loads(lines[-1]), "loadavg_before": before, "loadavg_after": [round(v, 2) for v in os.getloadavg()]}


def summarise(runs: list[dict]) -> dict:
    """Median and range of the seconds to target; a run that did not reach it counts as slower than any that did."""
    keyed = sorted((r["seconds"] if r.get("reached") else float("inf")) for r in runs)
    median = statistics.median(keyed) if keyed else float("inf")
    reached = [r["seconds"] for r in runs if r.get("reached")]
    cpu = [r["cpu_seconds"] for r in runs if r.get("reached")]
    budget = [r["trained_seconds"] for r in runs if not r.get("reached") and r.get("trained_seconds") is not None]
    bests = [r["best"] for r in runs if r.get("best") is not None]
    out = {"reached": f"{len(reached)}/{len(runs)}",
           "median_seconds": None if median == float("inf") else round(median, 1),
           "min_seconds": min(reached) if reached else None, "max_seconds": max(reached) if reached else None,
           "median_cpu_seconds": round(statistics.median(cpu), 1) if cpu and len(cpu) == len(runs) else None,
           "best_median": round(statistics.median(bests), 4) if bests else None,
           "loadavg_1min_before": [r.get("loadavg_before", [None])[0] for r in runs]}
    if median == float("inf") and budget:
        out["not_reached_within_seconds"] = round(min(budget), 1)  # the shortest budget a failed run used
    return out


def ratios(family: dict) -> None:
    """reference / kerazoo (ratio of medians) for each kerazoo runner; `at_least` when the reference never got there,
    and then also the time to the reference's own best (`reference_best`)."""
    ref = family["runners"].get("reference")
    fast = family["runners"].get("fast")
    for runner in (*ABLATIONS, "recipe"):  # against `fast` run beside it: > 1 means slower to the target
        mine = family["runners"].get(runner)
        if fast and mine and fast["median_seconds"] is not None and mine["median_seconds"] is not None:
            family[f"{runner}_over_fast"] = round(mine["median_seconds"] / fast["median_seconds"], 2)
    for runner in ("fast", "recipe"):
        mine = family["runners"].get(runner)
        if not ref or not mine or mine["median_seconds"] is None:
            continue
        if ref["median_seconds"] is not None:
            family[f"reference_over_{runner}"] = round(ref["median_seconds"] / mine["median_seconds"], 2)
        elif ref.get("not_reached_within_seconds"):
            family[f"reference_over_{runner}_at_least"] = round(ref["not_reached_within_seconds"]
                                                                / mine["median_seconds"], 2)
        if ref.get("median_cpu_seconds") and mine.get("median_cpu_seconds"):
            family[f"reference_over_{runner}_cpu"] = round(ref["median_cpu_seconds"] / mine["median_cpu_seconds"], 2)
    if ref and ref["median_seconds"] is None and ref.get("best_median") is not None:
        reference_best(family)


def reached_at(run: dict, value: float, direction: str) -> float:
    """The seconds of a run's first evaluation at or past `value` (its curve), or infinity."""
    for _, seconds, seen in run.get("curve", []):
        if at_or_past(seen, value, direction):
            return seconds
    return float("inf")


def reference_best(family: dict) -> None:
    """When the reference never reaches the target: the time every runner takes to reach the reference's own best
    (the median of its runs' best values), read off the same runs' curves, and reference / kerazoo as a ratio of
    medians. A weaker target than the family's, but measured side by side: how much sooner kerazoo gets as far as the
    reference got in its whole budget."""
    runs, direction = family["runners"]["reference"]["runs"], family["direction"]
    value = statistics.median(run["best"] for run in runs if run.get("best") is not None)  # unrounded
    first = statistics.median(run["curve"][0][2] for run in runs if run.get("curve"))
    if value == first:  # the reference never got past its first evaluation (seq2seq's 0 %): nothing to reach
        return
    times = {name: statistics.median(reached_at(run, value, direction) for run in summary["runs"])
             for name, summary in family["runners"].items()}
    family["reference_best"] = {"value": round(value, 4), "median_seconds": {
        name: None if t == float("inf") else round(t, 1) for name, t in times.items()}}
    for name, t in times.items():
        if name != "reference" and t != float("inf") and times["reference"] != float("inf"):
            family["reference_best"][f"reference_over_{name}"] = round(times["reference"] / t, 2)


class Unfinished:
    """The runs an unfinished measurement has already made, in `<output>.partial.json`, each written as it ends: a
    measurement of hours (DCGAN's 3 x 2 runs of up to 90 minutes) can be stopped and resumed by the same command,
    losing at most the run that was going. Only the same plan (families, runners, repeats, seed, budget) resumes it."""

    def __init__(self, output: Path, plan: dict):
        self.path, self.plan = output.with_name(output.stem + ".partial.json"), plan
        kept = json.loads(self.path.read_text()) if self.path.is_file() else {"plan": plan, "seconds": 0, "runs": []}
        if kept["plan"] != plan:
            raise SystemExit(f"{self.path} holds an unfinished measurement of another plan: {kept['plan']}. Run "
                             f"that plan again to finish it, or delete the file to start this one ({plan}).")
        self.seconds = kept["seconds"]  # of training and evaluating in the earlier invocations
        self.runs = {(r["family"], r["runner"], r["repeat"]): r["run"] for r in kept["runs"]}
        self.started = time.time()

    def keep(self, name: str, runner: str, repeat: int, run: dict) -> None:
        """Write `run` down, unless it failed (killed, or crashed): a failed run is measured again on resume."""
        if "error" in run:
            return
        self.runs[(name, runner, repeat)] = run
        state = {"plan": self.plan, "seconds": round(self.elapsed()),
                 "runs": [{"family": n, "runner": r, "repeat": i, "run": v} for (n, r, i), v in self.runs.items()]}
        from kerazoo.tuning.state import write_json

        write_json(self.path, state)  # atomic: a kill while writing leaves the last whole file

    def elapsed(self) -> float:
        return self.seconds + time.time() - self.started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("KERAZOO_DATA_DIR") or os.environ.get("KERAZOO_SHARED_DATA"))
    parser.add_argument("--only", nargs="*", choices=list(FAMILIES), help="families (default: every one)")
    parser.add_argument("--runners", nargs="*", choices=RUNNERS, default=list(RUNNERS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--quick", action="store_true", help="45 s of training per run, 1,000 held-out examples")
    parser.add_argument("--max-minutes", type=float, help="every run's training budget in minutes, in place of its "
                        "family's `max_minutes` (a shorter one measures how far each runner gets in equal time)")
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "time_to_accuracy.json"))
    parser.add_argument("--merge", action="store_true", help="keep the output file's other families")
    parser.add_argument("--_child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.data_dir:
        parser.error("--data-dir is needed (the folder with mnist/mnist.npz and aclImdb/aclImdb_v1.tar.gz)")
    if args._child:
        print(json.dumps(child(*args._child, args.seed, args.data_dir, args.quick, args.max_minutes)), flush=True)
        return
    names = args.only or list(FAMILIES)
    repeats = 1 if args.quick else args.repeats
    out = Path(args.output)
    result = json.loads(out.read_text()) if args.merge and out.is_file() else {"families": {}}
    for kept in result["families"].values():  # the run each kept family was measured in stays beside it
        kept.setdefault("run", {k: result[k] for k in ("machine", "seconds", "versions") if k in result})
    result.update({"machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                               "loadavg_before": [round(v, 2) for v in os.getloadavg()]},
                   "quick": args.quick, "repeats": repeats,
                   "evaluation": "every `every` epochs of the runner's training split and at its end, clock paused"})
    plan = {"families": names, "runners": args.runners, "repeats": repeats, "seed": args.seed, "quick": args.quick,
            "max_minutes": args.max_minutes}
    unfinished = Unfinished(out, plan)
    if unfinished.runs:
        print(f"resuming: {len(unfinished.runs)} of {repeats * len(names) * len(args.runners)} runs are kept in "
              f"{unfinished.path}", flush=True)
    runs = {(n, r): [] for n in names for r in args.runners}
    try:
        for repeat in range(repeats):  # interleaved: repeat r of every run before repeat r + 1
            for name in names:
                for runner in args.runners:
                    run = unfinished.runs.get((name, runner, repeat))
                    if run is None:
                        budget = args.max_minutes or FAMILIES[name].max_minutes
                        run = _launch(name, runner, args.seed + repeat, args.data_dir, args.quick,
                                      60 * budget * 3 + 1800, args.max_minutes)
                        unfinished.keep(name, runner, repeat, run)
                    runs[(name, runner)].append(run)
                    shown = {k: v for k, v in run.items() if k != "curve"}
                    print(f"{name} {runner} repeat {repeat + 1}/{repeats}: {shown}", flush=True)
    except KeyboardInterrupt:
        raise SystemExit(f"interrupted: {len(unfinished.runs)} finished runs are kept in {unfinished.path}; the same "
                         f"command resumes the measurement") from None
    for name in names:
        family = FAMILIES[name]
        entry = {"target": family.target, "metric": family.metric, "direction": family.direction,
                 "every_epochs": family.every, "reference": family.reference,
                 "max_minutes": args.max_minutes or family.max_minutes,
                 "runners": {r: {**summarise(runs[(name, r)]), "runs": runs[(name, r)]} for r in args.runners}}
        ratios(entry)
        result["families"][name] = entry
    from kerazoo.training.run import versions

    result["machine"]["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    result["seconds"] = round(unfinished.elapsed())  # the earlier invocations' of a resumed measurement too
    result["versions"] = versions()
    for name in names:  # with --merge, the top-level machine, seconds and versions are this run's
        result["families"][name]["run"] = {k: result[k] for k in ("machine", "seconds", "versions")}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    unfinished.path.unlink(missing_ok=True)
    for name in names:
        entry = result["families"][name]
        print(name, {r: {k: v for k, v in s.items() if k != "runs"} for r, s in entry["runners"].items()},
              {k: v for k, v in entry.items() if k.startswith("reference_over")})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
