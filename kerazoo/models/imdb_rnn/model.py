"""The architecture of the recurrent sentiment classifiers for IMDB reviews: SimpleRNN, LSTM and GRU.

Embedding (vocabulary size, width, `mask_zero` so padding is skipped) -> one or more recurrent
layers (stackable, optionally bidirectional, with input and recurrent dropout) -> one sigmoid
unit. Gradient clipping lives in the recipe's optimizer (`clipnorm`), as Pascanu et al. advise
for recurrent networks.

Reference:
  Hochreiter & Schmidhuber, "Long short-term memory", 1997; Cho et al., "Learning phrase
  representations using RNN encoder-decoder", 2014 (GRU); Pascanu, Mikolov, Bengio, "On the
  difficulty of training recurrent neural networks", 2013 (gradient clipping); Maas et al.,
  "Learning word vectors for sentiment analysis", 2011 (the IMDB data set).
"""
from __future__ import annotations

from typing import Literal

import keras
import numpy as np
from keras import ops

from kerazoo.errors import ConfigError
from kerazoo.models.common import check_choice, check_positive, check_rate
from kerazoo.registry import register_model

__all__ = ["imdb_rnn", "imdb_lstm", "imdb_gru", "MaskedGlobalMaxPooling1D"]


@keras.saving.register_keras_serializable(package="kerazoo")
class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """Max over time that ignores masked (padding) steps; Keras' GlobalMaxPooling1D drops masks.

    A sequence with no unmasked step (an empty review) pools to zeros, so its score is finite and the
    same alone or in any batch (the lowest float would overflow the next layer into inf and NaN).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        mask = ops.expand_dims(ops.cast(mask, "bool"), -1)
        lowest = float(np.finfo(keras.backend.standardize_dtype(inputs.dtype)).min)
        pooled = ops.max(ops.where(mask, inputs, lowest), axis=1)
        return ops.where(ops.any(mask, axis=1), pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


def _imdb_rnn(cell, *, vocab_size, sequence_length, embedding_dim, mask_zero, units, bidirectional,
              dropout, recurrent_dropout, pooling, include_top, classes, classifier_activation, name):
    """The three builders' shared body: `cell` is the Keras recurrent layer class."""
    check_positive(vocab_size=vocab_size, embedding_dim=embedding_dim, units=units, classes=classes)
    if sequence_length is not None:
        check_positive(sequence_length=sequence_length)
    check_rate(dropout=dropout, recurrent_dropout=recurrent_dropout)
    check_choice("pooling", pooling, [None, "avg", "max"])
    if vocab_size < 2:
        raise ConfigError(f"{name}: `vocab_size` should be at least 2 (index 0 is padding). "
                         f"Received: vocab_size={vocab_size}")

    # === Layers ===
    inputs = keras.Input(shape=(sequence_length,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=mask_zero, name="embedding")(inputs)
    for i, width in enumerate(units, start=1):
        layer = cell(width, dropout=dropout, recurrent_dropout=recurrent_dropout,
                     return_sequences=i < len(units) or pooling is not None, name=f"rnn_{i}")
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{i}")
        x = layer(x)
    if pooling == "avg":  # mask-aware: padding does not dilute the average
        x = keras.layers.GlobalAveragePooling1D(name="avg_pool")(x)
    elif pooling == "max":
        x = MaskedGlobalMaxPooling1D(name="max_pool")(x)
    # === Head ===
    if include_top:
        if dropout:
            x = keras.layers.Dropout(dropout, name="predictions_dropout")(x)
        x = keras.layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, x, name=name)


@register_model(task="text-classification")
def imdb_rnn(
    *,
    vocab_size: int = 20000,
    sequence_length: int | None = None,
    embedding_dim: int = 128,
    mask_zero: bool = True,
    units: tuple[int, ...] = (64,),
    bidirectional: bool = False,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    pooling: Literal["avg", "max"] | None = None,
    include_top: bool = True,
    classes: int = 1,
    classifier_activation: str | None = "sigmoid",
    name: str = "imdb_rnn",
) -> keras.Model:
    """SimpleRNN sentiment classifier for token-id sequences (IMDB by default).

    Args:
      vocab_size: embedding rows; token ids must be below it (0 is padding, 1 out-of-vocabulary
        with `keras.layers.TextVectorization`).
      sequence_length: fixed length of the input, or `None` for any length.
      embedding_dim: embedding width.
      mask_zero: mask padding (id 0) so the recurrent layers skip it.
      units: width of each stacked recurrent layer, e.g. `(64, 32)` for two layers.
      bidirectional: wrap every recurrent layer in `keras.layers.Bidirectional`.
      dropout: input dropout of each recurrent layer and before the output.
      recurrent_dropout: dropout on the recurrent state.
      pooling: how the last recurrent layer summarises the review: `None` takes its final
        state, `"avg"` (mask-aware) or `"max"` pool its outputs over time.
      include_top: end with the `predictions` layer; if False the output is the last recurrent
        layer's state (the review's representation).
      classes: output units (1 for positive/negative).
      classifier_activation: activation of `predictions` (`"sigmoid"`; `None` for logits).
      name: model name.

    Reference:
      Elman, "Finding structure in time", 1990.

    Example:
      >>> model = kerazoo.get("imdb_rnn", units=(64, 64), bidirectional=True, compile=True)
    """
    return _imdb_rnn(keras.layers.SimpleRNN, **{k: v for k, v in locals().items()})


@register_model(task="text-classification")
def imdb_lstm(
    *,
    vocab_size: int = 20000,
    sequence_length: int | None = None,
    embedding_dim: int = 128,
    mask_zero: bool = True,
    units: tuple[int, ...] = (64,),
    bidirectional: bool = False,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    pooling: Literal["avg", "max"] | None = None,
    include_top: bool = True,
    classes: int = 1,
    classifier_activation: str | None = "sigmoid",
    name: str = "imdb_lstm",
) -> keras.Model:
    """LSTM sentiment classifier for token-id sequences (IMDB by default).

    Args:
      vocab_size: embedding rows; token ids must be below it (0 is padding, 1 out-of-vocabulary
        with `keras.layers.TextVectorization`).
      sequence_length: fixed length of the input, or `None` for any length.
      embedding_dim: embedding width.
      mask_zero: mask padding (id 0) so the recurrent layers skip it.
      units: width of each stacked recurrent layer, e.g. `(64, 32)` for two layers.
      bidirectional: wrap every recurrent layer in `keras.layers.Bidirectional`.
      dropout: input dropout of each recurrent layer and before the output.
      recurrent_dropout: dropout on the recurrent state.
      pooling: how the last recurrent layer summarises the review: `None` takes its final
        state, `"avg"` (mask-aware) or `"max"` pool its outputs over time.
      include_top: end with the `predictions` layer; if False the output is the last recurrent
        layer's state (the review's representation).
      classes: output units (1 for positive/negative).
      classifier_activation: activation of `predictions` (`"sigmoid"`; `None` for logits).
      name: model name.

    Reference:
      Hochreiter & Schmidhuber, "Long short-term memory", 1997.

    Example:
      >>> model = kerazoo.get("imdb_lstm", units=(64,), bidirectional=True, pooling="max", compile=True)
    """
    return _imdb_rnn(keras.layers.LSTM, **{k: v for k, v in locals().items()})


@register_model(task="text-classification")
def imdb_gru(
    *,
    vocab_size: int = 20000,
    sequence_length: int | None = None,
    embedding_dim: int = 128,
    mask_zero: bool = True,
    units: tuple[int, ...] = (64,),
    bidirectional: bool = False,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    pooling: Literal["avg", "max"] | None = None,
    include_top: bool = True,
    classes: int = 1,
    classifier_activation: str | None = "sigmoid",
    name: str = "imdb_gru",
) -> keras.Model:
    """GRU sentiment classifier for token-id sequences (IMDB by default).

    Args:
      vocab_size: embedding rows; token ids must be below it (0 is padding, 1 out-of-vocabulary
        with `keras.layers.TextVectorization`).
      sequence_length: fixed length of the input, or `None` for any length.
      embedding_dim: embedding width.
      mask_zero: mask padding (id 0) so the recurrent layers skip it.
      units: width of each stacked recurrent layer, e.g. `(64, 32)` for two layers.
      bidirectional: wrap every recurrent layer in `keras.layers.Bidirectional`.
      dropout: input dropout of each recurrent layer and before the output.
      recurrent_dropout: dropout on the recurrent state.
      pooling: how the last recurrent layer summarises the review: `None` takes its final
        state, `"avg"` (mask-aware) or `"max"` pool its outputs over time.
      include_top: end with the `predictions` layer; if False the output is the last recurrent
        layer's state (the review's representation).
      classes: output units (1 for positive/negative).
      classifier_activation: activation of `predictions` (`"sigmoid"`; `None` for logits).
      name: model name.

    Reference:
      Cho et al., "Learning phrase representations using RNN encoder-decoder for
      statistical machine translation", 2014.

    Example:
      >>> model = kerazoo.get("imdb_gru", units=(64,), bidirectional=True, compile=True)
    """
    return _imdb_rnn(keras.layers.GRU, **{k: v for k, v in locals().items()})
