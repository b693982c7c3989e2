"""seq2seq's TensorFlow-only serving: the SavedModel's `serving_default`, which decodes greedily inside the graph
(strings in, translations, flags and attention out), the id-level core LiteRT and ONNX files could hold
(`id_core`), and why the model has no such file yet (`export_core`). Declared in
`kerazoo.models.seq2seq.training`'s `HOOKS`."""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerazoo.data.parallel import END, START
from kerazoo.family import ExportCore

__all__ = ["serving_endpoint", "export_core", "id_core"]


def serving_endpoint(model):
    """The SavedModel's `serving_default`: raw source strings -> greedy translations, flags, attention.

    Greedy decoding runs inside the graph (a `tf.while_loop` over the one-step decoder), so TF
    Serving or `tf.saved_model.load` translate strings with no Python code of kerazoo's. Returns,
    per input, what `translate` gives: `"translation"` (string), `"valid"` (bool), `"flag"` (""
    for an answer, else one of `FLAGS`), `"log_prob"` and `"confidence"` (float32), and
    `"attention"` `(batch, max_length, source_length)` (rows after a translation's end are zeros).
    Empty or whitespace-only inputs are not decoded (translation "", flag "empty"); an empty
    batch gives empty outputs.
    """
    encoder, step = model.inference_models()
    vec = model.vectorizer
    vec.encode_source(["0"])  # builds the lookup layers, which the SavedModel tracks
    max_length = (vec.max_target_length or 49) + 1
    vocabulary = tf.constant(vec.target_vocabulary)
    separator = "" if vec.level == "char" else " "
    check = model.output_check

    def translate(text):
        empty = tf.equal(tf.strings.strip(text), "")
        ids = vec.encode_source(tf.where(empty, "0", text))  # an empty input is not decoded: a stand-in is
        ids = tf.pad(ids, [[0, 0], [0, tf.maximum(1 - tf.shape(ids)[1], 0)]])  # an empty batch: one column
        mask = tf.not_equal(ids, 0)
        encoder_outputs, *states = encoder(ids, training=False)
        encoder_outputs = tf.identity(encoder_outputs)  # without the Keras mask it carries: `mask` goes in explicitly
        batch = tf.shape(ids)[0]
        token, done = tf.fill([batch, 1], START), tf.zeros([batch], tf.bool)
        log_prob = tf.zeros([batch])
        tokens = tf.TensorArray(tf.int32, size=max_length)
        attention = tf.TensorArray(tf.float32, size=max_length)
        for t in tf.range(max_length):
            probs, weights, *states = step([token, encoder_outputs, mask, *states], training=False)
            choice = tf.where(done, END, tf.argmax(probs[:, 0], -1, output_type=tf.int32))
            chosen = tf.gather(probs[:, 0], choice, batch_dims=1)
            log_prob += tf.where(done, 0.0, tf.math.log(chosen))
            tokens = tokens.write(t, choice)
            attention = attention.write(t, tf.where(done[:, None], 0.0, weights[:, 0]))
            done = done | tf.equal(choice, END)
            token = choice[:, None]
        ids_out = tf.reshape(tf.transpose(tokens.stack()), [batch, max_length])
        kept = tf.ragged.boolean_mask(ids_out, tf.equal(tf.cumsum(tf.cast(tf.equal(ids_out, END), tf.int32), 1), 0))
        text_out = tf.strings.reduce_join(tf.gather(vocabulary, kept), axis=1, separator=separator)
        text_out = tf.where(empty, "", text_out)
        if check == "iso_date":
            flag = tf.where(_is_iso_date(text_out), "", "invalid_output")
            flag = tf.where(tf.equal(text_out, ""), "not_a_date", flag)
        else:
            flag = tf.fill([batch], "")
        flag = tf.where(empty, "empty", flag)
        attention = tf.transpose(attention.stack(), [1, 0, 2])
        return {"translation": text_out, "valid": tf.equal(flag, ""), "flag": flag,
                "log_prob": tf.where(empty, 0.0, log_prob), "confidence": tf.where(empty, 1.0, tf.exp(log_prob)),
                "attention": tf.where(empty[:, None, None], 0.0, attention)}

    endpoint = tf.function(translate, input_signature=[tf.TensorSpec((None,), tf.string, name="text")])
    return {"fn": endpoint, "track": [model, vec._lookups["source"]],
            "input": "raw source strings; returns greedy translations, whether each is valid (else a flag: "
                     "empty, not_a_date, invalid_output), log-probabilities, confidences and attention weights"}


def _is_iso_date(text):
    """`(batch,)` strings -> bool: a calendar date written `YYYY-MM-DD` (what `decoding.iso_date` accepts)."""
    form = tf.strings.regex_full_match(text, r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
    safe = tf.where(form, text, "2000-01-01")
    year, month, day = (tf.strings.to_number(tf.strings.substr(safe, i, n), tf.int32) for i, n in ((0, 4), (5, 2),
                                                                                                   (8, 2)))
    leap = (tf.equal(year % 4, 0) & tf.not_equal(year % 100, 0)) | tf.equal(year % 400, 0)
    lengths = tf.constant([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    lengths = tf.gather(lengths, tf.clip_by_value(month - 1, 0, 11))
    lengths += tf.cast(tf.equal(month, 2) & leap, tf.int32)
    return form & (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= lengths)


def export_core(model) -> ExportCore:
    """No LiteRT/ONNX files yet, and why (the card and the README's deployment table say so)."""
    why = ("not shipped yet: the SavedModel maps strings to strings with string ops neither LiteRT nor ONNX holds. "
           "Its id-level core (kerazoo.models.seq2seq.tf_export.id_core: source ids -> greedy target ids, encoder "
           "and decoder as tf.while_loops of constant-weight GRU steps) converts to LiteRT float (579,376 bytes) "
           "and ONNX (opset 15, 569,342 bytes), each giving the SavedModel's translation for 4,000 of the 4,000 "
           "test inputs (benchmarks/seq2seq_core.py); missing is the export path around it: a character "
           "tokenizer and id-to-string join in the runners, and a translation agreement in kerazoo export")
    int8 = why + "; int8 was not tried"
    return ExportCore(None, "raw source strings", unsupported={"litert": why, "litert_int8": int8, "onnx": why})


def _gru(layer):
    """`(input kernel, input bias, step(x_projected, h) -> h)` of a Keras GRU layer (reset_after, Keras' equations),
    its weights as constants; None for other cells."""
    cell = getattr(layer, "cell", None)
    if not isinstance(cell, keras.layers.GRUCell) or not cell.reset_after:
        return None
    kernel, recurrent, bias = (np.asarray(w) for w in (cell.kernel, cell.recurrent_kernel, cell.bias))
    act, gate = keras.activations.get(cell.activation), keras.activations.get(cell.recurrent_activation)

    def step(xp, h):
        xz, xr, xh = tf.split(xp, 3, axis=-1)
        rz, rr, rh = tf.split(tf.matmul(h, recurrent) + bias[1], 3, axis=-1)
        z, r = gate(xz + rz), gate(xr + rr)
        return z * h + (1.0 - z) * act(xh + r * rh)
    return kernel, bias[0], step


def id_core(model):
    """Greedy translation on ids as one function of numeric tensors: source ids `(batch, length)` int32 (0 pads,
    `vectorizer.encode_source`) -> `{"tokens": (batch, max_length) int32}`, what the SavedModel's endpoint chooses
    (`[END]` after a translation's end). Encoder and decoder are `tf.while_loop`s over constant-weight GRU steps
    with Luong attention; no TensorList or string ops. None for other models (LSTM, Bahdanau, one direction)."""
    layers = {layer.name: layer for layer in model.layers}
    if model.attention != "luong" or not model.bidirectional or model.variant != "gru":
        return None
    encoder = model.get_layer("encoder")
    forward, backward, decoder = _gru(encoder.forward_layer), _gru(encoder.backward_layer), _gru(layers["decoder"])
    if None in (forward, backward, decoder):
        return None
    source_table = np.asarray(layers["source_embedding"].embeddings)
    target_table = np.asarray(layers["target_embedding"].embeddings)
    scale = getattr(layers["attention"], "scale", None)
    scale = None if scale is None else float(np.asarray(scale))
    dense = {n: (np.asarray(layers[n].kernel), np.asarray(layers[n].bias)) for n in ("attention_vector", "predictions")}
    units = encoder.forward_layer.cell.units
    max_length = (model.vectorizer.max_target_length or 49) + 1

    def run(ids):
        ids = tf.cast(ids, tf.int32)
        batch, length = tf.shape(ids)[0], tf.shape(ids)[1]
        mask = tf.not_equal(ids, 0)
        mask_t = tf.expand_dims(tf.transpose(tf.cast(mask, tf.float32)), -1)                  # (time, batch, 1)
        x = tf.reshape(tf.gather(source_table, ids), [-1, source_table.shape[1]])
        projected = [tf.transpose(tf.reshape(tf.matmul(x, k) + b, [batch, length, k.shape[1]]), [1, 0, 2])
                     for k, b, _ in (forward, backward)]                                      # (time, batch, 3 units)
        zeros = tf.zeros([batch, units])

        def encode(t, hf, hb, outputs):  # both directions; the masked steps keep the state (and the output)
            back = length - 1 - t
            mf, mb = tf.gather(mask_t, t), tf.gather(mask_t, back)
            hf = mf * forward[2](tf.gather(projected[0], t), hf) + (1.0 - mf) * hf
            hb = mb * backward[2](tf.gather(projected[1], back), hb) + (1.0 - mb) * hb
            at_t = tf.reshape(tf.one_hot(t, length), [-1, 1, 1])
            at_back = tf.reshape(tf.one_hot(back, length), [-1, 1, 1])
            width = tf.concat([tf.ones([1, 1, units]), tf.zeros([1, 1, units])], -1)
            outputs += at_t * width * tf.concat([hf, zeros], -1) + at_back * (1.0 - width) * tf.concat([zeros, hb], -1)
            return t + 1, hf, hb, outputs

        _, hf, hb, outputs = tf.while_loop(lambda t, *_: t < length, encode,
                                           [tf.constant(0), zeros, zeros, tf.zeros([length, batch, 2 * units])])
        keys = tf.transpose(outputs, [1, 0, 2])                                               # (batch, time, 2 units)
        bias = tf.expand_dims(tf.where(mask, 0.0, -1.0e9), 1)                       # Keras' Attention mask
        tokens = tf.fill([batch, max_length], END)

        def decode(t, token, h, done, tokens):
            h = decoder[2](tf.matmul(tf.gather(target_table, token), decoder[0]) + decoder[1], h)
            scores = tf.matmul(tf.expand_dims(h, 1), keys, transpose_b=True)
            scores = scores * scale if scale is not None else scores
            context = tf.squeeze(tf.matmul(tf.nn.softmax(scores + bias, axis=-1), keys), 1)
            vector = tf.tanh(tf.matmul(tf.concat([context, h], -1), dense["attention_vector"][0])
                             + dense["attention_vector"][1])
            logits = tf.matmul(vector, dense["predictions"][0]) + dense["predictions"][1]
            choice = tf.where(done, END, tf.argmax(logits, -1, output_type=tf.int32))
            tokens = tf.where(tf.expand_dims(tf.equal(tf.range(max_length), t), 0), tf.expand_dims(choice, 1), tokens)
            return t + 1, choice, h, done | tf.equal(choice, END), tokens

        *_, tokens = tf.while_loop(lambda t, *_: t < max_length, decode,
                                   [tf.constant(0), tf.fill([batch], START), tf.concat([hf, hb], -1),
                                    tf.zeros([batch], tf.bool), tokens])
        return {"tokens": tokens}

    return run
