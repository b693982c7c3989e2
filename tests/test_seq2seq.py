"""seq2seq with attention on the generated date task: learns, decodes, attends."""
import numpy as np
import pytest

import kerazoo
from kerazoo.data.dates import date_datasets, date_splits, generate_dates
from kerazoo.models.seq2seq import exact_match, plot_attention


@pytest.fixture(scope="module")
def trained():
    import keras

    keras.utils.set_random_seed(0)
    model = kerazoo.get("seq2seq_attention", units=48, embedding_dim=24, compile=True)
    model.optimizer.learning_rate.assign(3e-3)
    splits = date_datasets(4000, 200, 200, batch_size=64, seed=0)
    model.fit(splits["train"], epochs=6, verbose=0, shuffle=False)  # the pipeline shuffles
    return model, date_splits(4000, 200, 200, seed=0)["test"]


def test_short_training_translates_held_out_dates(trained):
    model, test = trained
    score = exact_match(model, test[:100])
    assert score >= 0.5, score  # chance is ~0: a date is 10 characters from 12 symbols


def test_beam_width_one_equals_greedy_and_attention_sums_to_one(trained, tmp_path):
    model, test = trained
    sources = [s for s, _ in test[:10]]
    greedy, beam = model.translate(sources), model.translate(sources, beam_width=1)
    assert [g.text for g in greedy] == [b.text for b in beam]
    for t in greedy:
        np.testing.assert_allclose(np.asarray(t.attention).sum(-1), 1.0, atol=1e-4)
    assert plot_attention(greedy[0], tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_generator_is_seeded_and_varied():
    a, b = generate_dates(50, seed=3), generate_dates(50, seed=3)
    assert a == b and len({s for s, _ in a}) == 50
    assert all(len(t) == 10 and t[4] == t[7] == "-" for _, t in a)


@pytest.mark.parametrize("cell, attention", [("lstm", "bahdanau"), ("gru", "luong")])
def test_variants_build(cell, attention):
    model = kerazoo.get("seq2seq_attention", cell=cell, attention=attention, units=8, embedding_dim=4)
    assert model.translate("1 jan 2000").text is not None


def test_savedmodel_translates_raw_strings_like_greedy_translate(trained, tmp_path):
    """The exported `serving_default` decodes in the graph: strings in, the same translations out."""
    import tensorflow as tf

    from kerazoo.exporting import export_saved_model

    model, test = trained
    sources = [s for s, _ in test[:8]] + ["", "no date here at all"]
    export_saved_model(model, tmp_path / "sm", name="seq2seq_attention")
    served = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    out = served(tf.constant(sources))
    expected = model.translate(sources)
    assert [t.decode() for t in out["translation"].numpy()] == [t.text for t in expected]
    for row, t in zip(out["attention"].numpy(), expected):
        np.testing.assert_allclose(row[:len(t.tokens), :t.attention.shape[1]], t.attention, atol=1e-5)


def test_recipe_reports_exact_match_and_attention_maps(tmp_path):
    run = kerazoo.train("seq2seq_attention", epochs=1, output=tmp_path / "run", verbose=0,
                        config={"recipe": {"data": {"n_train": 256, "n_val": 32, "n_test": 32}}},
                        model_overrides={"units": 8, "embedding_dim": 4})
    assert {"test_exact_match", "test_exact_match_beam3", "test_accuracy"} <= set(run.metrics)
    assert 0 <= run.metrics["test_exact_match"] <= 1
    assert [p.name for p in run.plots if p.name.startswith("attention_")] == [f"attention_{i}.png" for i in range(4)]
