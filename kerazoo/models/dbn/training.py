"""What trains, scores and plots the DBN: greedy RBM pretraining, the pipeline around the classifier (`DBN`),
reconstruction-error plots and the perturbed-digit accuracy on the card."""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np

from kerazoo.config import check_dataclass, check_kwargs
from kerazoo.data.perturb import perturbed_accuracy
from kerazoo.errors import ConfigError, DataError
from kerazoo.family import FamilyHooks
from kerazoo.models.common import check_positive
from kerazoo.models.dbn.model import RBM, hidden_layers, unroll
from kerazoo.plots import pyplot
from kerazoo.recipe import Recipe, compile_model
from kerazoo.registry import builder, load_config

__all__ = ["DBN", "pretrain", "pretrain_and_finetune", "reconstruction_errors", "reconstruction_error_plot",
           "recipe_pretrain", "recipe_metrics", "HOOKS"]


def _rbm_optimizer(optimizer):
    if optimizer is None:  # Hinton & Salakhutdinov's rbm.m: 0.1, momentum 0.9, weight cost 2e-4
        return keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, weight_decay=2e-4)
    if isinstance(optimizer, keras.optimizers.Optimizer):  # one fresh copy per RBM
        return optimizer.__class__.from_config(optimizer.get_config())
    return keras.optimizers.get(optimizer)


def pretrain(x, hidden_units: Sequence[int] = (500, 500, 2000), *, epochs: int = 10, batch_size: int = 100,
             k: int = 1, persistent: int = 0, optimizer: Any = None, seed: int | None = None,
             verbose: str | int = "auto", callbacks: Sequence = ()) -> list[RBM]:
    """Greedy layer-wise pretraining: RBM i is fitted to the hidden probabilities of RBM i-1.

    Args:
      x: array `(examples, features)` with values in [0, 1].
      hidden_units: width of each RBM's hidden layer.
      epochs, batch_size, callbacks, verbose: passed to each RBM's `fit`.
      k, persistent: CD-k steps and persistent chains (see `RBM`).
      optimizer: `None` (SGD 0.1, momentum 0.9, weight decay 2e-4), a name, config or instance
        (copied for each RBM).
      seed: seeds RBM i with `seed + i`.

    Returns:
      The trained RBMs, bottom first; `rbm.history.history["reconstruction_error"]` has the curve.
    """
    x = np.asarray(x)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.number) or x.size == 0 or x.min() < 0 or x.max() > 1:
        raise DataError("RBM pretraining needs a non-empty 2-D array (examples, features) with values in [0, 1] "
                         "(use `rescaling`, e.g. 1/255 for uint8 pixels). Received: array of shape "
                         f"{x.shape}, dtype {x.dtype}" + (f", range [{x.min()}, {x.max()}]" if x.size else ""))
    check_positive(hidden_units=tuple(hidden_units), epochs=epochs, batch_size=batch_size)
    x, rbms = x.astype("float32"), []
    for i, units in enumerate(hidden_units, start=1):
        rbm = RBM(x.shape[1], units, k=k, persistent=persistent, seed=None if seed is None else seed + i,
                  name=f"rbm_{i}")
        rbm.compile(optimizer=_rbm_optimizer(optimizer))
        rbm.fit(x, epochs=epochs, batch_size=batch_size, verbose=verbose, callbacks=list(callbacks))
        rbms.append(rbm)
        if i < len(hidden_units):
            x = rbm.predict(x, batch_size=1024, verbose=0)
    return rbms


def reconstruction_errors(rbms: Sequence[RBM], x=None, batch_size: int = 1024) -> dict[str, float]:
    """Per-layer reconstruction error: the last training epoch's, or measured on `x` (first RBM's inputs)."""
    errors = {}
    for rbm in rbms:
        if x is None:
            errors[rbm.name] = float(rbm.history.history["reconstruction_error"][-1])
        else:
            errors[rbm.name] = float(rbm.evaluate(x, batch_size=batch_size, verbose=0))
            x = rbm.predict(x, batch_size=batch_size, verbose=0)
    return errors


def reconstruction_error_plot(rbms: Sequence[RBM], path: str | Path, title: str = "DBN pretraining") -> Path:
    """One curve per RBM: training reconstruction error against the epoch; writes a PNG."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for rbm in rbms:
        curve = rbm.history.history["reconstruction_error"]
        ax.plot(np.arange(1, len(curve) + 1), curve, "o-",
                label=f"{rbm.name} ({rbm.visible_units}-{rbm.hidden_units})")
    ax.set(xlabel="epoch", ylabel="reconstruction error (MSE)", title=title)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def _visible(model: keras.Model, x, batch_size: int = 1024) -> np.ndarray:
    """A `dbn` model's flattened, rescaled inputs: what its first RBM sees."""
    stem = keras.Model(model.inputs, model.get_layer("hidden_1").input)
    return np.asarray(stem.predict(x, batch_size=batch_size, verbose=0))


def recipe_pretrain(model: keras.Model, data, options: dict, out: Path) -> list[Path]:
    """`kerazoo train dbn` stage before `fit`: greedy pretraining on the training split, unrolled into
    `model`; writes `pretraining.json` (per-layer reconstruction error) and its plot.

    With the recipe's `augment:` block the RBMs see one augmented pass of the training split
    (`pretrain: {augmented: false}`: the raw digits; `DBN.pretrain`'s other options pass through).
    """
    options = dict(options)
    source = data.train if options.pop("augmented", True) else data.extra.get("unaugmented_train", data.train)
    x = np.concatenate([xb for xb, _ in source.as_numpy_iterator()])
    rbms = pretrain(_visible(model, x), [layer.units for layer in hidden_layers(model)], **options)
    unroll(rbms, model)
    errors = reconstruction_errors(rbms)
    print("RBM reconstruction error per layer:", ", ".join(f"{k}={v:.4f}" for k, v in errors.items()))
    (Path(out) / "pretraining.json").write_text(json.dumps(errors, indent=2))
    return [reconstruction_error_plot(rbms, Path(out) / "reconstruction_error.png")]


def recipe_metrics(model: keras.Model, data) -> dict[str, float]:
    """`kerazoo train`/`evaluate` hook: accuracy on the perturbed copy of the held-out images
    (`kerazoo.data.perturb`: shifted, rotated, rescaled), on the card as `test_perturbed_accuracy`."""
    return {"perturbed_accuracy": perturbed_accuracy(model, data.test)}


class DBN:
    """The pipeline around a `dbn` classifier: greedy pretraining, unrolling, backprop fine-tuning.

    Args:
      model: a `dbn` model (e.g. `kerazoo.get("dbn", weights=..., compile=True)`); or
      **model_kwargs: `dbn` builder arguments; the classifier is then compiled with the `dbn`
        config's recipe (override by calling `classifier().compile(...)`).

    Example:
      >>> net = DBN(input_shape=(28, 28), rescaling=1 / 255)
      >>> print(net.pretrain(x_train, epochs=10))   # {'rbm_1': ..., 'rbm_2': ..., 'rbm_3': ...}
      >>> net.fit(x_train, y_train, epochs=20, batch_size=100)
      >>> net.reconstruction_error_plot("pretraining.png")
    """

    def __init__(self, model: keras.Model | None = None, **model_kwargs: Any):
        if model is None:  # built and compiled as kerazoo.get("dbn", compile=True, **model_kwargs) would
            config, fn = load_config("dbn"), builder("dbn")
            model = fn(**check_kwargs(fn, {**config.model, **model_kwargs}, "DBN(...) arguments"))
            compile_model(model, Recipe(**check_dataclass(Recipe, config.recipe, "dbn recipe")))
        elif model_kwargs:
            raise ConfigError(f"DBN takes a dbn model or builder arguments, not both. Received: model and "
                              f"{sorted(model_kwargs)}")
        self.model = model
        self.rbms: list[RBM] = []

    def visible(self, x, batch_size: int = 1024) -> np.ndarray:
        """The model's flattened, rescaled inputs: what the first RBM sees."""
        return _visible(self.model, x, batch_size)

    def features(self, x, batch_size: int = 1024) -> np.ndarray:
        """The former name of `visible` (it returns the inputs the first RBM sees, not features); until 0.2."""
        warnings.warn("DBN.features is now called DBN.visible (it returns what the first RBM sees); the old name "
                      "stops working in kerazoo 0.2.", FutureWarning, stacklevel=2)
        return self.visible(x, batch_size)

    def pretrain(self, x, **options: Any) -> dict[str, float]:
        """Trains the RBM stack on `x` (see `pretrain` for options), unrolls it; returns per-layer errors."""
        units = [layer.units for layer in hidden_layers(self.model)]
        self.rbms = pretrain(self.visible(x), units, **options)
        unroll(self.rbms, self.model)
        return self.reconstruction_errors()

    def classifier(self) -> keras.Model:
        """The compiled feed-forward classifier (holding the RBM weights once pretrained)."""
        return self.model

    def fit(self, x, y, **fit_kwargs: Any):
        """Fine-tunes the classifier with backprop (`keras.Model.fit`); returns its `History`."""
        return self.model.fit(x, y, **fit_kwargs)

    def reconstruction_errors(self, x=None) -> dict[str, float]:
        """`{"rbm_i": error}`: last pretraining epoch's, or measured on raw inputs `x`."""
        if not self.rbms:
            raise ConfigError("The DBN is not pretrained yet; call `.pretrain(x)` first.")
        return reconstruction_errors(self.rbms, None if x is None else self.visible(x))

    def reconstruction_error_plot(self, path: str | Path) -> Path:
        """PNG of each RBM's reconstruction error per pretraining epoch."""
        return reconstruction_error_plot(self.rbms, path, title=f"{self.model.name} pretraining")


def pretrain_and_finetune(x, y, *, pretrain_epochs: int = 10, epochs: int = 10, batch_size: int = 100,
                          verbose: str | int = "auto", **model_kwargs: Any) -> DBN:
    """The whole pipeline in one call: `DBN(**model_kwargs)`, `.pretrain(x)`, `.fit(x, y)`.

    Use a `DBN` directly for more options (CD-k steps, optimizers, validation data, callbacks).

    Example:
      >>> net = pretrain_and_finetune(x_train, y_train, input_shape=(28, 28), rescaling=1 / 255)
      >>> net.classifier().evaluate(x_test, y_test)
    """
    net = DBN(**model_kwargs)
    net.pretrain(x, epochs=pretrain_epochs, batch_size=batch_size, verbose=verbose)
    net.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=verbose)
    return net


HOOKS = FamilyHooks(recipe_pretrain=recipe_pretrain, recipe_metrics=recipe_metrics)
