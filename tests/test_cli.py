"""`kerazoo` subcommands print what they promise."""
import os
import shutil
import subprocess
import sys

import pytest

import kerazoo
from kerazoo import cli


def test_console_script_lists_models():
    exe = shutil.which("kerazoo") or pytest.skip("console script not on PATH")
    out = subprocess.run([exe, "list", "imdb_*"], capture_output=True, text=True, check=True).stdout
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["imdb_gru", "imdb_lstm", "imdb_rnn"]


def test_list_table(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["name", "task", "params"]
    assert "61,706" in out and "60,965,224" in out


def test_list_no_match_fails(capsys):
    assert cli.main(["list", "zzz*"]) == 1
    assert "No models match" in capsys.readouterr().err


def test_info(capsys):
    assert cli.main(["info", "imdb_lstm"]) == 0
    out = capsys.readouterr().out
    assert "imdb_lstm  (imdb_rnn family, text-classification)" in out
    assert "clipnorm: 1.0" in out and "parameters: 2,609,473" in out


def test_info_rounds_metrics_and_json_keeps_them(capsys):
    import json

    card = kerazoo.describe("lenet5")["weights"]["mnist"]["metrics"]
    assert cli.main(["info", "lenet5"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if "lenet5.mnist:" in line)
    assert f"test_accuracy={card['test_accuracy']:.4g}," in line and str(card["test_accuracy"]) not in line
    assert cli.main(["info", "lenet5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["weights"]["mnist"]["metrics"] == card


def test_summary_with_overrides(capsys):
    assert cli.main(["summary", "lenet5", "--set", "variant=modern", "--set", "input_shape=[28,28]"]) == 0
    out = capsys.readouterr().out
    assert "c1_bn" in out and "pad (ZeroPadding2D)" in out and "62,132" in out


def test_bad_override_is_a_clear_error(capsys):
    assert cli.main(["summary", "lenet5", "--set", "clases=3"]) == 2
    assert "unknown key 'clases'" in capsys.readouterr().err


def test_unknown_model_is_a_clear_error(capsys):
    assert cli.main(["info", "lenet"]) == 2
    assert "Closest: lenet5" in capsys.readouterr().err


def test_plot_without_graphviz_says_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli.shutil, "which", lambda name: None)
    out = tmp_path / "m.png"
    assert cli.main(["plot", "lenet5", "-o", str(out)]) == 2
    assert "Graphviz's `dot` program" in capsys.readouterr().err and not out.exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed")
def test_plot_writes_png(tmp_path):
    out = tmp_path / "lenet5.png"
    assert cli.main(["plot", "lenet5", "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args", [[], ["list"], ["info"], ["summary"], ["plot"]])
def test_help_everywhere(args):
    result = subprocess.run([sys.executable, "-m", "kerazoo.cli", *args, "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "usage: kerazoo" in result.stdout


@pytest.mark.parametrize("flags, user_env, quiet", [([], {}, True), (["--verbose"], {}, False),
                                                     ([], {"TF_CPP_MIN_LOG_LEVEL": "0"}, False)],
                         ids=["default", "verbose", "user-level-0"])
def test_tensorflow_start_up_logs_only_when_asked(flags, user_env, quiet):
    """A command that imports TensorFlow prints nothing on stderr (no absl pre-init lines, oneDNN notice, or
    'failed call to cuInit' on machines without a GPU) unless `--verbose` or the user's TF_CPP_MIN_LOG_LEVEL asks."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"} | user_env
    result = subprocess.run([sys.executable, "-m", "kerazoo.cli", "summary", "lenet5", *flags], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Total params: 61,706" in result.stdout
    if quiet:
        assert result.stderr == ""
    else:  # TensorFlow's own start-up lines (which ones depends on the machine)
        assert result.stderr.strip()
