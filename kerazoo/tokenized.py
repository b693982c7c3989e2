"""Text models on every Keras backend: raw strings tokenised in Python, then the id network.

A shipped text classifier is `raw strings -> TextVectorization -> network` (`kerazoo.models.common.string_model`).
`TextVectorization` runs on TensorFlow's string ops, which a JAX or PyTorch model cannot hold (JAX arrays
have no string dtype). On those backends `kerazoo.get` gives a `TokenizedModel` instead: the same
network, its inputs tokenised by `kerazoo.text.Tokenizer` (pure Python, the same ids as the vectorizer:
checked on the 25,000 IMDB test reviews), so it takes the same raw strings and answers as on TensorFlow.
It saves as the string model it came from, so a `.keras` file is the same on every backend.
"""
from __future__ import annotations

import keras
import numpy as np

from kerazoo.models.common import split_string_model
from kerazoo.text import Tokenizer

__all__ = ["TokenizedModel", "runnable"]


def _is_text(x) -> bool:
    if isinstance(x, (str, bytes)):
        return True
    if isinstance(x, (list, tuple)):
        return bool(x) and all(isinstance(v, (str, bytes)) for v in x)
    return isinstance(x, np.ndarray) and x.dtype.kind in "OSU"


class TokenizedModel(keras.Model):
    """`raw strings -> Tokenizer -> network`: a string model's network with its vectorizer replaced by the
    pure-Python `Tokenizer`, for backends without TensorFlow's string ops.

    `model(texts)`, `predict(texts)` and `evaluate(texts, y)` take a batch of strings (a list or a 1-d array);
    token ids are passed to the network as they are. `save` writes the original string model.

    Args:
      source: a model made by `kerazoo.models.common.string_model` (an `Input` of strings, the `vectorizer`, the network).
    """

    def __init__(self, source, **kwargs):
        vectorizer, network = split_string_model(source)
        if vectorizer is None:
            raise ValueError(f"TokenizedModel needs a string model (strings -> vectorizer -> network); {source.name!r} "
                             "has no vectorizer")
        super().__init__(name=source.name, **kwargs)
        self.source, self.vectorizer, self.network = source, vectorizer, network
        self.tokenizer = Tokenizer.of_vectorizer(vectorizer)
        self.built = True  # its network is (count_params, summary and save work before a first call)

    @property
    def inputs(self):  # what the model takes: strings (kerazoo.inputs checks batches against it)
        return self.source.inputs

    @property
    def outputs(self):
        return self.source.outputs

    def tokenize(self, x):
        """Token ids of a batch of strings (anything else is returned as it is: already ids)."""
        return self.tokenizer(x) if _is_text(x) else x

    def call(self, ids, training=None):
        return self.network(ids, training=training)

    def __call__(self, inputs, *args, **kwargs):
        if _is_text(inputs):
            return self.string_call(inputs, *args, **kwargs)
        return super().__call__(inputs, *args, **kwargs)  # token ids (Keras' own steps call the model on them)

    def string_call(self, inputs, *args, **kwargs):
        """`model(texts)`: tokenised, then the network (`kerazoo.inputs.guard` checks the strings here)."""
        return super().__call__(self.tokenizer(inputs), *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        return super().predict(self.tokenize(x), *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        return super().evaluate(self.tokenize(x), y, *args, **kwargs)

    def save(self, filepath, *args, **kwargs):
        """Saves the string model (vectorizer and network, the weights shared with this model)."""
        return self.source.save(filepath, *args, **kwargs)

    def get_config(self):  # serialised as its string model (`save`); not loadable as itself
        raise NotImplementedError("TokenizedModel saves as its string model: model.save(path) or model.source")


def runnable(model):
    """`model` as this Keras backend can run it: a string model becomes a `TokenizedModel` on JAX and PyTorch;
    everything else (and everything on TensorFlow) is returned as it is."""
    if keras.backend.backend() == "tensorflow" or isinstance(model, TokenizedModel):
        return model
    vectorizer, _ = split_string_model(model)
    return model if vectorizer is None else TokenizedModel(model)
