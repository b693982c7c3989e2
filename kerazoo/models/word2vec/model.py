"""word2vec's architecture: skip-gram and CBOW with negative sampling (Mikolov et al. 2013), in `keras` only.

Two embedding tables: the input vectors (`embedding`, the word vectors one keeps) and the output
vectors (`output_embedding`). Skip-gram embeds a target word; CBOW averages the embeddings of
its window (padding id 0 masked). The dot product with the output vectors of `1 + num_ns`
candidates (the true word, then sampled negatives) goes through a sigmoid and is trained with
binary cross-entropy against `[1, 0, ..., 0]`: the negative-sampling objective. The examples
come from `kerazoo.data.word2vec.make_dataset`; `variant` names the form (it was `mode` before 0.2).

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

__all__ = ["word2vec", "Word2Vec"]


@keras.saving.register_keras_serializable(package="kerazoo")
class Word2Vec(keras.Model):
    """word2vec as a functional model; arguments as in `word2vec` (the registered builder)."""

    def __init__(self, *, vocab_size=20000, embedding_dim=128, num_ns=4, window_size=2, variant="skipgram",
                 vocabulary=None, **kwargs):
        variant = kwargs.pop("mode", variant)  # the name in .keras files written before 0.2
        check_positive(vocab_size=vocab_size, embedding_dim=embedding_dim, num_ns=num_ns, window_size=window_size)
        check_choice("variant", variant, ["skipgram", "cbow"])
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
        if variant == "skipgram":
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
        self.window_size, self.variant = window_size, variant
        self.vocabulary = None if vocabulary is None else list(vocabulary)

    def get_config(self):
        return {"vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim, "num_ns": self.num_ns,
                "window_size": self.window_size, "variant": self.variant, "vocabulary": self.vocabulary,
                "name": self.name, "trainable": self.trainable}

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
        """What its training examples must match (`variant`, `window_size`, `num_ns`), as
        `kerazoo.data.word2vec.make_dataset` takes them: `make_dataset(texts, vocab, **model.example_options)`."""
        return {"variant": self.variant, "window_size": self.window_size, "num_ns": self.num_ns}

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
      >>> model.fit(make_dataset(texts, vocab, seed=0, **model.example_options), epochs=5)
      >>> model.word_vectors().most_similar("good", k=5)
    """
    return Word2Vec(vocab_size=vocab_size, embedding_dim=embedding_dim, num_ns=num_ns, window_size=window_size,
                    variant=variant, vocabulary=vocabulary, name=name)
