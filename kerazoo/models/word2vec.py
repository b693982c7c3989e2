"""word2vec: skip-gram and CBOW with negative sampling (Mikolov et al. 2013).

Two embedding tables: the input vectors (`embedding`, the word vectors one keeps) and the output
vectors (`output_embedding`). Skip-gram embeds a target word; CBOW averages the embeddings of
its window (padding id 0 masked). The dot product with the output vectors of `1 + num_ns`
candidates (the true word, then sampled negatives) goes through a sigmoid and is trained with
binary cross-entropy against `[1, 0, ..., 0]`: the negative-sampling objective. The examples
come from `kerazoo.data.word2vec.make_dataset`.

The model is a functional `keras.Model` subclass whose config holds the vocabulary, so one
`.keras` file carries the vectors and their words; `model.word_vectors()` gives `WordVectors`
(`most_similar`, `analogy`, TensorBoard projector export, neighbour plots).

Reference:
  Mikolov, Chen, Corrado, Dean, "Efficient estimation of word representations in vector space",
  2013; Mikolov, Sutskever, Chen, Corrado, Dean, "Distributed representations of words and
  phrases and their compositionality", NeurIPS 2013.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal, Sequence

import keras
import numpy as np

from kerazoo.family import ExportCore, ExportData, FamilyHooks, TaskData
from kerazoo.models._common import check_choice, check_positive
from kerazoo.registry import register_model

__all__ = ["word2vec", "Word2Vec", "WordVectors", "UnknownWordError", "linear_probe_accuracy", "recipe_data",
           "recipe_metrics", "recipe_plots", "serving_endpoint", "metric_callbacks", "ProbeAccuracy", "PROBE_WORDS"]

PROBE_WORDS = ("good", "bad", "great", "awful", "boring", "funny", "actor", "music")  # plots of neighbours


class UnknownWordError(KeyError):
    """A word that is not in the vocabulary (a `KeyError` whose message reads plainly)."""

    def __str__(self):
        return str(self.args[0])


@keras.saving.register_keras_serializable(package="kerazoo")
class Word2Vec(keras.Model):
    """word2vec as a functional model; arguments as in `word2vec` (the registered builder)."""

    def __init__(self, *, vocab_size=20000, embedding_dim=128, num_ns=4, window_size=2, mode="skipgram",
                 vocabulary=None, **kwargs):
        check_positive(vocab_size=vocab_size, embedding_dim=embedding_dim, num_ns=num_ns, window_size=window_size)
        check_choice("mode", mode, ["skipgram", "cbow"])
        if vocab_size < 3:
            raise ValueError(f"`vocab_size` should be at least 3 (the padding and two words). Received: "
                             f"vocab_size={vocab_size}")
        if vocabulary is not None and (len(vocabulary) != vocab_size or vocabulary[0] != ""
                                       or len(set(vocabulary)) != len(vocabulary)):
            raise ValueError(f"`vocabulary` should list vocab_size={vocab_size} distinct words, the padding '' "
                             f"first (pass vocab_size=len(vocabulary)). Received {len(vocabulary)} words "
                             f"({len(set(vocabulary))} distinct) starting with {list(vocabulary[:3])}")
        # === Layers ===
        embedding = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=mode == "cbow", name="embedding")
        output_embedding = keras.layers.Embedding(vocab_size, embedding_dim, name="output_embedding")
        # === Functional Model ===
        if mode == "skipgram":
            words = keras.Input(shape=(), dtype="int32", name="target")
            hidden = embedding(words)
        else:
            words = keras.Input(shape=(2 * window_size,), dtype="int32", name="window")
            hidden = keras.layers.GlobalAveragePooling1D(name="window_mean")(embedding(words))  # mask-aware
        candidates = keras.Input(shape=(1 + num_ns,), dtype="int32", name="candidates")
        logits = keras.layers.Dot(axes=(1, 2), name="dot")([hidden, output_embedding(candidates)])
        outputs = keras.layers.Activation("sigmoid", name="similarity")(logits)
        super().__init__(inputs=[words, candidates], outputs=outputs, **kwargs)
        # === Config ===
        self.vocab_size, self.embedding_dim, self.num_ns = vocab_size, embedding_dim, num_ns
        self.window_size, self.mode = window_size, mode
        self.vocabulary = None if vocabulary is None else list(vocabulary)

    def get_config(self):
        return {"vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim, "num_ns": self.num_ns,
                "window_size": self.window_size, "mode": self.mode, "vocabulary": self.vocabulary,
                "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)

    @property
    def vectors(self) -> np.ndarray:
        """The word vectors: the input embedding matrix, `(vocab_size, embedding_dim)`."""
        return np.asarray(self.get_layer("embedding").embeddings)

    def with_vocabulary(self, vocabulary: Sequence[str]) -> Word2Vec:
        """The same model and weights, carrying `vocabulary` (the words of ids 0, 1, ...)."""
        model = Word2Vec.from_config({**self.get_config(), "vocabulary": list(vocabulary)})
        model.set_weights(self.get_weights())
        return model

    def dataset(self, corpus, vocabulary, **options):
        """`kerazoo.data.word2vec.make_dataset` with this model's `mode`, `window_size`, `num_ns`."""
        from kerazoo.data.word2vec import make_dataset

        return make_dataset(corpus, vocabulary, mode=self.mode, window_size=self.window_size, num_ns=self.num_ns,
                            **options)

    def word_vectors(self) -> WordVectors:
        """A `WordVectors` snapshot of the current vectors and the model's vocabulary."""
        if self.vocabulary is None:
            raise ValueError(f"Model {self.name!r} carries no vocabulary; use model.with_vocabulary(vocab.words) "
                             "or build it with vocabulary=vocab.words.")
        return WordVectors(self.vectors, self.vocabulary)


@register_model
def word2vec(
    *,
    vocab_size: int = 20000,                           # embedding rows, padding (id 0) included
    embedding_dim: int = 128,                          # vector width
    num_ns: int = 4,                                   # negatives per example
    window_size: int = 2,                              # largest target-context distance
    mode: Literal["skipgram", "cbow"] = "skipgram",
    vocabulary: list[str] | None = None,               # the words of ids 0.., stored in the model
    name: str = "word2vec",
) -> keras.Model:
    """word2vec with negative sampling: skip-gram or CBOW.

    Args:
      vocab_size: rows of both embedding tables; ids are below it, 0 is padding.
      embedding_dim: width of the word vectors.
      num_ns: negatives per example; the `candidates` input has `1 + num_ns` ids, the true
        word first, and so has the output.
      window_size: largest distance between a target and a context word; CBOW's `window`
        input holds `2 * window_size` ids (0 where there is no word).
      mode: `"skipgram"` (inputs `target` `(batch,)` and `candidates`) predicts the context from
        the target; `"cbow"` (inputs `window` and `candidates`) the target from its context.
      vocabulary: the `vocab_size` words of ids 0, 1, ... (`""` first), stored in the model's
        config so a saved `.keras` file carries them; needed for `model.word_vectors()`.
      name: model name.

    Returns:
      A `Word2Vec` (functional `keras.Model`) mapping `[words, candidates]` to the sigmoid of
      the dot products, `(batch, 1 + num_ns)`.

    Reference:
      Mikolov et al., "Distributed representations of words and phrases and their
      compositionality", NeurIPS 2013.

    Example:
      >>> vocab = kerazoo.data.word2vec.Vocabulary.build(texts, max_size=20000)
      >>> model = kerazoo.get("word2vec", vocab_size=len(vocab), vocabulary=vocab.words, compile=True)
      >>> model.fit(model.dataset(texts, vocab, seed=0), epochs=5)  # make_dataset with the model's settings
      >>> model.word_vectors().most_similar("good", k=5)
    """
    return Word2Vec(vocab_size=vocab_size, embedding_dim=embedding_dim, num_ns=num_ns, window_size=window_size,
                    mode=mode, vocabulary=vocabulary, name=name)


class WordVectors:
    """Word vectors with their words: cosine neighbours, analogies, projector files, plots.

    Args:
      vectors: `(len(words), dim)` matrix, row i the vector of `words[i]`.
      words: the words; the padding `""` (if present) is never returned as a neighbour.
    """

    def __init__(self, vectors, words: Sequence[str]):
        self.vectors, self.words = np.asarray(vectors, dtype=np.float32), list(words)
        if self.vectors.ndim != 2 or len(self.vectors) != len(self.words):
            raise ValueError(f"Expected one vector per word: {len(self.words)} words, vectors of shape "
                             f"{self.vectors.shape}.")
        self.index = {w: i for i, w in enumerate(self.words)}
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self.unit = self.vectors / np.maximum(norms, 1e-12)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self._id(word)]

    def _id(self, word: str) -> int:
        if word not in self.index or word == "":
            close = difflib.get_close_matches(word, self.words, n=3)
            hint = f" Closest: {', '.join(close)}." if close else ""
            raise UnknownWordError(f"{word!r} is not in the vocabulary ({len(self.words)} words; words rarer than "
                           f"min_count are left out).{hint}")
        return self.index[word]

    def _nearest(self, query: np.ndarray, k: int, exclude: set[int]) -> list[tuple[str, float]]:
        scores = self.unit @ (query / max(np.linalg.norm(query), 1e-12))
        order = [i for i in np.argsort(-scores) if i not in exclude and self.words[i] != ""]
        return [(self.words[i], float(scores[i])) for i in order[:k]]

    def most_similar(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The `k` words of highest cosine similarity to `word` (itself excluded), best first."""
        i = self._id(word)
        return self._nearest(self.unit[i], k, {i})

    def analogy(self, a: str, b: str, c: str, k: int = 1) -> list[tuple[str, float]]:
        """Words nearest to `a - b + c` (unit vectors, Mikolov et al.'s 3CosAdd), the three excluded:
        `analogy("king", "man", "woman")` answers "queen" for good vectors."""
        ids = [self._id(w) for w in (a, b, c)]
        return self._nearest(self.unit[ids[0]] - self.unit[ids[1]] + self.unit[ids[2]], k, set(ids))

    def save_projector(self, directory) -> tuple[Path, Path]:
        """Writes `vectors.tsv` and `metadata.tsv` (padding left out) for projector.tensorflow.org."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        rows = [i for i, w in enumerate(self.words) if w != ""]
        np.savetxt(directory / "vectors.tsv", self.vectors[rows], delimiter="\t", fmt="%.6g")
        (directory / "metadata.tsv").write_text("".join(f"{self.words[i]}\n" for i in rows), encoding="utf-8")
        return directory / "vectors.tsv", directory / "metadata.tsv"

    def plot_neighbours(self, words: Sequence[str], path, k: int = 8, title: str = "") -> Path:
        """A PNG of `words` and their `k` nearest neighbours, projected on two principal axes.

        Each word is drawn once (a query word in its colour, a neighbour of several in the first one's),
        its label placed where it overlaps no other label and no point (`kerazoo.plots.place_labels`).
        """
        from kerazoo.plots import place_labels, pyplot

        plt = pyplot()

        groups = [[w] + [n for n, _ in self.most_similar(w, k)] for w in words]
        colour_of = {w: i for i, w in enumerate(words)}  # a query word in its own colour, even if another's neighbour
        for i, group in enumerate(groups):
            for w in group[1:]:
                colour_of.setdefault(w, i)
        shown = list(colour_of)
        points = self.unit[[self._id(w) for w in shown]]
        centred = points - points.mean(axis=0)
        xy = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
        colours = plt.cm.tab10(np.arange(len(groups)) % 10)
        queries = set(words)
        fig, ax = plt.subplots(figsize=(9, 7.5))
        for i, query in enumerate(words):
            mine = [j for j, w in enumerate(shown) if colour_of[w] == i]
            ax.scatter(xy[mine, 0], xy[mine, 1], color=colours[i], s=[60 if shown[j] in queries else 16 for j in mine],
                       label=query, zorder=2)
        span = xy.max(axis=0) - xy.min(axis=0)
        ax.set_xlim(xy[:, 0].min() - 0.12 * span[0], xy[:, 0].max() + 0.12 * span[0])  # room for labels at the edges
        ax.set_ylim(xy[:, 1].min() - 0.08 * span[1], xy[:, 1].max() + 0.08 * span[1])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(title="nearest neighbours of", fontsize=8, title_fontsize=8, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        ax.set_title(title or f"{k} nearest neighbours (cosine), 2-D PCA")
        ax.set_xlabel("first principal axis")
        ax.set_ylabel("second principal axis")
        fig.tight_layout()
        order = sorted(range(len(shown)), key=lambda j: shown[j] not in queries)  # query words placed first
        styles = [{"fontsize": 10 if shown[j] in queries else 8, "weight": "bold" if shown[j] in queries else "normal",
                   "color": "black"} for j in order]
        place_labels(ax, xy[order], [shown[j] for j in order], styles=styles)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return Path(path)


def recipe_data(recipe, model_kwargs: dict, data_dir, seed: int):
    """`kerazoo.train`'s data: IMDB reviews (train + unsup) or a text corpus (`data: {path: ...}`).

    `recipe.data` options: `min_count` (5), `sample` (1e-3), `documents` (limit of training
    documents), `test_documents` (limit of held-out IMDB test reviews), `path` and `text_column`
    (dataset `text`: a `.txt` file, a folder of `.txt` files or a `.csv` / `.tsv` column, see
    `kerazoo.data.word2vec.read_corpus`; `kerazoo train word2vec --corpus PATH` sets them).
    The shipped model carries the vocabulary built on the training documents.
    """
    from kerazoo.data import word2vec as w2v

    options = {"min_count": 5, "sample": 1e-3, "documents": None, "test_documents": 2000, "path": None,
               "text_column": None}
    unknown = set(recipe.data) - set(options)
    if unknown:
        raise ValueError(f"word2vec recipe data: unknown option(s) {sorted(unknown)}. Accepted: {sorted(options)}.")
    options.update(recipe.data)
    check_choice("dataset", recipe.dataset, ["imdb", "text"])
    if recipe.dataset == "imdb":
        from kerazoo.data.imdb import load_imdb

        splits = load_imdb(data_dir=data_dir, unsup=True)
        docs, test = list(splits["train"][0]) + list(splits["unsup"]), list(splits["test"][0])
    else:
        if not options["path"]:
            raise ValueError("word2vec on dataset 'text' needs the corpus: recipe data `path` (kerazoo train word2vec "
                             "--corpus PATH: a .txt file, a folder of .txt files, or a .csv/.tsv with --text-column).")
        docs, test = w2v.read_corpus(options["path"], text_column=options["text_column"]), None
    docs = [docs[i] for i in np.random.default_rng(seed).permutation(len(docs))][:options["documents"]]
    n_val = int(round(len(docs) * recipe.validation_split))
    val, train = docs[:n_val], docs[n_val:]
    kwargs = {**recipe.model, **model_kwargs}
    vocab_size = kwargs.get("vocab_size", 20000)
    vocab = w2v.Vocabulary.build(train, max_size=vocab_size, min_count=options["min_count"])
    if len(vocab) < vocab_size:
        raise ValueError(f"The training corpus has only {len(vocab)} words (padding included) seen min_count="
                         f"{options['min_count']} times; train with vocab_size={len(vocab)} (--set "
                         f"vocab_size={len(vocab)}) or on a larger corpus.")

    def pipeline(texts, shuffle):
        return w2v.make_dataset(texts, vocab, mode=kwargs.get("mode", "skipgram"),
                                window_size=kwargs.get("window_size", 2), num_ns=kwargs.get("num_ns", 4),
                                batch_size=recipe.batch_size, sample=options["sample"], shuffle=shuffle, seed=seed)

    extra = {"vocabulary": vocab}
    if recipe.dataset == "imdb":  # labelled reviews for the linear probe of the vectors
        extra["probe"] = {"train": splits["train"], "test": splits["test"]}
    return TaskData(pipeline(train, True), pipeline(val, False) if val else None,
                    pipeline(test[:options["test_documents"]], False) if test else None,
                    wrap=lambda model: model.with_vocabulary(vocab.words), extra=extra)


def _mean_vectors(vectors: WordVectors, texts) -> np.ndarray:
    """Each text's average word vector (words outside the vocabulary skipped; zeros if none is known)."""
    from kerazoo.data.word2vec import tokenize

    out = []
    for batch in tokenize(list(texts)):
        for tokens in batch.to_list():
            ids = [vectors.index[t] for t in (w.decode() for w in tokens) if t in vectors.index and t]
            out.append(vectors.vectors[ids].mean(0) if ids else np.zeros(vectors.vectors.shape[1], np.float32))
    return np.stack(out)


def linear_probe_accuracy(vectors: WordVectors, train: tuple, test: tuple) -> float:
    """Accuracy of a logistic regression on averaged word vectors, fitted on `train` `(texts, labels)`
    and scored on `test`: how much of a labelled task the vectors alone carry (Maas et al. 2011's
    evaluation of word vectors on IMDB sentiment)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probe.fit(_mean_vectors(vectors, train[0]), np.asarray(train[1]))
    return float(probe.score(_mean_vectors(vectors, test[0]), np.asarray(test[1])))


# === Family hooks: kerazoo train / evaluate / export ===

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


def serving_endpoint(model: Word2Vec):
    """The SavedModel's `serving_default`: words (strings) -> `{"vectors": (n, dim), "known": (n,) bool}`.

    Words are standardised like the training text (lower case, punctuation off); an unknown word
    gets the padding row and `known=False`. Only the word vectors are exported (not the context
    embedding that training also needs: that lives in the `.keras` file).
    """
    import tensorflow as tf

    from kerazoo.layers import text_standardize

    if model.vocabulary is None:
        raise ValueError(f"{model.name} carries no vocabulary to serve words with; use model.with_vocabulary(...).")
    lookup = keras.layers.StringLookup(vocabulary=model.vocabulary[1:], num_oov_indices=1, name="word_lookup")
    embedding = model.get_layer("embedding")

    def vectors(words):
        ids = lookup(tf.strings.strip(text_standardize(words)))
        return {"vectors": embedding(ids), "known": tf.greater(ids, 0)}

    spec = tf.TensorSpec((None,), tf.string, name="words")
    lookup(tf.constant([""]))
    return {"fn": tf.function(vectors, input_signature=[spec]), "track": [embedding, lookup],
            "input": f"words (strings); returns their {model.embedding_dim}-d vectors"}


def example_batch(model, n: int, seed: int):
    """Valid inputs (windows never fully padded) and the `[1, 0, ..., 0]` targets."""
    rng = np.random.default_rng(seed)
    if model.mode == "skipgram":
        words = rng.integers(1, model.vocab_size, size=n)
    else:
        words = rng.integers(1, model.vocab_size, size=(n, 2 * model.window_size))
        words[:, 1:] *= rng.random((n, 2 * model.window_size - 1)) < 0.7  # some padding, never a whole row
    candidates = rng.integers(1, model.vocab_size, size=(n, 1 + model.num_ns))
    labels = np.zeros((n, 1 + model.num_ns), "float32")
    labels[:, 0] = 1.0
    return [words.astype("int32"), candidates.astype("int32")], labels


def export_core(model: Word2Vec) -> ExportCore:
    """LiteRT/ONNX files hold the word-vector table: word ids -> `{"vectors", "known"}`, as `serving_endpoint`
    gives for words. `kerazoo.text.Tokenizer(vocabulary, split=False, oov_id=0)` (shipped as tokenizer.json
    and vocabulary.txt) turns words into those ids: standardised, stripped, unknown words to id 0."""
    import tensorflow as tf

    from kerazoo.text import Tokenizer

    if model.vocabulary is None:
        raise ValueError(f"{model.name} carries no vocabulary to export words with; use model.with_vocabulary(...).")
    table = model.vectors
    spec = tf.TensorSpec((None,), tf.int32, name="word_ids")
    fn = tf.function(lambda ids: {"vectors": tf.gather(table, ids), "known": tf.greater(ids, 0)},
                     input_signature=[spec])
    return ExportCore(fn, "int32 word ids (0: unknown) from tokenizer.json",
                      tokenizer=Tokenizer(model.vocabulary, split=False, oov_id=0))


def export_data(model: Word2Vec, card: dict, data_dir) -> ExportData:
    """`kerazoo export --format`: the vectors of every vocabulary word through each format, scored like the
    card (a linear probe fitted on the 25,000 IMDB training reviews, scored on the 25,000 test reviews);
    1,000 vocabulary words (built from training text) calibrate int8."""
    from kerazoo.data.imdb import load_imdb

    words = np.array(model.vocabulary, dtype=object)
    probe = load_imdb(data_dir=data_dir) if card["recipe"]["dataset"] == "imdb" else None

    def score(outputs) -> dict:
        if probe is None:
            return {}
        vectors = WordVectors(np.asarray(outputs["vectors"]), model.vocabulary)
        return {"test_probe_accuracy": linear_probe_accuracy(vectors, probe["train"], probe["test"])}

    what = "; linear probe trained on 25,000 IMDB train reviews, scored on the 25,000 test reviews" if probe else ""
    return ExportData(words[1:1001], words, score, f"the {len(words):,} vocabulary words{what}")


HOOKS = FamilyHooks(recipe_data=recipe_data, recipe_metrics=recipe_metrics, recipe_plots=recipe_plots,
                    metric_callbacks=metric_callbacks, serving_endpoint=serving_endpoint,
                    example_batch=example_batch, export_core=export_core, export_data=export_data)
