"""Sequence-to-sequence data: a generated date-translation task and parallel-corpus vectorisation.

The date task (made here, seeded, no download): human-written dates in many formats, with
their ISO form as the target, e.g. `"3rd of March 1998"`, `"Tue 03/03/98"`, `"March 3, 1998"`,
`"1998.03.03"` -> `"1998-03-03"`. Conventions are fixed per format so every source has one
answer: slashes read month first (US), dots and dashes after a day read day first (European),
two-digit years fall in the generator's 100-year window (1950-2049 by default). `date_splits`
draws validation and test dates from calendar days the training split never sees.

`ParallelVectorizer` turns any parallel corpus (pairs of strings, e.g. from a tab-separated
file, `read_parallel_tsv`) into token ids at the character or word level with
`keras.layers.StringLookup`: ids 0 padding `""`, 1 `[UNK]`, 2 `[START]`, 3 `[END]`, then the
tokens. Its `get_config()` (the vocabularies) is stored in the seq2seq model's config, so a
`.keras` file carries it. `make_dataset` gives `((encoder_in, decoder_in), decoder_target)`
batches for teacher forcing: `decoder_in` is `[START] t1 .. tn`, `decoder_target` `t1 .. tn [END]`.
"""
from __future__ import annotations

import collections
import datetime
import os
import string
from typing import Callable, Iterable, Literal, Sequence

import keras
import numpy as np
import tensorflow as tf

__all__ = ["ParallelVectorizer", "SPECIAL_TOKENS", "PAD", "UNK", "START", "END", "read_parallel_tsv",
           "make_dataset", "DATE_FORMATS", "generate_dates", "date_splits", "date_vectorizer", "date_datasets"]

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
        self._lookups = {side: keras.layers.StringLookup(vocabulary=list(SPECIAL_TOKENS[2:]) + tokens, mask_token="",
                                                         oov_token="[UNK]", name=f"{side}_lookup")
                         for side, tokens in (("source", self.source_tokens), ("target", self.target_tokens))}

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
        texts = tf.convert_to_tensor(texts, tf.string)
        if self.lowercase:
            texts = tf.strings.lower(texts, encoding="utf-8")
        if self.level == "char":
            return tf.strings.unicode_split(texts, "UTF-8")
        return tf.strings.split(tf.strings.regex_replace(texts, r"([^\w\s])", r" \1 "))

    def _ids(self, side: str, texts, limit: int | None) -> tf.RaggedTensor:
        tokens = self.tokenize(texts)
        ids = tokens.with_flat_values(tf.cast(self._lookups[side](tokens.flat_values), tf.int32))
        return ids if limit is None else ids[:, :limit]

    def encode_source(self, texts) -> tf.Tensor:
        """Source strings -> `(batch, longest)` int32 ids, 0-padded."""
        return self._ids("source", texts, self.max_source_length).to_tensor()

    def encode_target(self, texts) -> tuple[tf.Tensor, tf.Tensor]:
        """Target strings -> `(decoder_in, decoder_target)`, each `(batch, longest + 1)` int32."""
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


def make_dataset(pairs: Sequence[tuple[str, str]], vectorizer: ParallelVectorizer, *, batch_size: int = 64,
                 shuffle: bool = False, seed: int = 0) -> tf.data.Dataset:
    """`((encoder_in, decoder_in), decoder_target)` batches, each padded to its longest sequence."""
    if not pairs:
        raise ValueError("make_dataset needs at least one (source, target) pair.")
    sources, targets = (list(side) for side in zip(*pairs))
    ds = tf.data.Dataset.from_tensor_slices((sources, targets))
    if shuffle:
        ds = ds.shuffle(len(sources), seed=seed, reshuffle_each_iteration=True)

    def encode(src, tgt):
        decoder_in, decoder_target = vectorizer.encode_target(tgt)
        return (vectorizer.encode_source(src), decoder_in), decoder_target

    return ds.batch(batch_size).map(encode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


# === The date task ===

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _fields(d: datetime.date) -> dict:
    return {"y": d.year, "yy": f"{d.year % 100:02d}", "m": d.month, "mm": f"{d.month:02d}", "d": d.day,
            "dd": f"{d.day:02d}", "month": _MONTHS[d.month - 1], "mon": _MONTHS[d.month - 1][:3],
            "weekday": _DAYS[d.weekday()], "wd": _DAYS[d.weekday()][:3], "nth": _ordinal(d.day)}


# name -> template over _fields; "yy" templates use two-digit years (the 100-year window decides the century)
DATE_FORMATS: dict[str, str] = {
    "iso": "{y}-{mm}-{dd}",
    "ymd_dots": "{y}.{mm}.{dd}",
    "ymd_slashes": "{y}/{mm}/{dd}",
    "ymd_compact": "{y}{mm}{dd}",
    "mdy_slashes": "{mm}/{dd}/{y}",
    "mdy_slashes_short": "{m}/{d}/{yy}",
    "weekday_mdy_slashes": "{wd} {mm}/{dd}/{yy}",
    "dmy_dots": "{dd}.{mm}.{y}",
    "dmy_dots_short": "{d}.{m}.{yy}",
    "dmy_dashes": "{dd}-{mm}-{y}",
    "dd_mon_yy": "{dd}-{mon}-{yy}",
    "month_day_year": "{month} {d}, {y}",
    "month_nth_year": "{month} {nth}, {y}",
    "mon_day_year": "{mon} {d} {y}",
    "day_month_year": "{d} {month} {y}",
    "day_mon_year": "{dd} {mon} {y}",
    "nth_of_month_year": "{nth} of {month} {y}",
    "the_nth_of_month": "the {nth} of {month}, {y}",
    "weekday_month_day_year": "{weekday}, {month} {d}, {y}",
    "wd_day_month_year": "{wd} {d} {month} {y}",
    "weekday_nth_month_year": "{weekday} {nth} {month} {y}",
}
_CASES: list[tuple[float, Callable[[str], str]]] = [(0.6, lambda s: s), (0.3, str.lower), (0.1, str.upper)]
DATE_SOURCE_CHARS = string.ascii_lowercase + string.digits + " ,./-"  # what the formats write, lower-cased
DATE_TARGET_CHARS = "-0123456789"


def _check_years(years: tuple[int, int], formats: Sequence[str]) -> None:
    if not (len(years) == 2 and 1 <= years[0] <= years[1] <= 9999):
        raise ValueError(f"`years` should be (first, last) with 1 <= first <= last <= 9999. Received: years={years!r}")
    if years[1] - years[0] >= 100 and any("{yy}" in DATE_FORMATS[f] for f in formats):
        raise ValueError(f"Two-digit-year formats are ambiguous over more than 100 years; narrow `years` or leave "
                         f"out {[f for f in formats if '{yy}' in DATE_FORMATS[f]]}. Received: years={years!r}")


def generate_dates(n: int, *, seed: int = 0, formats: Sequence[str] | None = None,
                   years: tuple[int, int] = (1950, 2049), days: Sequence[datetime.date] | None = None,
                   return_formats: bool = False) -> list[tuple]:
    """`n` `(human date, ISO date)` pairs, deterministic for a seed.

    Args:
      n: number of pairs.
      seed: random seed (same seed, same pairs).
      formats: names from `DATE_FORMATS` to draw uniformly (default all); each rendered as is
        (60%), lower-cased (30%) or upper-cased (10%).
      years: first and last year of the calendar window the dates are drawn from.
      days: draw from these dates instead of the whole window (how `date_splits` keeps held-out
        days unseen).
      return_formats: give `(source, target, format name)` triples.
    """
    formats = list(DATE_FORMATS) if formats is None else list(formats)
    unknown = [f for f in formats if f not in DATE_FORMATS]
    if unknown or not formats:
        raise ValueError(f"Unknown date format(s) {unknown or formats}. Accepted: {list(DATE_FORMATS)}")
    _check_years(tuple(years), formats)
    if days is None:
        first = datetime.date(years[0], 1, 1).toordinal()
        days = [datetime.date.fromordinal(o) for o in range(first, datetime.date(years[1], 12, 31).toordinal() + 1)]
    rng = np.random.default_rng(seed)
    day_ids, format_ids = rng.integers(0, len(days), n), rng.integers(0, len(formats), n)
    case_ids = rng.choice(len(_CASES), n, p=[p for p, _ in _CASES])
    out = []
    for i, f, c in zip(day_ids, format_ids, case_ids):
        source = _CASES[c][1](DATE_FORMATS[formats[f]].format(**_fields(days[i])))
        out.append((source, days[i].isoformat()) + ((formats[f],) if return_formats else ()))
    return out


def date_splits(n_train: int = 20000, n_val: int = 1000, n_test: int = 1000, *, seed: int = 0,
                years: tuple[int, int] = (1950, 2049), formats: Sequence[str] | None = None) -> dict[str, list]:
    """Train/val/test pairs whose calendar days are disjoint: 10% of the window's days are kept
    for validation and another 10% for test, so held-out dates are never seen in training."""
    first = datetime.date(years[0], 1, 1).toordinal()
    every = np.arange(first, datetime.date(years[1], 12, 31).toordinal() + 1)
    every = np.random.default_rng(seed).permutation(every)
    k = max(len(every) // 10, 1)
    parts = {"val": every[:k], "test": every[k:2 * k], "train": every[2 * k:]}
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    return {name: generate_dates(sizes[name], seed=seed + 1 + i, formats=formats, years=years,
                                 days=[datetime.date.fromordinal(int(o)) for o in parts[name]])
            for i, name in enumerate(("train", "val", "test"))}


def date_vectorizer() -> ParallelVectorizer:
    """The date task's character vocabularies (fixed, not adapted): lower-cased sources, ISO targets."""
    return ParallelVectorizer(list(DATE_SOURCE_CHARS), list(DATE_TARGET_CHARS), level="char", lowercase=True,
                              max_target_length=10)


def date_datasets(n_train: int = 20000, n_val: int = 1000, n_test: int = 1000, *, batch_size: int = 64,
                  seed: int = 0, vectorizer: ParallelVectorizer | None = None) -> dict[str, tf.data.Dataset]:
    """`date_splits` as `make_dataset` pipelines (train shuffled, seeded), keyed train/val/test.

    Example:
      >>> splits = date_datasets(20000, batch_size=64)
      >>> model.fit(splits["train"], validation_data=splits["val"], epochs=10)
    """
    vectorizer = vectorizer or date_vectorizer()
    pairs = date_splits(n_train, n_val, n_test, seed=seed)
    return {name: make_dataset(p, vectorizer, batch_size=batch_size, shuffle=name == "train", seed=seed)
            for name, p in pairs.items() if p}
