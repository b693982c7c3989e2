"""Parallel corpora for sequence-to-sequence models: vocabularies, tokenising, teacher-forcing batches.

`ParallelVectorizer` turns any parallel corpus (pairs of strings, e.g. from a tab-separated
file, `read_parallel_tsv`) into token ids at the character or word level with
`keras.layers.StringLookup`: ids 0 padding `""`, 1 `[UNK]`, 2 `[START]`, 3 `[END]`, then the
tokens. Its `get_config()` (the vocabularies) is stored in the seq2seq model's config, so a
`.keras` file carries it. `teacher_forcing_dataset` gives `((encoder_in, decoder_in), decoder_target)`
batches for teacher forcing: `decoder_in` is `[START] t1 .. tn`, `decoder_target` `t1 .. tn [END]`.

Tokenising is TensorFlow's string ops (on every Keras backend): TensorFlow is imported when text is
tokenised, not when a vectorizer is made, so a seq2seq model builds without it.
"""
from __future__ import annotations

import collections
import os
import string
from typing import TYPE_CHECKING, Iterable, Literal, Sequence

import numpy as np

if TYPE_CHECKING:  # annotations only: TensorFlow is imported when text is tokenised
    import tensorflow as tf

__all__ = ["ParallelVectorizer", "SPECIAL_TOKENS", "PAD", "UNK", "START", "END", "read_parallel_tsv",
           "teacher_forcing_dataset", "make_dataset",
           "date_vectorizer", "DATE_SOURCE_CHARS", "DATE_TARGET_CHARS"]

SPECIAL_TOKENS = ("", "[UNK]", "[START]", "[END]")
PAD, UNK, START, END = range(4)


class ParallelVectorizer:
    """Source and target vocabularies of a parallel corpus, and the text <-> id conversions.

    Args:
      source_tokens, target_tokens: the tokens of ids 4, 5, ... (special tokens excluded).
      level: `"char"` (every Unicode character a token, spaces included) or `"word"`
        (whitespace-split, punctuation split off as its own token).
      lowercase: lower-case both sides before tokenising.
      max_source_length: truncate sources to this many tokens (None: keep all).
      max_target_length: truncate targets; also the default decoding length of `translate`.
    """

    def __init__(self, source_tokens: Sequence[str], target_tokens: Sequence[str], *,
                 level: Literal["char", "word"] = "char", lowercase: bool = False,
                 max_source_length: int | None = None, max_target_length: int | None = None):
        if level not in ("char", "word"):
            raise ValueError(f"The `level` argument should be one of ['char', 'word']. Received: level={level!r}")
        for side, tokens in (("source", source_tokens), ("target", target_tokens)):
            bad = [t for t in tokens if not isinstance(t, str) or t in SPECIAL_TOKENS]
            if bad or len(set(tokens)) != len(tokens) or not tokens:
                raise ValueError(f"`{side}_tokens` should be distinct non-empty strings, none of {SPECIAL_TOKENS}. "
                                 f"Received {len(tokens)} tokens, duplicated or invalid: {bad[:5]}")
        for arg, value in (("max_source_length", max_source_length), ("max_target_length", max_target_length)):
            if value is not None and value < 1:
                raise ValueError(f"`{arg}` should be a positive integer or None. Received: {arg}={value!r}")
        self.source_tokens, self.target_tokens = list(source_tokens), list(target_tokens)
        self.level, self.lowercase = level, lowercase
        self.max_source_length, self.max_target_length = max_source_length, max_target_length
        self._made_lookups: dict | None = None

    @property
    def _lookups(self) -> dict:
        """The `StringLookup` layer of each side, made on first use (eagerly, even when that use is being traced
        inside a `tf.data` map or a `tf.function`)."""
        if self._made_lookups is None:
            import keras
            import tensorflow as tf

            with tf.init_scope():
                self._made_lookups = {
                    side: keras.layers.StringLookup(vocabulary=list(SPECIAL_TOKENS[2:]) + tokens, mask_token="",
                                                    oov_token="[UNK]", name=f"{side}_lookup")
                    for side, tokens in (("source", self.source_tokens), ("target", self.target_tokens))}
        return self._made_lookups

    @property
    def source_vocabulary(self) -> list[str]:
        """The source token of every id, specials first."""
        return list(SPECIAL_TOKENS) + self.source_tokens

    @property
    def target_vocabulary(self) -> list[str]:
        """The target token of every id, specials first."""
        return list(SPECIAL_TOKENS) + self.target_tokens

    def get_config(self) -> dict:
        return {"source_tokens": self.source_tokens, "target_tokens": self.target_tokens, "level": self.level,
                "lowercase": self.lowercase, "max_source_length": self.max_source_length,
                "max_target_length": self.max_target_length}

    @classmethod
    def from_config(cls, config: dict) -> ParallelVectorizer:
        config = dict(config)
        return cls(config.pop("source_tokens"), config.pop("target_tokens"), **config)

    @classmethod
    def adapt(cls, pairs: Iterable[tuple[str, str]], *, level: Literal["char", "word"] = "char",
              lowercase: bool = False, max_tokens: int | None = None, min_count: int = 1,
              max_target_length: int | None = None) -> ParallelVectorizer:
        """Vocabularies from `(source, target)` pairs: tokens seen `min_count` times, most frequent
        first (ties alphabetical), at most `max_tokens` per side (specials included). The default
        `max_target_length` is the longest target seen."""
        import tensorflow as tf

        pairs = list(pairs)
        if not pairs:
            raise ValueError("ParallelVectorizer.adapt needs at least one (source, target) pair.")
        probe = cls(["a"], ["a"], level=level, lowercase=lowercase)
        vocab, longest = [], 0
        for side in (0, 1):
            counts = collections.Counter()
            for start in range(0, len(pairs), 4096):
                tokens = probe.tokenize([p[side] for p in pairs[start:start + 4096]])
                counts.update(t.decode("utf-8") for t in tokens.flat_values.numpy())
                if side == 1:
                    longest = max(longest, int(tf.reduce_max(tokens.row_lengths())))
            kept = sorted((t for t, c in counts.items() if c >= min_count and t not in SPECIAL_TOKENS),
                          key=lambda t: (-counts[t], t))
            vocab.append(kept[:None if max_tokens is None else max(max_tokens - len(SPECIAL_TOKENS), 0)])
        return cls(*vocab, level=level, lowercase=lowercase, max_target_length=max_target_length or longest)

    def tokenize(self, texts) -> tf.RaggedTensor:
        """`(batch,)` strings -> ragged `(batch, None)` string tokens."""
        import tensorflow as tf

        texts = tf.convert_to_tensor(texts, tf.string)
        if self.lowercase:
            texts = tf.strings.lower(texts, encoding="utf-8")
        if self.level == "char":
            return tf.strings.unicode_split(texts, "UTF-8")
        return tf.strings.split(tf.strings.regex_replace(texts, r"([^\w\s])", r" \1 "))

    def _ids(self, side: str, texts, limit: int | None) -> tf.RaggedTensor:
        import tensorflow as tf

        tokens = self.tokenize(texts)
        ids = tokens.with_flat_values(tf.cast(self._lookups[side](tokens.flat_values), tf.int32))
        return ids if limit is None else ids[:, :limit]

    def encode_source(self, texts) -> tf.Tensor:
        """Source strings -> `(batch, longest)` int32 ids, 0-padded."""
        return self._ids("source", texts, self.max_source_length).to_tensor()

    def encode_target(self, texts) -> tuple[tf.Tensor, tf.Tensor]:
        """Target strings -> `(decoder_in, decoder_target)`, each `(batch, longest + 1)` int32."""
        import tensorflow as tf

        ids = self._ids("target", texts, self.max_target_length)
        rows = tf.ones([ids.nrows(), 1], tf.int32)
        return tf.concat([rows * START, ids], 1).to_tensor(), tf.concat([ids, rows * END], 1).to_tensor()

    def decode_tokens(self, ids) -> list[str]:
        """Target ids -> tokens, up to the first `[END]`, padding and `[START]` skipped."""
        out = []
        for i in np.asarray(ids).tolist():
            if i == END:
                break
            if i not in (PAD, START):
                out.append(self.target_vocabulary[i])
        return out

    def join(self, tokens: Sequence[str]) -> str:
        return ("" if self.level == "char" else " ").join(tokens)

    def __repr__(self):
        return (f"ParallelVectorizer(level={self.level!r}, {len(self.source_vocabulary)} source and "
                f"{len(self.target_vocabulary)} target ids)")


DATE_SOURCE_CHARS = string.ascii_lowercase + string.digits + " " + string.punctuation + "’"  # lower-cased sources
DATE_TARGET_CHARS = "-0123456789"


def date_vectorizer() -> ParallelVectorizer:
    """The date task's character vocabularies (fixed, not adapted): lower-cased sources (any other
    character is `[UNK]`), ISO targets."""
    return ParallelVectorizer(list(DATE_SOURCE_CHARS), list(DATE_TARGET_CHARS), level="char", lowercase=True,
                              max_target_length=10)


def read_parallel_tsv(path, *, source_column: int = 0, target_column: int = 1, limit: int | None = None,
                      skip_header: bool = False) -> list[tuple[str, str]]:
    """`(source, target)` pairs from a tab-separated file (one pair a line, e.g. Anki's `eng-fra`
    files, whose third column is ignored); blank lines skipped."""
    pairs = []
    with open(os.fspath(path), encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if (skip_header and number == 1) or not line.strip():
                continue
            cells = line.rstrip("\r\n").split("\t")
            if len(cells) <= max(source_column, target_column):
                raise ValueError(f"{path}, line {number}: expected at least {max(source_column, target_column) + 1} "
                                 f"tab-separated columns, found {len(cells)}: {line.strip()[:80]!r}")
            pairs.append((cells[source_column], cells[target_column]))
            if limit is not None and len(pairs) >= limit:
                break
    return pairs


def teacher_forcing_dataset(pairs: Sequence[tuple[str, str]], vectorizer: ParallelVectorizer, *,
                            batch_size: int = 64, shuffle: bool = False, seed: int = 0) -> tf.data.Dataset:
    """`((encoder_in, decoder_in), decoder_target)` batches, each padded to its longest sequence."""
    import tensorflow as tf

    if not pairs:
        raise ValueError("make_dataset needs at least one (source, target) pair.")
    sources, targets = [p[0] for p in pairs], [p[1] for p in pairs]  # further columns (e.g. a format) ignored
    ds = tf.data.Dataset.from_tensor_slices((sources, targets))
    if shuffle:
        ds = ds.shuffle(len(sources), seed=seed, reshuffle_each_iteration=True)

    def encode(src, tgt):
        decoder_in, decoder_target = vectorizer.encode_target(tgt)
        return (vectorizer.encode_source(src), decoder_in), decoder_target

    return ds.batch(batch_size).map(encode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def make_dataset(*args, **kwargs):
    """The former name of `teacher_forcing_dataset` (until kerazoo 0.2; word2vec's is `kerazoo.data.word2vec.make_dataset`)."""
    import warnings

    warnings.warn("kerazoo.data.parallel.make_dataset is now called teacher_forcing_dataset; the old name stops working "
                  "in kerazoo 0.2.", FutureWarning, stacklevel=2)
    return teacher_forcing_dataset(*args, **kwargs)
