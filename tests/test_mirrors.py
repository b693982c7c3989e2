"""Copies of artifacts verify against the index that published them (issue 28): a copy of a shipped artifact
against the package's saved_models/index.json."""
import json
import shutil

from kerazoo import artifacts, cli

SHIPPED = artifacts.shipped_dir() / "lenet5.mnist"


def _run(argv, capsys):
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_copy_of_a_shipped_artifact_verifies_against_the_package_index(tmp_path, capsys):
    copy = tmp_path / "copies" / "lenet5.mnist"
    shutil.copytree(SHIPPED, copy)
    code, out, _ = _run(["verify", str(copy)], capsys)
    assert code == 0 and "lenet5.mnist: ok" in out
    renamed = tmp_path / "copies" / "digits-model"  # the card's name finds its index entry
    shutil.copytree(SHIPPED, renamed)
    assert _run(["verify", str(renamed)], capsys)[0] == 0
    card = json.loads((copy / "card.json").read_text())
    card["metrics"]["test_accuracy"] = 0.999
    (copy / "card.json").write_text(json.dumps(card, indent=2))
    code, out, _ = _run(["verify", str(copy)], capsys)
    index = artifacts.shipped_dir() / "index.json"
    recorded = json.loads(index.read_text())["lenet5.mnist"]["card_sha256"]
    assert code == 1 and f"(sha256 {artifacts.sha256(copy / 'card.json')}, recorded {recorded} in {index}" in out
    tflite = renamed / "model.tflite"
    tflite.write_bytes(tflite.read_bytes()[:-1] + b"\x00")
    code, out, _ = _run(["verify", str(renamed)], capsys)
    listed = json.loads((SHIPPED / "card.json").read_text())["files"]["model.tflite"]["sha256"]
    assert code == 1 and f"model.tflite does not match its card (sha256 {artifacts.sha256(tflite)}, card says " \
                         f"{listed})" in out
