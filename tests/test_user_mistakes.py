"""User mistakes get one clear line before anything heavy starts."""
import subprocess
import sys

import pytest

import kerazoo
from kerazoo import cli
from kerazoo.errors import ConfigError


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
