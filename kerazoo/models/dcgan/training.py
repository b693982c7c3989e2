"""What trains, scores and plots the DCGAN: image pipelines, sample grids, LeNet-5 scores of its digits."""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from kerazoo import data
from kerazoo.family import FamilyHooks, TaskData
from kerazoo.models.common import check_positive
from kerazoo.models.dcgan.model import DCGAN
from kerazoo.models.dcgan.scores import lenet_scores
from kerazoo.models.dcgan.tf_export import export_core, export_data, serving_endpoint
from kerazoo.plots import pyplot

__all__ = ["SAMPLE_SEED", "image_mosaic", "plot_image_grid", "SampleGrid", "LeNetScores", "uses", "recipe_data",
           "recipe_callbacks", "checkpoint_monitor", "recipe_metrics", "recipe_plots", "metric_callbacks",
           "example_batch", "HOOKS"]

SAMPLE_SEED = 0  # latents of the card's LeNet scores (the first n of them), a run's samples.png and the demo's grid


def image_mosaic(images, *, columns: int | None = None, gap: int = 2) -> np.ndarray:
    """Images in [-1, 1] (`(N, H, W, C)`) tiled row by row into one `(rows, columns)` mosaic in [0, 1],
    every tile framed by `gap` white pixels (the same between rows as between columns)."""
    images = np.clip((np.asarray(images, dtype="float32") + 1.0) / 2.0, 0.0, 1.0)
    n, height, width, channels = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    mosaic = np.ones((rows * (height + gap) + gap, columns * (width + gap) + gap, channels), "float32")
    for i, image in enumerate(images):
        top, left = gap + (i // columns) * (height + gap), gap + (i % columns) * (width + gap)
        mosaic[top:top + height, left:left + width] = image
    return mosaic


def plot_image_grid(images, path: str | Path, *, columns: int | None = None, title: str = "") -> Path:
    """Writes images in [-1, 1] (`(N, H, W, C)`, C = 1 or 3) as one grid PNG (`image_mosaic`); returns its path."""
    plt = pyplot()
    mosaic = image_mosaic(images, columns=columns)
    dpi, zoom = 80, 3  # every mosaic pixel drawn as about 3x3 pixels of the PNG
    fig, ax = plt.subplots(figsize=(mosaic.shape[1] * zoom / dpi, mosaic.shape[0] * zoom / dpi + (0.4 if title else 0)))
    ax.imshow(mosaic[..., 0] if mosaic.shape[-1] == 1 else mosaic, cmap="gray", vmin=0, vmax=1,
              interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title)
    fig.tight_layout(pad=0.1)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return Path(path)


class SampleGrid(keras.callbacks.Callback):
    """Saves a grid of `model.sample(n, seed)` as `directory/epoch_NNN.png` every `every` epochs.

    The seed is fixed, so the grids show the same latent vectors improving epoch by epoch.
    """

    def __init__(self, directory: str | Path, every: int = 1, n: int = 64, seed: int = 0):
        super().__init__()
        check_positive(every=every, n=n)
        self.directory, self.every, self.n, self.seed = Path(directory), every, n, seed
        self.paths: list[Path] = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            path = self.directory / f"epoch_{epoch + 1:03d}.png"
            self.paths.append(plot_image_grid(self.model.sample(self.n, self.seed), path, title=f"epoch {epoch + 1}"))


def _images(dataset, limit: int) -> np.ndarray:
    batches, n = [], 0
    for batch in dataset:
        x = batch[0] if isinstance(batch, tuple) else batch
        batches.append(np.asarray(x))
        n += len(batches[-1])
        if n >= limit:
            break
    return np.concatenate(batches)[:limit]


class LeNetScores(keras.callbacks.Callback):
    """Adds `val_lenet_fid` and `val_lenet_score` (`lenet_scores` of `n` samples against real
    images, by `classifier`) to the epoch logs, so that a search can minimise the FID."""

    def __init__(self, reference, classifier, n: int = 2000, seed: int = 0):
        super().__init__()
        self.reference, self.classifier, self.n, self.seed = np.asarray(reference), classifier, n, seed

    def on_epoch_end(self, epoch, logs=None):
        scores = lenet_scores(self.model.sample(self.n, self.seed), self.reference, classifier=self.classifier)
        if logs is not None:
            logs.update({f"val_{k}": v for k, v in scores.items()})


def uses(recipe) -> dict:
    """MNIST runs are scored by the shipped MNIST classifier: `{"scorer": lenet5.mnist}`."""
    return {"scorer": ("lenet5", "mnist")} if recipe.dataset == "mnist" else {}


def recipe_data(recipe, model_kwargs, data_dir, seed):
    """The recipe's image data set as `kerazoo.data` pipelines (raw uint8; labels are ignored)."""
    splits = data.load(recipe.dataset, data_dir=data_dir, batch_size=recipe.batch_size,
                       validation_split=recipe.validation_split, seed=seed, **recipe.data)
    return TaskData(splits["train"], splits["val"], splits["test"], extra={"dataset": recipe.dataset})


def recipe_callbacks(recipe, data, out: Path) -> list[keras.callbacks.Callback]:
    """A grid of the same 64 latent vectors after every epoch, in `out/samples/`."""
    return [SampleGrid(Path(out) / "samples")]


def checkpoint_monitor(data) -> str | None:
    """A GAN has no loss to minimise: the best epoch has the lowest LeNet-FID, when it is measured."""
    return "val_lenet_fid" if "scorer" in data.artifacts else None


def recipe_metrics(model: DCGAN, data, n: int = 10000) -> dict[str, float]:
    """`lenet_scores` of `n` samples against the real test images (MNIST runs, with lenet5.mnist at hand)."""
    if "scorer" not in data.artifacts or data.test is None:
        return {}
    return lenet_scores(model.sample(n, seed=SAMPLE_SEED), _images(data.test, n), classifier=data.artifacts["scorer"])


def recipe_plots(model: DCGAN, data, out: Path) -> list[Path]:
    """The final 8x8 sample grid, `samples.png`: the first 64 of the samples `recipe_metrics` scores."""
    return [plot_image_grid(model.sample(64, seed=SAMPLE_SEED), Path(out) / "samples.png",
                            title=f"{model.name}: the first 64 test-scored samples")]


def metric_callbacks(data) -> list[keras.callbacks.Callback]:
    """On MNIST, `val_lenet_fid`/`val_lenet_score` of 2,000 samples against real validation (else training)
    digits every epoch: in the logs and learning curves, what `checkpoints/best.keras` is chosen by, and a
    search objective (`objective: {name: val_lenet_fid, direction: min}`)."""
    if "scorer" not in data.artifacts:
        return []
    return [LeNetScores(_images(data.val if data.val is not None else data.train, 2000), data.artifacts["scorer"])]


def example_batch(model, n: int, seed: int):
    """`(z, real images in [-1, 1])`: `model(z)` gives images, `train_on_batch(z, images)` trains."""
    rng = np.random.default_rng(seed)
    return model.latent(n, seed), rng.uniform(-1, 1, (n, *model.input_shape)).astype("float32")


HOOKS = FamilyHooks(uses=uses, recipe_data=recipe_data, recipe_callbacks=recipe_callbacks,
                    metric_callbacks=metric_callbacks, checkpoint_monitor=checkpoint_monitor,
                    recipe_metrics=recipe_metrics, recipe_plots=recipe_plots,
                    serving_endpoint=serving_endpoint, example_batch=example_batch,
                    export_core=export_core, export_data=export_data)
