"""What trains, scores and plots the autoencoders: `(x, x * rescaling)` pipelines and reconstruction plots."""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from kerazoo.family import FamilyHooks, TaskData
from kerazoo.models.autoencoder.tf_export import export_data

__all__ = ["reconstruction_plot", "targets_of_inputs", "recipe_data", "recipe_plots", "HOOKS"]


def reconstruction_plot(model: keras.Model, images, path: str | Path, n: int = 8, title: str = "") -> Path:
    """Originals (top row) over reconstructions (bottom row) for the first `n` images; a PNG."""
    from kerazoo.plots import pyplot

    plt = pyplot()

    images = np.asarray(images)[:n]
    recon = np.asarray(model.predict(images, verbose=0))
    scale = 1.0 / 255 if images.dtype == np.uint8 else 1.0
    fig, axes = plt.subplots(2, len(images), figsize=(1.3 * len(images), 2.9), squeeze=False)
    for i in range(len(images)):
        for row, img in enumerate((images[i] * scale, recon[i])):
            img = np.squeeze(img)
            axes[row][i].imshow(np.clip(img, 0, 1), cmap="gray" if img.ndim == 2 else None)
            axes[row][i].axis("off")
    axes[0][0].set_title("input", fontsize=8, loc="left")
    axes[1][0].set_title("reconstruction", fontsize=8, loc="left")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def targets_of_inputs(x, model_kwargs: dict):
    """What the autoencoder reconstructs from images `x`: `x * rescaling` as float32 (tuning on bare images)."""
    return (np.asarray(x).astype("float32") * (model_kwargs.get("rescaling") or 1.0)).reshape(np.shape(x))


def recipe_data(recipe, model_kwargs: dict, data_dir, seed: int):
    """`kerazoo train autoencoder`: image pipelines of `(x, x * rescaling)` pairs (labels dropped)."""
    from kerazoo import data
    from kerazoo.data.sources import to_dataset

    arrays = data.load(recipe.dataset, data_dir=data_dir, validation_split=recipe.validation_split, seed=seed,
                       as_numpy=True, **recipe.data)

    def pairs(xy, shuffle):
        if xy is None:
            return None
        x = xy[0]
        return to_dataset((x, targets_of_inputs(x, model_kwargs)), batch_size=recipe.batch_size,
                          shuffle=shuffle, seed=seed)

    return TaskData(pairs(arrays["train"], True), pairs(arrays["val"], False), pairs(arrays["test"], False),
                    extra={"examples": arrays["test"][0][:8]})


def recipe_plots(model: keras.Model, data, out: Path) -> list[Path]:
    """`kerazoo train autoencoder`: test images over their reconstructions."""
    return [reconstruction_plot(model, data.extra["examples"], Path(out) / "reconstructions.png",
                                title=f"{model.name}: held-out test images")]


HOOKS = FamilyHooks(recipe_data=recipe_data, recipe_plots=recipe_plots, targets_of_inputs=targets_of_inputs,
                    export_data=export_data)
