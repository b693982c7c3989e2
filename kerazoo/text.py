"""Raw text in, token ids out: the vectorizer a text recipe adapts, and the raw-string model that ships.

Text classifiers train on token ids (the vectorizer runs in the input pipeline); the shipped model
is `raw strings -> vectorizer -> network` (`string_model`). The standardisation is
`kerazoo.layers.text_standardize`. Keras is imported when a function is called.
"""
from __future__ import annotations

__all__ = ["make_vectorizer", "string_model", "split_string_model"]


def make_vectorizer(texts, *, vocab_size: int, sequence_length: int, batch_size: int = 1024):
    """A `TextVectorization` (kerazoo's standardisation) adapted on `texts`: ids below `vocab_size`."""
    import keras
    import tensorflow as tf

    from kerazoo.layers import text_standardize

    vectorizer = keras.layers.TextVectorization(max_tokens=vocab_size, output_sequence_length=sequence_length,
                                                standardize=text_standardize, name="vectorizer")
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(batch_size))
    return vectorizer


def string_model(vectorizer, network, name: str):
    """`raw strings -> vectorizer -> network`, the shipped form of a text model."""
    import keras

    text = keras.Input(shape=(), dtype="string", name="text")
    return keras.Model(text, network(vectorizer(text)), name=name)


def split_string_model(model):
    """`(vectorizer, network)` of a model made by `string_model`, or `(None, model)` for any other."""
    import keras

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    names = {layer.name for layer in model.layers}
    if len(nested) == 1 and "vectorizer" in names:
        return model.get_layer("vectorizer"), nested[0]
    return None, model
