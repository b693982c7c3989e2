"""Leap days and month ends in the date task: every format reads 29 February by the year and the
29th-31st by the month, the calendar checks agree with a calendar written here, and the generator
trains on as many real 29 Februaries as impossible ones, every leap year included."""
import collections

import numpy as np
import pytest

import kerazoo.data.dates as dates_module
from kerazoo.data.dates import DATE_FORMATS, WINDOW, date_splits, generate_dates

MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
YEARS = (1952, 1988, 2000, 2048, 1951, 2001, 2011, 2049)  # four leap years, then four common ones


def _leap(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _real(year, month, day):
    """The calendar, without datetime: is (year, month, day) a day?"""
    return 1 <= month <= 12 and 1 <= day <= MONTH_DAYS[month - 1] + (month == 2 and _leap(year))


def _month_end_cases():
    return [(y, m, d) for y in YEARS for m in range(1, 13) for d in (28, 29, 30, 31)]


def test_every_format_reads_29_february_by_the_year_and_the_29th_to_31st_by_the_month():
    rng = np.random.default_rng(0)
    for template, fmt in DATE_FORMATS.items():
        for year, month, day in _month_end_cases():
            read = fmt.read(year, month, day)
            expected = f"{year}-{month:02d}-{day:02d}" if _real(year, month, day) else ""
            assert (read.isoformat() if read else "") == expected, (template, year, month, day)
            text = fmt.render(year, month, day, rng)
            year_text = str(year) if "{yyyy}" in template else f"{year % 100:02d}"
            assert year_text in text, (template, text)
            if "{dword}" not in template:  # the day is written as its digits (29, 29th), beside the year
                assert str(day) in text.replace(year_text, " ", 1), (template, text)


@pytest.mark.parametrize("year", (1900, 1950, 1988, 2000, 2001, 2011, 2048, 2049, 2100))
def test_python_and_graph_calendar_checks_accept_exactly_the_real_month_ends(year):
    import tensorflow as tf

    from kerazoo.models.seq2seq.decoding import iso_date as _iso_date
    from kerazoo.models.seq2seq.tf_export import _is_iso_date

    texts = [f"{year}-{m:02d}-{d:02d}" for m in range(1, 13) for d in (28, 29, 30, 31)]
    expected = [_real(year, m, d) for m in range(1, 13) for d in (28, 29, 30, 31)]
    assert [_iso_date(t) is not None for t in texts] == expected
    assert _is_iso_date(tf.constant(texts)).numpy().tolist() == expected


def test_every_leap_day_is_a_training_day_and_the_held_out_days_are_apart():
    days = dates_module._split_days(1337)  # the shipped recipe's seed
    leap_days = {d for d in days["train"] if (d.month, d.day) == (2, 29)}
    assert sorted(d.year for d in leap_days) == [y for y in range(WINDOW[0], WINDOW[1] + 1) if _leap(y)]
    assert not any((d.month, d.day) == (2, 29) for d in days["val"] + days["test"])
    train, val, test = (set(days[k]) for k in ("train", "val", "test"))
    assert not (train & val or train & test or val & test)
    assert len(train | val | test) == sum(365 + _leap(y) for y in range(WINDOW[0], WINDOW[1] + 1))
    assert len(val) > 3600 and len(test) > 3600  # still a tenth each


def test_training_holds_as_many_real_29_februaries_as_impossible_ones(monkeypatch):
    """The shipped model refused every 29 February when its training set held 155 real ones against
    562 impossible ones: the impossible 29 February of a common year must not outnumber the real."""
    written = []
    render = dates_module.DateFormat.render

    def recording_render(self, year, month, day, rng):
        written.append((year, month, day))
        return render(self, year, month, day, rng)

    invalid_source = dates_module._invalid_source
    impossible = collections.Counter()

    def recording_invalid_source(kind, *args):
        out = invalid_source(kind, *args)
        if kind == "impossible":
            impossible[written[-1][1:]] += 1
        return out

    monkeypatch.setattr(dates_module.DateFormat, "render", recording_render)
    monkeypatch.setattr(dates_module, "_invalid_source", recording_invalid_source)
    train = date_splits(30000, 10, 10, seed=1337)["train"]
    real = collections.Counter(e.target[5:] for e in train if e.target)
    assert impossible[(2, 29)] > 50  # the impossible ones are still taught
    assert real["02-29"] >= impossible[(2, 29)], (real["02-29"], impossible[(2, 29)])
    leap_years = {e.target[:4] for e in train if e.target.endswith("-02-29")}
    assert len(leap_years) == 25, sorted(leap_years)
    for month, length in enumerate(MONTH_DAYS, 1):  # month ends are not rarer than mid-month days
        for day in range(29, length + 1):
            assert real[f"{month:02d}-{day:02d}"] >= real[f"{month:02d}-15"], (month, day)


def test_generate_dates_writes_month_ends_in_every_format():
    pairs = generate_dates(4000, seed=5, return_formats=True, decorate=False)
    ends = [t for _, t, _ in pairs if int(t[8:]) >= 29]
    assert len(ends) > 4000 * 0.15
    assert any(t.endswith("-02-29") for t in ends)


@pytest.mark.long
def test_the_shipped_model_translates_leap_days_and_month_ends_in_every_format():
    """seq2seq_attention.dates on the issue's inputs, and on every format's rendering of the 28th-31st of
    every month, in a leap and a common year drawn per format and day (the template exactly, 26,400 sources).

    Measured on the artifact retrained with leap days in training: 99.7 % of the grid right; on
    29 February 89.5 % of leap years translated (the previous artifact: 40 %) and 86.9 % of common years
    flagged. What is left is the leap rule on some year endings (1962, 1966, 1982, 1986 taken for leap
    years, 2016 for a common one): the thresholds below keep what was reached."""
    import kerazoo

    model = kerazoo.get("seq2seq_attention.dates")
    issue = model.translate(["29 February 2000", "29 February 1988", "29.02.2048", "the 29th of February, 1988",
                             "2011/6/29", "29 February 2001"])
    assert [t.text for t in issue] == ["2000-02-29", "1988-02-29", "2048-02-29", "1988-02-29", "2011-06-29", ""]
    assert issue[-1].flag == "not_a_date"
    rng = np.random.default_rng(0)
    cases, sources, targets = [], [], []
    for template, fmt in DATE_FORMATS.items():
        for month in range(1, 13):
            for day in (28, 29, 30, 31):
                for leap in (True, False):
                    year = int(rng.choice([y for y in range(WINDOW[0], WINDOW[1] + 1) if _leap(y) == leap]))
                    cases.append((month, day, leap))
                    sources.append(fmt.render(year, month, day, rng))
                    targets.append(f"{year}-{month:02d}-{day:02d}" if _real(year, month, day) else "")
    right = np.array([t.text == target for t, target in zip(model.translate(sources), targets)])
    cases = np.array(cases)
    february_29 = (cases[:, 0] == 2) & (cases[:, 1] == 29)
    leap = cases[:, 2] == 1
    assert right.mean() >= 0.995, right.mean()
    assert right[~february_29].mean() >= 0.999, right[~february_29].mean()
    assert right[february_29 & leap].mean() >= 0.85, right[february_29 & leap].mean()
    assert right[february_29 & ~leap].mean() >= 0.85, right[february_29 & ~leap].mean()
