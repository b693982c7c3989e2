"""word2vec's data side: a vocabulary from a text corpus and the training examples as `tf.data`.

A corpus is a path (a `.txt` file, one document per line, a directory of `.txt` files, or a
`.csv` / `.tsv` table with a text column) or an iterable of strings; it is standardised like the
text classifiers' input (lower case, HTML line breaks and punctuation to spaces,
`kerazoo.layers.text_standardize`) and split on whitespace.

The vocabulary keeps the words seen at least `min_count` times, most frequent first, after
index 0, the padding `""`; rarer words are dropped from the documents before windowing, as in
word2vec.c. Each epoch of `make_dataset` draws anew (seeded):

- subsampling of frequent words: a word of corpus frequency f is kept with probability
  `min(1, sqrt(sample / f))` (Mikolov et al. 2013b, section 2.3: discarded with 1 - sqrt(t/f));
- a dynamic window: around each word, a reach b uniform in 1..window_size (word2vec.c);
- `num_ns` negatives per example from the unigram distribution to the power 3/4, drawn by the
  alias method (two gathers per draw). A negative that equals the example's true word (the
  context in skip-gram, the target in CBOW) is drawn again, so the label 0 is never given to the
  true word (word2vec.c skips such a draw). Negatives may repeat, and may still be words seen
  elsewhere near the target: that is what sampling means.

The examples are made in vectorised chunks of documents (`mix_documents`): one chunk's
subsampling, windows, shuffle and negatives are a few tensor operations over all its words at
once, run by `tf.data` in parallel with training. Documents longer than 10,000 words are cut into
pieces of 10,000 (as gensim does), so a one-line corpus still works in chunks.

A training pipeline repeats and cuts epochs of a fixed number of batches (about one pass over the
corpus), so Keras sees a known cardinality even though subsampling changes each pass's length.

Skip-gram has a second form, `examples="segments"` (a model built with the same option): instead
of one row per (target, context) pair, the subsampled corpus is cut into overlapping segments of
`segment_length` words (`window_size` padding words between documents, so no window crosses one),
and the model scores every word in the middle of a segment against each of its `2 * window_size`
neighbours and against `shared_negatives` negatives drawn once for the whole segment. The pipeline
gives the inputs only; the model labels and weighs its scores itself (`Word2Vec.segment_targets`,
compiled into the training step): a neighbour counts where both are words (not padding), weighted by
the chance that word2vec.c's dynamic reach includes it; each negative weighs `num_ns /
shared_negatives`, so a word's negatives push as much as `num_ns` of its own would, and none is the
word's true neighbour. The same pairs and, in expectation, the same objective as the pairs form, in
a fraction of the time (benchmarks/word2vec_gensim.py): a word is looked up once per segment, not
once per pair, the negatives are shared, and `tf.data` has only the segments to cut.

Reference:
  Mikolov, Chen, Corrado, Dean, "Efficient estimation of word representations in vector space",
  2013 (skip-gram, CBOW); Mikolov, Sutskever, Chen, Corrado, Dean, "Distributed representations
  of words and phrases and their compositionality", 2013 (negative sampling, subsampling).
"""
from __future__ import annotations

import collections
import dataclasses
import functools
import json
import os
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import tensorflow as tf

from kerazoo.data.imdb import load_text_corpus
from kerazoo.errors import ConfigError
from kerazoo.layers import text_standardize

__all__ = ["Vocabulary", "read_corpus", "tokenize", "make_dataset", "expected_examples", "alias_table"]


def read_corpus(corpus, *, text_column: str | None = None) -> list[str]:
    """The documents of `corpus`: a path (`str` or `Path`, see the module docstring) or strings;
    `text_column`: the column of a `.csv` / `.tsv` corpus that holds the text."""
    if isinstance(corpus, (str, os.PathLike)):
        return load_text_corpus(corpus, text_column=text_column)
    docs = list(corpus)
    for doc in docs:
        if not isinstance(doc, str):
            raise TypeError(f"A corpus is a path or an iterable of strings; it holds {doc!r} ({type(doc).__name__}).")
    return docs


def tokenize(corpus, batch_size: int = 1024):
    """Yields the corpus' documents as ragged batches of standardised tokens (`tf.string`)."""
    docs = read_corpus(corpus)
    for start in range(0, len(docs), batch_size):
        yield tf.strings.split(text_standardize(tf.constant(docs[start:start + batch_size])))


@dataclasses.dataclass(frozen=True, eq=False)
class Vocabulary:
    """Words by decreasing corpus count, index 0 the padding `""` (count 0)."""

    words: list[str]
    counts: np.ndarray

    def __post_init__(self):
        if not self.words or self.words[0] != "" or len(self.words) != len(self.counts):
            raise ValueError("A Vocabulary's words start with the padding '' and have one count each. "
                             f"Received {len(self.words)} words, {len(self.counts)} counts.")

    @classmethod
    def build(cls, corpus, *, max_size: int | None = None, min_count: int = 5) -> Vocabulary:
        """Counts the corpus' words; keeps those seen `min_count` times, at most `max_size` entries
        (padding included), ties broken alphabetically so the result is reproducible."""
        counter: collections.Counter = collections.Counter()
        for batch in tokenize(corpus):
            unique, _, counts = tf.unique_with_counts(batch.flat_values)
            counter.update(dict(zip(unique.numpy(), counts.numpy().tolist())))
        if not counter:
            raise ValueError("The corpus is empty: it holds no words to build a vocabulary from.")
        kept = sorted((w for w, c in counter.items() if c >= min_count), key=lambda w: (-counter[w], w))
        kept = kept[:max_size - 1] if max_size else kept
        if len(kept) < 2:
            top, n = counter.most_common(1)[0]
            raise ValueError(f"Only {len(kept)} word(s) of the corpus occur at least min_count={min_count} times "
                             f"(the most frequent, {top.decode()!r}, {n} times); word2vec needs two or more. "
                             "Lower min_count or give a larger corpus.")
        return cls([""] + [w.decode() for w in kept], np.array([0] + [counter[w] for w in kept], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.words)

    @functools.cached_property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def keep_probabilities(self, sample: float | None = 1e-3) -> np.ndarray:
        """Per id, the probability subsampling keeps a word: `min(1, sqrt(sample / frequency))`."""
        freq = self.counts / self.counts.sum()
        keep = np.ones(len(self)) if not sample else np.sqrt(sample / np.maximum(freq, 1e-30))
        keep = np.minimum(keep, 1.0)
        keep[0] = 0.0
        return keep

    def negative_distribution(self, power: float = 0.75) -> np.ndarray:
        """Per id, the probability of being drawn as a negative: unigram counts to the `power`."""
        weights = self.counts.astype(np.float64) ** power
        weights[0] = 0.0
        return weights / weights.sum()

    def encode(self, corpus) -> tf.RaggedTensor:
        """The documents as ragged int32 ids, out-of-vocabulary words dropped."""
        table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
            tf.constant(self.words[1:]), tf.range(1, len(self), dtype=tf.int32)), default_value=0)
        parts = [tf.ragged.boolean_mask(ids, ids > 0)
                 for ids in (tf.ragged.map_flat_values(table.lookup, batch) for batch in tokenize(corpus))]
        if not parts:
            raise ValueError("The corpus is empty: it holds no documents.")
        return tf.concat(parts, axis=0)

    def save(self, path) -> Path:
        """Writes `{"words": [...], "counts": [...]}` as JSON."""
        Path(path).write_text(json.dumps({"words": self.words, "counts": self.counts.tolist()}), encoding="utf-8")
        return Path(path)

    @classmethod
    def load(cls, path) -> Vocabulary:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(data["words"], np.array(data["counts"], dtype=np.int64))


def _seeds(seed: int, rerandomize: bool):
    """A stream of stateless-op seeds (shape [2]); a new stream each epoch if `rerandomize`."""
    return tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=rerandomize).batch(2)


def alias_table(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias method (Vose's construction) for drawing ids from the distribution `p`.

    Returns `(accept, alias)`: draw an id `i` uniformly, keep it with probability `accept[i]`,
    else take `alias[i]`. Exact, and two gathers per draw whatever the vocabulary size (a binary
    search of the cumulative distribution takes log2(vocabulary) steps).
    """
    n = len(p)
    scaled = np.asarray(p, np.float64) * n / np.sum(p)
    accept, alias = np.ones(n), np.arange(n)
    small, large = [i for i in range(n) if scaled[i] < 1.0], [i for i in range(n) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        accept[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    for i in small:  # only rounding leaves these: they stand for a probability of 1/n
        accept[i] = 1.0
    return accept, alias


def _split_long(docs: tf.RaggedTensor, max_length: int) -> tf.RaggedTensor:
    """Documents longer than `max_length` words cut into consecutive pieces (windows stop at the cuts)."""
    lengths = docs.row_lengths().numpy()
    if lengths.size == 0 or lengths.max() <= max_length:
        return docs
    counts = -(-lengths // max_length)  # pieces per document (none for an empty one)
    pieces = np.full(counts.sum(), max_length, dtype=np.int64)
    pieces[np.cumsum(counts)[counts > 0] - 1] = lengths[counts > 0] - (counts[counts > 0] - 1) * max_length
    return tf.RaggedTensor.from_row_lengths(docs.flat_values, pieces)


def expected_examples(docs: tf.RaggedTensor, keep: np.ndarray, *, variant: str, window_size: int,
                      dynamic_window: bool) -> float:
    """About how many examples one pass over `docs` gives, after subsampling (keep probabilities)."""
    weights = np.concatenate([[0.0], np.cumsum(keep[docs.flat_values.numpy()])])
    splits = docs.row_splits.numpy()
    kept = weights[splits[1:]] - weights[splits[:-1]]  # expected kept words per document
    if variant == "cbow":
        return float(kept[kept >= 2].sum())
    reach = np.arange(1, window_size + 1)  # distance d is used with probability P(reach >= d)
    p_reach = (window_size - reach + 1) / window_size if dynamic_window else np.ones(window_size)
    return float(2 * (p_reach * np.maximum(kept[:, None] - reach, 0)).sum())


MAX_DOCUMENT_LENGTH = 10_000  # longer documents are cut into pieces of this many words (gensim's limit)


def _window_offsets(window_size: int) -> list[int]:
    """A word's neighbours, as offsets from it: -window_size..-1, then 1..window_size (CBOW's window columns; the
    segments model's `WindowScores` scores them in the same order)."""
    return [*range(-window_size, 0), *range(1, window_size + 1)]


def _draw(accept: tf.Tensor, alias: tf.Tensor, shape, seed) -> tf.Tensor:
    """Ids drawn by the alias method (`alias_table`) with the stateless `seed`."""
    seed_id, seed_accept = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    ids = tf.random.stateless_uniform(shape, seed_id, 0, tf.size(accept), dtype=tf.int32)
    return tf.where(tf.random.stateless_uniform(shape, seed_accept) < tf.gather(accept, ids), ids, tf.gather(alias, ids))


def _segment_dataset(docs: tf.RaggedTensor, vocabulary: Vocabulary, *, window_size: int, batch_size: int, sample,
                     shuffle: bool, seed, segment_length: int, shared_negatives: int) -> tf.data.Dataset:
    """`make_dataset(examples="segments")`: see the module docstring."""
    w, length, k = window_size, segment_length, shared_negatives
    middle = length - 2 * w
    per_batch = max(1, batch_size // middle)
    keep = vocabulary.keep_probabilities(sample)
    keep_t = tf.constant(keep, tf.float32)
    accept, alias = alias_table(vocabulary.negative_distribution())
    accept, alias = tf.constant(accept, tf.float32), tf.constant(alias, tf.int32)
    flat, doc = docs.flat_values, tf.cast(docs.value_rowids(), tf.int32)
    plain = tf.autograph.experimental.do_not_convert  # plain TF ops: autograph's conversion took a second

    @plain
    def batches(seed, flat, doc):  # one pass: the subsampled corpus, w zeros between documents, cut into batches
        seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
        kept = tf.random.stateless_uniform(tf.shape(flat), seeds[0]) < tf.gather(keep_t, flat)
        ids, at = tf.boolean_mask(flat, kept), tf.boolean_mask(doc, kept)
        place = w + tf.range(tf.size(ids)) + w * at  # w zeros before the first word and after each document
        total = tf.reduce_max(tf.concat([place + 1 + w, [w]], 0))
        rows = (total - w + middle - 1) // middle  # row r's middle words: stream[w + r * middle ...]
        stream = tf.scatter_nd(place[:, None], ids, [rows * middle + 2 * w])
        index = tf.range(rows)[:, None] * middle + tf.range(length)[None]  # overlapping by 2w: no pair lost
        segments = tf.gather(stream, index)
        segments = tf.boolean_mask(segments, tf.reduce_any(segments[:, w:w + middle] > 0, axis=1))
        if shuffle:
            segments = tf.gather(segments, tf.random.experimental.stateless_shuffle(
                tf.range(tf.shape(segments)[0]), seeds[1]))
        count = tf.shape(segments)[0]
        n = -(-count // per_batch)  # the last batch filled up with padding segments (no score counts)
        segments = tf.pad(segments, [[0, n * per_batch - count], [0, 0]])
        return (tf.reshape(segments, [n, per_batch, length]),
                _draw(accept, alias, tf.stack([n, per_batch, k]), seeds[2]), count)

    seed = np.random.randint(2**31 - 1) if seed is None else seed
    if shuffle:
        kept_words = float(keep[flat.numpy()].sum())
        steps = max(1, int(np.ceil((kept_words + w * int(docs.nrows())) / middle / per_batch)))
        corpus = tf.data.Dataset.from_tensors((flat, doc)).repeat()  # passed, not captured
        ds = tf.data.Dataset.zip(_seeds(seed, True), corpus).map(plain(lambda seed, ids: batches(seed, *ids)[:2]))
        ds = ds.flat_map(plain(lambda *x: tf.data.Dataset.from_tensor_slices(x))).take(steps)
    else:  # one pass, the same draws every time; the last batch holds only the segments left
        segments, negatives, rows = batches(tf.constant([seed, 0], tf.int64), flat, doc)
        rows = int(rows)
        if rows == 0:
            raise ValueError(f"The {int(docs.nrows())} document(s) give no example once frequent words are "
                             f"subsampled (sample={sample}); give more documents or a larger `sample`.")
        ds = tf.data.Dataset.from_tensor_slices((tf.reshape(segments, [-1, length])[:rows],
                                                 tf.reshape(negatives, [-1, k])[:rows])).batch(per_batch)
        steps = int(ds.cardinality())
    ds = ds.map(plain(lambda segments, negatives: ((segments, negatives),)))  # inputs only: the model weighs its scores
    return ds.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(tf.data.AUTOTUNE)


def make_dataset(corpus, vocabulary: Vocabulary, *, variant: Literal["skipgram", "cbow"] = "skipgram",
                 window_size: int = 2, num_ns: int = 4, batch_size: int = 4096, sample: float | None = 1e-3,
                 dynamic_window: bool = True, shuffle: bool = True, mix_documents: int = 256,
                 seed: int | None = None, mode: str | None = None,
                 examples: Literal["pairs", "segments"] = "pairs", segment_length: int = 128,
                 shared_negatives: int = 16) -> tf.data.Dataset:
    """word2vec training examples `((words, candidates), labels)`, batched.

    The examples are made in vectorised chunks of `mix_documents` documents (a few hundred
    thousand examples at a time): subsampling, windows, the chunk's shuffle and the negatives are
    a handful of tensor operations per chunk, run in parallel with training by `tf.data`.

    Args:
      corpus: a path, an iterable of strings, or the ragged ids of `vocabulary.encode(...)`.
      vocabulary: the `Vocabulary` giving ids, subsampling and negative-sampling frequencies.
      variant: `"skipgram"`: `words` holds target ids, shape `(batch,)`, and `candidates[:, 0]` one
        context word within the window. `"cbow"`: `words` holds the window around the target,
        `(batch, 2 * window_size)` ids padded with 0, and `candidates[:, 0]` the target.
      window_size: the largest distance between a target and a context word.
      num_ns: negatives per example: `candidates` has shape `(batch, 1 + num_ns)`.
      batch_size: examples per batch.
      sample: the subsampling threshold t (`None` or 0: keep every word).
      dynamic_window: draw each word's reach uniformly in 1..window_size (word2vec.c); if False
        the reach is always `window_size`.
      shuffle: for training: documents are shuffled, the examples of each chunk of
        `mix_documents` documents shuffled together, every draw is new each epoch, and the stream
        repeats so that every epoch has the same number of full batches,
        `ceil(expected examples / batch_size)` (about one pass; the exact count varies with
        subsampling). False (validation, test): one pass in corpus order, the same examples every
        time.
      mix_documents: how many documents make one chunk of examples (shuffled together).
      mode: the former name of `variant` (until kerazoo 0.2).
      seed: seed of the shuffling and of every random draw (None: drawn from NumPy's global
        generator, which `keras.utils.set_random_seed` seeds).
      examples: `"pairs"` (above) or `"segments"` (skip-gram only, the module docstring): batches of
        inputs only, `((segments, negatives),)`, `segments` `(b, segment_length)` ids and `negatives`
        `(b, shared_negatives)`; the model built with `examples="segments"` (whose `example_options`
        say so) labels and weighs its scores. `batch_size` counts the `segment_length - 2 *
        window_size` middle words of a segment (`batch_size // middle` segments, at least one); a
        training pass's last batch is filled up with padding segments. `dynamic_window` is then the
        model's option.
      segment_length: words per segment (`"segments"`), more than `2 * window_size`.
      shared_negatives: negatives drawn per segment (`"segments"`).

    Returns:
      A `tf.data.Dataset` of `((words, candidates), labels)`, labels `[1, 0, ..., 0]` as float32
      (`"segments"`: `((segments, negatives),)`, see `examples`).

    Example:
      >>> vocab = Vocabulary.build("corpus.txt", max_size=20000, min_count=5)
      >>> ds = make_dataset("corpus.txt", vocab, window_size=2, num_ns=4, seed=0)
    """
    if mode is not None:
        warnings.warn("make_dataset(mode=...) is now called variant (kerazoo's naming table); the old name stops "
                      "working in kerazoo 0.2.", FutureWarning, stacklevel=2)
        variant = mode
    if variant not in ("skipgram", "cbow"):
        raise ConfigError(f"The `variant` argument should be one of ['skipgram', 'cbow']. Received: variant={variant!r}")
    if examples not in ("pairs", "segments"):
        raise ConfigError(f"The `examples` argument should be one of ['pairs', 'segments']. Received: examples={examples!r}")
    if examples == "segments" and variant != "skipgram":
        raise ConfigError(f"examples='segments' trains skip-gram only; variant={variant!r} takes examples='pairs'.")
    if examples == "segments" and not dynamic_window:
        raise ConfigError("With examples='segments' the model weighs the windows: build it with "
                          "kerazoo.get('word2vec', examples='segments', dynamic_window=False) instead.")
    sizes = {"window_size": window_size, "num_ns": num_ns, "batch_size": batch_size, "mix_documents": mix_documents,
             "segment_length": segment_length, "shared_negatives": shared_negatives}
    for arg, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"The `{arg}` argument should be a positive integer. Received: {arg}={value!r}")
    if examples == "segments" and segment_length <= 2 * window_size:
        raise ValueError(f"`segment_length` should be more than 2 * window_size = {2 * window_size} (a segment's "
                         f"middle words have their whole window in it). Received: segment_length={segment_length}")
    docs = corpus if isinstance(corpus, tf.RaggedTensor) else vocabulary.encode(corpus)
    if not np.any(docs.row_lengths().numpy() >= 2):
        raise ValueError("No document of the corpus holds two in-vocabulary words: there is nothing to train on.")
    if examples == "segments":
        return _segment_dataset(tf.cast(docs, tf.int32), vocabulary, window_size=window_size, batch_size=batch_size,
                                sample=sample, shuffle=shuffle, seed=seed, segment_length=segment_length,
                                shared_negatives=shared_negatives)
    docs = _split_long(tf.cast(docs, tf.int32), MAX_DOCUMENT_LENGTH)
    keep = vocabulary.keep_probabilities(sample)
    keep_t = tf.constant(keep, tf.float32)
    accept, alias = alias_table(vocabulary.negative_distribution())
    accept_t, alias_t = tf.constant(accept, tf.float32), tf.constant(alias, tf.int32)
    offsets = tf.constant(_window_offsets(window_size))  # CBOW's window columns
    labels = tf.constant([[1.0] + [0.0] * num_ns])

    def draw_negatives(shape, seed):  # unigram^0.75 (alias method)
        return _draw(accept_t, alias_t, shape, seed)

    def with_negatives(positives, seed):  # (n,) true words -> (n, 1 + num_ns) candidates; a clash is redrawn
        def redraw(i, negatives, at):  # at: positions (row, column) whose negative is the row's true word
            fresh = draw_negatives(tf.shape(at)[:1], tf.random.experimental.stateless_fold_in(seed, i))
            clash = tf.equal(fresh, tf.gather(positives, at[:, 0]))
            return i + 1, tf.tensor_scatter_nd_update(negatives, at, fresh), tf.boolean_mask(at, clash)

        first = draw_negatives(tf.stack([tf.size(positives), num_ns]), seed)
        at = tf.where(tf.equal(first, positives[:, None]))
        _, negatives, _ = tf.while_loop(lambda i, neg, at: tf.shape(at)[0] > 0, redraw, (1, first, at))
        return tf.concat([positives[:, None], negatives], axis=1)

    def examples(chunk, seed, flat, splits):  # a chunk of documents -> its (words, candidates) rows
        seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 4))
        part = tf.gather(tf.RaggedTensor.from_row_splits(flat, splits, validate=False), chunk)
        ids, doc = part.flat_values, part.value_rowids()
        kept = tf.random.stateless_uniform(tf.shape(ids), seeds[0]) < tf.gather(keep_t, ids)
        ids, doc = tf.boolean_mask(ids, kept), tf.boolean_mask(doc, kept)
        n = tf.size(ids)
        reach = (tf.random.stateless_uniform([n], seeds[1], 1, window_size + 1, dtype=tf.int32) if dynamic_window
                 else tf.fill([n], window_size))
        if variant == "cbow":  # each word's window: its neighbours within reach in its own document, else 0
            pos = tf.range(n)[:, None] + offsets                                # (n, 2 * window_size)
            at = tf.clip_by_value(pos, 0, tf.maximum(n - 1, 0))
            valid = (pos >= 0) & (pos < n) & (tf.abs(offsets) <= reach[:, None]) & tf.equal(tf.gather(doc, at),
                                                                                              doc[:, None])
            rows = tf.reduce_any(valid, axis=1)  # a lone word has no window
            words = tf.boolean_mask(tf.where(valid, tf.gather(ids, at), 0), rows)
            positives = tf.boolean_mask(ids, rows)
        else:  # pairs at distance d: (ids[i], ids[i + d]) and (ids[i + d], ids[i]), each within its target's reach
            targets, contexts, valid = [], [], []
            for d in range(1, window_size + 1):
                same = tf.equal(doc[:-d], doc[d:])
                targets += [ids[:-d], ids[d:]]
                contexts += [ids[d:], ids[:-d]]
                valid += [same & (reach[:-d] >= d), same & (reach[d:] >= d)]
            valid = tf.concat(valid, 0)
            words = tf.boolean_mask(tf.concat(targets, 0), valid)
            positives = tf.boolean_mask(tf.concat(contexts, 0), valid)
        if shuffle:
            order = tf.random.experimental.stateless_shuffle(tf.range(tf.size(positives)), seeds[2])
            words, positives = tf.gather(words, order), tf.gather(positives, order)
        return words, with_negatives(positives, seeds[3])

    def with_labels(words, candidates):
        return (words, candidates), tf.tile(labels, [tf.shape(candidates)[0], 1])

    seed = np.random.randint(2**31 - 1) if seed is None else seed  # numpy's global seed (keras.utils.set_random_seed)
    nrows = int(docs.nrows())
    chunks = tf.data.Dataset.range(nrows)
    if shuffle:
        chunks = chunks.shuffle(nrows, seed=seed, reshuffle_each_iteration=True).repeat()
    corpus_ids = tf.data.Dataset.from_tensors((docs.flat_values, docs.row_splits)).repeat()  # passed, not captured
    chunks = tf.data.Dataset.zip((chunks.batch(mix_documents), _seeds(seed, shuffle), corpus_ids))
    ds = chunks.map(lambda chunk, seed, ids: examples(chunk, seed, *ids), num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle:
        rows = expected_examples(docs, keep, variant=variant, window_size=window_size, dynamic_window=dynamic_window)
    else:  # one pass, counted exactly (the draws are the same every pass)
        rows = int(ds.reduce(np.int64(0), lambda n, ex: n + tf.shape(ex[1], out_type=tf.int64)[0]))
        if rows == 0:
            raise ValueError(f"The {nrows} document(s) give no example once frequent words are "
                             f"subsampled (sample={sample}); give more documents or a larger `sample`.")
    ds = ds.rebatch(batch_size).map(with_labels, num_parallel_calls=tf.data.AUTOTUNE)
    steps = max(1, int(np.ceil(rows / batch_size)))
    return ds.take(steps).apply(tf.data.experimental.assert_cardinality(steps)).prefetch(tf.data.AUTOTUNE)
