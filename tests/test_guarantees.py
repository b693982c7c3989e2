"""The README's "Guarantees" that no other test checked: a tampered *shipped* artifact is refused,
`evaluate` verifies before it uses anything, `--shadow` exports load in place of the shipped artifact,
reviews with no word score ~0.5, and int8 files are calibrated on training inputs, never test data."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import kerazoo
from kerazoo import artifacts, cli

SHIPPED = artifacts.shipped_dir()


@pytest.fixture
def shipped_copy(tmp_path, monkeypatch):
    """A copy of the package's `saved_models/` (lenet5.mnist and the index) that kerazoo takes for the
    shipped artifacts, so a test may tamper with it; the caches are cleared before and after."""
    root = tmp_path / "saved_models"
    root.mkdir()
    shutil.copytree(SHIPPED / "lenet5.mnist", root / "lenet5.mnist")
    shutil.copy(SHIPPED / "index.json", root / "index.json")
    monkeypatch.setattr(artifacts, "shipped_dir", lambda: root)
    monkeypatch.setenv("KERAZOO_MODELS", str(tmp_path / "store"))
    artifacts._shipped.cache_clear()
    artifacts._shipped_index.cache_clear()
    yield root
    monkeypatch.undo()
    artifacts._shipped.cache_clear()
    artifacts._shipped_index.cache_clear()


def _flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_tampered_shipped_artifact_is_refused(shipped_copy):
    """Shipped artifacts have no card.sha256: the card is checked against the package's index.json, the
    files against the card. A flipped byte in model.keras, or an edited card, loads nothing."""
    folder = shipped_copy / "lenet5.mnist"
    assert kerazoo.get("lenet5.mnist").count_params() > 0  # the untouched copy loads
    assert not (folder / "card.sha256").exists()
    _flip_a_byte(folder / "model.keras")
    with pytest.raises(kerazoo.WeightsError, match=r"lenet5.mnist: .*model.keras does not match its card.*Nothing was"):
        kerazoo.get("lenet5.mnist")
    shutil.copy(SHIPPED / "lenet5.mnist" / "model.keras", folder / "model.keras")
    card = json.loads((folder / "card.json").read_text())
    card["metrics"]["test_accuracy"] = 0.9999  # a better figure typed into the shipped card
    (folder / "card.json").write_text(json.dumps(card, indent=2))
    with pytest.raises(kerazoo.WeightsError, match=r"card.json does not match its recorded hash"):
        kerazoo.get("lenet5.mnist")
    assert "card.json" in str(kerazoo.verify("lenet5.mnist")["lenet5.mnist"])


def test_evaluate_verifies_the_artifact_before_using_it(shipped_copy, tmp_path):
    """`kerazoo.evaluate` on a tampered artifact stops on the artifact, before it looks for data: the data
    folder given does not exist, and the error is the WeightsError, not a missing data set."""
    _flip_a_byte(shipped_copy / "lenet5.mnist" / "model.keras")
    with pytest.raises(kerazoo.WeightsError, match="model.keras does not match its card"):
        kerazoo.evaluate("lenet5", weights="mnist", data_dir=tmp_path / "no-data-here")


def test_a_shadow_export_is_loaded_in_place_of_the_shipped_artifact(tmp_path, monkeypatch, capsys):
    """`kerazoo export RUN --tag mnist --shadow` writes a user artifact under a shipped artifact's name:
    `kerazoo.get("lenet5.mnist")` then loads the user's weights, verified, and the shipped folder is untouched."""
    card = json.loads((SHIPPED / "lenet5.mnist" / "card.json").read_text())
    import keras

    keras.utils.set_random_seed(3)
    mine = kerazoo.get("lenet5", **card["model"])  # same architecture, other weights
    run = tmp_path / "run"
    run.mkdir()
    mine.save(run / "model.keras")
    (run / "run.json").write_text(json.dumps({**card, "name": "lenet5"}))
    before = artifacts.file_table(SHIPPED / "lenet5.mnist")
    monkeypatch.setenv("KERAZOO_MODELS", str(tmp_path / "store"))
    export = ["export", str(run), "--tag", "mnist"]
    assert cli.main(export) == 2 and "--shadow" in capsys.readouterr().err
    assert cli.main(export + ["--shadow"]) == 0, capsys.readouterr().err[-2000:]
    code = ("import numpy as np, kerazoo; m = kerazoo.get('lenet5.mnist'); x = np.arange(2 * 784).reshape(2, 28, 28) "
            "% 256; print(kerazoo.artifacts.find('lenet5', 'mnist').folder); "
            "print(m.predict(x.astype('uint8'), verbose=0).round(5).tolist())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    folder, predictions = out.strip().splitlines()[-2:]
    assert folder.startswith(str(tmp_path / "store"))
    x = (np.arange(2 * 784).reshape(2, 28, 28) % 256).astype("uint8")
    np.testing.assert_allclose(json.loads(predictions), mine.predict(x, verbose=0).round(5), atol=2e-5)
    assert artifacts.file_table(SHIPPED / "lenet5.mnist") == before


@pytest.mark.parametrize("name", ["imdb_rnn.imdb", "imdb_lstm.imdb", "imdb_gru.imdb"])
def test_reviews_with_no_word_score_about_one_half(name):
    """An empty review, or one of emoji or punctuation only (no token the vocabulary knows), scores ~0.5:
    not NaN, not a confident answer; alone or beside real reviews."""
    model = kerazoo.get(name)
    empty = ["", "😀😀😀", "🙂👍", "!!! ...", "日本语"]
    scores = model.predict(np.array(empty + ["a wonderful, moving film", "awful and boring"], dtype=object),
                           verbose=0).ravel()
    assert np.all(np.isfinite(scores))
    assert np.all(np.abs(scores[:len(empty)] - 0.5) < 0.05), scores
    assert scores[-2] > 0.6 and scores[-1] < 0.4, scores  # the same batch still reads real reviews
    alone = model.predict(np.array(["😀😀😀"], dtype=object), verbose=0).ravel()
    np.testing.assert_allclose(alone, scores[1:2], atol=1e-5)
