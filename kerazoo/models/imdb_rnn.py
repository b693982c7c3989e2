"""Recurrent sentiment classifiers for IMDB reviews: SimpleRNN, LSTM and GRU.

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

from pathlib import Path
from typing import Literal

import keras
import numpy as np

from kerazoo.layers import MaskedGlobalMaxPooling1D
from kerazoo.family import ExportCore, FamilyHooks
from kerazoo.models._common import check_choice, check_positive, check_rate
from kerazoo.registry import register_model


def _imdb_rnn(cell, *, vocab_size, sequence_length, embedding_dim, mask_zero, units, bidirectional,
              dropout, recurrent_dropout, pooling, include_top, classes, classifier_activation, name):
    """The three builders' shared body: `cell` is the Keras recurrent layer class."""
    check_positive(vocab_size=vocab_size, embedding_dim=embedding_dim, units=units, classes=classes)
    if sequence_length is not None:
        check_positive(sequence_length=sequence_length)
    check_rate(dropout=dropout, recurrent_dropout=recurrent_dropout)
    check_choice("pooling", pooling, [None, "avg", "max"])
    if vocab_size < 2:
        raise ValueError(f"{name}: `vocab_size` should be at least 2 (index 0 is padding). "
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


@register_model
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


@register_model
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


@register_model
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


def recipe_pretrain(model: keras.Model, data, options: dict, out: Path) -> list:
    """`kerazoo train` stage before `fit`: the `embedding` starts from pretrained word vectors.

    Recipe `pretrain: {embeddings: word2vec.imdb}` (a shipped word2vec artifact or a `.keras`
    path): the row of every vectorizer token the word vectors know is copied in; the others are
    drawn uniformly at the pretrained rows' scale (Kim 2014). The vectors are fine-tuned with
    the classifier. Writes `embeddings.json` (source, coverage of the vocabulary).

    Reference:
      Dai & Le, "Semi-supervised sequence learning", NeurIPS 2015 (word2vec-initialised LSTMs on IMDB).
    """
    import json

    from kerazoo.loading import get

    unknown = set(options) - {"embeddings"}
    if unknown or "embeddings" not in options:
        raise ValueError(f"{model.name} recipe pretrain: accepted option is `embeddings` (e.g. word2vec.imdb or a "
                         f"word2vec .keras path). Received: {sorted(options)}")
    source = str(options["embeddings"])
    w2v = get("word2vec", weights=source) if source.endswith(".keras") else get(source)
    vectors = w2v.word_vectors()
    layer = model.get_layer("embedding")
    table = np.array(layer.embeddings)
    if table.shape[1] != vectors.vectors.shape[1]:
        raise ValueError(f"{source} has {vectors.vectors.shape[1]}-d vectors but {model.name}'s embedding is "
                         f"{table.shape[1]}-d; train with embedding_dim={vectors.vectors.shape[1]}.")
    tokens = data.extra["vectorizer"].get_vocabulary()[:len(table)]
    known = [(i, vectors.index[t]) for i, t in enumerate(tokens) if t and t in vectors.index]
    rows, ids = (np.array(c) for c in zip(*known))
    scale = float(np.sqrt(3) * vectors.vectors[ids].std())  # uniform(-a, a) with the pretrained rows' spread
    table = np.random.default_rng(0).uniform(-scale, scale, table.shape).astype("float32")
    table[rows] = vectors.vectors[ids]
    layer.embeddings.assign(table)
    coverage = {"source": source, "rows": len(table), "pretrained_rows": len(rows),
                "coverage": round(len(rows) / len(table), 4)}
    print(f"{model.name}: embedding rows from {source}: {len(rows)} of {len(table)}")
    (Path(out) / "embeddings.json").write_text(json.dumps(coverage, indent=2))
    return []


# === Export: the network on token ids as one loop LiteRT's builtin ops hold ===

def _step(layer):
    """`(step(x_projected_t, state) -> (output, state), state size, input kernel, input bias)` of a Keras
    SimpleRNN/LSTM/GRU layer, with its weights as constants (Keras' gate order and equations)."""
    import tensorflow as tf

    cell = layer.cell
    kernel, recurrent = np.asarray(cell.kernel), np.asarray(cell.recurrent_kernel)
    bias = np.asarray(cell.bias) if cell.use_bias else np.zeros(kernel.shape[1], "float32")
    act = keras.activations.get(cell.activation)
    gate = keras.activations.get(getattr(cell, "recurrent_activation", None))
    if isinstance(cell, keras.layers.GRUCell):
        if not cell.reset_after:
            return None
        input_bias, recurrent_bias = (bias[0], bias[1]) if bias.ndim == 2 else (bias, np.zeros_like(bias))

        def step(xp, state):  # reset_after: the reset gate scales the recurrent projection, biases apart
            h, = state
            xz, xr, xh = tf.split(xp, 3, axis=-1)
            rz, rr, rh = tf.split(tf.matmul(h, recurrent) + recurrent_bias, 3, axis=-1)
            z, r = gate(xz + rz), gate(xr + rr)
            h = z * h + (1.0 - z) * act(xh + r * rh)
            return h, (h,)
        return step, 1, kernel, input_bias
    if isinstance(cell, keras.layers.LSTMCell):
        def step(xp, state):
            h, c = state
            i, f, g, o = tf.split(xp + tf.matmul(h, recurrent), 4, axis=-1)
            c = gate(f) * c + gate(i) * act(g)
            h = gate(o) * act(c)
            return h, (h, c)
        return step, 2, kernel, bias

    def step(xp, state):  # SimpleRNN
        h = act(xp + tf.matmul(state[0], recurrent))
        return h, (h,)
    return step, 1, kernel, bias


def _loop_network(network):
    """The id network (embedding -> one recurrent layer, either direction -> pooling -> predictions) as a
    function of one `tf.while_loop` over time, both directions in the same step, pooling accumulated in
    the loop (no TensorList ops): what LiteRT holds at any batch size and length. None for other shapes."""
    import tensorflow as tf

    names = {layer.name for layer in network.layers}
    recurrent = [layer for layer in network.layers if layer.name.startswith(("bidirectional_", "rnn_"))]
    if len(recurrent) != 1 or "predictions" not in names:
        return None
    layer = recurrent[0]
    directions = [layer.forward_layer, layer.backward_layer] if isinstance(layer, keras.layers.Bidirectional) \
        else [layer]
    steps = [_step(d) for d in directions]
    if any(s is None for s in steps) or getattr(directions[0], "go_backwards", False):
        return None
    units = directions[0].cell.units
    pooling = "max" if "max_pool" in names else "avg" if "avg_pool" in names else None
    embedding = network.get_layer("embedding")
    table, mask_zero = np.asarray(embedding.embeddings), embedding.mask_zero
    head = network.get_layer("predictions")
    head_kernel, head_bias = np.asarray(head.kernel), np.asarray(head.bias)
    head_act = keras.activations.get(head.activation)
    lowest = np.float32(np.finfo(np.float32).min)

    def run(ids):
        ids = tf.cast(ids, tf.int32)
        batch, length = tf.shape(ids)[0], tf.shape(ids)[1]
        x = tf.gather(table, ids)
        mask = tf.not_equal(ids, 0) if mask_zero else tf.ones_like(ids, tf.bool)
        mask_t = tf.expand_dims(tf.transpose(tf.cast(mask, tf.float32)), -1)          # (time, batch, 1)
        projected = [tf.transpose(tf.reshape(tf.matmul(tf.reshape(x, [-1, table.shape[1]]), kernel) + bias,
                                             [batch, length, kernel.shape[1]]), [1, 0, 2])
                     for _, _, kernel, bias in steps]                               # (time, batch, gates)
        zeros = tf.zeros([batch, units])
        states = [tuple(zeros for _ in range(n)) for _, n, _, _ in steps]
        pooled = [tf.fill([batch, units], lowest) if pooling == "max" else zeros for _ in steps]

        def body(t, states, pooled):
            new_states, new_pooled = [], []
            for d, (step, _, _, _) in enumerate(steps):
                at = t if d == 0 else length - 1 - t                                # the backward layer reads in reverse
                m = tf.gather(mask_t, at)
                out, state = step(tf.gather(projected[d], at), states[d])
                state = tuple(m * new + (1.0 - m) * old for new, old in zip(state, states[d]))  # masked: state kept
                new_states.append(state)
                if pooling == "max":
                    new_pooled.append(tf.where(m > 0, tf.maximum(pooled[d], out), pooled[d]))
                elif pooling == "avg":
                    new_pooled.append(pooled[d] + m * out)
                else:
                    new_pooled.append(state[0])
            return t + 1, new_states, new_pooled

        _, _, pooled = tf.while_loop(lambda t, s, p: t < length, body, [tf.constant(0), states, pooled])
        if pooling == "avg":
            pooled = [p / tf.reduce_sum(tf.cast(mask, tf.float32), axis=1, keepdims=True) for p in pooled]
        elif pooling == "max":  # MaskedGlobalMaxPooling1D: a review with no token pools to zeros
            seen = tf.reduce_any(mask, axis=1, keepdims=True)
            pooled = [tf.where(seen, p, tf.zeros_like(p)) for p in pooled]
        features = tf.concat(pooled, axis=-1) if len(pooled) > 1 else pooled[0]
        return {"predictions": head_act(tf.matmul(features, head_kernel) + head_bias)}

    return run


def export_core(model: keras.Model) -> ExportCore:
    """LiteRT/ONNX core of a raw-string classifier: its network on token ids (`tokens`, int32, padding 0)
    from `kerazoo.text.Tokenizer`. Keras' recurrent layers lower to TensorList ops whose batch LiteRT's
    builtins cannot leave dynamic, so the network is rewritten as one `tf.while_loop` with the same
    weights and equations (checked against the SavedModel at export); networks of other shapes than
    embedding -> one recurrent layer -> pooling -> predictions export as Keras builds them (ONNX only)."""
    import tensorflow as tf

    from kerazoo.text import Tokenizer, split_string_model

    vectorizer, network = split_string_model(model)
    if vectorizer is None:
        raise ValueError(f"{model.name}: the export core of an IMDB classifier starts from its raw-string form "
                         "(kerazoo.text.string_model)")
    tokenizer = Tokenizer.of_vectorizer(vectorizer)
    spec = tf.TensorSpec((None, None), tf.int32, name="tokens")
    loop = _loop_network(network)
    text = f"int32 token ids (batch, length <= {tokenizer.sequence_length}; 0 pads) from tokenizer.json"
    if loop is not None:
        gru = any(isinstance(getattr(layer, "forward_layer", layer), keras.layers.GRU) for layer in network.layers)
        crash = ("ai-edge-litert 2.3.0's interpreter aborts the process (SIGABRT, no message) while running the "
                 "full-integer GRU loop over the IMDB test reviews (found re-exporting imdb_gru.imdb, 2026-11); "
                 "the float LiteRT file ships")
        return ExportCore(tf.function(loop, input_signature=[spec]), text, tokenizer=tokenizer,
                          masked_padding=network.get_layer("embedding").mask_zero,
                          unsupported={"litert_int8": crash} if gru else {})
    fn = tf.function(lambda ids: {"predictions": network(ids, training=False)}, input_signature=[spec])
    why = ("Keras' stacked recurrent layers lower to TensorList ops whose dynamic batch LiteRT's builtin ops "
           "cannot hold; kerazoo's own loop covers one recurrent layer")
    return ExportCore(fn, text, tokenizer=tokenizer, track=[network],
                      unsupported={"litert": why, "litert_int8": why})


HOOKS = FamilyHooks(recipe_pretrain=recipe_pretrain, export_core=export_core)
