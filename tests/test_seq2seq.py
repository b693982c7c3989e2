"""seq2seq with attention on the generated date task: learns, decodes, attends, flags non-dates;
the task's generator leaves whole formats out of training and reads every source one way."""
import datetime
import random
import re

import numpy as np
import pytest

import kerazoo
from kerazoo.data.dates import (DATE_FORMATS, FORMAT_SPLITS, INVALID_KINDS, STRFTIME_FORMATS, WINDOW,
                                date_datasets, date_splits, generate_dates, strftime_dates)
from kerazoo.models.seq2seq import FLAGS, date_metrics, exact_match, plot_attention


@pytest.fixture(scope="module")
def trained():
    import keras

    keras.utils.set_random_seed(0)
    model = kerazoo.get("seq2seq_attention", units=48, embedding_dim=24, compile=True)
    model.optimizer.learning_rate.assign(5e-3)
    splits = date_datasets(4000, 200, 200, batch_size=64, seed=0)
    model.fit(splits["train"], epochs=4, verbose=0, shuffle=False)  # the pipeline shuffles
    return model, date_splits(4000, 200, 200, seed=0)["test"]


def test_short_training_translates_held_out_dates(trained):
    model, test = trained
    dates = [e for e in test if e.kind == "date"][:100]
    score = exact_match(model, dates)
    assert score >= 0.5, score  # chance is ~0: a date is 10 characters from 12 symbols


def test_search_objective_callback_logs_the_validation_exact_match(trained):
    """What a search trial of seq2seq is scored by: `val_exact_match`, greedy whole translations right on
    the validation pairs it was given (not the test split, not teacher-forced character accuracy)."""
    from kerazoo.family import TaskData
    from kerazoo.models.seq2seq import metric_callbacks

    model, test = trained
    dates = [e for e in test if e.kind == "date"]
    val, other = dates[:40], dates[40:80]
    (callback,) = metric_callbacks(TaskData(None, None, extra={"pairs": {"val": val, "test": other}}))
    callback.set_model(model)
    logs = {"accuracy": 0.0}
    callback.on_epoch_end(0, logs)
    assert logs["val_exact_match"] == exact_match(model, val) >= 0.5, logs
    right = [t.text == e.target for t, e in zip(model.translate([e.source for e in val]), val)]
    assert logs["val_exact_match"] == pytest.approx(np.mean(right))


def test_beam_width_one_equals_greedy_and_attention_sums_to_one(trained, tmp_path):
    model, test = trained
    sources = [e.source for e in test[:10]]
    greedy, beam = model.translate(sources), model.translate(sources, beam_width=1)
    assert [g.text for g in greedy] == [b.text for b in beam]
    for t in greedy:
        if t.tokens:
            np.testing.assert_allclose(np.asarray(t.attention).sum(-1), 1.0, atol=1e-4)
    assert plot_attention(greedy[0], tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_generator_is_seeded_and_varied():
    a, b = generate_dates(50, seed=3), generate_dates(50, seed=3)
    assert a == b and len({s for s, _ in a}) == 50
    assert all(len(t) == 10 and t[4] == t[7] == "-" for _, t in a)
    assert generate_dates(50, seed=4) != a
    plain = generate_dates(20, seed=3, formats=["{d} {month} {yyyy}"], decorate=False)
    assert all(re.fullmatch(r"\d{1,2} [A-Z][a-z]+ \d{4}", s) for s, _ in plain)


def _parts(template):
    """Fields, literal texts between them, and the order of the fields' kinds of a format name."""
    pieces = re.split(r"\{([a-z]+\.?)\}", template)
    fields = pieces[1::2]
    order = "".join(f[0] if f[0] in "dmy" else f for f in fields)
    return {f"{{{f}}}" for f in fields} | {repr(p) for p in pieces[0::2] if p} | {order}


def test_held_out_formats_are_never_written_in_training_and_are_made_of_seen_parts():
    train, val, test = (set(FORMAT_SPLITS[k]) for k in ("train", "val", "test"))
    assert not (train & val or train & test or val & test) and train | val | test == set(DATE_FORMATS)
    assert len(val) >= 20 and len(test) >= 20
    seen_parts = set().union(*(_parts(f) for f in train))
    for name in val | test:  # an unseen format is a new combination of fields, separators and orders
        assert _parts(name) <= seen_parts, name
    splits = date_splits(3000, 600, 600, seed=1)
    assert {e.format for e in splits["train"] if e.format} <= train
    for split, own in (("val", val), ("test", test)):
        unseen = {e.format for e in splits[split] if e.unseen}
        assert unseen and unseen <= own
        assert {e.format for e in splits[split] if e.format and not e.unseen} <= train
    train_days = {e.target for e in splits["train"] if e.target}
    assert not train_days & {e.target for e in splits["test"] if e.target}  # calendar days held out too


def test_every_source_has_one_reading():
    """No source (as the model sees it: lower-cased) is given two different targets, in or across splits."""
    targets = {}
    for examples in date_splits(20000, 3000, 3000, seed=2).values():
        for e in examples:
            targets.setdefault(e.source.lower(), set()).add(e.target)
    clashes = {s: t for s, t in targets.items() if len(t) > 1}
    assert not clashes, list(clashes.items())[:5]


@pytest.mark.parametrize("template, fields, expected", [
    ("{mm}/{dd}/{yy}", (2005, 3, 4), "2005-03-04"),      # slashes: month first (US)
    ("{dd}.{mm}.{yy}", (2005, 4, 3), "2005-04-03"),      # dots: day first
    ("{dd}-{mm}-{yyyy}", (2005, 4, 3), "2005-04-03"),    # dashes: day first
    ("{dd}/{mm}/{yyyy}", (2021, 12, 25), "2021-12-25"),  # 25/12/2021: only a day can be 25
    ("{yyyy}-{m}-{d}", (1998, 3, 4), "1998-03-04"),      # year first: year-month-day
    ("{d} {month} {yy}", (1950, 1, 1), "1950-01-01"),    # two-digit years: 50-99 -> 19xx
    ("{d} {month} {yy}", (2049, 12, 31), "2049-12-31"),  # 00-49 -> 20xx
    ("{d} {month} {yyyy}", (2001, 2, 30), ""),           # 30 February 2001
    ("{d} {month} {yyyy}", (2001, 2, 29), ""),
    ("{d} {month} {yyyy}", (2000, 2, 29), "2000-02-29"),
    ("{mm}/{dd}/{yyyy}", (2001, 13, 13), ""),            # 13/13/2001: neither order is a date
    ("{d} {month} {yyyy}", (1850, 5, 4), ""),            # outside the window 1950-2049
])
def test_numeric_conventions_window_and_impossible_dates(template, fields, expected):
    fmt = DATE_FORMATS[template]
    rendered = fmt.render(*fields, np.random.default_rng(0))
    read = fmt.read(*fields)
    assert (read.isoformat() if read else "") == expected, rendered


def test_non_dates_are_generated_with_an_empty_target_and_held_out_words():
    splits = date_splits(6000, 1000, 1000, seed=0)
    invalid = [e for e in splits["train"] if e.kind != "date"]
    assert abs(len(invalid) / 6000 - 0.2) < 0.01 and all(e.target == "" for e in invalid)
    assert {e.kind for e in invalid} == set(INVALID_KINDS)
    words = lambda split: {w for e in splits[split] if e.kind == "words" for w in e.source.lower().split()}  # noqa
    held_out = words("test") - words("train")
    assert len(held_out) >= 20
    assert not any(w in e.source.lower() for e in splits["train"] for w in ("hello", "world"))  # never trained on
    for e in invalid:
        if e.kind in ("impossible", "out_of_window"):
            assert e.format in FORMAT_SPLITS["train"]
    assert any(e.unseen for e in splits["test"] if e.kind == "impossible")  # also written in unseen formats


def test_strftime_probe_is_python_s_own_rendering():
    probe = strftime_dates(200, seed=0)
    assert {e.format for e in probe} <= set(STRFTIME_FORMATS)
    for e in probe[:20]:
        assert datetime.date.fromisoformat(e.target).strftime(e.format) == e.source
        assert WINDOW[0] <= int(e.target[:4]) <= WINDOW[1]


@pytest.mark.parametrize("cell, attention", [("lstm", "bahdanau"), ("gru", "luong")])
def test_variants_build_the_cell_and_attention_they_name(cell, attention):  # `variant` names the cell
    """Each choice is built (not silently replaced by the default), and its model decodes: tokens within
    the decoder's length limit, an attention row per token over the source."""
    import keras

    model = kerazoo.get("seq2seq_attention", variant=cell, attention=attention, units=8, embedding_dim=4)
    layers = {type(layer) for layer in model._flatten_layers()}
    rnn = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
    score = {"bahdanau": keras.layers.AdditiveAttention, "luong": keras.layers.Attention}
    assert rnn[cell] in layers and rnn[{"lstm": "gru", "gru": "lstm"}[cell]] not in layers, layers
    assert score[attention] in layers and score[{"luong": "bahdanau", "bahdanau": "luong"}[attention]] not in layers
    t = model.translate("1 jan 2000")
    limit = model.vectorizer.max_target_length + 1
    assert isinstance(t.text, str) and 0 < len(t.tokens) <= limit, (t.text, t.tokens)
    assert np.asarray(t.attention).shape[0] == len(t.tokens)


def test_empty_inputs_translate_to_empty_and_do_not_disturb_the_batch(trained):
    model, test = trained
    date = [e.source for e in test if e.kind == "date"][0]
    alone = model.translate(date)
    for text in ("", "   ", "\t\n"):
        empty = model.translate(text)
        assert (empty.text, empty.valid, empty.flag, empty.tokens) == ("", False, "empty", [])
    batch = model.translate(["", date, "  ", date, ""])
    assert [t.flag for t in batch][::2] == ["empty"] * 3
    for t in batch[1::2]:
        assert (t.text, t.flag) == (alone.text, alone.flag)
        assert t.log_prob == pytest.approx(alone.log_prob, abs=1e-4)
    assert model.translate([]) == [] and model.translate([], beam_width=3) == []
    assert model.translate("", beam_width=3).flag == "empty"
    with pytest.raises(kerazoo.DataError, match="expects a batch of strings; item 1 is NoneType"):
        model.translate([date, None])


def test_every_input_translates_the_same_alone_and_in_any_batch(trained):
    model, test = trained
    sources = [e.source for e in test[:12]] + ["x" * 60, "hello world", "30 February 2001"]  # every kind of input
    alone = [model.translate(s) for s in sources]
    together = model.translate(sources)
    rng = random.Random(0)
    shuffled = list(range(len(sources)))
    rng.shuffle(shuffled)
    mixed = model.translate([sources[i] for i in shuffled], batch_size=7)
    mixed = [mixed[shuffled.index(i)] for i in range(len(sources))]
    for a, b, c in zip(alone, together, mixed):
        assert a.text == b.text == c.text and a.flag == b.flag == c.flag, a.source
        assert a.log_prob == pytest.approx(b.log_prob, abs=1e-3) == c.log_prob


def test_flags_and_confidence(trained):
    model, _ = trained
    outs = model.translate(["hello world", "1998-03-04", ""])
    for t in outs:
        assert t.flag in (None, *FLAGS) and t.valid == (t.flag is None)
        assert 0.0 <= t.confidence <= 1.0 and t.confidence == pytest.approx(np.exp(t.log_prob))
        assert (t.date is not None) == (t.flag is None)
        if t.flag == "not_a_date":
            assert t.text == ""
        if t.flag == "invalid_output":
            assert t.text and t.date is None
    # a model built for another corpus checks nothing
    assert kerazoo.get("seq2seq_attention", units=8, embedding_dim=4, output_check="none").translate("abc").valid


@pytest.mark.parametrize("text", ["2000-02-29", "1900-02-29", "2001-02-29", "2001-13-01", "2001-00-10", "2001-04-31",
                                  "2001-04-30", "0000-01-01", "20010101", "2001-1-01", "", "2049-12-31", "2001-02-3x",
                                  "12001-01-01", " 2001-01-01"])
def test_python_and_graph_calendar_checks_agree(text):
    import tensorflow as tf

    from kerazoo.models.seq2seq.decoding import iso_date
    from kerazoo.models.seq2seq.tf_export import _is_iso_date

    expected = text in ("2000-02-29", "2001-04-30", "2049-12-31")
    assert (iso_date(text) is not None) == expected
    assert bool(_is_iso_date(tf.constant([text]))[0]) == expected


def test_savedmodel_translates_and_flags_raw_strings_like_greedy_translate(trained, tmp_path):
    """The exported `serving_default` decodes in the graph: strings in, the same translations,
    flags and log-probabilities out; empty strings and empty batches as in `translate`."""
    import tensorflow as tf

    from kerazoo.exporting import export_saved_model

    model, test = trained
    sources = [e.source for e in test[:8]] + ["", "no date here at all", "  ", "30 February 2001"]
    export_saved_model(model, tmp_path / "sm", name="seq2seq_attention")
    served = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    out = served(tf.constant(sources))
    expected = model.translate(sources)
    assert [t.decode() for t in out["translation"].numpy()] == [t.text for t in expected]
    assert [f.decode() or None for f in out["flag"].numpy()] == [t.flag for t in expected]
    assert out["valid"].numpy().tolist() == [t.valid for t in expected]
    np.testing.assert_allclose(out["log_prob"].numpy(), [t.log_prob for t in expected], atol=1e-3)
    np.testing.assert_allclose(out["confidence"].numpy(), [t.confidence for t in expected], atol=1e-3)
    for row, t in zip(out["attention"].numpy(), expected):
        np.testing.assert_allclose(row[:len(t.tokens), :t.attention.shape[1]], t.attention, atol=1e-5)
    for batch in ([""], ["   "], [sources[0], ""]):  # an empty input alone or beside a date
        got = served(tf.constant(batch))
        assert [t.decode() for t in got["translation"].numpy()] == [t.text for t in model.translate(batch)]
    empty = served(tf.constant([], tf.string))
    assert {k: v.shape[0] for k, v in empty.items()} == {k: 0 for k in empty}


def test_date_metrics_separate_seen_unseen_and_flags(trained):
    model, test = trained
    metrics = date_metrics(model, test, beam_width=2, strftime=strftime_dates(20))
    assert {"exact_match_seen", "exact_match_unseen", "exact_match_seen_beam2", "exact_match_unseen_beam2",
            "flag_precision", "flag_recall", "flag_recall_by_model", "false_flag_rate_seen", "false_flag_rate_unseen",
            "exact_match_strftime", "silent_error_rate_unseen"} <= set(metrics)
    dates = [e for e in test if e.kind == "date" and e.unseen]
    assert metrics["exact_match_unseen"] == pytest.approx(exact_match(model, dates))
    flagged = [not t.valid for t in model.translate([e.source for e in test])]
    invalid = [e.kind != "date" for e in test]
    assert metrics["flag_recall"] == pytest.approx(np.sum(np.array(flagged) & invalid) / np.sum(invalid))
    assert metrics["flag_recall_by_model"] <= metrics["flag_recall"]


def test_recipe_reports_seen_unseen_flags_and_attention_maps(tmp_path):
    run = kerazoo.train("seq2seq_attention", epochs=1, output=tmp_path / "run", verbose=0,
                        config={"recipe": {"data": {"n_train": 256, "n_val": 32, "n_test": 64}}},
                        model_overrides={"units": 8, "embedding_dim": 4})
    assert {"test_exact_match_seen", "test_exact_match_unseen_beam3", "test_flag_precision", "test_flag_recall",
            "test_exact_match_strftime", "test_accuracy"} <= set(run.metrics)
    # the metrics are the test split's: recomputed from the returned model on the recipe's own test examples
    from kerazoo.training.run import resolve

    seed = resolve("seq2seq_attention")[1].seed
    expected = date_metrics(run.model, date_splits(256, 32, 64, seed=seed)["test"], strftime=strftime_dates(64, seed=seed))
    assert {k: round(run.metrics[f"test_{k}"], 4) for k in expected} == {k: round(v, 4) for k, v in expected.items()}
    assert [p.name for p in run.plots if p.name.startswith("attention_")] == [f"attention_{i}.png" for i in range(4)]
    with pytest.raises(ValueError, match="unknown option.*invalid_fraction"):
        kerazoo.train("seq2seq_attention", epochs=1, output=tmp_path / "bad", verbose=0,
                      config={"recipe": {"data": {"n_train": 256, "invalid_fractoin": 0.1}}})
