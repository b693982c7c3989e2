"""Each family's own search objective is produced in real trials: seq2seq's exact match, DCGAN's
LeNet-5 FID, word2vec's probe accuracy, the autoencoder's reconstruction loss."""
import math

import numpy as np
import pytest

import kerazoo
from kerazoo import tuning


def _logged(result) -> float:
    """The best trial's objective as its own training logged it (`run.json` in its folder): the search's
    score must be that figure, not another metric (the training accuracy, the loss) or another trial's."""
    import json

    return json.loads((result.best_trial_dir / "run.json").read_text())["metrics"][result.objective]


def _search(name, data, search_space, tmp_path, **overrides):
    return tuning.tune(name, max_trials=1, epochs=1, data=data, directory=tmp_path, tensorboard=False, verbose=0,
                       search_space=search_space, model_overrides=overrides)


def test_seq2seq_trials_are_scored_by_exact_match(tmp_path):
    from kerazoo.models.seq2seq import recipe_data
    from kerazoo.training.run import resolve

    _, recipe, kwargs = resolve("seq2seq_attention", config={"recipe": {"data": {"n_train": 256, "n_val": 32,
                                                                               "n_test": 32}}})
    space = dict(kerazoo.describe("seq2seq_attention")["search_space"])
    space = {k: space[k] for k in ("objective", "attention", "attention_units")}
    result = _search("seq2seq_attention", recipe_data(recipe, kwargs, None, 0), space, tmp_path, units=8,
                     embedding_dim=4)
    assert result.objective == "val_exact_match" and result.direction == "max"
    assert result.best["score"] == pytest.approx(_logged(result))


def test_dcgan_trials_are_scored_by_lenet_fid(tmp_path, shared_data):
    from kerazoo.models.dcgan import recipe_data
    from kerazoo.training.run import resolve

    mnist = np.load(shared_data / "mnist" / "mnist.npz")
    np.savez(tmp_path / "mnist.npz", x_train=mnist["x_train"][:128], y_train=mnist["y_train"][:128],
             x_test=mnist["x_test"][:128], y_test=mnist["y_test"][:128])
    _, recipe, kwargs = resolve("dcgan", batch_size=64)
    space = {"objective": {"name": "val_lenet_fid", "direction": "min"},
             "dropout": {"type": "float", "min": 0.0, "max": 0.5, "step": 0.1}}
    result = _search("dcgan", recipe_data(recipe, kwargs, tmp_path, 0), space, tmp_path / "search", latent_dim=8,
                     generator_filters=[16, 8], discriminator_filters=[8, 16])
    assert result.objective == "val_lenet_fid" and result.direction == "min"
    assert result.best["score"] == pytest.approx(_logged(result)) and result.best["score"] > 0


def test_word2vec_trials_are_scored_by_a_linear_probe(tmp_path):
    """On IMDB the probe fits on half of some labelled training reviews and scores the other half."""
    from kerazoo.family import TaskData
    from kerazoo.data.word2vec import Vocabulary, make_dataset

    rng = np.random.default_rng(0)
    words = {1: ["great", "superb", "loved"], 0: ["awful", "dull", "hated"]}
    labels = rng.integers(0, 2, 400)
    texts = [" ".join(list(rng.choice(["the", "film", "plot", "a", "was"], 6)) + list(rng.choice(words[y], 2)))
             for y in labels]
    vocab = Vocabulary.build(texts, min_count=1)
    train = make_dataset(texts, vocab, batch_size=64, seed=0)
    data = TaskData(train, make_dataset(texts[:50], vocab, batch_size=64, shuffle=False),
                    extra={"vocabulary": vocab, "probe": {"train": (np.array(texts, dtype=object), labels)}})
    space = dict(kerazoo.describe("word2vec")["search_space"])
    space = {k: space[k] for k in ("objective", "learning_rate")}
    result = _search("word2vec", data, space, tmp_path, vocab_size=len(vocab), embedding_dim=8,
                     vocabulary=vocab.words)
    assert result.objective == "val_probe_accuracy" and result.best["score"] == pytest.approx(_logged(result))


def test_autoencoder_trials_minimise_reconstruction_loss(tmp_path):
    from kerazoo.models.autoencoder import recipe_data
    from kerazoo.training.run import resolve

    x = np.random.default_rng(0).integers(0, 256, (96, 28, 28)).astype("uint8")
    np.savez(tmp_path / "mnist.npz", x_train=x[:64], y_train=np.zeros(64, "uint8"), x_test=x[64:],
             y_test=np.zeros(32, "uint8"))
    _, recipe, kwargs = resolve("autoencoder", batch_size=32)
    space = dict(kerazoo.describe("autoencoder")["search_space"])
    space = {k: space[k] for k in ("objective", "noise")}
    result = _search("autoencoder", recipe_data(recipe, kwargs, tmp_path, 0), space, tmp_path / "search",
                     filters=[4], latent_dim=4)
    assert result.objective == "val_loss" and result.direction == "min"
    assert math.isfinite(result.best["score"]) and result.best["score"] == pytest.approx(_logged(result))


def test_dbn_trials_pretrain_and_score_on_held_out_digits(tmp_path):
    """A DBN trial pretrains its RBMs, then scores the fine-tuned network on digits it did not train on."""
    rng = np.random.default_rng(0)
    y = np.arange(300) % 10
    x = (rng.random((300, 28, 28)) * 40).astype("uint8")
    for i, label in enumerate(y):
        x[i, 2 + 2 * label: 4 + 2 * label, 4:24] = 255
    space = {"objective": "val_accuracy", "dropout": {"type": "float", "min": 0.0, "max": 0.2, "step": 0.1}}
    result = tuning.tune("dbn", max_trials=1, epochs=20, data=(x, y), directory=tmp_path, tensorboard=False, verbose=0,
                         search_space=space, model_overrides={"units": [32, 16]},
                         config={"recipe": {"augment": {}, "learning_rate": 0.01,  # planted bars: no distortions
                                            "pretrain": {"epochs": 1, "batch_size": 20, "verbose": 0}}})
    assert result.objective == "val_accuracy" and result.best["score"] == pytest.approx(_logged(result))
    assert result.best["score"] >= 0.3  # 0.4 measured on 30 held-out digits; chance 0.1 (shuffled labels)
    assert (tmp_path / "dbn" / "pretraining" / "pretraining.json").is_file()


@pytest.mark.parametrize("split", ["validation_split", "val"])
def test_autoencoder_tunes_on_bare_images(tmp_path, split):
    """Raw uint8 images alone are enough: the targets are the images the recipe's rescaling makes, so the
    loss is a real binary cross-entropy on [0, 1] targets (raw 0-255 targets would give a huge negative one)."""
    x = np.random.default_rng(0).integers(0, 256, (96, 28, 28)).astype("uint8")
    data = x if split == "validation_split" else {"train": x[:64], "val": x[64:]}
    space = {"objective": {"name": "val_loss", "direction": "min"},
             "noise": {"type": "float", "min": 0.0, "max": 0.2, "step": 0.1}}
    result = _search("autoencoder", data, space, tmp_path, filters=[4], latent_dim=4)
    assert result.objective == "val_loss" and 0.3 < result.best["score"] < 1.0
