"""The named date formats of the date task (`kerazoo.data.dates`): `DATE_FORMATS` (~280, each named
by its template, e.g. `"{mon.} {nth}, '{yy}"` writes `Sept. 3rd, '98`), how each renders and reads
a date (`DateFormat`), the calendar `WINDOW`, and the leave-formats-out splits (`FORMAT_SPLITS`)."""
from __future__ import annotations

import collections
import dataclasses
import datetime
import re

import numpy as np

__all__ = ["WINDOW", "DateFormat", "DATE_FORMATS", "FORMAT_SPLITS", "MONTHS", "DAYS", "DAY_ABBREVIATIONS", "random_time"]

# === The date task ===
#
# A source is a date written in one of the named formats of `DATE_FORMATS` (its name is its
# template), decorated the way people decorate dates (case, a weekday in front, a time after,
# stray spaces and punctuation), or one of the inputs the model must answer "not a date" to
# (`INVALID_KINDS`), whose target is the empty string.

WINDOW = (1950, 2049)  # the task's calendar: every target lies in it; two-digit years are read into it

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_MONTH_ABBREVIATIONS = {6: ("Jun", "June"), 7: ("Jul", "July"), 9: ("Sep", "Sept")}  # others: first 3 letters
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
DAY_ABBREVIATIONS = {1: ("Tue", "Tues"), 2: ("Wed",), 3: ("Thu", "Thur", "Thurs")}
_FIELD = re.compile(r"\{([a-z]+\.?)\}")


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


_ORDINAL_WORDS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
                  "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth").split()


def _ordinal_word(n: int, rng) -> str:
    """3 -> "third", 21 -> "twenty-first" (or "twenty first"); other numbers as digits ("0th", "32nd")."""
    if 1 <= n <= 20:
        return _ORDINAL_WORDS[n - 1]
    if n == 30:
        return "thirtieth"
    if 21 <= n <= 31:
        return ("twenty", "thirty")[n // 10 - 2] + "- "[rng.integers(2)] + _ORDINAL_WORDS[n % 10 - 1]
    return _ordinal(n)


@dataclasses.dataclass(frozen=True)
class DateFormat:
    """One way of writing a date, and how the task reads it.

    `template` (also its name in `DATE_FORMATS`) is text with fields: `{d}` 3, `{dd}` 03, `{nth}` 3rd,
    `{dword}` third (twenty-first), `{m}` 3, `{mm}` 03, `{month}` March, `{mon}` Mar (also Sept,
    June, July), `{mon.}` Mar. (Sept., May), `{yyyy}` 1998, `{yy}` 98, `{isotime}` 12:30:00 (with
    Z, +02:00 or .250 at random).

    Conventions (one answer per source): a name month is never ambiguous; year-first numeric dates
    are year-month-day; year-last numeric dates are read month first with slashes (US) and day
    first with dots and dashes (European); when that reading is no calendar date but the other
    day/month order is, the other order is meant (`25/12/2021` is 2021-12-25, `swapped` formats
    write those); two-digit years fall in `WINDOW` (50-99: 19xx, 00-49: 20xx).
    """

    template: str
    order: str              # the order the fields are written in: "dmy", "mdy" or "ymd"
    swapped: bool = False   # numeric day and month in the order opposite to the separator's convention

    @property
    def numeric(self) -> bool:
        return "{m}" in self.template or "{mm}" in self.template

    @property
    def two_digit_year(self) -> bool:
        return "{yy}" in self.template

    def read(self, year: int, month: int, day: int) -> datetime.date | None:
        """The date a source written in this format with these field values means, or None (not a
        date in `WINDOW`): the conventions above applied to what is written."""
        if self.swapped:  # the separator's convention reads the written day as the month
            month, day = day, month
        if not WINDOW[0] <= year <= WINDOW[1]:
            return None
        date = _calendar_date(year, month, day)
        if date is None and self.numeric and self.order != "ymd":
            date = _calendar_date(year, day, month)
        return date

    def render(self, year: int, month: int, day: int, rng: np.random.Generator) -> str:
        """The template filled with these field values (which need not make a calendar date)."""
        def field(match):
            key = match.group(1)
            if key in ("month", "mon", "mon."):
                name = MONTHS[month - 1]
                if key == "month":
                    return name
                short = _MONTH_ABBREVIATIONS.get(month, (name[:3],))
                short = short[rng.integers(len(short))]
                return short if key == "mon" or short == name else short + "."
            if key == "dword":
                return _ordinal_word(day, rng)
            values = {"d": str(day), "dd": f"{day:02d}", "nth": _ordinal(day), "m": str(month), "mm": f"{month:02d}",
                      "yyyy": str(year), "yy": f"{year % 100:02d}"}
            return values[key] if key in values else random_time(rng)
        return _FIELD.sub(field, self.template)


def _calendar_date(year: int, month: int, day: int) -> datetime.date | None:
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def random_time(rng) -> str:
    """A random ISO 8601 time of day, with or without a zone: what follows the "T" of a timestamp."""
    time = f"{rng.integers(24):02d}:{rng.integers(60):02d}:{rng.integers(60):02d}"
    return time + ["", "Z", f".{rng.integers(1000):03d}Z", f"+{rng.integers(13):02d}:00",
                   f"-{rng.integers(12):02d}:30"][rng.integers(5)]


def _catalogue() -> dict[str, DateFormat]:
    """Every format of the task: the orders, separators, paddings, abbreviations, ordinals and year
    lengths people combine (~280), each a product of the choices listed here."""
    formats = []
    names, days = ("{month}", "{mon}", "{mon.}"), ("{d}", "{dd}", "{nth}")
    years = ("{yyyy}", "{yy}", "'{yy}")
    for mon in names:
        for day in days:
            for year in years:  # 3 March 1998, 3rd Mar. '98, March 3, 1998, Mar 03 98
                formats += [DateFormat(f"{day} {mon} {year}", "dmy"), DateFormat(f"{day} {mon}, {year}", "dmy"),
                            DateFormat(f"{mon} {day}, {year}", "mdy"), DateFormat(f"{mon} {day} {year}", "mdy")]
            formats += [DateFormat(f"{{yyyy}} {mon} {day}", "ymd"), DateFormat(f"{{yyyy}}, {mon} {day}", "ymd")]
        for year in ("{yyyy}", "'{yy}"):  # 3rd of March 1998, the 3rd of March, '98
            formats += [DateFormat(f"{the}{{nth}} of {mon}{comma} {year}", "dmy")
                        for the in ("", "the ") for comma in ("", ",")]
        formats.append(DateFormat(f"{mon} the {{nth}}, {{yyyy}}", "mdy"))
    for mon in ("{month}", "{mon}"):  # the third of March 1998, March twenty-first, 1998
        formats += [DateFormat(f"the {{dword}} of {mon} {{yyyy}}", "dmy"),
                    DateFormat(f"{{dword}} of {mon}, {{yyyy}}", "dmy"), DateFormat(f"{mon} {{dword}}, {{yyyy}}", "mdy"),
                    DateFormat(f"{mon} the {{dword}} {{yyyy}}", "mdy")]
    for mon in ("{month}", "{mon}"):
        formats.append(DateFormat(f"{{d}}. {mon} {{yyyy}}", "dmy"))
        for day in ("{d}", "{dd}"):
            for sep in "-/.":  # 3-Mar-1998, Mar/03/98, 1998.March.3
                formats += [DateFormat(f"{day}{sep}{mon}{sep}{year}", "dmy") for year in ("{yyyy}", "{yy}")]
                formats += [DateFormat(f"{mon}{sep}{day}{sep}{year}", "mdy") for year in ("{yyyy}", "{yy}")]
                formats.append(DateFormat(f"{{yyyy}}{sep}{mon}{sep}{day}", "ymd"))
            formats += [DateFormat(f"{day}{mon}{year}", "dmy") for year in ("{yyyy}", "{yy}")]  # 3Mar1998
        formats.append(DateFormat(f"{{yyyy}}{mon}{{dd}}", "ymd"))  # 1998Mar03
    for mon in ("{m}", "{mm}"):
        for day in ("{d}", "{dd}"):
            formats += [DateFormat(f"{{yyyy}}{sep}{mon}{sep}{day}", "ymd") for sep in "-/. "]  # 1998-3-3
            for year in ("{yyyy}", "{yy}"):
                formats += [DateFormat(f"{mon}/{day}/{year}", "mdy"),  # US: 3/4/98 is March 4
                            DateFormat(f"{day}.{mon}.{year}", "dmy"), DateFormat(f"{day}-{mon}-{year}", "dmy"),
                            DateFormat(f"{day}/{mon}/{year}", "dmy", swapped=True),  # 25/12/2021
                            DateFormat(f"{mon}-{day}-{year}", "mdy", swapped=True)]  # 12-25-2021
    formats += [DateFormat("{yyyy}{mm}{dd}", "ymd"), DateFormat("{yyyy}-{mm}-{dd}T{isotime}", "ymd")]
    catalogue = {f.template: f for f in formats}
    assert len(catalogue) == len(formats), "a format is listed twice"
    return catalogue


DATE_FORMATS: dict[str, DateFormat] = _catalogue()


_KINDS = {"d": "day", "dd": "day", "nth": "day", "dword": "day", "m": "month", "mm": "month", "month": "month",
          "mon": "month", "mon.": "month", "yyyy": "year", "yy": "year", "isotime": "time"}


def _features(template: str) -> set[str]:
    """What a format is made of: its fields, the literal texts between them, its field order."""
    parts = _FIELD.split(template)  # literal, field, literal, field, ...
    fields, literals = parts[1::2], [p for p in parts[0::2] if p]
    return {f"{{{f}}}" for f in fields} | {repr(p) for p in literals} | {"-".join(_KINDS[f] for f in fields)}


def _split_formats(seed: int = 2024, share: float = 0.12) -> dict[str, list[str]]:
    """Leave-formats-out: `share` of the formats for validation and as many for test, drawn at
    random (seeded) among those whose every feature (field, separator text, field order) stays in
    at least two training formats, so held-out formats are new combinations of seen parts."""
    names = list(DATE_FORMATS)
    order = np.random.default_rng(seed).permutation(len(names))
    features = {n: _features(n) for n in names}
    counts = collections.Counter(f for n in names for f in features[n])
    quota = round(share * len(names))
    held = {"val": [], "test": []}
    for i in order:
        name = names[i]
        split = "val" if len(held["val"]) < quota else "test" if len(held["test"]) < quota else None
        if split is None:
            break
        if all(counts[f] > 2 for f in features[name]):
            held[split].append(name)
            counts.subtract(features[name])
    left_out = set(held["val"]) | set(held["test"])
    return {"train": [n for n in names if n not in left_out], "val": sorted(held["val"]), "test": sorted(held["test"])}


FORMAT_SPLITS: dict[str, list[str]] = _split_formats()  # the training split never sees a val/test format
