"""word2vec's architecture: skip-gram and CBOW with negative sampling (Mikolov et al. 2013), in `keras` only.

Two embedding tables: the input vectors (`embedding`, the word vectors one keeps) and the output
vectors (`output_embedding`). Skip-gram embeds a target word; CBOW averages the embeddings of
its window (padding id 0 masked). The dot product with the output vectors of `1 + num_ns`
candidates (the true word, then sampled negatives) goes through a sigmoid and is trained with
binary cross-entropy against `[1, 0, ..., 0]`: the negative-sampling objective. The examples
come from `kerazoo.data.word2vec.make_dataset`; `variant` names the form (it was `mode` before 0.2).

Skip-gram built with `examples="segments"` takes runs of words instead of pairs (`segment`,
`(batch, segment_length)`) and `negatives` shared by a segment (`(batch, shared_negatives)`):
`WindowScores` scores each middle word's input vector against the output vectors of its
`2 * window_size` neighbours and of the negatives, so a word is looked up once, not once per pair.
The model labels and weighs those scores itself (`segment_targets`, used by `fit` and `evaluate`
when the data gives inputs only, as `make_dataset(examples="segments")` does), so the weights are
fused into the compiled step instead of computed by `tf.data` on the same two cores.
The word vectors and everything that reads them are the same in both forms.

The model is a functional `keras.Model` subclass whose config holds the vocabulary, so one
`.keras` file carries the vectors and their words; `model.word_vectors()` gives `WordVectors`
(`most_similar`, `analogy`, TensorBoard projector export, neighbour plots).

Reference:
  Mikolov, Chen, Corrado, Dean, "Efficient estimation of word representations in vector space",
  2013; Mikolov, Sutskever, Chen, Corrado, Dean, "Distributed representations of words and
  phrases and their compositionality", NeurIPS 2013.
"""
from __future__ import annotations

from typing import Literal, Sequence

import keras
import numpy as np

from kerazoo.errors import ConfigError
from kerazoo.models.common import check_choice, check_positive
from kerazoo.models.word2vec.vectors import WordVectors
from kerazoo.registry import register_model

__all__ = ["word2vec", "Word2Vec", "WindowScores"]


@keras.saving.register_keras_serializable(package="kerazoo")
class WindowScores(keras.layers.Layer):
    """Skip-gram's scores over a segment: for each of its middle words (all but the first and last
    `window_size`), the dot products of its input vector with the output vectors of its
    `2 * window_size` neighbours (offsets -window_size..-1, then 1..window_size), then with the
    segment's negatives; `(batch, middle * (2 * window_size + negatives), 1)`."""

    def __init__(self, window_size: int, **kwargs):
        super().__init__(**kwargs)
        self.window_size = window_size
        self.offsets = (*range(-window_size, 0), *range(1, window_size + 1))  # the neighbours' order in the scores

    def call(self, inputs, outputs, negatives):
        w, length = self.window_size, outputs.shape[1]
        centre = inputs[:, w:length - w]
        near = [keras.ops.sum(centre * outputs[:, w + o:length - w + o], axis=-1) for o in self.offsets]
        scores = keras.ops.concatenate([keras.ops.stack(near, axis=-1),
                                        keras.ops.einsum("bld,bkd->blk", centre, negatives)], axis=-1)
        return keras.ops.reshape(scores, (-1, scores.shape[1] * scores.shape[2], 1))

    def targets(self, segment, negatives, *, num_ns: int, dynamic_window: bool = True):
        """The labels and weights of `call`'s scores for these inputs: `(batch, scores, 1)` and `(batch, scores)`.

        A neighbour's label is 1, a negative's 0. A neighbour counts where both words are words (not the
        padding 0) with the weight of its distance d: `(window_size - d + 1) / window_size` if
        `dynamic_window` (the chance that word2vec.c's reach, drawn uniformly in 1..window_size, is at least
        d: the expected objective, without the draw's noise), else 1. Each negative of a word weighs
        `num_ns / shared_negatives`, so a word's negatives push as much as `num_ns` of its own would, and 0
        where it equals one of the word's neighbours (word2vec.c never labels a true word 0).
        """
        ops, w = keras.ops, self.window_size
        length, k = segment.shape[1], negatives.shape[1]
        middle = length - 2 * w
        centre = segment[:, w:length - w, None]
        context = ops.stack([segment[:, w + o:length - w + o] for o in self.offsets], axis=-1)  # (batch, middle, 2w)
        near = ops.logical_and(context > 0, centre > 0)
        reach = [(w - abs(o) + 1) / w if dynamic_window else 1.0 for o in self.offsets]
        clash = ops.any(ops.equal(negatives[:, None, :, None], ops.where(near, context, -1)[:, :, None, :]), axis=-1)
        negative = ops.where(ops.logical_or(clash, centre <= 0), 0.0, num_ns / k)  # (batch, middle, k)
        weights = ops.concatenate([ops.cast(near, "float32") * ops.convert_to_tensor(reach, "float32"), negative], -1)
        labels = ops.concatenate([ops.ones((1, 1, 2 * w)), ops.zeros((1, 1, k))], axis=-1)
        labels = ops.broadcast_to(labels, (ops.shape(segment)[0], middle, 2 * w + k))
        return ops.reshape(labels, (-1, middle * (2 * w + k), 1)), ops.reshape(weights, (-1, middle * (2 * w + k)))

    def compute_output_shape(self, inputs_shape, outputs_shape, negatives_shape):
        middle = outputs_shape[1] - 2 * self.window_size
        return (inputs_shape[0], middle * (2 * self.window_size + negatives_shape[1]), 1)

    def get_config(self):
        return {**super().get_config(), "window_size": self.window_size}


@keras.saving.register_keras_serializable(package="kerazoo")
class Word2Vec(keras.Model):
    """word2vec as a functional model; arguments as in `word2vec` (the registered builder)."""

    def __init__(self, *, vocab_size=20000, embedding_dim=128, num_ns=4, window_size=2, variant="skipgram",
                 vocabulary=None, examples="pairs", segment_length=128, shared_negatives=16, dynamic_window=True,
                 **kwargs):
        variant = kwargs.pop("mode", variant)  # the name in .keras files written before 0.2
        check_positive(vocab_size=vocab_size, embedding_dim=embedding_dim, num_ns=num_ns, window_size=window_size,
                       segment_length=segment_length, shared_negatives=shared_negatives)
        check_choice("variant", variant, ["skipgram", "cbow"])
        check_choice("examples", examples, ["pairs", "segments"])
        if examples == "segments" and variant != "skipgram":
            raise ConfigError(f"examples='segments' builds skip-gram only; variant={variant!r} takes examples='pairs'.")
        if examples == "segments" and segment_length <= 2 * window_size:
            raise ConfigError(f"`segment_length` should be more than 2 * window_size = {2 * window_size}. Received: "
                              f"segment_length={segment_length}")
        if examples == "pairs" and not dynamic_window:
            raise ConfigError("dynamic_window=False is the segments' option (the model weighs their windows); "
                              "for examples='pairs' pass it to make_dataset, which draws the pairs.")
        if vocab_size < 3:
            raise ConfigError(f"`vocab_size` should be at least 3 (the padding and two words). Received: "
                             f"vocab_size={vocab_size}")
        if vocabulary is not None and (len(vocabulary) != vocab_size or vocabulary[0] != ""
                                       or len(set(vocabulary)) != len(vocabulary)):
            raise ConfigError(f"`vocabulary` should list vocab_size={vocab_size} distinct words, the padding '' "
                             f"first (pass vocab_size=len(vocabulary)). Received {len(vocabulary)} words "
                             f"({len(set(vocabulary))} distinct) starting with {list(vocabulary[:3])}")
        # === Layers ===
        embedding = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=variant == "cbow", name="embedding")
        output_embedding = keras.layers.Embedding(vocab_size, embedding_dim, name="output_embedding")
        # === Functional Model ===
        if examples == "segments":
            words = keras.Input(shape=(segment_length,), dtype="int32", name="segment")
            negatives = keras.Input(shape=(shared_negatives,), dtype="int32", name="negatives")
            scores = WindowScores(window_size, name="scores")(embedding(words), output_embedding(words),
                                                              output_embedding(negatives))
            outputs = keras.layers.Activation("sigmoid", name="similarity")(scores)
            inputs = [words, negatives]
        elif variant == "skipgram":
            words = keras.Input(shape=(), dtype="int32", name="target")
            hidden = embedding(words)
        else:
            words = keras.Input(shape=(2 * window_size,), dtype="int32", name="window")
            hidden = keras.layers.GlobalAveragePooling1D(name="window_mean")(embedding(words))  # mask-aware
        if examples == "pairs":
            candidates = keras.Input(shape=(1 + num_ns,), dtype="int32", name="candidates")
            logits = keras.layers.Dot(axes=(1, 2), name="dot")([hidden, output_embedding(candidates)])
            outputs = keras.layers.Activation("sigmoid", name="similarity")(logits)
            inputs = [words, candidates]
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        # === Config ===
        self.vocab_size, self.embedding_dim, self.num_ns = vocab_size, embedding_dim, num_ns
        self.window_size, self.variant = window_size, variant
        self.examples, self.segment_length, self.shared_negatives = examples, segment_length, shared_negatives
        self.dynamic_window = bool(dynamic_window)
        self.vocabulary = None if vocabulary is None else list(vocabulary)

    def get_config(self):
        return {"vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim, "num_ns": self.num_ns,
                "window_size": self.window_size, "variant": self.variant, "vocabulary": self.vocabulary,
                "examples": self.examples, "segment_length": self.segment_length,
                "shared_negatives": self.shared_negatives, "dynamic_window": self.dynamic_window, "name": self.name,
                "trainable": self.trainable}

    def segment_targets(self, x):
        """Segments: the labels and weights of the model's scores for inputs `x` (`[segment, negatives]` or a
        dict by input name), as `WindowScores.targets` gives them; `fit` and `evaluate` use them when the
        data gives no sample weights (`make_dataset(examples="segments")` gives inputs only)."""
        segment, negatives = (x["segment"], x["negatives"]) if isinstance(x, dict) else x
        return self.get_layer("scores").targets(segment, negatives, num_ns=self.num_ns,
                                                dynamic_window=self.dynamic_window)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if self.examples == "segments" and sample_weight is None:
            y, sample_weight = self.segment_targets(x)
        return super().compute_loss(x, y, y_pred, sample_weight, training=training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if self.examples == "segments" and sample_weight is None:
            y, sample_weight = self.segment_targets(x)
        return super().compute_metrics(x, y, y_pred, sample_weight)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)

    @property
    def vectors(self) -> np.ndarray:
        """The word vectors: the input embedding matrix, `(vocab_size, embedding_dim)`."""
        return keras.ops.convert_to_numpy(self.get_layer("embedding").embeddings)

    def with_vocabulary(self, vocabulary: Sequence[str]) -> Word2Vec:
        """The same model and weights, carrying `vocabulary` (the words of ids 0, 1, ...)."""
        model = Word2Vec.from_config({**self.get_config(), "vocabulary": list(vocabulary)})
        model.set_weights(self.get_weights())
        return model

    @property
    def mode(self) -> str:
        """The former name of `variant` (until 0.2)."""
        return self.variant

    @property
    def example_options(self) -> dict:
        """What its training examples must match (`variant`, `window_size`, `num_ns`, and for segments
        `examples`, `segment_length`, `shared_negatives`), as `kerazoo.data.word2vec.make_dataset` takes
        them: `make_dataset(texts, vocab, **model.example_options)`."""
        options = {"variant": self.variant, "window_size": self.window_size, "num_ns": self.num_ns}
        if self.examples == "segments":
            options.update(examples="segments", segment_length=self.segment_length,
                           shared_negatives=self.shared_negatives)
        return options

    def word_vectors(self) -> WordVectors:
        """A `WordVectors` snapshot of the current vectors and the model's vocabulary."""
        if self.vocabulary is None:
            raise ConfigError(f"Model {self.name!r} carries no vocabulary; use model.with_vocabulary(vocab.words) "
                             "or build it with vocabulary=vocab.words.")
        return WordVectors(self.vectors, self.vocabulary)


@register_model(task="word-embedding")
def word2vec(
    *,
    vocab_size: int = 20000,                           # embedding rows, padding (id 0) included
    embedding_dim: int = 128,                          # vector width
    num_ns: int = 4,                                   # negatives per example
    window_size: int = 2,                              # largest target-context distance
    variant: Literal["skipgram", "cbow"] = "skipgram",
    vocabulary: list[str] | None = None,               # the words of ids 0.., stored in the model
    examples: Literal["pairs", "segments"] = "pairs",  # skip-gram's input form: one pair, or a run of words
    segment_length: int = 128,                         # words per segment ("segments")
    shared_negatives: int = 16,                        # negatives drawn per segment ("segments")
    dynamic_window: bool = True,                       # weigh a neighbour by word2vec.c's chance to reach it ("segments")
    name: str = "word2vec",
) -> keras.Model:
    """word2vec (Mikolov et al. 2013): skip-gram or CBOW word vectors trained with negative sampling.

    Args:
      vocab_size: rows of both embedding tables; ids are below it, 0 is padding.
      embedding_dim: width of the word vectors.
      num_ns: negatives per example; the `candidates` input has `1 + num_ns` ids, the true
        word first, and so has the output.
      window_size: largest distance between a target and a context word; CBOW's `window`
        input holds `2 * window_size` ids (0 where there is no word).
      variant: `"skipgram"` (inputs `target` `(batch,)` and `candidates`) predicts the context from
        the target; `"cbow"` (inputs `window` and `candidates`) the target from its context.
      vocabulary: the `vocab_size` words of ids 0, 1, ... (`""` first), stored in the model's
        config so a saved `.keras` file carries them; needed for `model.word_vectors()`.
      examples: `"pairs"`: the inputs above. `"segments"` (skip-gram only): inputs `segment`
        `(batch, segment_length)` and `negatives` `(batch, shared_negatives)`; every middle word of
        a segment is scored against its neighbours and the segment's negatives (`WindowScores`), and
        the model weighs its scores itself (`segment_targets`): the same objective in expectation,
        with an epoch 2.71x faster (benchmarks/word2vec_gensim.py).
      segment_length: words per segment, more than `2 * window_size`.
      shared_negatives: negatives per segment; each weighs `num_ns / shared_negatives` in the loss.
      dynamic_window: segments only (for pairs, `make_dataset` draws the windows): weigh a neighbour at
        distance d by `(window_size - d + 1) / window_size`, the chance that word2vec.c's reach (drawn
        uniformly in 1..window_size) includes it; False: every neighbour weighs 1.
      name: model name.

    Returns:
      A `Word2Vec` (functional `keras.Model`) mapping `[words, candidates]` to the sigmoid of
      the dot products, `(batch, 1 + num_ns)` (`"segments"`: `[segment, negatives]` to
      `(batch, (segment_length - 2 * window_size) * (2 * window_size + shared_negatives), 1)`).

    Reference:
      Mikolov et al., "Distributed representations of words and phrases and their
      compositionality", NeurIPS 2013.

    Example:
      >>> vocab = kerazoo.data.word2vec.Vocabulary.build(texts, max_size=20000)
      >>> model = kerazoo.get("word2vec", vocab_size=len(vocab), vocabulary=vocab.words, compile=True)
      >>> model.fit(make_dataset(texts, vocab, seed=0, **model.example_options), epochs=5)
      >>> model.word_vectors().most_similar("good", k=5)
    """
    return Word2Vec(vocab_size=vocab_size, embedding_dim=embedding_dim, num_ns=num_ns, window_size=window_size,
                    variant=variant, vocabulary=vocabulary, examples=examples, segment_length=segment_length,
                    shared_negatives=shared_negatives, dynamic_window=dynamic_window, name=name)
