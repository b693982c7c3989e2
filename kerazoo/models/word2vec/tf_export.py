"""word2vec's TensorFlow-only serving: the SavedModel's words-in endpoint, the LiteRT/ONNX table, and what
the exported files are measured on."""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerazoo.data.imdb import load_imdb
from kerazoo.errors import ConfigError
from kerazoo.family import ExportCore, ExportData
from kerazoo.layers import text_standardize
from kerazoo.models.word2vec.vectors import WordVectors
from kerazoo.models.word2vec.probe import linear_probe_accuracy
from kerazoo.text import Tokenizer

__all__ = ["serving_endpoint", "export_core", "export_data"]


def serving_endpoint(model):
    """The SavedModel's `serving_default`: words (strings) -> `{"vectors": (n, dim), "known": (n,) bool}`.

    Words are standardised like the training text (lower case, punctuation off); an unknown word
    gets the padding row and `known=False`. Only the word vectors are exported (not the context
    embedding that training also needs: that lives in the `.keras` file).
    """
    if model.vocabulary is None:
        raise ConfigError(f"{model.name} carries no vocabulary to serve words with; use model.with_vocabulary(...).")
    lookup = keras.layers.StringLookup(vocabulary=model.vocabulary[1:], num_oov_indices=1, name="word_lookup")
    embedding = model.get_layer("embedding")

    def vectors(words):
        ids = lookup(tf.strings.strip(text_standardize(words)))
        return {"vectors": embedding(ids), "known": tf.greater(ids, 0)}

    spec = tf.TensorSpec((None,), tf.string, name="words")
    lookup(tf.constant([""]))
    return {"fn": tf.function(vectors, input_signature=[spec]), "track": [embedding, lookup],
            "input": f"words (strings); returns their {model.embedding_dim}-d vectors"}


def export_core(model) -> ExportCore:
    """LiteRT/ONNX files hold the word-vector table: word ids -> `{"vectors", "known"}`, as `serving_endpoint`
    gives for words. `kerazoo.text.Tokenizer(vocabulary, split=False, oov_id=0)` (shipped as tokenizer.json
    and vocabulary.txt) turns words into those ids: standardised, stripped, unknown words to id 0."""
    if model.vocabulary is None:
        raise ConfigError(f"{model.name} carries no vocabulary to export words with; use model.with_vocabulary(...).")
    table = model.vectors
    spec = tf.TensorSpec((None,), tf.int32, name="word_ids")
    fn = tf.function(lambda ids: {"vectors": tf.gather(table, ids), "known": tf.greater(ids, 0)},
                     input_signature=[spec])
    return ExportCore(fn, "int32 word ids (0: unknown) from tokenizer.json",
                      tokenizer=Tokenizer(model.vocabulary, split=False, oov_id=0))


def export_data(model, card: dict, data_dir, artifacts: dict) -> ExportData:
    """`kerazoo export --format`: the vectors of every vocabulary word through each format, scored like the
    card (a linear probe fitted on the 25,000 IMDB training reviews, scored on the 25,000 test reviews);
    1,000 vocabulary words (built from training text) calibrate int8."""
    words = np.array(model.vocabulary, dtype=object)
    probe = load_imdb(data_dir=data_dir) if card["recipe"]["dataset"] == "imdb" else None

    def score(outputs) -> dict:
        if probe is None:
            return {}
        vectors = WordVectors(np.asarray(outputs["vectors"]), model.vocabulary)
        return {"test_probe_accuracy": linear_probe_accuracy(vectors, probe["train"], probe["test"])}

    what = "; linear probe trained on 25,000 IMDB train reviews, scored on the 25,000 test reviews" if probe else ""
    return ExportData(words[1:1001], words, score, f"the {len(words):,} vocabulary words{what}")
