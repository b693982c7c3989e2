"""`kerazoo predict` and the fine-tuned artifact as users have their files: a letter folder of several
sizes and colour modes is fine-tuned through the CLI, then the artifact answers new files (through
`kerazoo predict` and `kerazoo.get(...).predict`) with its own class names and preprocessing, is
exported in every format calibrated on its own files, and the shipped text, date, word and
reconstruction models answer text files, a CSV with quoted newlines and standard input."""
import csv
import io
import json
import shutil

import numpy as np
import pytest

import kerazoo
from kerazoo import artifacts, cli
from kerazoo.data import folders
from kerazoo.testing import letter_images, review_texts, synthetic_digits

LETTERS = "abc"


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """lenet5.mine fine-tuned through the CLI on letters of several sizes and colour modes, in its own store."""
    root = tmp_path_factory.mktemp("predict")
    letter_images(root / "letters", LETTERS.upper(), per_class=12, seed=3)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KERAZOO_MODELS", str(root / "store"))
        mp.chdir(root)
        assert cli.main(["finetune", "lenet5.mnist", "--data", str(root / "letters"), "--tag", "mine",
                         "--head-epochs", "8", "--finetune-epochs", "6", "--lr", "3e-3", "--batch-size", "8",
                         "--output", str(root / "run")]) == 0
        yield root


@pytest.fixture
def store(tuned, monkeypatch):
    monkeypatch.setenv("KERAZOO_MODELS", str(tuned / "store"))
    monkeypatch.chdir(tuned)
    return tuned / "store"


def _new_letters(folder, seed=11):
    """Letters drawn afresh (not the training files), with a broken PNG and a note among them."""
    files = letter_images(folder, LETTERS.upper(), per_class=4, seed=seed)
    (folder / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "notes.md").write_text("not an image")
    return files


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_predict_a_folder_of_new_images_through_the_cli(tuned, store, tmp_path, capsys):
    new = tmp_path / "new"
    _new_letters(new)
    assert cli.main(["predict", "lenet5.mine", str(new), "--top", "2", "--output", str(tmp_path / "a.csv")]) == 0
    out, err = capsys.readouterr()
    rows = _rows(tmp_path / "a.csv")
    assert "wrote 12 answers" in out and len(rows) == 12
    assert "skipped 2 of 14 inputs" in err and f"{new / 'b' / 'broken.png'}: unreadable image" in err
    assert f"{new / 'notes.md'}: not an image" in err and "Traceback" not in err
    truth = [r["input"].split("/")[-2] for r in rows]
    assert np.mean([r["label"] == t for r, t in zip(rows, truth)]) >= 0.9, rows  # letters it never saw
    assert all(r["label"] in LETTERS and r["label_2"] in LETTERS and r["label"] != r["label_2"] for r in rows)
    assert all(float(r["probability"]) >= float(r["probability_2"]) for r in rows)

    model = kerazoo.get("lenet5.mine")  # the same numbers as the model on the files read as in training
    probs = model.predict(folders.read_images([r["input"] for r in rows], like=model), verbose=0)
    np.testing.assert_allclose([float(r["probability"]) for r in rows], probs.max(-1), rtol=1e-4)
    assert [r["label"] for r in rows] == [LETTERS[i] for i in probs.argmax(-1)]

    assert cli.main(["predict", "lenet5.mine", str(new / "a"), str(new / "c" / "000.png"), "--top", "1"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["input", "answer", "(probability)"] and len(table) == 6
    assert table[-1].startswith(str(new / "c" / "000.png")) and table[-1].split()[1] in LETTERS

    assert cli.main(["predict", "lenet5.mine", str(new / "notes.md"), str(tmp_path / "missing.png")]) == 1
    err = capsys.readouterr().err
    assert "skipped 2 of 2 inputs" in err and "missing.png: no such file or folder" in err


@pytest.mark.slow
def test_the_artifact_takes_images_as_they_are_and_answers_with_class_names(tuned, store):
    model = kerazoo.get("lenet5.mine")
    assert model.class_names == list(LETTERS)
    assert model.preprocessing["shape"] == [28, 28] and model.preprocessing["dtype"] == "uint8"
    files = sorted(str(p) for p in (tuned / "letters").glob("*/*"))[::5]
    from_paths = model.predict(files, verbose=0)
    np.testing.assert_allclose(from_paths, model.predict(folders.read_images(files, like=model), verbose=0))
    names = model.predict_names(files)
    assert np.mean([n == f.split("/")[-2] for n, f in zip(names, files)]) >= 0.9  # training files: learned

    rgb = np.random.default_rng(0).integers(0, 256, (3, 40, 36, 3), dtype=np.uint8)  # RGB 40x36, as uint8
    expected = model.predict(folders.read_images(list(rgb), like=model), verbose=0)
    np.testing.assert_allclose(model.predict(rgb, verbose=0), expected, rtol=1e-5)
    decoded = model.decode(expected, top=2)
    assert [[n for n, _ in d] for d in decoded] == [[LETTERS[i] for i in np.argsort(-p)[:2]] for p in expected]
    assert model.predict_names([rgb[0], files[0]])[1] == names[0]

    shipped = kerazoo.get("lenet5.mnist")  # a shipped model keeps its exact input check for arrays
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        shipped.predict(rgb)
    assert shipped.class_names == [str(d) for d in range(10)]


@pytest.mark.slow
def test_export_of_the_fine_tune_in_every_format(tuned, store, capsys):
    card = artifacts.verify(store / "lenet5.mine")
    assert cli.main(["export", "lenet5.mine", "--overwrite", "--format", "all"]) == 0
    card = artifacts.verify(store / "lenet5.mine")
    held = card["data"]["held_out_examples"]["validation"]
    assert card["formats_measured_on"].startswith(f"{len(held)} held-out examples of letters")
    for fmt in ("saved_model", "litert", "litert_int8", "onnx"):
        assert "unsupported" not in card["formats"][fmt], card["formats"][fmt]
    # the same examples as the fine-tune's own measurement: the SavedModel scores what the card says
    assert card["formats"]["saved_model"]["metrics"]["test_accuracy"] == card["metrics"]["val_accuracy"]
    assert "calibrated on" in card["formats"]["litert_int8"]["quantization"]
    runner = kerazoo.get("lenet5.mine", format="onnx")
    model = kerazoo.get("lenet5.mine")
    x = folders.read_images([tuned / "letters" / h for h in held], like=model)
    np.testing.assert_allclose(np.asarray(runner(x)), model.predict(x, verbose=0), atol=1e-5)

    moved = tuned / "moved"
    shutil.move(tuned / "letters", moved)  # the files are not where the card says any more
    try:
        assert cli.main(["export", "lenet5.mine", "--overwrite", "--format", "litert_int8"]) == 0
        reason = artifacts.verify(store / "lenet5.mine")["formats"]["litert_int8"]["unsupported"]
        assert "--data PATH" in reason and str(tuned / "letters") in reason
        assert cli.main(["export", "lenet5.mine", "--overwrite", "--format", "litert_int8", "--data", str(moved)]) == 0
        assert "unsupported" not in artifacts.verify(store / "lenet5.mine")["formats"]["litert_int8"]
    finally:
        shutil.move(moved, tuned / "letters")


def test_text_files_a_csv_column_and_stdin_through_the_cli(tmp_path, capsys, monkeypatch):
    texts = tmp_path / "texts"
    texts.mkdir()
    reviews = {f"{label}{i}.txt": (label, t) for label in ("pos", "neg") for i, t in
               enumerate(["A wonderful, superb film. Loved it.", "Brilliant and great; a masterpiece."]
                         if label == "pos" else ["Awful, boring and dull.", "Bad. I hated every minute."])}
    for name, (_, text) in reviews.items():
        (texts / name).write_text(text, encoding="utf-8")
    (texts / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))  # not utf-8: listed and skipped
    assert cli.main(["predict", "imdb_gru.imdb", str(texts), "--output", str(tmp_path / "t.json")]) == 0
    answers = json.loads((tmp_path / "t.json").read_text())
    skipped = answers["skipped"]
    assert skipped[0]["input"] == str(texts / "latin.txt") and "not valid utf-8" in skipped[0]["why"]
    got = {a["input"].split("/")[-1]: a["answers"] for a in answers["answers"]}
    assert {n: a[0]["label"] for n, a in got.items()} == \
        {n: {"pos": "positive", "neg": "negative"}[label] for n, (label, _) in reviews.items()}
    assert all(abs(a[0]["probability"] + a[1]["probability"] - 1) < 1e-6 for a in got.values())

    table = tmp_path / "opinions.csv"
    rows = [("1", 'Loved it, "superb"\nand brilliant.'), ("2", "Awful,\nboring\nand dull."), ("3", "Great fun.")]
    with open(table, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("id", "review"), *rows])
    assert cli.main(["predict", "imdb_gru.imdb", str(table), "--column", "review", "--top", "1",
                     "--output", str(tmp_path / "o.csv")]) == 0
    out = _rows(tmp_path / "o.csv")
    assert [r["input"] for r in out] == [f"{table} line {n}" for n in (2, 4, 7)]  # quoted newlines stay in the row
    assert [r["label"] for r in out] == ["positive", "negative", "positive"]
    assert cli.main(["predict", "imdb_gru.imdb", str(table)]) == 2
    assert "no column 'text'" in capsys.readouterr().err

    lines = [t for t in review_texts("pos", 70, seed=1) + review_texts("neg", 70, seed=1)]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(t.replace("\n", " ") for t in lines)))
    assert cli.main(["predict", "imdb_gru.imdb", "-", "--batch-size", "32", "--output", str(tmp_path / "s.csv")]) == 0
    err = capsys.readouterr().err
    assert "predicting: 140/140 inputs" in err and "predicting: 32/140" in err  # the progress bar on stderr
    assert len(_rows(tmp_path / "s.csv")) == 140


def test_dates_words_and_reconstructions(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("March 3, 2001\nhello there\n\n12/25/1999\n"))
    assert cli.main(["predict", "seq2seq_attention.dates", "-", "--output", str(tmp_path / "d.csv")]) == 0
    rows = _rows(tmp_path / "d.csv")
    assert [(r["input"], r["label"], r["valid"]) for r in rows] == [
        ("March 3, 2001", "2001-03-03", "True"), ("hello there", "", "False"), ("12/25/1999", "1999-12-25", "True")]
    assert rows[1]["flag"] == "not_a_date"

    words = tmp_path / "words.txt"
    words.write_text("good\nxqzzy\nfilm\n")
    assert cli.main(["predict", "word2vec.imdb", str(words), "--top", "3", "--output", str(tmp_path / "w.json")]) == 0
    answers = json.loads((tmp_path / "w.json").read_text())
    assert [a["input"] for a in answers["answers"]] == ["good", "film"]
    vectors = kerazoo.get("word2vec.imdb").word_vectors()
    assert [x["label"] for x in answers["answers"][1]["answers"]] == [w for w, _ in vectors.most_similar("film", 3)]
    np.testing.assert_allclose(answers["answers"][0]["vector"], vectors["good"], rtol=1e-6)
    assert answers["skipped"][0]["input"] == "xqzzy" and "not in the vocabulary" in answers["skipped"][0]["why"]

    digits, _ = synthetic_digits(3, seed=0)
    noise = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    for i, image in enumerate([*digits, noise]):
        import PIL.Image

        PIL.Image.fromarray(image).save(tmp_path / f"{i}.png")
    result = kerazoo.predict("autoencoder.mnist", [tmp_path / f"{i}.png" for i in range(4)])
    errors = [r["answers"][0][1] for r in result.rows]
    assert max(errors[:3]) < errors[3] / 3, errors  # digits reconstruct, noise does not

    assert cli.main(["predict", "dcgan.mnist", str(tmp_path)]) == 2
    assert "no answer per input" in capsys.readouterr().err


def test_python_api_on_a_model_and_bad_arguments(tmp_path):
    model = kerazoo.get("imdb_gru.imdb")
    assert model.predict_names(["a wonderful, superb film", "awful and boring"]) == ["positive", "negative"]
    (tmp_path / "r.txt").write_text("Brilliant, loved it.")
    result = kerazoo.predict(model, tmp_path / "r.txt", top=1)
    assert result.task == "text-classification" and result.rows[0]["answers"][0][0] == "positive"
    with pytest.raises(kerazoo.DataError, match="top must be a positive integer"):
        kerazoo.predict(model, tmp_path, top=0)
    with pytest.raises(kerazoo.DataError, match=r"\.csv, \.tsv or \.json"):
        result.write(tmp_path / "answers.xlsx")
