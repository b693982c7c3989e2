"""What the autoencoders' exported files are measured on (`kerazoo export --format`)."""
from __future__ import annotations

import numpy as np

from kerazoo import data
from kerazoo.family import ExportData

__all__ = ["export_data"]


def export_data(model, card: dict, data_dir, artifacts: dict) -> ExportData:
    """`kerazoo export --format`: every test image, scored by the recipe's loss (binary cross-entropy of
    the reconstruction against `x * rescaling`, as Keras computes it); 500 training images calibrate int8."""

    recipe = card["recipe"]
    (x_train, _), (x_test, _) = data.load_numpy(recipe["dataset"], data_dir=data_dir, **recipe.get("data", {}))
    targets = x_test.astype("float32").reshape(len(x_test), -1) * (card["model"].get("rescaling") or 1.0)

    def score(outputs) -> dict:
        p = np.clip(np.asarray(outputs, "float64").reshape(len(targets), -1), 1e-7, 1 - 1e-7)
        return {"test_loss": float(-np.mean(targets * np.log(p) + (1 - targets) * np.log(1 - p)))}

    sample = x_train[np.random.default_rng(card.get("seed", 0)).permutation(len(x_train))[:500]]
    return ExportData(sample, x_test, score, f"{len(x_test):,} {recipe['dataset']} test images")
