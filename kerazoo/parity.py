"""Backend parity of the shipped artifacts: what `kerazoo.get(name)` answers on raw inputs with the
current Keras backend, against what the artifact's TensorFlow SavedModel serves on the same inputs.

The SavedModel is TensorFlow's answer (its outputs equal the TensorFlow `.keras` model's:
tests/test_artifacts.py), and it runs in any process, so a JAX or PyTorch process compares itself with
TensorFlow directly. The inputs are the held-out data each card was measured on, as raw as the artifact
takes them: MNIST test digits (uint8 pixels), IMDB test review strings (on JAX and PyTorch through
`kerazoo.text.Tokenizer`, see `kerazoo.tokenized`), the test sources of the date task (through
`translate`), the vocabulary words (word vectors) and the DCGAN's latent vectors of seed 0.

    >>> kerazoo.parity.compare("lenet5.mnist", data_dir="data", limit=2000)
    {'n': 2000, 'max_abs_diff': 3.6e-07, 'top1': 1.0, 'backend': 'jax', ...}
"""
from __future__ import annotations

import time

import numpy as np

from kerazoo import artifacts
from kerazoo.registry import load_config

__all__ = ["held_out", "keras_answers", "saved_model_answers", "compare"]


def held_out(name: str, *, data_dir=None, limit: int | None = None):
    """`(raw inputs, description)`: the held-out inputs the card of artifact `name` was measured on, the first
    `limit` of them (all by default)."""
    arch, tag = artifacts.split_name(name)
    card = artifacts.find(arch, tag).checked_card()
    family, recipe = load_config(arch).family, card["recipe"]
    if family == "dcgan":  # DCGAN.latent(n, seed=0), as its card measured
        n, latent_dim = limit or 10000, card["model"].get("latent_dim", 100)
        return np.random.default_rng(0).standard_normal((n, latent_dim)).astype("float32"), f"{n:,} latent vectors"
    if family == "word2vec":
        words = card_vocabulary(name)[1:]  # the padding "" is no word
        return np.array(words[:limit], dtype=object), f"{len(words[:limit]):,} vocabulary words"
    if family == "seq2seq":
        from kerazoo.data.dates import date_splits

        data = recipe["data"]
        test = date_splits(1, data["n_val"], data["n_test"], seed=card["seed"],
                           invalid_fraction=data["invalid_fraction"])["test"][:limit]
        return [e.source for e in test], f"{len(test):,} test sources of the date task"
    from kerazoo.training.tasks import raw_splits

    _, (x, _) = raw_splits(load_config(arch), recipe, data_dir)
    x = x[:limit]
    return x, f"{len(x):,} {card['dataset']} test {'reviews' if x.dtype.kind in 'OSU' else 'images'}"


def card_vocabulary(name: str) -> list[str]:
    """The vocabulary a word2vec artifact's model carries (its `.keras` config), without building it."""
    import json
    import zipfile

    folder = artifacts.find(*artifacts.split_name(name)).folder
    with zipfile.ZipFile(folder / "model.keras") as z:
        return json.loads(z.read("config.json"))["config"]["vocabulary"]


def keras_answers(model, family: str, inputs) -> dict:
    """What the Keras model answers on raw `inputs`, named like the SavedModel's outputs it is compared with."""
    if family == "dcgan":
        return {"images": np.asarray(model.predict(inputs, batch_size=256, verbose=0))}
    if family == "word2vec":
        vectors = model.word_vectors()
        return {"vectors": np.stack([vectors[w] for w in inputs])}
    if family == "seq2seq":
        out = model.translate(list(inputs))
        return {"translation": np.array([t.text for t in out], dtype=object),
                "flag": np.array([t.flag or "" for t in out], dtype=object),
                "log_prob": np.array([t.log_prob for t in out], dtype=np.float32)}
    return {"output": np.asarray(model.predict(inputs, batch_size=256, verbose=0))}


def saved_model_answers(runner, family: str, inputs) -> dict:
    """The SavedModel's outputs on the same raw inputs (`kerazoo.get(name, format="saved_model")`)."""
    out = runner.run(np.asarray(inputs, dtype=object) if family == "seq2seq" else inputs)
    if family in ("dcgan", "word2vec"):
        key = "images" if family == "dcgan" else "vectors"
        return {key: out[key]}
    if family == "seq2seq":
        strings = lambda a: np.array([t.decode() if isinstance(t, bytes) else t for t in a], dtype=object)  # noqa: E731
        return {"translation": strings(out["translation"]), "flag": strings(out["flag"]), "log_prob": out["log_prob"]}
    return {"output": next(iter(out.values()))}


def compare(name: str, *, data_dir=None, limit: int | None = None) -> dict:
    """Artifact `name` on the current Keras backend against its SavedModel, on its held-out inputs.

    Returns:
      `{"backend", "n", "inputs", "max_abs_diff"` (float outputs), `"top1"` (classifiers: share of the same
      class), `"equal"` (strings: share of identical translations and flags), `"seconds"}` (the Keras side).
    """
    import keras

    from kerazoo.formats import agreement
    from kerazoo.loading import get

    arch, _ = artifacts.split_name(name)
    config = load_config(arch)
    inputs, what = held_out(name, data_dir=data_dir, limit=limit)
    model = get(name)
    start = time.perf_counter()
    mine = keras_answers(model, config.family, inputs)
    seconds = time.perf_counter() - start
    reference = saved_model_answers(get(name, format="saved_model"), config.family, inputs)
    classifier = config.task in ("image-classification", "text-classification")
    result = agreement(mine, reference, classifier=classifier)
    return {"backend": keras.backend.backend(), "inputs": what, **result, "seconds": round(seconds, 2)}
