"""kerazoo's word2vec next to gensim's, same corpus and settings, measured side by side in one run.

    pip install -e ".[benchmark]"      # gensim: a benchmark-only dependency
    python benchmarks/word2vec_gensim.py --data-dir ../shared/data [--documents 20000] [--repeats 3] [--ablation] [--quick]

The corpus: `--documents` IMDB training reviews (a seeded sample of the 25,000), read by
`kerazoo.data.imdb.load_imdb` and tokenised once by `kerazoo.data.word2vec.tokenize` (lower case,
punctuation off, split on whitespace). Both libraries get the same vocabulary: kerazoo's
`Vocabulary.build(max_size=12000, min_count=5)`, handed to gensim with its counts
(`build_vocab_from_freq`), so both train the same 11,999 words on the same token stream.
Settings of both: dimension 64, window 4 (dynamic, both draw a reach in 1..4), 4 negatives
(unigram^0.75), subsampling t = 1e-3, no hierarchical softmax; gensim with 2 worker threads.

Rows: skip-gram with kerazoo's segments form (`kerazoo.get("word2vec", examples="segments")`: every
window pair of a run of words scored in the model, negatives shared by the run; the model
docstring), skip-gram with the pairs form (the recipe's, one (target, context, negatives) row per
pair), and CBOW; gensim runs beside each (the same skip-gram or CBOW settings).
Sections, per row:
  speed      one epoch each, `--repeats` times interleaved (gensim, kerazoo, gensim, ...), the
             medians reported (every run in `runs`); words/s = corpus tokens / wall seconds. gensim: `train()` on the
             token lists; kerazoo: the README's path, `kerazoo.get("word2vec", ..., compile=True)`
             (the recipe's optimizer, batch size and compile settings) and
             `model.fit(make_dataset(ids, vocab, **model.example_options))` on the corpus encoded once by `vocab.encode`
             (tracing and XLA compilation included). "from text" adds each side's own
             preprocessing of the raw reviews: gensim's token lists, kerazoo's `vocab.encode`.
             "CPU time": gensim's CPU seconds over kerazoo's (all threads of the process), less
             sensitive than wall time to other processes on the machine.
             Quality after that epoch: WordSim-353 Spearman (gensim's copy of the file,
             `gensim.test.utils.datapath('wordsim353.tsv')`) on the pairs both vocabularies cover.
  equal time gensim trains 5 epochs; kerazoo trains for the same wall time (stopped by a clock,
             everything from building the model on counted). WordSim-353 of both, and the
             sentiment accuracy of a linear probe on averaged vectors
             (`kerazoo.models.word2vec.linear_probe_accuracy`: fitted on the 25,000 labelled
             training reviews, scored on the 25,000 test reviews).

Subsampling differs in one detail: kerazoo keeps a word of frequency f with probability
sqrt(t/f) (the paper), gensim and word2vec.c with sqrt(t/f) + t/f, which keeps ~11 % more words
of this corpus; the table also gives the words each side kept, and the ratio per kept word.

`--ablation` adds one skip-gram epoch per setting of the recipe (optimizer, learning rate, batch
size, XLA, steps per execution), the example pipeline alone, and gensim's epoch for scale.

Prints a table and writes benchmarks/results/word2vec_gensim.json (with the load average
before and after: other processes share the machine; `uptime` in the JSON).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETTINGS = {"embedding_dim": 64, "window_size": 4, "num_ns": 4, "sample": 1e-3, "vocab_size": 12000,
            "min_count": 5}


def load_corpus(data_dir, documents: int, seed: int = 0):
    """The sampled training reviews, their token lists, the labelled train/test reviews for the probe."""
    import numpy as np

    from kerazoo.data.imdb import load_imdb
    from kerazoo.data.word2vec import tokenize

    splits = load_imdb(data_dir=data_dir)
    texts, labels = splits["train"]
    texts = [texts[i] for i in np.random.default_rng(seed).permutation(len(texts))[:documents]]
    started = time.perf_counter()
    tokens = [[w.decode() for w in row] for batch in tokenize(texts) for row in batch.to_list()]
    return texts, tokens, time.perf_counter() - started, splits


def wordsim(vectors_of, known) -> tuple[float, int]:
    """Spearman correlation of cosine similarities with WordSim-353's human scores, on the pairs
    whose two words are `known` (lower-cased, as both vocabularies are)."""
    import numpy as np
    from gensim.test.utils import datapath
    from scipy.stats import spearmanr

    rows = [line.rstrip("\n").split("\t") for line in open(datapath("wordsim353.tsv"), encoding="utf-8")
            if not line.startswith("#")]
    pairs = [(a.lower(), b.lower(), float(s)) for a, b, s in rows if a.lower() in known and b.lower() in known]
    cosines = []
    for a, b, _ in pairs:
        u, v = vectors_of(a), vectors_of(b)
        cosines.append(float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-12)))
    return float(spearmanr(cosines, [s for *_, s in pairs]).correlation), len(pairs)


def gensim_model(vocab, mode: str, seed: int):
    from gensim.models import Word2Vec

    model = Word2Vec(vector_size=SETTINGS["embedding_dim"], window=SETTINGS["window_size"],
                     negative=SETTINGS["num_ns"], sample=SETTINGS["sample"], sg=int(mode == "skipgram"), hs=0,
                     workers=2, min_count=1, seed=seed)
    model.build_vocab_from_freq({w: int(c) for w, c in zip(vocab.words[1:], vocab.counts[1:])})
    return model


def train_gensim(vocab, tokens, mode: str, epochs: int, seed: int):
    """gensim's `train`: (model, wall seconds, CPU seconds of all threads, words kept per epoch)."""
    model = gensim_model(vocab, mode, seed)
    words = sum(map(len, tokens))
    started, cpu = time.perf_counter(), time.process_time()
    kept, _ = model.train(tokens, total_words=words, epochs=epochs)
    return model, time.perf_counter() - started, time.process_time() - cpu, kept / epochs


def _clock(seconds: float | None, started: float):
    import keras

    class Clock(keras.callbacks.Callback):
        """Stops `fit` once `seconds` have passed since `started` (checked after each compiled call);
        `epoch_ends`: the wall time since `started` at the end of each epoch."""

        def __init__(self):
            super().__init__()
            self.epoch_ends = []

        def on_train_batch_end(self, batch, logs=None):
            if seconds and time.perf_counter() - started >= seconds:
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            self.epoch_ends.append(time.perf_counter() - started)

    return Clock()


def compiled_epoch_seconds(epoch_ends: list) -> float | None:
    """The median wall time of the whole epochs after the first (which compiles), or None if there is none:
    the last epoch of a run stopped by the clock is cut short."""
    import numpy as np

    whole = np.diff(epoch_ends[:-1])
    return round(float(np.median(whole)), 2) if len(whole) else None


MODES = {"skipgram-segments": ("skipgram", "segments"), "skipgram": ("skipgram", "pairs"), "cbow": ("cbow", "pairs")}


def train_kerazoo(vocab, ids, mode: str, *, seed: int, epochs: int = 1, seconds: float | None = None,
                  examples: str = "pairs"):
    """The README's path with the recipe's settings: (model, wall seconds, CPU seconds, epoch ends: the wall
    seconds at the end of each epoch);
    `seconds`: train until that wall time (model building, pipeline and compilation included);
    `examples`: the model's (and so the pipeline's) form, "pairs" or "segments"."""
    import keras

    import kerazoo
    from kerazoo.data.word2vec import make_dataset

    keras.utils.set_random_seed(seed)
    started, cpu = time.perf_counter(), time.process_time()
    model = kerazoo.get("word2vec", vocab_size=len(vocab), vocabulary=vocab.words, variant=mode, compile=True,
                        examples=examples, **{k: SETTINGS[k] for k in ("embedding_dim", "window_size", "num_ns")})
    data = make_dataset(ids, vocab, sample=SETTINGS["sample"], batch_size=_recipe()["batch_size"], seed=seed,
                        **model.example_options)
    clock = _clock(seconds, started)
    model.fit(data, epochs=10_000 if seconds else epochs, callbacks=[clock], verbose=0,
              shuffle=False)  # the pipeline shuffles itself
    return model, time.perf_counter() - started, time.process_time() - cpu, clock.epoch_ends


def run(args) -> dict:
    import numpy as np

    from kerazoo.data.word2vec import Vocabulary
    from kerazoo.models.word2vec import WordVectors, linear_probe_accuracy

    texts, tokens, tokenize_s, splits = load_corpus(args.data_dir, args.documents)
    words = sum(map(len, tokens))
    started = time.perf_counter()
    vocab = Vocabulary.build(texts, max_size=SETTINGS["vocab_size"], min_count=SETTINGS["min_count"])
    vocab_s = time.perf_counter() - started
    started = time.perf_counter()
    ids = vocab.encode(texts)
    encode_s = time.perf_counter() - started
    kept_words = float((vocab.keep_probabilities(SETTINGS["sample"]) * vocab.counts).sum())
    probe = (splits["train"], splits["test"])
    if args.quick:
        probe = tuple((t[:2000], y[:2000]) for t, y in ((x[0][::10], x[1][::10]) for x in probe))
    print(f"corpus: {len(texts)} reviews, {words:,} tokens ({tokenize_s:.1f} s to token lists, {encode_s:.1f} s "
          f"to kerazoo ids), vocabulary {len(vocab)} ({vocab_s:.1f} s)", flush=True)

    out = {"corpus": {"documents": len(texts), "tokens": words, "in_vocabulary_tokens": int(ids.flat_values.shape[0]),
                      "tokenize_seconds": round(tokenize_s, 2), "encode_seconds": round(encode_s, 2),
                      "vocabulary_seconds": round(vocab_s, 2), "kerazoo_expected_kept_words": round(kept_words)},
           "settings": {**SETTINGS, "gensim_workers": 2, "kerazoo_recipe": _recipe()},
           "modes": {}}
    for row_name in args.modes:
        mode, examples = MODES[row_name]
        row = {}
        runs = []
        for _ in range(args.repeats):  # interleaved: gensim, kerazoo, gensim, kerazoo, ...
            g, g_s, g_cpu, g_kept = train_gensim(vocab, tokens, mode, 1, args.seed)
            k, k_s, k_cpu, _ = train_kerazoo(vocab, ids, mode, seed=args.seed, examples=examples)
            runs.append({"gensim_seconds": round(g_s, 2), "gensim_cpu_seconds": round(g_cpu, 2),
                         "kerazoo_seconds": round(k_s, 2), "kerazoo_cpu_seconds": round(k_cpu, 2),
                         "ratio_words_per_s": round(g_s / k_s, 3)})
            print(f"{row_name} one epoch: {runs[-1]}", flush=True)
        g_s, g_cpu, k_s, k_cpu = (float(np.median([r[key] for r in runs])) for key in
                                  ("gensim_seconds", "gensim_cpu_seconds", "kerazoo_seconds", "kerazoo_cpu_seconds"))
        gw = wordsim(lambda w: g.wv[w], g.wv.key_to_index)  # the last run's vectors
        kv = k.word_vectors()
        kw = wordsim(lambda w: kv[w], kv.index)
        row["one_epoch"] = {
            "repeats": args.repeats, "runs": runs,
            "gensim": {"seconds": round(g_s, 2), "cpu_seconds": round(g_cpu, 2), "words_per_s": round(words / g_s),
                       "kept_words": round(g_kept),
                       "words_per_s_from_text": round(words / (g_s + tokenize_s)), "wordsim353": round(gw[0], 4),
                       "wordsim_pairs": gw[1]},
            "kerazoo": {"examples": examples, "seconds": round(k_s, 2), "cpu_seconds": round(k_cpu, 2),
                        "words_per_s": round(words / k_s), "kept_words": round(kept_words),
                        "words_per_s_from_text": round(words / (k_s + encode_s)), "wordsim353": round(kw[0], 4),
                        "wordsim_pairs": kw[1]},
        }
        one = row["one_epoch"]
        one["ratio_words_per_s"] = round(g_s / k_s, 3)  # of the medians
        one["ratio_words_per_s_runs"] = [r["ratio_words_per_s"] for r in runs]
        one["ratio_from_text"] = round((g_s + tokenize_s) / (k_s + encode_s), 3)
        one["ratio_per_kept_word"] = round((kept_words / k_s) / (g_kept / g_s), 3)
        one["ratio_cpu_seconds"] = round(g_cpu / k_cpu, 3)  # gensim's CPU time / kerazoo's, all threads
        print(f"{row_name} one epoch: gensim {one['gensim']}, kerazoo {one['kerazoo']}, ratio "
              f"{one['ratio_words_per_s']}", flush=True)

        g5, g5_s, _, _ = train_gensim(vocab, tokens, mode, args.epochs, args.seed)
        k5, k5_s, _, k5_ends = train_kerazoo(vocab, ids, mode, seed=args.seed, seconds=g5_s, examples=examples)
        equal = {"gensim": {"epochs": args.epochs, "seconds": round(g5_s, 2),
                            "epoch_seconds": round(g5_s / args.epochs, 2)},
                 "kerazoo": {"epochs_run": len(k5_ends), "seconds": round(k5_s, 2),
                             "epoch_ends": [round(t, 2) for t in k5_ends],
                             "compiled_epoch_seconds": compiled_epoch_seconds(k5_ends)}}
        if equal["kerazoo"]["compiled_epoch_seconds"]:  # once compiled: gensim's mean epoch / kerazoo's median
            equal["compiled_epoch_speed"] = round(g5_s / args.epochs / equal["kerazoo"]["compiled_epoch_seconds"], 2)
        for name, vectors in (("gensim", WordVectors(np.stack([g5.wv[w] for w in vocab.words[1:]]), vocab.words[1:])),
                              ("kerazoo", k5.word_vectors())):
            score, n = wordsim(lambda w: vectors[w], vectors.index)
            equal[name].update({"wordsim353": round(score, 4), "wordsim_pairs": n,
                                "probe_accuracy": round(linear_probe_accuracy(vectors, *probe), 4)})
        row["equal_time"] = equal
        print(f"{row_name} equal time: {equal}", flush=True)
        out["modes"][row_name] = row
    if {"skipgram-segments", "skipgram"} <= set(out["modes"]):  # the two forms, same run: kerazoo's epoch times
        seg, pairs = (out["modes"][m]["one_epoch"]["kerazoo"]["seconds"] for m in ("skipgram-segments", "skipgram"))
        out["segments_over_pairs_speed"] = round(pairs / seg, 2)
    if args.ablation:
        out["ablation"] = ablation(vocab, ids, tokens, args.seed)
    return out


ABLATION = [  # (label, optimizer, learning rate, batch size, steps_per_execution, jit_compile)
    ("Adam lr 1e-3, batch 1024 (the recipe before)", "adam", 1e-3, 1024, 32, True),
    ("Adam lr 4e-3, batch 4096", "adam", 4e-3, 4096, 32, True),
    ("row-wise AdaGrad lr 0.5, batch 1024", "rowwise_adagrad", 0.5, 1024, 32, True),
    ("row-wise AdaGrad lr 0.5, batch 4096 (the recipe)", "rowwise_adagrad", 0.5, 4096, 32, True),
    ("the recipe without XLA", "rowwise_adagrad", 0.5, 4096, 32, False),
    ("the recipe, steps_per_execution 1", "rowwise_adagrad", 0.5, 4096, 1, True),
    ("row-wise AdaGrad lr 0.5, batch 16384", "rowwise_adagrad", 0.5, 16384, 32, True),
]


def ablation(vocab, ids, tokens, seed: int) -> dict:
    """Skip-gram, one epoch each: what each setting of the recipe buys (words/s, WordSim-353), the
    example pipeline alone (examples/s), and gensim's epoch in the same run for scale."""
    import keras
    import tensorflow as tf

    import kerazoo
    from kerazoo.data.word2vec import make_dataset
    from kerazoo.recipe import Recipe, compile_model

    words = sum(map(len, tokens))
    _, g_s, _, _ = train_gensim(vocab, tokens, "skipgram", 1, seed)
    started, cpu, n = time.perf_counter(), time.process_time(), 0
    for (_, candidates), _ in make_dataset(ids, vocab, window_size=SETTINGS["window_size"], num_ns=SETTINGS["num_ns"],
                                           batch_size=4096, seed=seed):
        n += int(tf.shape(candidates)[0])
    pipeline = {"examples": n, "examples_per_s": round(n / (time.perf_counter() - started)),
                "cpu_ns_per_example": round(1e9 * (time.process_time() - cpu) / n)}
    print(f"ablation: gensim {words / g_s:,.0f} words/s; pipeline alone {pipeline}", flush=True)
    rows = []
    for label, optimizer, lr, batch, steps, jit in ABLATION:
        keras.utils.set_random_seed(seed)
        started = time.perf_counter()
        model = kerazoo.get("word2vec", vocab_size=len(vocab), vocabulary=vocab.words,
                            **{k: SETTINGS[k] for k in ("embedding_dim", "window_size", "num_ns")})
        compile_model(model, Recipe(optimizer=optimizer, learning_rate=lr, loss="binary_crossentropy",
                                    metrics=["auc"], steps_per_execution=steps, jit_compile=jit))
        model.fit(make_dataset(ids, vocab, sample=SETTINGS["sample"], batch_size=batch, seed=seed, **model.example_options),
                  verbose=0,
                  shuffle=False)
        seconds = time.perf_counter() - started
        vectors = model.word_vectors()
        rows.append({"variant": label, "seconds": round(seconds, 2), "words_per_s": round(words / seconds),
                     "vs_gensim": round(g_s / seconds, 3),
                     "wordsim353": round(wordsim(lambda w: vectors[w], vectors.index)[0], 4)})
        print(f"ablation: {rows[-1]}", flush=True)
    for row in rows:
        row["vs_before"] = round(row["words_per_s"] / rows[0]["words_per_s"], 2)
    return {"gensim_words_per_s": round(words / g_s), "pipeline_alone": pipeline, "rows": rows}


def _recipe() -> dict:
    import kerazoo

    recipe = kerazoo.describe("word2vec")["recipe"]
    return {k: recipe.get(k) for k in ("optimizer", "learning_rate", "batch_size", "steps_per_execution",
                                       "jit_compile")}


def print_table(result: dict) -> None:
    print(f"\nword2vec, {result['corpus']['documents']:,} IMDB reviews ({result['corpus']['tokens']:,} words), "
          "dim 64, window 4, 4 negatives, t=1e-3, 12,000 words; gensim 2 workers")
    from tables import word2vec_tables  # benchmarks/tables.py: the README's tables

    for table in word2vec_tables(result):
        print(table + "\n")
    if "ablation" in result:
        print(f"\nskip-gram, one epoch each (gensim: {result['ablation']['gensim_words_per_s']:,} words/s; the example "
              f"pipeline alone: {result['ablation']['pipeline_alone']['examples_per_s']:,} examples/s)")
        print("| variant | words/s | x the recipe before | x gensim | WordSim-353 |")
        print("|---|---|---|---|---|")
        for row in result["ablation"]["rows"]:
            print(f"| {row['variant']} | {row['words_per_s']:,} | {row['vs_before']:.2f} | {row['vs_gensim']:.2f} | "
                  f"{row['wordsim353']:.3f} |")
    m = result["machine"]
    print(f"\nload average before {m['loadavg_before']}, after {m['loadavg_after']} ({m['cpu_count']} cores)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("KERAZOO_DATA_DIR"))
    parser.add_argument("--documents", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=5, help="gensim's epochs for the equal-time comparison")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES),
                        help="rows; skipgram-segments first, so any first-use cost of the process falls on it")
    parser.add_argument("--repeats", type=int, default=3, help="one-epoch runs per row, interleaved with gensim's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ablation", action="store_true", help="also: one skip-gram epoch per recipe setting")
    parser.add_argument("--quick", action="store_true", help="2,000 reviews, 1-epoch equal time (smoke run)")
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "word2vec_gensim.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.documents, args.epochs, args.repeats = 2000, 1, 1
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    before, uptime_before = os.getloadavg(), _uptime()
    started = time.time()
    result = run(args)
    import gensim
    import keras
    import tensorflow as tf

    result["machine"] = {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                         "loadavg_before": [round(x, 2) for x in before],
                         "loadavg_after": [round(x, 2) for x in os.getloadavg()],
                         "uptime_before": uptime_before, "uptime_after": _uptime()}
    result["quick"], result["seconds"] = args.quick, round(time.time() - started)
    result["versions"] = {"gensim": gensim.__version__, "tensorflow": tf.__version__, "keras": keras.__version__,
                          "python": platform.python_version()}
    print_table(result)
    if not args.quick:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.output}")
    return 0


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


if __name__ == "__main__":
    sys.exit(main())
