"""User mistakes get one clear line before anything heavy starts, and data that would train silently
wrong is refused with what to change."""
import subprocess
import sys

import numpy as np
import pytest

import kerazoo
from kerazoo import cli, data
from kerazoo.errors import ConfigError, DataError


def _kerazoo(*args):
    return subprocess.run([sys.executable, "-m", "kerazoo.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def _one_clear_line(result):
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("kerazoo ")]
    assert len(lines) == 1, result.stderr[-2000:]
    return lines[0]


def test_malformed_yaml_in_config_and_set(tmp_path):
    overlay = tmp_path / "best.yaml"
    overlay.write_text("recipe:\n  epochs: 3\n  batch_size: [32\n")
    line = _one_clear_line(_kerazoo("train", "lenet5", "--config", overlay, "--output", tmp_path / "run"))
    assert f"{overlay}:4:1: not valid YAML" in line  # file, line, column
    line = _one_clear_line(_kerazoo("summary", "lenet5", "--set", "input_shape=[28,28"))
    assert "--set input_shape: '[28,28' is not valid YAML" in line and "Values are read as YAML" in line
    assert not (tmp_path / "run").exists()


def test_unknown_callback_option_is_named_with_its_file(tmp_path, capsys):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("recipe:\n  callbacks:\n    early_stopping: {monitr: val_loss, patience: 2}\n")
    # no data directory: the config error comes first, before any data is looked for
    assert cli.main(["train", "lenet5", "--config", str(overlay), "--data-dir", str(tmp_path / "none"),
                     "--output", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert f"{overlay} (recipe): callbacks.early_stopping: unknown option 'monitr'. Did you mean 'monitor'?" in err
    assert "Accepted: monitor, min_delta, patience" in err and not (tmp_path / "run").exists()
    overlay.write_text("recipe:\n  callbacks:\n    early_stopping: {patience: three}\n")
    assert cli.main(["train", "lenet5", "--config", str(overlay), "--data-dir", str(tmp_path / "none")]) == 2
    assert "callbacks.early_stopping.patience: expected float, received 'three'" in capsys.readouterr().err
    overlay.write_text("recipe:\n  callbacks:\n    early_stoping: {patience: 3}\n")
    assert cli.main(["train", "lenet5", "--config", str(overlay), "--data-dir", str(tmp_path / "none")]) == 2
    assert "unknown callback 'early_stoping'. Did you mean 'early_stopping'?" in capsys.readouterr().err


def test_nan_and_infinite_values_are_refused():
    with pytest.raises(ConfigError, match=r"'rescaling' expected float \| None \(a finite number\), received nan"):
        kerazoo.get("lenet5", rescaling=float("nan"))
    with pytest.raises(ConfigError, match="a finite number"):
        kerazoo.get("lenet5", dropout=float("inf"))
    line = _one_clear_line(_kerazoo("summary", "lenet5", "--set", "rescaling=.nan"))
    assert "'rescaling' expected float | None (a finite number), received nan" in line


def test_sizes_that_cannot_fit_stop_before_allocating(tmp_path):
    line = _one_clear_line(_kerazoo("train", "lenet5", "--set", "classes=1000000000", "--data-dir", tmp_path,
                                    "--output", tmp_path / "run"))
    assert "lenet5: classes=1000000000 gives 85,000,061,282 parameters" in line and "GiB of memory" in line
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match=r"units=\(1000000, 1000000\) gives .* parameters"):
        kerazoo.get("imdb_lstm", units=(1_000_000, 1_000_000))
    assert kerazoo.get("lenet5").count_params() == 61_706  # a normal build is unchanged by the check


def _float_digits(*, data_dir=None, nan_every=0, scale=1 / 255):
    rng = np.random.default_rng(0)
    y = np.arange(200) % 10
    x = rng.integers(0, 256, (200, 28, 28)).astype("float32") * scale
    if nan_every:
        x[::nan_every, 3, 3] = np.nan
    return {"train": (x[:160], y[:160]), "test": (x[160:], y[160:])}


def test_floats_in_unit_range_to_a_model_that_rescales_by_1_over_255(tmp_path, monkeypatch):
    monkeypatch.setitem(data.LOADERS, "float_digits", _float_digits)
    with pytest.raises(DataError, match=r"float_digits \(train split\): the images lie in \[0, 1\], but the model "
                                        r"rescales its inputs by 0.00392157"):
        kerazoo.train("lenet5", dataset="float_digits", epochs=1, output=tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()
    result = kerazoo.train("lenet5", dataset="float_digits", epochs=1, output=tmp_path / "run",  # what the message says
                           model_overrides={"rescaling": None}, verbose=0)
    assert result.metrics["test_accuracy"] >= 0


def test_nan_in_training_images_stops_the_run(tmp_path, monkeypatch):
    monkeypatch.setitem(data.LOADERS, "nan_digits", lambda data_dir=None: _float_digits(nan_every=7))
    with pytest.raises(DataError, match=r"\d+ of 144 images hold NaN or inf values \(first at index \d+\)"):
        kerazoo.train("lenet5", dataset="nan_digits", epochs=1, output=tmp_path / "run",
                      model_overrides={"rescaling": None}, verbose=0)


def test_finetune_checks_arrays_and_pipelines_against_the_model(tmp_path, capsys):
    model = kerazoo.get("lenet5", weights="mnist", classes=5)
    x = np.random.default_rng(0).integers(0, 256, (40, 28, 28)).astype("uint8")
    y = np.arange(40) % 5
    with pytest.raises(DataError, match=r"finetune train data: the images lie in \[0, 1\]"):
        kerazoo.finetune(model, (x / 255.0, y), head_epochs=1, finetune_epochs=0, verbose=0)
    with pytest.raises(DataError, match=r"6 training labels lie outside the 5 classes 0..4"):
        kerazoo.finetune(model, (x, np.arange(40) % 6), head_epochs=1, finetune_epochs=0, verbose=0)
    bad = x.astype("float32")
    bad[5, 0, 0] = np.inf
    import tensorflow as tf

    with pytest.raises(DataError, match=r"1 of \d+ images hold NaN or inf values"):
        kerazoo.finetune(model, tf.data.Dataset.from_tensor_slices((bad, y)).batch(40), head_epochs=1,
                         finetune_epochs=0, verbose=0)
    kerazoo.finetune(model, (x, y), head_epochs=1, finetune_epochs=0, verbose=0)  # raw uint8 digits: fine

    # the command line: digits have labels 0..9, a 5-class head cannot learn them
    assert cli.main(["finetune", "lenet5", "--weights", "mnist", "--dataset", "digits", "--set", "classes=5",
                     "--head-epochs", "1", "--finetune-epochs", "0", "--output", str(tmp_path / "m.keras")]) == 2
    assert "labels lie outside the 5 classes 0..4" in capsys.readouterr().err
