"""The IMDB classifiers' LiteRT/ONNX core, in TensorFlow: the network on token ids as one loop LiteRT's builtin
ops hold (Keras' recurrent layers lower to TensorList ops whose dynamic batch they cannot)."""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerazoo.errors import ConfigError
from kerazoo.family import ExportCore
from kerazoo.models.common import split_string_model
from kerazoo.text import Tokenizer

__all__ = ["export_core"]


def _step(layer):
    """`(step(x_projected_t, state) -> (output, state), state size, input kernel, input bias)` of a Keras
    SimpleRNN/LSTM/GRU layer, with its weights as constants (Keras' gate order and equations)."""
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
    the loop (no TensorList ops): what LiteRT holds at any batch size and length. None for other shapes.

    Max pooling starts from each direction's first unmasked output, not from the lowest float: int8
    calibration ties a MAXIMUM's inputs and output to one scale, so a -3.4e38 start that the backward
    direction keeps over trailing padding gave its outputs a scale of 1.3e36 (all zero in int8), and
    the GRU's ADD then aborted LiteRT (benchmarks/repro/gru_int8_abort.py)."""
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
        pooled = [zeros for _ in steps]
        seen = [tf.zeros([batch, 1], tf.bool) for _ in steps]                       # an unmasked step was pooled

        def body(t, states, pooled, seen):
            new_states, new_pooled, new_seen = [], [], []
            for d, (step, _, _, _) in enumerate(steps):
                at = t if d == 0 else length - 1 - t                                # the backward layer reads in reverse
                m = tf.gather(mask_t, at)
                out, state = step(tf.gather(projected[d], at), states[d])
                state = tuple(m * new + (1.0 - m) * old for new, old in zip(state, states[d]))  # masked: state kept
                new_states.append(state)
                if pooling == "max":  # the first unmasked output, then the running maximum
                    new_pooled.append(tf.where(m > 0, tf.where(seen[d], tf.maximum(pooled[d], out), out), pooled[d]))
                elif pooling == "avg":
                    new_pooled.append(pooled[d] + m * out)
                else:
                    new_pooled.append(state[0])
                new_seen.append(seen[d] | (m > 0))
            return t + 1, new_states, new_pooled, new_seen

        _, _, pooled, _ = tf.while_loop(lambda t, s, p, n: t < length, body, [tf.constant(0), states, pooled, seen])
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
    vectorizer, network = split_string_model(model)
    if vectorizer is None:
        raise ConfigError(f"{model.name}: the export core of an IMDB classifier starts from its raw-string form "
                         "(kerazoo.models.common.string_model)")
    tokenizer = Tokenizer.of_vectorizer(vectorizer)
    spec = tf.TensorSpec((None, None), tf.int32, name="tokens")
    loop = _loop_network(network)
    text = f"int32 token ids (batch, length <= {tokenizer.sequence_length}; 0 pads) from tokenizer.json"
    if loop is not None:
        return ExportCore(tf.function(loop, input_signature=[spec]), text, tokenizer=tokenizer,
                          masked_padding=network.get_layer("embedding").mask_zero)
    fn = tf.function(lambda ids: {"predictions": network(ids, training=False)}, input_signature=[spec])
    why = ("Keras' stacked recurrent layers lower to TensorList ops whose dynamic batch LiteRT's builtin ops "
           "cannot hold; kerazoo's own loop covers one recurrent layer")
    return ExportCore(fn, text, tokenizer=tokenizer, track=[network],
                      unsupported={"litert": why, "litert_int8": why})
