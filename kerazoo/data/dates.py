"""Sequence-to-sequence data: a generated date-translation task and parallel-corpus vectorisation.

The date task (made here, seeded, no download): dates as people write them, with their ISO form
as the target, and inputs that are no date, whose target is the empty string (the model's "not a
date"). `DATE_FORMATS` names ~280 formats by their templates (`"{mon.} {nth}, '{yy}"` writes
`Sept. 3rd, '98`): every order (day-month-year, month-day-year, year-month-day), separators
(space, `/`, `-`, `.`, `,`, none where unambiguous), zero padding or none, month names full and
abbreviated with and without dots, ordinals (`3rd`, `the 3rd of`), two- and four-digit years, ISO
timestamps; every source is also decorated (case, weekday prefixes full and abbreviated, times,
stray whitespace and punctuation). `INVALID_KINDS` lists the non-dates: impossible dates
(`30 February 2001`, `13/13/2001`), dates outside the window, partial dates, words, numbers,
times, prices, phone and version numbers, relative dates, junk.

Conventions, so that every source has one answer (`DateFormat.read`):
- the calendar window is `WINDOW` = 1950-2049: targets lie in it; two-digit years are read into
  it (50-99: 19xx, 00-49: 20xx); a four-digit year outside it is "not a date";
- numeric dates with the year first are year-month-day (two-digit years never come first);
- numeric dates with the year last are read month first with slashes (US: `03/04/05` is
  2005-03-04) and day first with dots and dashes (European: `03.04.05` is 2005-04-03); when that
  reading is no calendar date but the other order is, the other order is meant (`25/12/2021` is
  2021-12-25); when neither is, it is not a date;
- compact numbers are only `YYYYMMDD`; six-digit and other digit strings are not dates.

Generalisation is measured by leaving out (`date_splits`): calendar days, and whole formats
(`FORMAT_SPLITS`: validation and test each have formats no other split uses, each a new
combination of fields, separators and orders training does use), and non-date words.
`strftime_dates` writes test days with Python's own `strftime` (`STRFTIME_FORMATS`), a probe
independent of this module's renderer.

`ParallelVectorizer`, `read_parallel_tsv` and `teacher_forcing_dataset` (any parallel corpus) live in
`kerazoo.data.parallel` and are importable from here too.
"""
from __future__ import annotations

import datetime
import string
from typing import TYPE_CHECKING, NamedTuple, Sequence

import numpy as np

if TYPE_CHECKING:  # annotations only: TensorFlow is imported when text is tokenised
    import tensorflow as tf

from kerazoo.data.date_formats import (DAY_ABBREVIATIONS, DAYS, MONTHS, DATE_FORMATS, FORMAT_SPLITS, WINDOW,
                                       DateFormat, random_time)
from kerazoo.data.parallel import (END, PAD, SPECIAL_TOKENS, START, UNK, ParallelVectorizer, date_vectorizer,
                                   read_parallel_tsv, teacher_forcing_dataset)

__all__ = ["ParallelVectorizer", "SPECIAL_TOKENS", "PAD", "UNK", "START", "END", "read_parallel_tsv",
           "teacher_forcing_dataset", "WINDOW", "DateFormat", "DATE_FORMATS", "FORMAT_SPLITS", "INVALID_KINDS", "DateExample",
           "generate_dates", "date_splits", "date_vectorizer", "date_datasets", "STRFTIME_FORMATS", "strftime_dates"]

# === The date task ===
#
# The formats and their splits: `kerazoo.data.date_formats`.

# --- what is not a date: the model answers these with the empty string ---

_WORDS = ("hello world the a of and to in is it you that he was for on are as with his they at be this have from "
          "or one had by word but not what all were we when your can said there use an each which she do how their "
          "if will up other about out many then them these so some her would make like him into time has look two "
          "more write go see number no way could people my than first water been call who oil its now find long "
          "down day did get come made may part over new sound take only little work know place year live me back "
          "give most very after thing our just name good sentence man think say great where help through much "
          "before line right too mean old any same tell boy follow came want show also around form three small set "
          "put end does another well large must big even such because turn here why ask went men read need land "
          "different home us move try kind hand picture again change off play spell air away animal house point "
          "page letter mother answer found study still learn should america march sunday friday june august "
          "tomorrow week month today date christmas birthday meeting deadline invoice order total price room "
          "chapter version phone").split()
_RELATIVE = ("today", "tomorrow", "yesterday", "now", "next week", "last week", "next month", "last year",
             "in {n} days", "{n} days ago", "{n} weeks from now", "next {weekday}", "last {weekday}", "this {weekday}",
             "the day after tomorrow", "end of {month}", "early {month}", "mid-{month}", "{weekday} night")
_PARTIAL = ("{month} {yyyy}", "{mon} {yyyy}", "{mon}. '{yy}", "{mm}/{yyyy}", "{m}/{yy}", "{yyyy}-{mm}", "{mm}.{yyyy}",
            "{month} {d}", "{d} {month}", "{nth} of {month}", "{mon} {nth}", "{mm}/{dd}", "{d}.{m}.", "{dd}-{mon}",
            "{yyyy}", "{month}", "{weekday}", "{weekday}, {month} {d}", "the {nth}", "{month} of {yyyy}", "{nth}",
            "{yyyy}/{mm}", "{d} {mon}", "{month}, {yyyy}")

# kind -> share of the invalid examples; "impossible": no calendar day (30 February 2001, 13/13/2001);
# "out_of_window": a calendar date outside WINDOW (4 May 1850); the others are no date at all
INVALID_KINDS: dict[str, float] = {"impossible": 0.30, "out_of_window": 0.10, "partial": 0.15, "words": 0.10,
                                   "number": 0.08, "time": 0.05, "money": 0.04, "phone": 0.04, "version": 0.03,
                                   "relative": 0.05, "junk": 0.06}


def _word_split(seed: int = 2024) -> dict[str, list[str]]:
    """Non-date words: a quarter held out of training for validation and test ("hello world" too)."""
    words = sorted(set(_WORDS) - {w.lower() for w in MONTHS + DAYS})
    words = [words[i] for i in np.random.default_rng(seed).permutation(len(words))]
    held = {"hello", "world"} | set(words[:len(words) // 4])
    calendar = [w.lower() for w in MONTHS + DAYS]  # month and weekday names alone are no date either
    return {"train": [w for w in words if w not in held] + calendar, "held_out": sorted(held) + calendar}


_WORD_SPLITS = _word_split()


def _digits(rng, n: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, n))


def _invalid_source(kind: str, formats: Sequence[str], words: Sequence[str], rng) -> tuple[str, str | None]:
    """One source that is no date in `WINDOW`, and the format it is written in (None: no format)."""
    pick = lambda seq: seq[rng.integers(len(seq))]  # noqa: E731
    if kind in ("impossible", "out_of_window"):
        fmt = DATE_FORMATS[pick([f for f in formats if kind == "impossible" or "{yyyy}" in f])]
        while True:
            if kind == "out_of_window":  # mostly just outside the window
                year = int(pick([rng.integers(1900, WINDOW[0]), rng.integers(WINDOW[1] + 1, 2100),
                                 rng.integers(1000, 3000)]))
                month = int(rng.integers(1, 13))
                day = int(rng.integers(1, _month_length(year, month) + 1))
            else:  # mostly a day past the month's end (30 February, 31 April, 29 February 2001)
                year, choice = int(rng.integers(WINDOW[0], WINDOW[1] + 1)), rng.random()
                if choice < 0.6 or (choice >= 0.85 and not fmt.numeric):
                    month = int(pick([2, 2, 4, 6, 9, 11]))
                    day = int(rng.integers(_month_length(year, month) + 1, 32))
                elif choice < 0.85:  # day 0 or past 31
                    month, day = int(rng.integers(1, 13)), int(pick([0, *range(32, 40)]))
                else:  # a numeric month past 12 (or 0) whose day cannot be the month either
                    month, day = int(pick([0, *range(13, 100)])), int(rng.integers(0, 40))
            if fmt.read(year, month, day) is None:
                return _decorate(fmt.render(year, month, day, rng), int(rng.integers(7)), rng), fmt.template
    if kind == "partial":
        year, month = int(rng.integers(WINDOW[0], WINDOW[1] + 1)), int(rng.integers(1, 13))
        fmt = DateFormat(pick(_PARTIAL), "dmy")
        text = fmt.render(year, month, int(rng.integers(1, 29)), rng)
        return _decorate(text.replace("{weekday}", pick(DAYS)), None, rng), None
    if kind == "words":
        return _decorate(" ".join(pick(words) for _ in range(rng.integers(1, 5))), None, rng), None
    if kind == "relative":
        text = pick(_RELATIVE).format(n=rng.integers(1, 30), weekday=pick(DAYS), month=pick(MONTHS))
        return _decorate(text, None, rng), None
    if kind == "number":
        length = int(pick([1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12]))
        text = pick([_digits(rng, length), f"{rng.integers(1000)}.{_digits(rng, 2)}", f"{rng.integers(1, 999)},"
                     f"{_digits(rng, 3)}", f"-{rng.integers(100)}", f"{rng.integers(101)}%", f"#{rng.integers(1000)}",
                     f"{rng.integers(100)} {pick(words)}", f"{pick(words)} {rng.integers(100)}"])
        return _decorate(text, None, rng), None
    if kind == "time":
        text = pick([f"{rng.integers(1, 13)}:{rng.integers(60):02d} {pick(['am', 'pm', 'AM', 'p.m.'])}",
                     f"{rng.integers(24):02d}:{rng.integers(60):02d}", random_time(rng), f"{rng.integers(1, 13)}pm",
                     f"{rng.integers(1, 13)} o'clock", "noon", "midnight"])
        return _decorate(text, None, rng), None
    if kind == "money":
        amount = f"{rng.integers(1, 5000)}.{_digits(rng, 2)}"
        return _decorate(pick([f"${amount}", f"€{amount}", f"£{amount}", f"{amount} USD", f"USD {amount}",
                               f"{amount} eur"]), None, rng), None
    if kind == "phone":
        return _decorate(pick([f"{_digits(rng, 3)}-{_digits(rng, 4)}", f"({_digits(rng, 3)}) {_digits(rng, 3)}-"
                               f"{_digits(rng, 4)}", f"+{rng.integers(1, 99)} {_digits(rng, 3)} {_digits(rng, 3)} "
                               f"{_digits(rng, 4)}", f"{_digits(rng, 3)}.{_digits(rng, 3)}.{_digits(rng, 4)}"]),
                         None, rng), None
    if kind == "version":
        return _decorate(pick([f"v{rng.integers(10)}.{rng.integers(20)}.{rng.integers(10)}",
                               f"{rng.integers(1, 256)}.{rng.integers(256)}.{rng.integers(256)}.{rng.integers(256)}",
                               f"{rng.integers(10)}.{rng.integers(10)}.{rng.integers(10)}",
                               f"version {rng.integers(1, 10)}.{rng.integers(10)}"]), None, rng), None
    if kind == "junk":
        alphabet = list(string.ascii_letters + string.digits + string.punctuation + " ") + list("éüßñ€—–“”…🙂👍日本语")
        text = "".join(pick(alphabet) for _ in range(rng.integers(1, 16)))
        if not any(c.isdigit() for c in text) or rng.random() < 0.5:
            return _decorate(text, None, rng), None
        return _decorate(pick(["...", "-", "/", "?", "n/a", "N/A", "--/--/----", "??", "tbd", "TBA", "xx/xx/xxxx",
                               "dd/mm/yyyy", "YYYY-MM-DD", "null", "none", "-1", "0"]), None, rng), None
    raise ValueError(f"Unknown invalid kind {kind!r}. Accepted: {list(INVALID_KINDS)}")


def _month_length(year: int, month: int) -> int:
    return (datetime.date(year + month // 12, month % 12 + 1, 1) - datetime.date(year, month, 1)).days


# --- decorations: what people add around a date, in every split ---

_WEEKDAY_STYLES = ("{weekday}, ", "{weekday} ", "{wd} ", "{wd}, ", "{wd}. ", "{wd}., ")
_CASES = ((0.55, lambda s: s), (0.3, str.lower), (0.15, str.upper))


def _noise(text: str, rng) -> str:
    """One stray-whitespace or punctuation change that keeps the date readable."""
    pick = lambda seq: seq[rng.integers(len(seq))]  # noqa: E731
    kind = rng.integers(9)
    if kind == 0:
        return " " * int(rng.integers(1, 3)) + text
    if kind == 1:
        return text + " " * int(rng.integers(1, 3))
    if kind == 2 and " " in text:  # a doubled space
        i = pick([i for i, c in enumerate(text) if c == " "])
        return text[:i] + " " + text[i:]
    if kind == 3:
        return text + pick([".", ",", ";", "!"])
    if kind == 4 and ", " in text:
        return text.replace(", ", ",", 1)
    if kind == 5:
        separators = [c for c in "/-." if c in text]
        return text.replace(separators[0], f" {separators[0]} ") if separators else text
    if kind == 6:
        return pick(["on ", "On ", "date: ", "Date: ", "dated ", "due "]) + text
    if kind == 7:
        return pick(["({})", "[{}]", '"{}"', "'{}'", "<{}>"]).format(text)
    return text + pick([" ", "  ", "\u00a0"]) if kind == 8 else text


def _decorate(text: str, weekday: int | None, rng, *, noise: float = 0.25) -> str:
    """A weekday in front (20%, when `weekday` is given), a time after (5%), the case (55% as
    written, 30% lower, 15% upper), and stray whitespace or punctuation (`noise` of the time)."""
    if weekday is not None and rng.random() < 0.2:
        abbreviations = DAY_ABBREVIATIONS.get(weekday, (DAYS[weekday][:3],))
        text = _WEEKDAY_STYLES[rng.integers(len(_WEEKDAY_STYLES))].format(
            weekday=DAYS[weekday], wd=abbreviations[rng.integers(len(abbreviations))]) + text
    if weekday is not None and rng.random() < 0.05:
        time = f"{rng.integers(1, 13)}:{rng.integers(60):02d}"
        clock = f"{rng.integers(24):02d}:{rng.integers(60):02d}:{rng.integers(60):02d}"
        text += [f" {time}", f", {time} pm", f" at {time} am", f" {clock}", f" {clock} +0000", f" {clock} GMT",
                 f", {clock} UTC", f" {clock[:5]}"][rng.integers(8)]
    text = _CASES[rng.choice(len(_CASES), p=[p for p, _ in _CASES])][1](text)
    return _noise(text, rng) if rng.random() < noise else text


# --- the splits ---

class DateExample(NamedTuple):
    """One example of the date task: `target` is the ISO date, or "" when `source` is no date."""

    source: str
    target: str
    kind: str           # "date", or one of INVALID_KINDS
    format: str | None  # the DATE_FORMATS name it is written in (None: no format)
    unseen: bool        # written in a format the training split never uses


def _render_date(fmt: DateFormat, day: datetime.date, rng, decorate: bool = True) -> tuple[str, str]:
    """`(source, target)` of a calendar day in `fmt`, decorated (or as the template writes it)."""
    if fmt.swapped and day.day <= 12:  # only days 13-31 are read in the swapped order
        raise ValueError(f"{fmt.template!r} writes day and month against the separator's convention: days 13-31 only")
    target = fmt.read(day.year, day.month, day.day)
    source = fmt.render(day.year, day.month, day.day, rng)
    source = _decorate(source, day.weekday(), rng) if decorate else source
    return source, target.isoformat() if target else ""


def _calendar(years: tuple[int, int]) -> list[datetime.date]:
    first, last = datetime.date(years[0], 1, 1).toordinal(), datetime.date(years[1], 12, 31).toordinal()
    return [datetime.date.fromordinal(o) for o in range(first, last + 1)]


MONTH_END_SHARE = 0.2  # of the real dates drawn, the share drawn among the 28th-31st (see `_sample_dates`)


def _month_ends(days: Sequence[datetime.date]) -> list[list[datetime.date]]:
    """`days`' 28th-31st grouped by (month, day): 29 February is one group of the 43, as likely as 31 January."""
    groups: dict[tuple[int, int], list[datetime.date]] = {}
    for d in days:
        if d.day >= 28:
            groups.setdefault((d.month, d.day), []).append(d)
    return [groups[k] for k in sorted(groups)]


def _sample_dates(n: int, formats: Sequence[str], days: Sequence[datetime.date], rng,
                  unseen: bool, decorate: bool = True) -> list[DateExample]:
    """`n` real dates: uniform over `formats`; days uniform over `days`, but `MONTH_END_SHARE` of them
    among the 28th-31st, a (month, day) first, then a year: month ends and 29 February are where
    calendars are learnt. Before, a sixth were drawn uniformly among the 28th-31st days, where a
    29 February is one day in 165: the recipe's 150,000 examples held 155 real 29 Februaries and 562
    impossible ones (of the other years), and the model refused 60 % of real ones."""
    month_ends = _month_ends(days)
    late = [d for d in days if d.day > 12]
    out = []
    for _ in range(n):
        fmt = DATE_FORMATS[formats[rng.integers(len(formats))]]
        if fmt.swapped:
            pool = late
        elif month_ends and rng.random() < MONTH_END_SHARE:
            pool = month_ends[rng.integers(len(month_ends))]
        else:
            pool = days
        day = pool[rng.integers(len(pool))]
        source, target = _render_date(fmt, day, rng, decorate)
        out.append(DateExample(source, target, "date", fmt.template, unseen))
    return out


def _sample_invalid(n: int, formats: Sequence[str], unseen_formats: Sequence[str], words: Sequence[str],
                    rng) -> list[DateExample]:
    """`n` sources that are no date, by `INVALID_KINDS`' shares; impossible and out-of-window dates
    written in `formats` and (half of them, when given) in `unseen_formats`."""
    kinds = list(INVALID_KINDS)
    out = []
    for k in rng.choice(len(kinds), n, p=list(INVALID_KINDS.values())):
        use_unseen = bool(unseen_formats) and rng.random() < 0.5
        source, fmt = _invalid_source(kinds[k], unseen_formats if use_unseen else formats, words, rng)
        out.append(DateExample(source, "", kinds[k], fmt, use_unseen and fmt is not None))
    return out


def generate_dates(n: int, *, seed: int = 0, formats: Sequence[str] | None = None,
                   years: tuple[int, int] = WINDOW, days: Sequence[datetime.date] | None = None,
                   return_formats: bool = False, decorate: bool = True) -> list[tuple]:
    """`n` `(human date, ISO date)` pairs of real dates, deterministic for a seed.

    Args:
      n: number of pairs.
      seed: random seed (same seed, same pairs).
      formats: names from `DATE_FORMATS` to draw uniformly (default all), e.g. `FORMAT_SPLITS["test"]`
        (formats the shipped model never saw in training).
      years: first and last year to draw from, inside `WINDOW`.
      days: draw from these dates instead of the whole window (how `date_splits` keeps held-out
        days unseen).
      return_formats: give `(source, target, format name)` triples.
      decorate: add case changes, weekdays, times, stray whitespace and punctuation as
        `date_splits` does (False: the format's template exactly).

    Example:
      >>> generate_dates(1, formats=["{mon.} {nth}, '{yy}"], decorate=False, seed=3)
      [("Dec. 30th, '67", '1967-12-30')]
    """
    formats = list(DATE_FORMATS) if formats is None else list(formats)
    unknown = [f for f in formats if f not in DATE_FORMATS]
    if unknown or not formats:
        raise ValueError(f"Unknown date format(s) {unknown or formats}. Accepted: the names of "
                         f"kerazoo.data.dates.DATE_FORMATS, e.g. {list(DATE_FORMATS)[:4]}")
    if not (len(years) == 2 and WINDOW[0] <= years[0] <= years[1] <= WINDOW[1]):
        raise ValueError(f"`years` should be (first, last) inside the task's window {WINDOW}. "
                         f"Received: years={years!r}")
    examples = _sample_dates(n, formats, days or _calendar(tuple(years)), np.random.default_rng(seed), False,
                             decorate)
    return [(e.source, e.target) + ((e.format,) if return_formats else ()) for e in examples]


def _split_days(seed: int) -> dict[str, list[datetime.date]]:
    """`WINDOW`'s days: 10% for validation, another 10% for test, the rest for training (seeded);
    every 29 February is a training day.

    The window has 25 leap days: the calendar's rule for them is learnt from those 25 years, so a
    leap day held out is a year the model never saw take a 29 February (7 of the 25 were held out
    before; the model refused 29 February 2048, a test day, and most others)."""
    every = np.random.default_rng(seed).permutation(np.array([d.toordinal() for d in _calendar(WINDOW)]))
    k = len(every) // 10
    split = {name: [datetime.date.fromordinal(int(o)) for o in part]
             for name, part in (("val", every[:k]), ("test", every[k:2 * k]), ("train", every[2 * k:]))}
    leap_days = [d for name in ("val", "test") for d in split[name] if (d.month, d.day) == (2, 29)]
    return {"val": [d for d in split["val"] if d not in leap_days],
            "test": [d for d in split["test"] if d not in leap_days], "train": split["train"] + leap_days}


def date_splits(n_train: int = 20000, n_val: int = 1000, n_test: int = 1000, *, seed: int = 0,
                invalid_fraction: float = 0.2) -> dict[str, list[DateExample]]:
    """Train/val/test examples, leaving out calendar days, formats and non-date words.

    - Days: 10% of `WINDOW`'s days are kept for validation, another 10% for test (29 February
      never: the leap rule needs all 25 of the window's leap years in training).
    - Formats (`FORMAT_SPLITS`): training writes dates only in the training formats; validation
      and test each have their own formats no other split uses. A held-out split is 35% dates in
      its own unseen formats, 35% dates in training formats (on its own days), 30% non-dates.
    - Non-dates (`INVALID_KINDS`, target ""): `invalid_fraction` of training; impossible and
      out-of-window dates are written in the split's formats (held-out splits: half in unseen
      ones); word-like non-dates use words a quarter of which training never sees.

    Every source is decorated as people write: weekday prefixes, times, case, stray whitespace
    and punctuation (see `_decorate`). Returns `DateExample`s keyed train/val/test.
    """
    if not 0 <= invalid_fraction < 1:
        raise ValueError(f"`invalid_fraction` should be in [0, 1). Received: invalid_fraction={invalid_fraction!r}")
    days = _split_days(seed)
    seen = FORMAT_SPLITS["train"]
    out = {}
    for i, (name, n) in enumerate((("train", n_train), ("val", n_val), ("test", n_test))):
        rng = np.random.default_rng(seed + 1 + i)
        if name == "train":
            n_invalid = round(invalid_fraction * n)
            examples = (_sample_dates(n - n_invalid, seen, days[name], rng, False)
                        + _sample_invalid(n_invalid, seen, [], _WORD_SPLITS["train"], rng))
        else:
            n_unseen, n_seen = round(0.35 * n), round(0.35 * n)
            examples = (_sample_dates(n_unseen, FORMAT_SPLITS[name], days[name], rng, True)
                        + _sample_dates(n_seen, seen, days[name], rng, False)
                        + _sample_invalid(n - n_unseen - n_seen, seen, FORMAT_SPLITS[name],
                                          _WORD_SPLITS["held_out"], rng))
        out[name] = [examples[j] for j in rng.permutation(len(examples))]
    return out


def date_datasets(n_train: int = 20000, n_val: int = 1000, n_test: int = 1000, *, batch_size: int = 64,
                  seed: int = 0, vectorizer: ParallelVectorizer | None = None,
                  invalid_fraction: float = 0.2) -> dict[str, tf.data.Dataset]:
    """`date_splits` as `teacher_forcing_dataset` pipelines (train shuffled, seeded), keyed train/val/test.

    Example:
      >>> splits = date_datasets(20000, batch_size=64)
      >>> model.fit(splits["train"], validation_data=splits["val"], epochs=10)
    """
    vectorizer = vectorizer or date_vectorizer()
    examples = date_splits(n_train, n_val, n_test, seed=seed, invalid_fraction=invalid_fraction)
    return {name: teacher_forcing_dataset(e, vectorizer, batch_size=batch_size, shuffle=name == "train", seed=seed)
            for name, e in examples.items() if e}


# Dates as Python's own `strftime` writes them (C locale): a probe independent of `DATE_FORMATS`'
# renderer, some of them training formats, some not
STRFTIME_FORMATS = ("%d %B %Y", "%B %d, %Y", "%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%d", "%a %d %b %Y", "%A, %B %d, %Y",
                    "%d-%b-%y", "%b %d %Y", "%Y/%m/%d", "%m/%d/%y", "%d %b %Y", "%a, %d %b %Y", "%Y%m%d",
                    "%b. %d, %Y", "%d/%b/%Y", "%A %d %B %Y", "%d-%m-%Y", "%Y.%m.%d", "%d %B, %Y", "%a %b %d %Y",
                    "%B %d %Y", "%d-%B-%Y", "%b-%d-%Y", "%Y %b %d")


def strftime_dates(n: int, *, seed: int = 0) -> list[DateExample]:
    """`n` test-split days (see `date_splits`) written by `datetime.strftime` in `STRFTIME_FORMATS`."""
    rng = np.random.default_rng(seed + 10)
    days = _split_days(seed)["test"]
    out = []
    for _ in range(n):
        day, fmt = days[rng.integers(len(days))], STRFTIME_FORMATS[rng.integers(len(STRFTIME_FORMATS))]
        out.append(DateExample(day.strftime(fmt), day.isoformat(), "date", fmt, True))
    return out
