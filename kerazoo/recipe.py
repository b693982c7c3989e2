"""The training recipe block of a model config, and how a model is compiled from it.

The dataclass is importable without TensorFlow so configs validate instantly; `compile_model`
and `make_optimizer` import Keras when called.
"""
from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any

from kerazoo.distribute import strategy_of

__all__ = ["Recipe", "make_optimizer", "compile_model", "recipe_of", "named_recipe", "MERGED_KEYS", "infer_direction"]
logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Recipe:
    """How a model is trained by default (`recipe:` in its config)."""

    dataset: str | None = None        # name of a kerazoo.data loader
    data: dict = dataclasses.field(default_factory=dict)  # loader/pipeline options (sequence_length, ...)
    model: dict = dataclasses.field(default_factory=dict)  # builder arguments this recipe trains with
    pretrain: dict = dataclasses.field(default_factory=dict)  # family pretraining before fit (e.g. DBN's RBMs)
    augment: dict = dataclasses.field(default_factory=dict)   # training images only: kerazoo.data.augment
    optimizer: str | dict = "adam"    # keras.optimizers or kerazoo.optimizers name, or {name: adam, beta_1: 0.5}
    learning_rate: float = 1e-3
    clipnorm: float | None = None     # gradient clipping inside the optimizer
    weight_decay: float | None = None
    loss: str | None = None           # None: the model's own train_step computes its losses
    metrics: list[str] = dataclasses.field(default_factory=list)
    batch_size: int = 32
    epochs: int = 10
    validation_split: float = 0.1
    callbacks: dict = dataclasses.field(default_factory=dict)  # early_stopping: {...}, ...
    seed: int = 1337
    steps_per_execution: int = 1      # train steps per compiled call (speed only; set per family by measurement)
    jit_compile: bool = False         # XLA-compile the train step (speed only; slower than graph mode on CPU here)

    def __post_init__(self):
        from kerazoo.errors import ConfigError

        for key in ("steps_per_execution", "batch_size", "epochs"):  # --batch-size 0 failed after loading the data
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"recipe {key} must be a positive int (1 or more). Received: {key}={value!r}")
        if isinstance(self.learning_rate, bool) or not isinstance(self.learning_rate, (int, float)) \
                or not 0 < self.learning_rate < float("inf"):
            raise ConfigError(f"recipe learning_rate must be a positive finite number (e.g. 0.001). Received: "
                              f"learning_rate={self.learning_rate!r}")
        if isinstance(self.validation_split, bool) or not isinstance(self.validation_split, (int, float)) \
                or not 0 <= self.validation_split < 1:
            raise ConfigError(f"recipe validation_split must be a fraction in [0, 1). Received: "
                              f"validation_split={self.validation_split!r}")
        if self.augment:
            from kerazoo.data.augment import check_augment  # no TensorFlow there either

            check_augment(self.augment)


def recipe_of(config_recipe: dict, **overrides: Any) -> Recipe:
    """A `Recipe` from a config's `recipe:` block, with overrides (already validated)."""
    return Recipe(**{**config_recipe, **overrides})


MERGED_KEYS = ("model", "data")  # blocks a named recipe merges key by key; every other key it gives replaces


def named_recipe(base: dict, named: dict) -> dict:
    """A config's named recipe (`recipes: {fast: {...}}`) on top of its `recipe:` block: what it says replaces
    the base's value, except `model:` and `data:`, which it merges key by key (so `fast: {model: {dropout: 0.1}}`
    keeps the base's other builder arguments, and `callbacks: {}` or `augment: {}` drops the base's)."""
    merged = {**base, **named}
    for key in MERGED_KEYS:
        if key in named and isinstance(named[key], dict) and isinstance(base.get(key), dict):
            merged[key] = {**base[key], **named[key]}
    return merged


def make_optimizer(recipe: Recipe):
    """The recipe's optimizer, with its learning rate, gradient clipping and own options.

    `optimizer` is a `keras.optimizers` name or one of `kerazoo.optimizers.OPTIMIZERS`
    (`rowwise_adagrad`), or a mapping of the name and that optimizer's arguments (e.g.
    `{name: adam, beta_1: 0.5}`, Radford et al.'s GAN setting).
    """
    import keras

    from kerazoo.optimizers import OPTIMIZERS

    name, extra = recipe.optimizer, {}
    if isinstance(name, dict):
        extra = dict(name)
        name = extra.pop("name", None)
        if not isinstance(name, str):
            raise ValueError(f"recipe optimizer: a mapping needs `name` (e.g. {{name: adam, beta_1: 0.5}}). "
                             f"Received: {recipe.optimizer!r}")
    options: dict[str, Any] = {**extra, "learning_rate": recipe.learning_rate}
    if recipe.clipnorm is not None:
        options["clipnorm"] = recipe.clipnorm
    if recipe.weight_decay is not None:
        options["weight_decay"] = recipe.weight_decay
    try:
        if name in OPTIMIZERS:
            return OPTIMIZERS[name](**options)
        return keras.optimizers.get({"class_name": name, "config": options})
    except TypeError as e:  # an argument the optimizer does not take
        raise ValueError(f"recipe optimizer {name!r}: {e}. Received options {sorted(extra)}.") from None


def compile_model(model, recipe: Recipe):
    """Compiles `model` with the recipe's optimizer, loss, metrics and speed settings
    (`steps_per_execution`, `jit_compile`); returns it.

    A model built under a `MirroredStrategy` of several replicas runs one step per call: there
    Keras 3.15's multi-step loop fails ("You must feed a value for placeholder tensor
    .../while/cond/Placeholder", keras-team/keras#19246: the optimizer's cross-replica update
    inside the loop's `tf.cond`). The setting only changes speed, never results.

    On TensorFlow without a distribution strategy, the metrics' and the optimizer's variables are made here,
    before the first step is traced (`_builds_late`), so that step is traced once, not twice.

    A recipe's `jit_compile` is TensorFlow's XLA switch: `false` keeps TensorFlow's graph mode, measured faster on
    this CPU. On JAX there is no graph mode to keep: `false` would run the step op by op, every primitive compiled
    on its own (LeNet-5, 400 digits: 3.3 s an epoch against 0.2 s jitted), so JAX always compiles the whole step,
    which is Keras' own default there (`jit_compile="auto"`).
    """
    steps = recipe.steps_per_execution
    if steps > 1 and _backend() == "torch":  # Keras: "`steps_per_execution` must be 1 with the PyTorch backend"
        steps = 1
    if steps > 1 and _mirrored_replicas(model) > 1:
        logger.warning("steps_per_execution=%d -> 1: Keras' multi-step loop fails under MirroredStrategy "
                       "(keras-team/keras#19246)", steps)
        steps = 1
    early = _builds_late(model)
    metrics = [_metric_object(m) if early else m for m in recipe.metrics]
    model.compile(optimizer=make_optimizer(recipe), loss=recipe.loss, metrics=metrics,
                  steps_per_execution=steps, jit_compile=recipe.jit_compile or _backend() == "jax")
    if early and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    return model


SHAPE_RESOLVED_METRICS = {"accuracy", "acc", "crossentropy", "ce"}  # Keras picks their class by the outputs' shapes


def _metric_object(metric):
    """The metric object Keras would make for a name at the first step (`keras.src.trainers.compile_utils.
    get_metric`: a function wrapped in `MeanMetricWrapper`, logged under the name given), except for the names
    whose class Keras picks by the data's shapes; anything else as it is."""
    import keras

    if not isinstance(metric, str) or metric.lower() in SHAPE_RESOLVED_METRICS:
        return metric
    made = keras.metrics.get(metric)
    made = made if isinstance(made, keras.metrics.Metric) else keras.metrics.MeanMetricWrapper(made)
    made.name = metric
    return made


def _builds_late(model) -> bool:
    """Whether Keras would create the optimizer's and the metrics' variables while tracing the first step: on
    TensorFlow without a distribution strategy it defers building to then, and a `tf.function` that creates
    variables is traced twice (word2vec: a first `fit` 2.1-3.3 s against 1.8 s with them made beforehand).
    `compile_model` then makes them first: metric objects instead of names (except the names Keras resolves
    by the outputs' shapes), and the optimizer built on the model's trainable variables."""
    if _backend() != "tensorflow" or not model.built:
        return False
    import tensorflow as tf

    return not tf.distribute.has_strategy() and model.distribute_strategy is tf.distribute.get_strategy()


def _backend() -> str:
    import keras

    return keras.backend.backend()


def _mirrored_replicas(model) -> int:
    """Replicas of the single-machine `MirroredStrategy` the model was built under (0 if none, and on JAX)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return 0
    import tensorflow as tf

    strategy = strategy_of(model)
    return strategy.num_replicas_in_sync if isinstance(strategy, tf.distribute.MirroredStrategy) else 0


def infer_direction(metric: str) -> str | None:
    """'min' for losses and errors, 'max' for accuracies and scores, None if unsure (checkpoint and
    early-stopping modes, search objectives)."""
    name = metric.removeprefix("val_").lower()
    if re.search(r"loss|error|mse|mae|perplexity|distance|crossentropy|fid", name):
        return "min"
    if re.search(r"acc|auc|precision|recall|match|f1|psnr|ssim|iou|bleu|score", name):
        return "max"
    return None
