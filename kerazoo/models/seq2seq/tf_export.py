"""seq2seq's TensorFlow-only serving: the SavedModel's `serving_default`, which decodes greedily inside the graph
(strings in, translations, flags and attention out), and why the model has no LiteRT or ONNX file yet
(`export_core`). Declared in `kerazoo.models.seq2seq.training`'s `HOOKS`."""
from __future__ import annotations

import tensorflow as tf

from kerazoo.data.parallel import END, START
from kerazoo.family import ExportCore

__all__ = ["serving_endpoint", "export_core"]


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
    why = ("not exported yet: the SavedModel translates strings to strings (its character vectorizer and the "
           "output join are string ops neither LiteRT nor ONNX holds) by a greedy tf.while_loop over Keras GRU "
           "steps writing TensorArrays, which LiteRT's builtin ops cannot hold at a dynamic batch size; an "
           "id-level core (tokenizer and detokenizer as data, the decoder as one loop, as for the IMDB "
           "networks) is not written")
    return ExportCore(None, "raw source strings", unsupported={f: why for f in ("litert", "litert_int8", "onnx")})
