"""Fine-tuning on the user's own data: image folders, text folders and tables, through the CLI as a
user would type it; the artifact it writes loads by name, its card metrics are recomputed from the
saved files, and bad folders get one line naming the file and the problem (exit code 2)."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kerazoo
from kerazoo import artifacts, cli
from kerazoo.data import folders
from kerazoo.testing import letter_images, review_folder, review_texts


def _kerazoo(*args, cwd, store):
    """`kerazoo ARGS` in a subprocess with its own user store; returns the finished process."""
    env = {**os.environ, "KERAZOO_MODELS": str(store), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "kerazoo.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


def _card(store, name):
    folder = Path(store) / name
    return artifacts.verify(folder), folder


def _check_card(card, class_names, source_name):
    assert card["class_names"] == class_names
    source = artifacts.find(*source_name.split("."))
    assert card["source"]["name"] == source_name
    assert card["source"]["card_sha256"] == artifacts.sha256(source.folder / "card.json")
    assert card["source"]["model_keras_sha256"] == artifacts.sha256(source.folder / "model.keras")
    baseline = card["finetune"]["baseline_from_scratch"]
    assert card["metrics"]["val_accuracy"] > baseline["val_accuracy"], (card["metrics"], baseline)


def _recomputed(probs, y, card):
    """The card's validation metrics recomputed from predictions of the saved model."""
    probs = np.asarray(probs)
    predicted = probs.argmax(-1) if probs.shape[-1] > 1 else (probs[:, 0] > 0.5).astype(int)
    assert np.mean(predicted == y) == pytest.approx(card["metrics"]["val_accuracy"], abs=1e-9)
    assert card["metrics"]["val_error"] == pytest.approx(1 - card["metrics"]["val_accuracy"], abs=1e-9)
    p = np.clip(probs, 1e-7, 1 - 1e-7)
    loss = -np.log(p[np.arange(len(y)), y]) if probs.shape[-1] > 1 else \
        -(y * np.log(p[:, 0]) + (1 - y) * np.log(1 - p[:, 0]))
    assert float(np.mean(loss)) == pytest.approx(card["metrics"]["val_loss"], rel=1e-3, abs=1e-4)


@pytest.mark.slow
def test_image_folder_through_the_cli(tmp_path, monkeypatch):
    """PNG/JPEG letters of several sizes and colour modes -> lenet5.myletters, which beats the same
    architecture from scratch; its files reproduce the card's metrics, through read_image and the SavedModel."""
    data, store = tmp_path / "My Letters", tmp_path / "store"
    letter_images(data, "ABCD", per_class=14, seed=3)
    done = _kerazoo("finetune", "lenet5.mnist", "--data", data, "--tag", "myletters", "--baseline",
                    "--validation-split", "0.25", "--head-epochs", "8", "--finetune-epochs", "6", "--lr", "3e-3",
                    "--batch-size", "8", "--output", tmp_path / "run", cwd=tmp_path, store=store)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "lenet5.myletters: val_loss=" in done.stdout and "from scratch: val_loss=" in done.stdout
    card, folder = _card(store, "lenet5.myletters")
    _check_card(card, ["a", "b", "c", "d"], "lenet5.mnist")
    assert card["preprocessing"]["dtype"] == "uint8" and card["preprocessing"]["shape"] == [28, 28]
    assert card["model"]["classes"] == 4 and card["data"]["examples"] == {"train": 40, "validation": 16}
    held = card["data"]["held_out_examples"]["validation"]
    assert sorted({h.split("/")[0] for h in held}) == ["a", "b", "c", "d"]  # stratified
    for png in ("learning_curves.png", "confusion_matrix.png"):
        assert (tmp_path / "run" / png).stat().st_size > 10_000

    monkeypatch.setenv("KERAZOO_MODELS", str(store))
    model = kerazoo.get("lenet5.myletters")
    served = kerazoo.load_saved_model("lenet5.myletters").signatures["serving_default"]
    x = folders.read_images([data / h for h in held], like=model)
    y = np.array([card["class_names"].index(h.split("/")[0]) for h in held])
    assert x.dtype == np.uint8 and x.shape == (len(held), 28, 28)
    probs = model.predict(x, verbose=0)
    _recomputed(probs, y, card)
    import tensorflow as tf

    out = served(tf.constant(x))
    np.testing.assert_allclose(next(iter(out.values())).numpy(), probs, atol=1e-5)


@pytest.mark.slow
@pytest.mark.long
def test_text_folder_in_a_named_encoding_through_the_cli(tmp_path):
    data, store = tmp_path / "reviews", tmp_path / "store"
    review_folder(data, per_class=40, encoding="cp1252", seed=5)
    done = _kerazoo("finetune", "imdb_gru.imdb", "--data", data, "--encoding", "cp1252", "--baseline",
                    "--validation-split", "0.25", "--head-epochs", "10", "--finetune-epochs", "5", "--lr", "3e-3",
                    "--batch-size", "8", cwd=tmp_path, store=store)
    assert done.returncode == 0, done.stderr[-3000:]
    card, _ = _card(store, "imdb_gru.reviews")  # the tag comes from the folder's name
    _check_card(card, ["neg", "pos"], "imdb_gru.imdb")
    assert card["model"]["classes"] == 1 and card["model"]["classifier_activation"] == "sigmoid"  # binary head
    assert card["preprocessing"]["encoding"] == "cp1252"
    assert (tmp_path / "kerazoo_runs" / "imdb_gru.reviews" / "confusion_matrix.png").is_file()
    held = card["data"]["held_out_examples"]["validation"]
    texts = [folders.read_text(data / h, encoding="cp1252") for h in held]
    assert any("é" in t or "—" in t for t in texts)
    model = kerazoo.get("imdb_gru", weights=store / "imdb_gru.reviews")  # raw strings in
    y = np.array([card["class_names"].index(h.split("/")[0]) for h in held])
    _recomputed(model.predict(np.array(texts, dtype=object), verbose=0), y, card)


@pytest.mark.slow
@pytest.mark.long
def test_csv_with_quoted_commas_and_newlines_through_the_cli(tmp_path):
    store, table = tmp_path / "store", tmp_path / "opinions.csv"
    rows = [(text, label) for label in ("pos", "neg") for text in review_texts(label, 40, seed=7)]
    rows = [rows[i] for i in np.random.default_rng(0).permutation(len(rows))]
    with open(table, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "review", "sentiment"])
        writer.writerows((i, text, label) for i, (text, label) in enumerate(rows))
    assert any("," in t and "\n" in t for t, _ in rows)
    starts, line = [], 2  # the line each row starts on (a quoted newline continues the row on the next line)
    for text, _ in rows:
        starts.append(line)
        line += 1 + text.count("\n")
    done = _kerazoo("finetune", "imdb_gru", "--weights", "imdb", "--data", table, "--text-column", "review",
                    "--label-column", "sentiment", "--tag", "opinions", "--baseline", "--validation-split", "0.25",
                    "--head-epochs", "10", "--finetune-epochs", "5", "--lr", "3e-3", "--batch-size", "8",
                    cwd=tmp_path, store=store)
    assert done.returncode == 0, done.stderr[-3000:]
    card, folder = _card(store, "imdb_gru.opinions")
    _check_card(card, ["neg", "pos"], "imdb_gru.imdb")
    by_line = {f"line {s}": row for s, row in zip(starts, rows)}
    held = [by_line[h] for h in card["data"]["held_out_examples"]["validation"]]
    model = kerazoo.get("imdb_gru", weights=folder)
    y = np.array([card["class_names"].index(label) for _, label in held])
    _recomputed(model.predict(np.array([t for t, _ in held], dtype=object), verbose=0), y, card)

    # exported in a fresh process (its vectorizer's standardisation registered there too), measured on its own rows
    done = _kerazoo("export", "imdb_gru.opinions", "--overwrite", "--format", "litert,onnx", cwd=tmp_path, store=store)
    assert done.returncode == 0, done.stderr[-3000:]
    card, _ = _card(store, "imdb_gru.opinions")
    for fmt in ("saved_model", "litert", "onnx"):
        assert card["formats"][fmt]["metrics"]["test_accuracy"] == pytest.approx(card["metrics"]["val_accuracy"])


# === Bad data: one line naming the file and the problem ===

def _fails(capsys, *args):
    code = cli.main(["finetune", *map(str, args)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    return err


def test_bad_folders_and_tables_get_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERAZOO_MODELS", str(tmp_path / "store"))
    letters = tmp_path / "letters"
    letter_images(letters, "AB", per_class=3)

    (tmp_path / "one").mkdir()
    letter_images(tmp_path / "one", "A", per_class=3)
    err = _fails(capsys, "lenet5.mnist", "--data", tmp_path / "one")
    assert str(tmp_path / "one") in err and "one class folder ('a')" in err

    (letters / "c").mkdir()
    (letters / "c" / "notes.webp").write_bytes(b"RIFF")
    err = _fails(capsys, "lenet5.mnist", "--data", letters)
    assert f"{letters / 'c'}: no images" in err and ".webp" in err
    (letters / "c" / "notes.webp").unlink()
    (letters / "c").rmdir()

    (letters / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    err = _fails(capsys, "lenet5.mnist", "--data", letters)
    assert f"{letters / 'b' / 'broken.png'}: unreadable image" in err
    (letters / "b" / "broken.png").unlink()

    table = tmp_path / "t.csv"
    table.write_text('text,label\n"good, really",pos\n"bad,\nsad",neg\nno label here,\nfine,pos\n', encoding="utf-8")
    err = _fails(capsys, "imdb_gru.imdb", "--data", table)
    assert f"{table} line 5: no label in column 'label'" in err
    err = _fails(capsys, "imdb_gru.imdb", "--data", table, "--text-column", "review")
    assert "no column 'review'" in err and "'text', 'label'" in err

    texts = tmp_path / "texts"
    review_folder(texts, per_class=3)
    (texts / "pos" / "latin.txt").write_bytes("A fine film.\nThe café was lovely.".encode("cp1252"))
    err = _fails(capsys, "imdb_gru.imdb", "--data", texts)
    assert f"{texts / 'pos' / 'latin.txt'} line 2: byte 0xe9" in err
    assert "not valid utf-8" in err and "--encoding" in err

    err = _fails(capsys, "lenet5.mnist", "--data", texts)
    assert f"{texts / 'neg'}, {texts / 'pos'}: no images" in err
    err = _fails(capsys, "lenet5.mnist", "--data", table)
    assert "table of text, but the model takes images" in err
    assert not (tmp_path / "store" / "lenet5.letters").exists()


def test_a_bad_folder_exits_2_without_a_traceback(tmp_path):
    letters = tmp_path / "letters"
    letter_images(letters, "AB", per_class=2)
    (letters / "a" / "x.jpg").write_bytes(b"not a jpeg")
    done = _kerazoo("finetune", "lenet5.mnist", "--data", letters, cwd=tmp_path, store=tmp_path / "store")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"kerazoo finetune: {letters / 'a' / 'x.jpg'}: unreadable image" in done.stderr


def test_finetune_dataset_digits_still_works(tmp_path, capsys):
    out = tmp_path / "digits.keras"
    assert cli.main(["finetune", "lenet5", "--weights", "mnist", "--dataset", "digits", "--head-epochs", "1",
                     "--finetune-epochs", "1", "--output", str(out)]) == 0
    assert "test_accuracy=" in capsys.readouterr().out and out.is_file()
    assert cli.main(["finetune", "lenet5", "--dataset", "digits"]) == 2
    assert "starts from pretrained weights" in capsys.readouterr().err
    assert cli.main(["finetune", "lenet5.mnist", "--dataset", "digits", "--tag", "x"]) == 2
    assert "--tag: only with --data" in capsys.readouterr().err


# === Resuming, early stopping, class weights, augmentation, mixed precision ===

@pytest.mark.slow
@pytest.mark.long
def test_a_killed_finetune_resumes_where_it_stopped(tmp_path):
    """SIGKILL during phase 2: the rerun takes phase 1's weights back, continues phase 2 after its last
    backed-up epoch, and the history and card count every epoch once. Mutation caught: PhaseBackups
    not passed to finetune (the rerun trains phase 1 again: no 'taken back' line, epochs restart)."""
    import signal
    import time

    data, store = tmp_path / "letters", tmp_path / "store"
    letter_images(data, "AB", per_class=30, seed=2)
    args = ("finetune", "lenet5.mnist", "--data", data, "--tag", "res", "--head-epochs", "2", "--finetune-epochs",
            "12", "--batch-size", "4")
    env = {**os.environ, "KERAZOO_MODELS": str(store), "TF_CPP_MIN_LOG_LEVEL": "3"}
    first = subprocess.Popen([sys.executable, "-m", "kerazoo.cli", *map(str, args)], cwd=tmp_path, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    backup = tmp_path / "kerazoo_runs" / "lenet5.res" / "backup"
    deadline = time.time() + 300
    while not (backup / "finetune" / "training_metadata.json").is_file() and first.poll() is None \
            and time.time() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert (backup / "head.weights.h5").is_file() and not (store / "lenet5.res").exists()
    done = _kerazoo(*args, cwd=tmp_path, store=store)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "The head phase finished before the interruption" in done.stdout
    assert "Resuming the interrupted fine-tune (finetune phase) after epoch" in done.stdout
    assert "Epoch 1/12" not in done.stdout and "Epoch 1/2" not in done.stdout  # nothing trained twice
    card, _ = _card(store, "lenet5.res")
    assert card["epochs_run"] == 14
    history = (tmp_path / "kerazoo_runs" / "lenet5.res" / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 14 and not backup.exists()  # a finished fine-tune leaves no backup behind


@pytest.mark.slow
def test_finetune_options_imbalance_patience_class_weight(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERAZOO_MODELS", str(tmp_path / "store"))
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "imb"
    letter_images(data, "ABC", per_class=12, seed=4)
    for path in sorted((data / "a").iterdir())[4:]:  # a 4, b 12, c 12
        path.unlink()
    common = ["finetune", "lenet5.mnist", "--data", str(data), "--batch-size", "8", "--learning-rate", "1e-12"]
    # learning rate 1e-12 (0 is refused): steps below float32's resolution, val_loss never improves, so --patience 2
    # stops each phase after 1 + 2 epochs
    assert cli.main([*common, "--tag", "w", "--head-epochs", "10", "--finetune-epochs", "10", "--patience", "2",
                     "--class-weight", "auto", "--augment"]) == 0
    assert "imbalanced" not in capsys.readouterr().err  # weighted: nothing to warn about
    card = artifacts.verify(tmp_path / "store" / "lenet5.w")
    assert card["epochs_run"] == 6
    train = card["data"]["examples"]["train"]
    counts = {"a": 3, "b": 10, "c": 10}  # 4, 12, 12 less the held-out 1, 2, 2
    assert sum(counts.values()) == train
    assert card["finetune"]["class_weight"] == {k: round(train / (3 * n), 4) for k, n in counts.items()}
    assert card["finetune"]["augment"]["rotate"] == 10 and card["finetune"]["patience"] == 2

    assert cli.main([*common, "--tag", "u", "--head-epochs", "1", "--finetune-epochs", "0"]) == 0
    err = capsys.readouterr().err
    assert "warning: the classes are imbalanced (a 4, b 12, c 12: the largest has 3.0x" in err
    assert "--class-weight auto" in err

    texts = tmp_path / "texts"
    review_folder(texts, per_class=3)
    assert cli.main(["finetune", "imdb_gru.imdb", "--data", str(texts), "--augment"]) == 2
    assert "text fine-tunes take none" in capsys.readouterr().err
    from kerazoo.training import userdata

    try:
        policy = userdata.mixed_precision_policy()
    except kerazoo.ConfigError as e:  # this machine has no fast mixed precision: said so, nothing trained
        assert cli.main([*common, "--tag", "mp", "--mixed-precision"]) == 2
        err = capsys.readouterr().err
        assert "--mixed-precision" in err and str(e) in err and not (tmp_path / "kerazoo_runs" / "lenet5.mp").exists()
    else:
        assert cli.main([*common, "--tag", "mp", "--head-epochs", "1", "--finetune-epochs", "1",
                         "--mixed-precision"]) == 0
        assert artifacts.verify(tmp_path / "store" / "lenet5.mp")["finetune"]["mixed_precision"] == policy
