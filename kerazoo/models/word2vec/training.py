"""What trains, scores and plots word2vec: the corpus pipelines, the linear probe of the vectors, neighbour plots."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import keras
import numpy as np

from kerazoo.data import word2vec as w2v
from kerazoo.data.imdb import load_imdb
from kerazoo.errors import ConfigError, DataError
from kerazoo.family import FamilyHooks, TaskData
from kerazoo.models.common import check_choice
from kerazoo.models.word2vec.model import Word2Vec
from kerazoo.models.word2vec.tf_export import export_core, export_data, serving_endpoint
from kerazoo.models.word2vec.vectors import WordVectors
from kerazoo.models.word2vec.probe import linear_probe_accuracy

__all__ = ["PROBE_WORDS", "recipe_data", "recipe_metrics", "recipe_plots", "ProbeAccuracy", "metric_callbacks",
           "example_batch", "linear_probe_accuracy", "HOOKS"]

PROBE_WORDS = ("good", "bad", "great", "awful", "boring", "funny", "actor", "music")  # plots of neighbours


def recipe_data(recipe, model_kwargs: dict, data_dir, seed: int):
    """`kerazoo.train`'s data: IMDB reviews (train + unsup) or a text corpus (`data: {path: ...}`).

    `recipe.data` options: `min_count` (5), `sample` (1e-3), `documents` (limit of training
    documents), `test_documents` (limit of held-out IMDB test reviews), `path` and `text_column`
    (dataset `text`: a `.txt` file, a folder of `.txt` files or a `.csv` / `.tsv` column, see
    `kerazoo.data.word2vec.read_corpus`; `kerazoo train word2vec --corpus PATH` sets them).
    The shipped model carries the vocabulary built on the training documents.
    """
    options = {"min_count": 5, "sample": 1e-3, "documents": None, "test_documents": 2000, "path": None,
               "text_column": None}
    unknown = set(recipe.data) - set(options)
    if unknown:
        raise ConfigError(f"word2vec recipe data: unknown option(s) {sorted(unknown)}. Accepted: {sorted(options)}.")
    options.update(recipe.data)
    check_choice("dataset", recipe.dataset, ["imdb", "text"])
    if recipe.dataset == "imdb":
        splits = load_imdb(data_dir=data_dir, unsup=True)
        docs, test = list(splits["train"][0]) + list(splits["unsup"]), list(splits["test"][0])
    else:
        if not options["path"]:
            raise ConfigError("word2vec on dataset 'text' needs the corpus: recipe data `path` (kerazoo train word2vec "
                             "--corpus PATH: a .txt file, a folder of .txt files, or a .csv/.tsv with --text-column).")
        docs, test = w2v.read_corpus(options["path"], text_column=options["text_column"]), None
    docs = [docs[i] for i in np.random.default_rng(seed).permutation(len(docs))][:options["documents"]]
    n_val = int(round(len(docs) * recipe.validation_split))
    val, train = docs[:n_val], docs[n_val:]
    kwargs = {**recipe.model, **model_kwargs}
    vocab_size = kwargs.get("vocab_size", 20000)
    vocab = w2v.Vocabulary.build(train, max_size=vocab_size, min_count=options["min_count"])
    if len(vocab) < vocab_size:
        raise DataError(f"The training corpus has only {len(vocab)} words (padding included) seen min_count="
                         f"{options['min_count']} times; train with vocab_size={len(vocab)} (--set "
                         f"vocab_size={len(vocab)}) or on a larger corpus.")

    form = {k: kwargs[k] for k in ("examples", "segment_length", "shared_negatives") if k in kwargs}

    def pipeline(texts, shuffle):
        return w2v.make_dataset(texts, vocab, variant=kwargs.get("variant", "skipgram"),
                                window_size=kwargs.get("window_size", 2), num_ns=kwargs.get("num_ns", 4),
                                batch_size=recipe.batch_size, sample=options["sample"], shuffle=shuffle, seed=seed,
                                **form)

    extra = {"vocabulary": vocab}
    if recipe.dataset == "imdb":  # labelled reviews for the linear probe of the vectors
        extra["probe"] = {"train": splits["train"], "test": splits["test"]}
    return TaskData(pipeline(train, True), pipeline(val, False) if val else None,
                    pipeline(test[:options["test_documents"]], False) if test else None,
                    wrap=lambda model: model.with_vocabulary(vocab.words), extra=extra)


def _with_vocabulary(model: Word2Vec, data) -> Word2Vec:
    return model if model.vocabulary is not None else model.with_vocabulary(data.extra["vocabulary"].words)


def recipe_metrics(model: Word2Vec, data) -> dict[str, float]:
    """IMDB runs: the sentiment accuracy of a linear probe on averaged vectors (25k train -> 25k test reviews)."""
    if "probe" not in data.extra:
        return {}
    return {"probe_accuracy": linear_probe_accuracy(_with_vocabulary(model, data).word_vectors(),
                                                    data.extra["probe"]["train"], data.extra["probe"]["test"])}


def recipe_plots(model: Word2Vec, data, out: Path) -> list[Path]:
    """Nearest neighbours of a few common words (`neighbours.png`) and TensorBoard projector files."""
    vectors = _with_vocabulary(model, data).word_vectors()
    vectors.save_projector(Path(out) / "projector")
    words = [w for w in PROBE_WORDS if w in vectors][:6] or [w for w in vectors.words[1:5]]
    return [vectors.plot_neighbours(words, Path(out) / "neighbours.png", k=6)]


class ProbeAccuracy(keras.callbacks.Callback):
    """Adds `val_probe_accuracy` to the epoch logs: `linear_probe_accuracy` of the current vectors
    on two disjoint halves of labelled training reviews (never the test reviews), a score that,
    unlike the loss, compares runs with different windows, negatives or modes."""

    def __init__(self, vocabulary: Sequence[str], texts, labels, *, n: int = 2000, seed: int = 0):
        super().__init__()
        order = np.random.default_rng(seed).permutation(len(labels))[:2 * n]
        texts, labels = np.asarray(texts, dtype=object)[order], np.asarray(labels)[order]
        half = len(order) // 2
        self.vocabulary, self.fit_on, self.score_on = list(vocabulary), (texts[:half], labels[:half]), \
            (texts[half:], labels[half:])

    def on_epoch_end(self, epoch, logs=None):
        vectors = WordVectors(self.model.vectors, self.vocabulary)
        if logs is not None:
            logs["val_probe_accuracy"] = linear_probe_accuracy(vectors, self.fit_on, self.score_on)


def metric_callbacks(data) -> list[keras.callbacks.Callback]:
    """`kerazoo.tuning` on IMDB: `val_probe_accuracy` every epoch of a trial (the search space's objective)."""
    if "probe" not in data.extra:
        return []
    texts, labels = data.extra["probe"]["train"]
    return [ProbeAccuracy(data.extra["vocabulary"].words, texts, labels)]


def example_batch(model, n: int, seed: int):
    """Valid inputs (windows never fully padded) and the `[1, 0, ..., 0]` targets (segments: `[1] * 2w + [0] * k`
    per middle word)."""
    rng = np.random.default_rng(seed)
    if model.examples == "segments":
        segments = rng.integers(1, model.vocab_size, size=(n, model.segment_length)).astype("int32")
        negatives = rng.integers(1, model.vocab_size, size=(n, model.shared_negatives)).astype("int32")
        middle = model.segment_length - 2 * model.window_size
        labels = np.tile([1.0] * (2 * model.window_size) + [0.0] * model.shared_negatives, (n, middle))
        return [segments, negatives], labels[..., None].astype("float32")
    if model.variant == "skipgram":
        words = rng.integers(1, model.vocab_size, size=n)
    else:
        words = rng.integers(1, model.vocab_size, size=(n, 2 * model.window_size))
        words[:, 1:] *= rng.random((n, 2 * model.window_size - 1)) < 0.7  # some padding, never a whole row
    candidates = rng.integers(1, model.vocab_size, size=(n, 1 + model.num_ns))
    labels = np.zeros((n, 1 + model.num_ns), "float32")
    labels[:, 0] = 1.0
    return [words.astype("int32"), candidates.astype("int32")], labels


HOOKS = FamilyHooks(recipe_data=recipe_data, recipe_metrics=recipe_metrics, recipe_plots=recipe_plots,
                    metric_callbacks=metric_callbacks, serving_endpoint=serving_endpoint,
                    example_batch=example_batch, export_core=export_core, export_data=export_data)
