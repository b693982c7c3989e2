"""Cards are read through one validating reader (issue 25, item 5): a malformed card is `BROKEN` in
`kerazoo list --pretrained` and an error naming the field in `info`, `verify` and `get`, never a
KeyError or AttributeError traceback, and it breaks only its own artifact."""
import json
import shutil

import pytest

import kerazoo
from kerazoo import artifacts, cards, cli

SHIPPED = artifacts.shipped_dir() / "lenet5.mnist"


def _user_card(store, edit, *, rehash=True, name="lenet5.mine"):
    """A user copy of lenet5.mnist whose card `edit` changed (its card.sha256 updated to match when `rehash`,
    as someone editing it by hand would do to get past the hash check)."""
    folder = store / name
    shutil.copytree(SHIPPED, folder)
    card = json.loads((folder / "card.json").read_text())
    card.update(name=name, tag=name.split(".")[1])
    edit(card)
    (folder / "card.json").write_text(json.dumps(card, indent=2))
    (folder / "card.sha256").write_text((artifacts.sha256(folder / "card.json") if rehash else "0" * 64) + "  card.json\n")
    return folder


def _drop(key):
    return lambda card: card.pop(key)


def _set(key, value):
    return lambda card: card.__setitem__(key, value)


# the cases: num_params removed; formats, metrics, files of the wrong type; and a few more a hand edit makes
BAD_CARDS = {
    "num_params removed": (_drop("num_params"), "`num_params` is missing"),
    "formats a list": (_set("formats", ["onnx"]), "`formats` should be an object, not a list"),
    "formats a string": (_set("formats", "onnx"), "`formats` should be an object, not the string \"onnx\""),
    "metrics a list": (_set("metrics", [0.99]), "`metrics` should be an object, not a list"),
    "metrics a string": (_set("metrics", "good"), "`metrics` should be an object"),
    "a metric a string": (_set("metrics", {"test_accuracy": "0.99"}), "`metrics.test_accuracy` should be a number"),
    "files a list": (_set("files", ["model.keras"]), "`files` should be an object, not a list"),
    "files null": (_set("files", None), "`files` should be an object, not null"),
    "a file without its hash": (lambda c: c["files"]["model.keras"].pop("sha256"),
                                "`files['model.keras'].sha256` is missing"),
    "a file outside the folder": (lambda c: c["files"].__setitem__("../../../etc/passwd", {"bytes": 1, "sha256": "0" * 64}),
                                  "is not a relative path inside the artifact folder"),
    "num_params a string": (_set("num_params", "62,132"), "`num_params` should be an integer"),
    "a format entry a string": (lambda c: c["formats"].__setitem__("onnx", "model.onnx"),
                                "`formats.onnx` should be an object"),
    "core a list": (_set("core", []), "`core` should be an object"),
}


@pytest.mark.parametrize("case", sorted(BAD_CARDS))
def test_a_malformed_card_is_broken_in_list_and_named_everywhere_else(case, store, capsys):
    edit, message = BAD_CARDS[case]
    _user_card(store, edit)
    assert cli.main(["list", "--pretrained"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("lenet5.mine "))
    assert "BROKEN" in row and message in row, row
    assert any(line.startswith("lenet5.mnist ") and " ok " in line for line in out.splitlines()), out
    assert cli.main(["info", "lenet5"]) == 0
    assert "lenet5.mnist:" in capsys.readouterr().out
    assert cli.main(["list"]) == 0 and "lenet5.mine(broken)" in capsys.readouterr().out
    for args in (["verify", "lenet5.mine"], ["verify"], ["verify", str(store / "lenet5.mine")]):
        assert cli.main(args) == 1
        out = capsys.readouterr().out
        assert "lenet5.mine: FAILED" in out and message in out, (args, out)
        assert "lenet5.mnist: ok" in out or args != ["verify"]
    with pytest.raises(kerazoo.WeightsError, match="not a valid artifact card") as caught:
        kerazoo.get("lenet5.mine")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_malformed_card_without_a_matching_hash_is_still_named(store, capsys):
    """`list` reads cards before any hash is checked: a card edited without its hash updated must not crash it."""
    _user_card(store, _drop("num_params"), rehash=False)
    assert cli.main(["list", "--pretrained"]) == 0
    assert "`num_params` is missing" in capsys.readouterr().out


def test_a_card_that_is_not_an_object_is_named(store, capsys):
    folder = _user_card(store, lambda card: None)
    for text, message in (("[]", "the card should be an object, not a list"), ('"x"', "not the string"),
                          ("1e999", "not the number"), ("[" * 100_000, "not valid JSON")):
        (folder / "card.json").write_text(text)
        assert cli.main(["list", "--pretrained"]) == 0
        assert message in capsys.readouterr().out


def test_every_shipped_card_and_a_fresh_export_follow_the_schema():
    for artifact in artifacts.artifacts().values():
        if artifact.shipped:
            cards.check_card(json.loads((artifact.folder / "card.json").read_text()), artifact.name)


def test_the_schema_is_a_json_document_and_unknown_fields_are_kept(store):
    json.loads(json.dumps(cards.SCHEMA))  # what other programs can use as card.schema.json
    _user_card(store, _set("my_own_field", {"a": 1}))
    assert artifacts.find("lenet5", "mine").card["my_own_field"] == {"a": 1}
    assert kerazoo.verify("lenet5.mine") == {"lenet5.mine": None}
