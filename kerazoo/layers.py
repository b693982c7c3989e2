"""Serialisable objects several families' `.keras` files name, registered when this module is imported.

`text_standardize` is the standardisation of the text classifiers' `TextVectorization` (which runs on
TensorFlow's string ops on every Keras backend). The families' own layers live in their architecture
files (`LocalResponseNormalization` in alexnet, `MaskedGlobalMaxPooling1D` in imdb_rnn, ...).
"""
from __future__ import annotations

import keras

__all__ = ["text_standardize"]


@keras.saving.register_keras_serializable(package="kerazoo")
def text_standardize(text):
    """Lower-case, turn HTML line breaks (`<br />`, frequent in IMDB reviews) and punctuation into
    spaces, keeping apostrophes (`don't`). `TextVectorization(standardize=text_standardize)`."""
    import tensorflow as tf  # string ops: TextVectorization calls this inside its TensorFlow graph

    text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, r"<br\s*/?>", " ")
    return tf.strings.regex_replace(text, r"[^\w\s']", " ")
