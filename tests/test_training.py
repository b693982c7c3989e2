"""`kerazoo train` / `export` on tiny data in the real file formats: resume, artifacts, plots."""
import csv
import json
import math

import numpy as np
import pytest

import kerazoo
from kerazoo import cli
from kerazoo.exporting import export


@pytest.fixture()
def mnist_dir(tmp_path):
    rng = np.random.default_rng(0)
    y = np.arange(240) % 10
    x = (rng.random((240, 28, 28)) * 40).astype(np.uint8)
    for i, label in enumerate(y):  # a learnable mark: a bright bar whose row encodes the label
        x[i, 2 + 2 * label: 4 + 2 * label, 4:24] = 255
    np.savez(tmp_path / "mnist.npz", x_train=x[:200], y_train=y[:200].astype(np.uint8),
             x_test=x[200:], y_test=y[200:].astype(np.uint8))
    return tmp_path


class Interrupt(Exception):
    pass


def _epochs_logged(run):
    with open(run / "history.csv") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def test_killed_run_resumes_where_it_stopped(mnist_dir, tmp_path):
    import keras

    class KillAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise Interrupt

    run = tmp_path / "run"
    with pytest.raises(Interrupt):
        kerazoo.train("lenet5", epochs=3, batch_size=32, data_dir=mnist_dir, output=run,
                      callbacks=[KillAfterFirstEpoch()], verbose=0)
    assert (run / "backup").exists() and _epochs_logged(run) == [0]

    started = []

    class Watch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            started.append(epoch)

    result = kerazoo.train("lenet5", epochs=3, batch_size=32, data_dir=mnist_dir, output=run,
                           callbacks=[Watch()], verbose=0)
    assert started == [1, 2], "the resumed run must not retrain epoch 0"
    assert _epochs_logged(run) == [0, 1, 2] and len(result.history["loss"]) == 3
    assert not (run / "backup").exists()


def test_train_then_export_makes_a_loadable_artifact(mnist_dir, tmp_path, monkeypatch):
    import tensorflow as tf

    run = tmp_path / "run"
    result = kerazoo.train("lenet5", epochs=4, batch_size=16, learning_rate=3e-3, data_dir=mnist_dir, output=run, verbose=0)
    assert result.metrics["test_accuracy"] > 0.5  # the planted bars are learnable
    for png in ("learning_curves.png", "confusion_matrix.png"):
        assert (run / png).read_bytes()[:4] == b"\x89PNG"
    assert (run / "logs").is_dir() and (run / "checkpoints" / "best.keras").is_file()
    assert result.model.input_shape == (None, 28, 28)  # raw uint8 digits in

    monkeypatch.setenv("KERAZOO_MODELS", str(tmp_path / "models"))  # the user store, empty
    dest = export(run, tag="tiny")
    card = json.loads((dest / "card.json").read_text())
    assert card["name"] == "lenet5.tiny" and card["metrics"] == result.metrics
    assert card["num_params"] == result.model.count_params() and "uint8" in card["input"]
    x = np.random.default_rng(1).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    serve = tf.saved_model.load(str(dest / "saved_model")).signatures["serving_default"]
    (out,) = serve(tf.constant(x)).values()
    np.testing.assert_allclose(out.numpy(), result.model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)

    assert "lenet5.tiny" in kerazoo.list_models(pretrained=True) and dest.parent == tmp_path / "models"
    loaded = kerazoo.get("lenet5.tiny")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), out.numpy(), rtol=1e-5, atol=1e-6)
    metrics = kerazoo.evaluate("lenet5", weights="tiny", data_dir=mnist_dir)
    assert metrics["test_accuracy"] == pytest.approx(result.metrics["test_accuracy"], abs=1e-6)


def test_cli_train_with_overrides_and_overlay(mnist_dir, tmp_path, capsys):
    overlay = tmp_path / "best.yaml"
    overlay.write_text("model: {dropout: 0.1}\nrecipe: {batch_size: 50}\n")
    run = tmp_path / "cli-run"
    assert cli.main(["train", "lenet5", "--epochs", "1", "--data-dir", str(mnist_dir), "--output", str(run),
                     "--config", str(overlay), "--seed", "3"]) == 0
    saved = json.loads((run / "run.json").read_text())
    assert saved["model"]["dropout"] == 0.1 and saved["recipe"]["batch_size"] == 50 and saved["seed"] == 3
    assert "model:" in capsys.readouterr().out
    overlay.write_text("recipe: {batch_sise: 50}\n")
    assert cli.main(["train", "lenet5", "--config", str(overlay), "--data-dir", str(mnist_dir)]) == 2
    assert "unknown key 'batch_sise'" in capsys.readouterr().err


def test_train_without_data_says_where_to_put_it(tmp_path, capsys):
    assert cli.main(["train", "lenet5", "--data-dir", str(tmp_path), "--output", str(tmp_path / "r")]) == 2
    assert f"Put Keras' mnist.npz" in capsys.readouterr().err


def test_demo_writes_a_report(tmp_path):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--output", str(out), "--quick"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["digits"]["lenet5_mnist_zero_shot_accuracy"] > 0.5
    assert (out / "transfer.png").read_bytes()[:4] == b"\x89PNG"
    assert "# kerazoo demo" in (out / "report.md").read_text() and (out / "report.html").exists()
    # every shipped family has its section; the dates it shows are translated right, in Python and in the graph
    assert results["dates"]["3rd of March 1998"] == {"beam3": "1998-03-03", "savedmodel_greedy": "1998-03-03"}
    assert all(v["beam3"] == v["savedmodel_greedy"] for v in results["dates"].values())
    assert "terrible" in results["words"]["awful"]
    # the generated digits are digits: LeNet-5 reads them confidently and as every class (a generator left
    # at its initial weights gives blobs read as one or two classes at low confidence; a collapsed one, one class)
    gan = results["gan"]
    assert gan["mean_confidence"] > 0.8 and min(gan["lenet5_reads_1000_samples_as"]) >= 30, gan
    assert (out / "dcgan_samples.png").stat().st_size > 5_000 and "## Generated digits" in (out / "report.md").read_text()
    assert {a["artifact"] for a in results["artifacts"]} == set(kerazoo.list_models(pretrained=True))
    page = (out / "report.html").read_text()
    assert "<table" in page and html_problems(page, out) == []
    # your own data: a folder the demo wrote, fine-tuned into an artifact under the demo's folder (not the user store)
    own = results["own_data"]
    assert own["val_accuracy"] > own["scratch_val_accuracy"] and own["formats"] == [".jpg", ".png"]
    assert kerazoo.get("lenet5", weights=out / own["artifact"]).output_shape == (None, 5)
    assert (out / "my_letters.png").stat().st_size > 5_000 and "## Your own data" in (out / "report.md").read_text()


VOID = {"meta", "img", "br", "hr", "link", "input", "source"}
PARENTS = {"li": {"ul", "ol"}, "thead": {"table"}, "tbody": {"table"}, "tr": {"thead", "tbody", "table"},
           "th": {"tr"}, "td": {"tr"}, "figure": {"main", "div", "body"}}


def html_problems(page: str, folder) -> list[str]:
    """What a browser would have to guess about: unclosed or stray tags, list items outside lists, table
    parts outside tables, images without alt text or file, a missing doctype/html/head/title/body."""
    from html.parser import HTMLParser

    class Checker(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.problems, self.seen, self.doctype = [], [], set(), False

        def handle_decl(self, decl):
            self.doctype |= decl.lower() == "doctype html"

        def handle_starttag(self, tag, attrs):
            self.seen.add(tag)
            parent = self.stack[-1] if self.stack else None
            if tag in PARENTS and parent not in PARENTS[tag]:
                self.problems.append(f"<{tag}> inside <{parent}>")
            if tag == "img":
                attrs = dict(attrs)
                if not attrs.get("alt"):
                    self.problems.append(f"<img src={attrs.get('src')}> without alt text")
                if not (folder / attrs.get("src", "")).is_file():
                    self.problems.append(f"<img src={attrs.get('src')}>: no such file")
            if tag not in VOID:
                self.stack.append(tag)

        def handle_endtag(self, tag):
            if not self.stack or self.stack[-1] != tag:
                self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            else:
                self.stack.pop()

    checker = Checker()
    checker.feed(page)
    checker.close()
    missing = {"html", "head", "title", "body"} - checker.seen
    return (checker.problems + [f"unclosed <{t}>" for t in checker.stack] + [f"no <{t}>" for t in sorted(missing)]
            + ([] if checker.doctype else ["no <!doctype html>"]))


def test_html_checker_finds_what_the_old_report_had(tmp_path):
    old = "<!doctype html><meta charset='utf-8'><title>kerazoo demo</title>\n<h1>x</h1>\n<li>a</li>\n<img src='a.png'>\n"
    problems = html_problems(old, tmp_path)
    assert "<li> inside <None>" in problems
    assert "<img src=a.png> without alt text" in problems and "no <body>" in problems


def test_text_model_trains_on_a_raw_aclimdb_tree_and_serves_strings(tmp_path):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    words = {1: ["great", "wonderful", "loved", "superb"], 0: ["awful", "boring", "hated", "dull"]}
    filler = ["the", "film", "was", "and", "plot", "actors", "a", "movie"]
    for split, n in (("train", 60), ("test", 20)):
        for label, folder in ((1, "pos"), (0, "neg")):
            path = tmp_path / "aclImdb" / split / folder
            path.mkdir(parents=True)
            for i in range(n):
                text = " ".join(rng.choice(filler, 6)) + f" {rng.choice(words[label])}<br /><br />" + " ".join(
                    rng.choice(filler, 4))
                (path / f"{i}_{9 if label else 1}.txt").write_text(text)
    result = kerazoo.train("imdb_gru", epochs=6, batch_size=16, learning_rate=1e-2, data_dir=tmp_path, output=tmp_path / "run",
                           model_overrides={"vocab_size": 50, "embedding_dim": 8, "units": [8], "bidirectional": False},
                           config={"recipe": {"data": {"sequence_length": 16}, "pretrain": {}}}, verbose=0)
    assert result.metrics["test_accuracy"] >= 0.9, result.metrics
    model = result.model  # raw strings in: the vectorizer is part of the model
    texts = np.array(["a superb movie, loved it", "dull and boring film"], dtype=object)
    scores = model.predict(texts, verbose=0).ravel()
    assert scores[0] > 0.5 > scores[1]
    dest = export(tmp_path / "run", tag="tiny", destination=tmp_path / "saved_models")
    serve = tf.saved_model.load(str(dest / "saved_model")).signatures["serving_default"]
    (out,) = serve(tf.constant(texts.astype(str))).values()
    np.testing.assert_allclose(out.numpy().ravel(), scores, rtol=1e-5, atol=1e-6)


def test_dbn_recipe_pretrains_the_stack_before_fine_tuning(mnist_dir, tmp_path):
    from kerazoo.models.dbn import RBM, reconstruction_errors

    run = tmp_path / "dbn"
    result = kerazoo.train("dbn", epochs=8, batch_size=20, learning_rate=3e-2, data_dir=mnist_dir, output=run, verbose=0,
                           model_overrides={"units": [32, 16], "dropout": 0.0, "input_dropout": 0.0},
                           config={"recipe": {"pretrain": {"epochs": 2, "batch_size": 40, "verbose": 0},
                                              "callbacks": {}, "augment": {}, "validation_split": 0.0}})
    errors = json.loads((run / "pretraining.json").read_text())
    with np.load(mnist_dir / "mnist.npz") as f:
        pixels = (f["x_train"].reshape(len(f["x_train"]), -1) / 255).astype("float32")
    untrained = RBM(784, 32)
    untrained.compile()
    assert list(errors) == ["rbm_1", "rbm_2"] and all(np.isfinite(e) and e > 0 for e in errors.values())
    # CD-1 learned the digits: half the reconstruction error of an untrained RBM (0.083 vs 0.185 measured)
    assert errors["rbm_1"] < 0.6 * reconstruction_errors([untrained], pixels)["rbm"]
    assert (run / "reconstruction_error.png").read_bytes()[:4] == b"\x89PNG"
    assert any(p.name == "reconstruction_error.png" for p in result.plots)
    assert result.metrics["test_accuracy"] >= 0.55  # 0.70 measured; shuffled training labels give 0.20


def test_autoencoder_recipe_trains_on_rescaled_targets_and_plots(mnist_dir, tmp_path):
    run = tmp_path / "ae"
    result = kerazoo.train("autoencoder", epochs=3, batch_size=20, data_dir=mnist_dir, output=run, verbose=0,
                           model_overrides={"latent_dim": 8})
    history = result.history["loss"]
    assert history[-1] < history[0] and result.metrics["test_loss"] < 0.69  # BCE on [0, 1] targets
    assert (run / "reconstructions.png").read_bytes()[:4] == b"\x89PNG"
    assert result.model.input_shape == (None, 28, 28)  # raw uint8 in, as the recipe ships it
    metrics = kerazoo.evaluate("autoencoder", weights=str(run / "model.keras"), data_dir=mnist_dir)
    assert metrics["test_loss"] == pytest.approx(result.metrics["test_loss"], rel=1e-4)


def test_cosine_decay_recipe_callback_follows_the_curve_and_resumes_on_it():
    import math

    from kerazoo.recipe import Recipe
    from kerazoo.training.callbacks import recipe_callbacks

    recipe = Recipe(learning_rate=0.1, epochs=4, callbacks={"cosine_decay": {"min_lr": 0.01}})
    (callback,) = recipe_callbacks(recipe)
    lrs = [callback.schedule(e, None) for e in range(4)]
    assert lrs == pytest.approx([0.01 + 0.045 * (1 + math.cos(math.pi * e / 4)) for e in range(4)])
    assert lrs[0] == pytest.approx(0.1) and lrs == sorted(lrs, reverse=True)
    with pytest.raises(ValueError, match="min_lr <= learning_rate"):
        recipe_callbacks(Recipe(learning_rate=0.1, callbacks={"cosine_decay": {"min_lr": 0.5}}))


def test_one_cycle_recipe_callback_rises_then_falls_by_the_step_and_resumes_on_it():
    """`one_cycle: {warmup, initial, final}`: the rate set before each compiled call is a function of the epoch and
    the step, rising linearly to the recipe's rate over the first `warmup` of the run's steps, then falling along a
    half cosine to `final` x it; a callback made afresh (a resumed run) sets the same rate at the same step."""
    import keras

    from kerazoo.recipe import Recipe
    from kerazoo.training.callbacks import recipe_callbacks

    recipe = Recipe(learning_rate=0.1, epochs=2, callbacks={"one_cycle": {"warmup": 0.25, "initial": 0.1}})
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    seen = []
    for epoch in range(2):
        (callback,) = recipe_callbacks(recipe)  # afresh each epoch, as after a resume
        callback.set_model(model)
        callback.set_params({"steps": 4, "epochs": 2})
        callback.on_epoch_begin(epoch)
        for step in range(4):
            callback.on_train_batch_begin(step)
            seen.append(float(model.optimizer.learning_rate))
    assert seen[:3] == pytest.approx([0.01, 0.055, 0.1])          # 2 of 8 steps rise from 0.01 to 0.1
    assert seen[2] == pytest.approx(max(seen)) and seen[2:] == sorted(seen[2:], reverse=True)
    assert seen[-1] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 5 / 6)))  # step 7: 5/6 of the fall
    assert callback.rate(1.0) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="warmup < 1"):
        recipe_callbacks(Recipe(learning_rate=0.1, callbacks={"one_cycle": {"warmup": 1.0}}))
    from kerazoo.training.callbacks import check_recipe_callbacks

    with pytest.raises(kerazoo.ConfigError, match="one_cycle: unknown option 'warm_up'. Did you mean 'warmup'"):
        check_recipe_callbacks({"one_cycle": {"warm_up": 0.2}})


def test_cli_trains_a_named_recipe_and_names_the_recipes_there_are(mnist_dir, tmp_path, capsys):
    from kerazoo.training.run import resolve

    run = tmp_path / "fast-run"
    assert cli.main(["train", "lenet5", "--recipe", "fast", "--epochs", "1", "--data-dir", str(mnist_dir),
                     "--output", str(run)]) == 0
    saved = json.loads((run / "run.json").read_text())
    fast = resolve("lenet5", recipe="fast")[1]
    assert saved["recipe"]["batch_size"] == fast.batch_size != resolve("lenet5")[1].batch_size
    assert saved["recipe"]["augment"] == {} and saved["recipe"]["callbacks"] == fast.callbacks
    assert saved["epochs_run"] == 1 and saved["model"]["variant"] == "modern"  # the recipe's model block kept
    assert cli.main(["train", "lenet5", "--recipe", "quick", "--data-dir", str(mnist_dir)]) == 2
    assert "no recipe named 'quick'" in capsys.readouterr().err


def test_dbn_fast_recipe_pretrains_briefly_and_fine_tunes_without_distortions(mnist_dir, tmp_path):
    """`kerazoo train dbn --recipe fast` (benchmarks/time_to_accuracy.py): its own pretraining, dropout and
    schedule, the card recipe's input (raw 28x28 digits) kept."""
    from kerazoo.training.run import resolve

    run = tmp_path / "dbn-fast"
    assert cli.main(["train", "dbn", "--recipe", "fast", "--epochs", "1", "--data-dir", str(mnist_dir),
                     "--output", str(run)]) == 0
    saved, fast = json.loads((run / "run.json").read_text()), resolve("dbn", recipe="fast")[1]
    assert saved["recipe"]["pretrain"] == fast.pretrain != resolve("dbn")[1].pretrain
    assert saved["recipe"]["augment"] == {} and saved["recipe"]["callbacks"] == {"one_cycle": {"warmup": 0.2}}
    assert saved["model"]["input_shape"] == [28, 28] and saved["model"]["dropout"] == 0.2
    import keras

    assert keras.saving.load_model(run / "model.keras").predict(np.zeros((2, 28, 28), "uint8"), verbose=0).shape == (2, 10)
