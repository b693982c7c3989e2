"""Deep Belief Network: RBMs trained by contrastive divergence, stacked greedily, then fine-tuned.

`RBM` (a Bernoulli RBM) trains by CD-k in its own `train_step`; `pretrain` trains a stack greedily,
`unroll` copies it into the registered `dbn` classifier (sigmoid `hidden_i` layers + `predictions`),
`DBN` runs the pipeline: `.pretrain(x)`, `.classifier()`, `.fit(x, y)`. Defaults are Hinton et al.'s
784-500-500-2000 for MNIST; fine-tuning is backprop (as Hinton & Salakhutdinov 2006), not up-down.

Reference:
  G. E. Hinton, S. Osindero, Y.-W. Teh. "A fast learning algorithm for deep belief nets."
  Neural Computation 18(7), 2006. G. E. Hinton. "A practical guide to training restricted
  Boltzmann machines." UTML TR 2010-003, 2010.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from kerazoo.data.perturb import perturbed_accuracy
from kerazoo.family import FamilyHooks
from kerazoo.models._common import check_positive, check_rate
from kerazoo.registry import register_model

__all__ = ["RBM", "DBN", "dbn", "pretrain", "unroll", "reconstruction_errors", "reconstruction_error_plot",
           "pretrain_and_finetune", "recipe_pretrain", "recipe_metrics"]


@keras.saving.register_keras_serializable(package="kerazoo")
class RBM(keras.Model):
    """Bernoulli RBM: calling it gives the hidden probabilities p(h=1 | v); `fit(x)` trains it by CD-k.

    A step samples h ~ p(h | data), runs `k` Gibbs steps (visible probabilities, sampled hidden
    states: Hinton 2010 section 3) and gives the optimizer the gradient `<v h>_model - <v h>_data`,
    so momentum and weight decay are the optimizer's (biases are spared weight decay). `persistent=n`
    runs the negative phase on `n` chains kept across steps (PCD, Tieleman 2008). Logs
    `reconstruction_error`, the mean squared difference of the data and p(v | h), h sampled in
    training, h = p(h | data) in `evaluate` (deterministic).

    Args:
      visible_units: inputs per example, values in [0, 1] (probabilities serve as data).
      hidden_units: binary hidden units.
      k: Gibbs steps per negative phase (CD-k).
      persistent: number of persistent chains (0: CD-k restarts at the data).
      seed: seed of the weight initialisation and of the Gibbs sampling.

    Example:
      >>> rbm = RBM(784, 500)
      >>> rbm.compile(keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=2e-4))
      >>> rbm.fit(x_in_0_1, epochs=10, batch_size=100)
    """

    def __init__(self, visible_units: int, hidden_units: int, *, k: int = 1, persistent: int = 0,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        check_positive(visible_units=visible_units, hidden_units=hidden_units, k=k)
        if not isinstance(persistent, int) or isinstance(persistent, bool) or persistent < 0:
            raise ValueError("The `persistent` argument should be a number of chains >= 0 (0 for plain CD-k). "
                             f"Received: persistent={persistent!r}")
        self.visible_units, self.hidden_units, self.k, self.persistent, self.seed = (
            visible_units, hidden_units, k, persistent, seed)
        # === Weights === (Hinton 2010 section 8: small random weights, zero biases)
        self.kernel = self.add_weight(shape=(visible_units, hidden_units), name="kernel",
                                      initializer=keras.initializers.RandomNormal(stddev=0.01, seed=seed))
        self.visible_bias = self.add_weight(shape=(visible_units,), initializer="zeros", name="visible_bias")
        self.hidden_bias = self.add_weight(shape=(hidden_units,), initializer="zeros", name="hidden_bias")
        self.chains = (self.add_weight(shape=(persistent, hidden_units), initializer="zeros", trainable=False,
                                       name="chains") if persistent else None)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.error_tracker = keras.metrics.Mean(name="reconstruction_error")
        self.built = True

    def call(self, inputs):
        return ops.sigmoid(ops.matmul(ops.cast(inputs, self.compute_dtype), self.kernel) + self.hidden_bias)

    def visible(self, hidden):  # p(v=1 | h)
        return ops.sigmoid(ops.matmul(hidden, ops.transpose(self.kernel)) + self.visible_bias)

    def reconstruct(self, inputs):  # mean field: p(v | h = p(h | inputs))
        return self.visible(self(inputs))

    def _sample(self, probs):
        return ops.cast(keras.random.uniform(ops.shape(probs), seed=self.seed_generator) < probs, probs.dtype)

    def compile(self, optimizer="sgd", **kwargs):
        super().compile(optimizer=optimizer, **kwargs)
        if not self.optimizer.built:
            self.optimizer.exclude_from_weight_decay(var_list=[self.visible_bias, self.hidden_bias])

    def compile_from_config(self, config):  # `load_model` restores the optimizer through this
        self.compile(**keras.saving.deserialize_keras_object(config))
        self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        return [self.error_tracker]

    def train_step(self, data):
        v0, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        v0 = ops.cast(v0, self.compute_dtype)
        p_h0 = self(v0)                                # positive phase: p(h | data)
        h0 = self._sample(p_h0)
        h = self.chains if self.persistent else h0
        for step in range(self.k):                     # negative phase: k Gibbs steps
            v = self.visible(h)
            if step == 0:
                reconstruction = v                     # the logged error compares it with the data
            p_h = self(v)
            h = self._sample(p_h)
        if self.persistent:
            self.chains.assign(h)
            reconstruction = self.visible(h0)          # the chains do not start at the data
        n, m = ops.cast(ops.shape(v0)[0], v0.dtype), ops.cast(ops.shape(v)[0], v0.dtype)
        positive, negative = ops.matmul(ops.transpose(v0), p_h0) / n, ops.matmul(ops.transpose(v), p_h) / m
        grads = [negative - positive, ops.mean(v, 0) - ops.mean(v0, 0), ops.mean(p_h, 0) - ops.mean(p_h0, 0)]
        self.optimizer.apply_gradients(zip(grads, [self.kernel, self.visible_bias, self.hidden_bias]))
        self.error_tracker.update_state(ops.mean(ops.square(v0 - reconstruction), axis=-1))
        return {"reconstruction_error": self.error_tracker.result()}

    def test_step(self, data):
        v0, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        v0 = ops.cast(v0, self.compute_dtype)
        self.error_tracker.update_state(ops.mean(ops.square(v0 - self.reconstruct(v0)), axis=-1))
        return {"reconstruction_error": self.error_tracker.result()}

    def get_config(self):
        return {**super().get_config(), "visible_units": self.visible_units, "hidden_units": self.hidden_units,
                "k": self.k, "persistent": self.persistent, "seed": self.seed}


@register_model
def dbn(
    *,
    input_shape: tuple[int, ...] = (784,),         # (features,) or (28, 28): flattened inside
    units: tuple[int, ...] = (500, 500, 2000),
    include_top: bool = True,
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    dropout: float = 0.0,                           # after every hidden layer, for fine-tuning
    input_dropout: float = 0.0,
    rescaling: float | None = None,                 # e.g. 1/255 so the model takes raw uint8 pixels
    name: str = "dbn",
) -> keras.Model:
    """The DBN's feed-forward form: sigmoid `hidden_i` Dense layers and a softmax `predictions`.

    Randomly initialised; `DBN.pretrain` / `unroll` copy RBM weights and hidden biases into the
    `hidden_i` layers, after which backprop fine-tunes it.

    Args:
      input_shape: `(features,)` or an image shape such as `(28, 28)` (flattened inside).
      units: widths of the hidden layers (one RBM each when pretrained).
      include_top: end with `predictions`; if False the output is the top hidden layer.
      classes: number of classes.
      classifier_activation: activation of `predictions` (`None` for logits).
      dropout: dropout rate after every hidden layer (fine-tuning only; 0 as in the paper).
      input_dropout: dropout rate on the (rescaled) inputs.
      rescaling: multiply the input by this factor first; the RBMs need inputs in [0, 1].
      name: model name.

    Returns:
      A `keras.Model` from inputs to class probabilities (or top-layer features).

    Reference:
      Hinton, Osindero, Teh, "A fast learning algorithm for deep belief nets", 2006.

    Example:
      >>> model = kerazoo.get("dbn", input_shape=(28, 28), rescaling=1 / 255, compile=True)
    """
    check_positive(input_shape=input_shape, units=units, classes=classes)
    check_rate(dropout=dropout, input_dropout=input_dropout)

    # === Inputs: flatten, rescale ===
    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
    if rescaling is not None:
        x = keras.layers.Rescaling(rescaling, name="rescaling")(x)
    if input_dropout:
        x = keras.layers.Dropout(input_dropout, name="input_dropout")(x)
    # === Hidden layers: one per RBM ===
    for i, width in enumerate(units, start=1):
        x = keras.layers.Dense(width, activation="sigmoid", name=f"hidden_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"hidden_{i}_dropout")(x)
    if include_top:
        x = keras.layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, x, name=name)


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
        raise ValueError("RBM pretraining needs a non-empty 2-D array (examples, features) with values in [0, 1] "
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


def _hidden_layers(model: keras.Model) -> list:
    layers = {layer.name: layer for layer in model.layers}
    return [layers[f"hidden_{i}"] for i in range(1, len(layers) + 1) if f"hidden_{i}" in layers]


def unroll(rbms: Sequence[RBM], model: keras.Model) -> keras.Model:
    """Copies RBM i's weights and hidden biases into layer `hidden_i` of a `dbn` model; returns it."""
    hidden = _hidden_layers(model)
    if len(hidden) != len(rbms):
        raise ValueError(f"{model.name} has {len(hidden)} hidden layers but {len(rbms)} RBMs were given; "
                         "build the model with `hidden_units` matching the stack.")
    for i, (rbm, layer) in enumerate(zip(rbms, hidden), start=1):
        if tuple(layer.kernel.shape) != tuple(rbm.kernel.shape):
            raise ValueError(f"Layer hidden_{i} has a kernel of shape {tuple(layer.kernel.shape)} but {rbm.name} "
                             f"has {tuple(rbm.kernel.shape)}.")
        layer.set_weights([ops.convert_to_numpy(rbm.kernel), ops.convert_to_numpy(rbm.hidden_bias)])
    return model


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
    from kerazoo.plots import pyplot

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
    import json

    options = dict(options)
    source = data.train if options.pop("augmented", True) else data.extra.get("unaugmented_train", data.train)
    x = np.concatenate([xb for xb, _ in source.as_numpy_iterator()])
    rbms = pretrain(_visible(model, x), [layer.units for layer in _hidden_layers(model)], **options)
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
      **model_kwargs: `dbn` builder arguments; the classifier is compiled with the `dbn`
        config's recipe (override by calling `classifier().compile(...)`).

    Example:
      >>> net = DBN(input_shape=(28, 28), rescaling=1 / 255)
      >>> print(net.pretrain(x_train, epochs=10))   # {'rbm_1': ..., 'rbm_2': ..., 'rbm_3': ...}
      >>> net.fit(x_train, y_train, epochs=20, batch_size=100)
      >>> net.reconstruction_error_plot("pretraining.png")
    """

    def __init__(self, **model_kwargs: Any):
        from kerazoo.loading import get

        self.model = get("dbn", compile=True, **model_kwargs)
        self.rbms: list[RBM] = []

    def features(self, x, batch_size: int = 1024) -> np.ndarray:
        """The model's flattened, rescaled inputs: what the first RBM sees."""
        return _visible(self.model, x, batch_size)

    def pretrain(self, x, **options: Any) -> dict[str, float]:
        """Trains the RBM stack on `x` (see `pretrain` for options), unrolls it; returns per-layer errors."""
        units = [layer.units for layer in _hidden_layers(self.model)]
        self.rbms = pretrain(self.features(x), units, **options)
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
            raise ValueError("The DBN is not pretrained yet; call `.pretrain(x)` first.")
        return reconstruction_errors(self.rbms, None if x is None else self.features(x))

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
