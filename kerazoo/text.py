"""Raw text in, token ids out: the vectorizer a text recipe adapts, the raw-string model that ships,
and the same tokenisation in pure Python for the exported LiteRT/ONNX files.

Text classifiers train on token ids (the vectorizer runs in the input pipeline); the shipped model
is `raw strings -> vectorizer -> network` (`kerazoo.models.common.string_model`). The standardisation is
`kerazoo.layers.text_standardize`. String ops do not travel to LiteRT or ONNX, so those files hold
the network on ids and `Tokenizer` (NumPy and `re` only, no TensorFlow) gives the ids the
SavedModel's `TextVectorization` would: `STANDARDIZE` is `text_standardize` written as data.
Keras is imported when a function that needs it is called.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

__all__ = ["STANDARDIZE", "standardize", "Tokenizer", "make_vectorizer", "vectorize"]

# `kerazoo.layers.text_standardize` as data. TensorFlow's `strings.lower` lower-cases ASCII only, and
# RE2's `\w` and `\s` are ASCII classes ([0-9A-Za-z_] and [\t\n\f\r ]): every other character
# (accents, emoji, \v, non-breaking spaces) becomes one space, as in the SavedModel.
STANDARDIZE = {"lowercase": "ascii",
               "replace": [[r"<br[\t\n\f\r ]*/?>", " "], [r"[^0-9A-Za-z_\t\n\f\r ']", " "]]}
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def standardize(text: str, rules: dict = STANDARDIZE) -> str:
    """`kerazoo.layers.text_standardize` without TensorFlow: ASCII lower case, `<br />` and every
    character but ASCII letters, digits, `_`, `'` and ASCII whitespace to spaces."""
    if rules.get("lowercase") == "ascii":
        text = text.translate(_ASCII_LOWER)
    for pattern, replacement in rules.get("replace", ()):
        text = re.sub(pattern, replacement, text)
    return text


class Tokenizer:
    """Raw strings -> token ids, as the artifact's SavedModel computes them, in pure Python.

    Two modes, both exactly those of the Keras layers they replace:
    - `split=True` (`TextVectorization(split="whitespace", output_mode="int")`, the IMDB classifiers):
      standardise, split on whitespace, look every token up (id 0 is padding, `oov_id` 1 stands for
      any token outside the vocabulary), keep the first `sequence_length` ids, pad with 0 at the end.
    - `split=False` (`StringLookup`, word2vec's words): each string, standardised and stripped, is one
      token; unknown words get `oov_id` (0, the padding row).

    `vocabulary[i]` is the token of id `i` (`vocabulary.txt` of an artifact: line `i`, counted from 0).

    Example:
      >>> tok = kerazoo.text.Tokenizer.from_folder(kerazoo.artifacts.find("imdb_lstm", "imdb").folder)
      >>> tok(["A great film!", "Awful.<br />Boring."])          # (2, 500) int32 ids
    """

    def __init__(self, vocabulary: Sequence[str], *, split: bool = True, sequence_length: int | None = None,
                 oov_id: int = 1, rules: dict | None = None):
        self.vocabulary = list(vocabulary)
        self.split, self.sequence_length, self.oov_id = split, sequence_length, oov_id
        self.rules = dict(STANDARDIZE if rules is None else rules)
        self.index = {token: i for i, token in enumerate(self.vocabulary) if token or not split}

    FILES = ("tokenizer.json", "vocabulary.txt")

    @classmethod
    def from_folder(cls, folder) -> "Tokenizer":
        """The tokenizer an artifact ships (`tokenizer.json` + `vocabulary.txt`). Verify the folder
        first (`kerazoo.artifacts.verify`) when it comes from elsewhere; `kerazoo.get(..., format=)` does."""
        folder = Path(folder)
        spec = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
        vocabulary = (folder / spec.get("vocabulary", "vocabulary.txt")).read_text(encoding="utf-8").split("\n")
        return cls(vocabulary[:spec["vocabulary_size"]], split=spec["split"], sequence_length=spec["sequence_length"],
                   oov_id=spec["oov_id"], rules=spec["standardize"])

    def save(self, folder) -> list[Path]:
        """Writes `tokenizer.json` and `vocabulary.txt` (one token a line, line `i` = id `i`) into `folder`."""
        folder = Path(folder)
        if any("\n" in token for token in self.vocabulary):
            raise ValueError("a vocabulary token holds a line break; vocabulary.txt cannot represent it")
        spec = {"split": self.split, "sequence_length": self.sequence_length, "oov_id": self.oov_id,
                "padding_id": 0 if self.split else None, "vocabulary": "vocabulary.txt",
                "vocabulary_size": len(self.vocabulary), "standardize": self.rules,
                "reads": "kerazoo.text.Tokenizer.from_folder(folder)"}
        (folder / "tokenizer.json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
        (folder / "vocabulary.txt").write_text("\n".join(self.vocabulary) + "\n", encoding="utf-8")
        return [folder / name for name in self.FILES]

    def tokens(self, text: str) -> list[str]:
        """The tokens of one string after standardisation."""
        text = standardize(text, self.rules)
        return text.split() if self.split else [text.strip(" \t\n\r\f\v")]

    def __call__(self, texts: str | Iterable[str]) -> np.ndarray:
        """Token ids: `(n, sequence_length)` int32 (`split=True`; `(n, longest)` without a sequence
        length), or `(n,)` for `split=False`. One string gives one row."""
        texts = [texts] if isinstance(texts, str) else [t.decode("utf-8") if isinstance(t, bytes) else t
                                                         for t in np.asarray(texts, dtype=object).ravel()]
        rows = [[self.index.get(token, self.oov_id) for token in self.tokens(str(text))] for text in texts]
        if not self.split:
            return np.array([row[0] for row in rows], dtype=np.int32)
        length = self.sequence_length or max((len(r) for r in rows), default=0)
        ids = np.zeros((len(rows), length), np.int32)
        for i, row in enumerate(rows):
            row = row[:length]
            ids[i, :len(row)] = row
        return ids

    @classmethod
    def of_vectorizer(cls, vectorizer) -> "Tokenizer":
        """The tokenizer of a Keras `TextVectorization` with kerazoo's standardisation (what `make_vectorizer`
        adapts); anything else it cannot reproduce is an error naming the setting."""
        config = vectorizer.get_config()
        standardize_fn = config["standardize"]
        name = getattr(standardize_fn, "__name__", standardize_fn)
        wrong = {k: v for k, v in (("standardize", name), ("split", config["split"]), ("ngrams", config["ngrams"]),
                                   ("output_mode", config["output_mode"]))
                 if v != {"standardize": "text_standardize", "split": "whitespace", "ngrams": None,
                          "output_mode": "int"}[k]}
        if wrong:
            raise ValueError(f"kerazoo.text.Tokenizer reproduces TextVectorization(standardize=text_standardize, "
                             f"split='whitespace', output_mode='int') only; this vectorizer has {wrong}")
        return cls(vectorizer.get_vocabulary(), split=True, sequence_length=config["output_sequence_length"],
                   oov_id=1)


def make_vectorizer(texts, *, vocab_size: int, sequence_length: int, batch_size: int = 1024):
    """A `TextVectorization` (kerazoo's standardisation) adapted on `texts`: ids below `vocab_size`."""
    import keras
    import tensorflow as tf

    from kerazoo.layers import text_standardize

    vectorizer = keras.layers.TextVectorization(max_tokens=vocab_size, output_sequence_length=sequence_length,
                                                standardize=text_standardize, name="vectorizer")
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(batch_size))
    return vectorizer


def vectorize(vectorizer, texts, *, batch_size: int = 1024) -> np.ndarray:
    """Token ids of `texts` by a `TextVectorization` called eagerly, `batch_size` strings at a time: a NumPy
    `(n, sequence_length)` array on every Keras backend (the ids a text recipe's pipeline batches).

    Eagerly, not in a `tf.data` map: since Keras 3.15 (keras-team/keras#22626) a callable `standardize`
    such as kerazoo's `text_standardize` is handed NumPy strings on backends other than TensorFlow, which
    a symbolic tensor inside a `tf.data` graph cannot become ("Cannot convert a symbolic tf.Tensor to a
    numpy array"). The layer's documented way off TensorFlow is eager; the ids are the graph's.
    """
    import keras

    texts = np.asarray(texts, dtype=object).astype(str)
    if not len(texts):
        return np.zeros((0, vectorizer.get_config()["output_sequence_length"] or 0), "int64")
    return np.concatenate([keras.ops.convert_to_numpy(vectorizer(texts[i:i + batch_size]))
                           for i in range(0, len(texts), batch_size)])
