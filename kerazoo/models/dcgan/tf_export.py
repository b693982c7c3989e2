"""The DCGAN's TensorFlow-only serving: the SavedModel's latent-vectors-in endpoint, the generator as the LiteRT/ONNX
core, and what the exported files are measured on."""
from __future__ import annotations

import tensorflow as tf

from kerazoo import data
from kerazoo.family import ExportCore, ExportData
from kerazoo.models.dcgan.scores import lenet_scores

__all__ = ["serving_endpoint", "export_core", "export_data"]


def serving_endpoint(model):
    """The SavedModel's `serving_default`: latent vectors z -> `{"images": [-1, 1], "pixels": uint8}`."""
    def generate(z):
        images = model.generator(z, training=False)
        return {"images": images, "pixels": tf.cast(tf.round((images + 1.0) * 127.5), tf.uint8)}

    spec = tf.TensorSpec((None, model.latent_dim), tf.float32, name="z")
    return {"fn": tf.function(generate, input_signature=[spec]), "track": [model.generator],
            "input": f"float32 latent vectors z, shape [{model.latent_dim}] (standard normal)"}


def export_core(model) -> ExportCore:
    """LiteRT/ONNX files hold the generator: latent vectors z -> `{"images": [-1, 1]}` (`to_pixels` gives uint8)."""
    spec = tf.TensorSpec((None, model.latent_dim), tf.float32, name="z")
    fn = tf.function(lambda z: {"images": model.generator(z, training=False)}, input_signature=[spec])
    return ExportCore(fn, f"float32 latent vectors z, shape [{model.latent_dim}] (standard normal)",
                      track=[model.generator])


def export_data(model, card: dict, data_dir, artifacts: dict) -> ExportData:
    """`kerazoo export --format`: the card's measurement in each format: `lenet_scores` of the images made
    from `latent(10000, seed=0)` against the first 10,000 test digits (MNIST, with lenet5.mnist at hand).
    int8 files are calibrated on other latent vectors (seed 1): a generator's training inputs are draws of z."""
    recipe, n = card["recipe"], 10000
    scorable = "scorer" in artifacts
    reference = data.load_numpy(recipe["dataset"], data_dir=data_dir, **recipe.get("data", {}))[1][0][:n] \
        if scorable else None

    def score(outputs) -> dict:
        if reference is None:
            return {}
        images = outputs["images"] if isinstance(outputs, dict) else outputs
        return {f"test_{k}": v for k, v in lenet_scores(images, reference, classifier=artifacts["scorer"]).items()}

    what = f" scored against {len(reference):,} MNIST test digits by lenet5.mnist" if scorable else ""
    return ExportData(model.latent(500, seed=1), model.latent(n, seed=0), score,
                      f"{n:,} latent vectors (seed 0){what}")
