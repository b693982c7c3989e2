"""The Deep Belief Network's architecture: RBMs trained by contrastive divergence, and the classifier they unroll into.

`RBM` (a Bernoulli RBM) trains by CD-k with Keras' own `fit` on every backend: its `compute_loss` is
the free-energy difference of the data and the Gibbs chain's negative samples (held constant), whose
gradient is exactly CD-k's. `unroll` copies a stack of RBMs into the registered `dbn` classifier
(sigmoid `hidden_i` layers + `predictions`); `kerazoo.models.dbn.training` pretrains a stack greedily
and runs the pipeline (`DBN`). Defaults are Hinton et al.'s 784-500-500-2000 for MNIST; fine-tuning is
backprop (as Hinton & Salakhutdinov 2006), not up-down.

Reference:
  G. E. Hinton, S. Osindero, Y.-W. Teh. "A fast learning algorithm for deep belief nets."
  Neural Computation 18(7), 2006. G. E. Hinton. "A practical guide to training restricted
  Boltzmann machines." UTML TR 2010-003, 2010.
"""
from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from kerazoo.errors import ConfigError
from kerazoo.models.common import check_positive, check_rate
from kerazoo.registry import register_model

__all__ = ["RBM", "dbn", "unroll", "hidden_layers"]


@keras.saving.register_keras_serializable(package="kerazoo")
class RBM(keras.Model):
    """Bernoulli RBM: calling it gives the hidden probabilities p(h=1 | v); `fit(x)` trains it by CD-k.

    A step samples h ~ p(h | data), runs `k` Gibbs steps (visible probabilities, sampled hidden
    states: Hinton 2010 section 3) and gives the optimizer the gradient `<v h>_model - <v h>_data`
    (the gradient of the free energy of the data minus that of the chain's end, held constant), so
    momentum and weight decay are the optimizer's (biases are spared weight decay). `persistent=n`
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
            raise ConfigError("The `persistent` argument should be a number of chains >= 0 (0 for plain CD-k). "
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

    def free_energy(self, visible):
        """`F(v) = -v . visible_bias - sum_j softplus(v W + hidden_bias)_j`, one value per example."""
        return -ops.matmul(visible, self.visible_bias) - ops.sum(
            ops.softplus(ops.matmul(visible, self.kernel) + self.hidden_bias), axis=-1)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """CD-k as a loss: `mean F(data) - mean F(negative samples)`, the samples held constant. Its gradient
        is `<v h>_model - <v h>_data` for the weights (and the like for the biases): contrastive divergence,
        applied by the compiled optimizer through Keras' own train step on every backend."""
        v0 = ops.cast(x, self.compute_dtype)
        if not training:  # evaluate: the mean-field reconstruction p(v | h = p(h | data)), deterministic
            self.error_tracker.update_state(ops.mean(ops.square(v0 - self.visible(y_pred)), axis=-1))
            return ops.mean(self.free_energy(v0))
        h0 = self._sample(y_pred)                       # positive phase: y_pred = p(h | data)
        h = self.chains.value if self.persistent else h0
        for step in range(self.k):                     # negative phase: k Gibbs steps
            v = self.visible(h)
            if step == 0:
                reconstruction = v                     # the logged error compares it with the data
            h = self._sample(self(v))
        if self.persistent:
            self.chains.assign(h)
            reconstruction = self.visible(h0)          # the chains do not start at the data
        self.error_tracker.update_state(ops.mean(ops.square(v0 - reconstruction), axis=-1))
        return ops.mean(self.free_energy(v0)) - ops.mean(self.free_energy(ops.stop_gradient(v)))

    def get_config(self):
        return {**super().get_config(), "visible_units": self.visible_units, "hidden_units": self.hidden_units,
                "k": self.k, "persistent": self.persistent, "seed": self.seed}


@register_model(task="image-classification")
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
    """Deep Belief Network (Hinton et al. 2006): sigmoid layers for a stack of RBMs, then softmax `predictions`.

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


def hidden_layers(model: keras.Model) -> list:
    """The `hidden_i` layers of a `dbn` model, bottom first: one per RBM."""
    layers = {layer.name: layer for layer in model.layers}
    return [layers[f"hidden_{i}"] for i in range(1, len(layers) + 1) if f"hidden_{i}" in layers]


def unroll(rbms: Sequence[RBM], model: keras.Model) -> keras.Model:
    """Copies RBM i's weights and hidden biases into layer `hidden_i` of a `dbn` model; returns it."""
    hidden = hidden_layers(model)
    if len(hidden) != len(rbms):
        raise ConfigError(f"{model.name} has {len(hidden)} hidden layers but {len(rbms)} RBMs were given; "
                          "build the model with `units` matching the stack.")
    for i, (rbm, layer) in enumerate(zip(rbms, hidden), start=1):
        if tuple(layer.kernel.shape) != tuple(rbm.kernel.shape):
            raise ConfigError(f"Layer hidden_{i} has a kernel of shape {tuple(layer.kernel.shape)} but {rbm.name} "
                             f"has {tuple(rbm.kernel.shape)}.")
        layer.set_weights([ops.convert_to_numpy(rbm.kernel), ops.convert_to_numpy(rbm.hidden_bias)])
    return model
