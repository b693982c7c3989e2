"""A catalogue model as a `keras_tuner.HyperModel`, and the data its trials train on.

`ZooHyperModel.build(hp)` declares the search space on `hp`, builds the registered builder with
the sampled values over the setup's builder arguments and compiles it by the recipe (sampled
learning rate, optimizer, clipping, ... applied). `fit(hp, model, ...)` trains it with the
callbacks and the pretraining stage of `kerazoo.train` (`kerazoo.training.callbacks`), on the
search's data (`RecipeData`, `GivenData`) or on what KerasTuner's `search(...)` passes.

Everything a hypermodel needs is given at construction. Imports KerasTuner (and TensorFlow).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any, Mapping

import keras_tuner as kt

from kerazoo import distribute
from kerazoo.config import check_dataclass, check_kwargs
from kerazoo.errors import TuningError
from kerazoo.family import TaskData, hooks
from kerazoo.loading import build
from kerazoo.recipe import Recipe
from kerazoo.registry import builder
from kerazoo.training import callbacks as fit_assembly
from kerazoo.training.tasks import prepare
from kerazoo.tuning.resolve import SearchSetup, resolve_search
from kerazoo.tuning.specs import plain

__all__ = ["ZooHyperModel", "RecipeData", "GivenData", "search_data", "data_recipe", "hypermodel",
           "sample_hyperparameters", "SEARCH_VALIDATION_SPLIT"]

SEARCH_VALIDATION_SPLIT = 0.1  # held out by searches of recipes that train on the whole training set


def data_recipe(recipe: Recipe, strategy=None) -> Recipe:
    """The recipe a search's data is prepared with: its batch size is the global batch under `strategy`,
    and a recipe that trains on everything (`validation_split: 0`, e.g. the DBN's final run) holds out
    `SEARCH_VALIDATION_SPLIT` for the search to score trials on."""
    if not recipe.validation_split:
        recipe = dataclasses.replace(recipe, validation_split=SEARCH_VALIDATION_SPLIT)
    if strategy is None:
        return recipe
    return dataclasses.replace(recipe, batch_size=distribute.global_batch_size(recipe.batch_size, strategy))


class ZooHyperModel(kt.HyperModel):
    """A catalogue model as a `keras_tuner.HyperModel`: the builder with sampled arguments, compiled and
    fitted by the recipe with sampled recipe values.

    Args:
      setup: what the search trains (`kerazoo.tuning.resolve_search`).
      data: the search's data (`RecipeData`, `GivenData`); None: `fit` trains on what it is given.
      epochs: epochs per trial (default: the recipe's; a searched `epochs` wins).
      verbose: Keras' `fit` verbosity.
      strategy: a one-machine `tf.distribute.Strategy` (models are built in `distribute.scope`, recipe
        batch sizes are per replica), or None.
      work_dir: where the family's pretraining stage writes its records (default: a temporary folder).
    """

    def __init__(self, setup: SearchSetup, *, data=None, epochs: int | None = None, verbose: str | int = "auto",
                 strategy=None, work_dir: str | Path | None = None):
        super().__init__(name=f"kerazoo_{setup.name}")
        self.setup, self.data, self.epochs, self.verbose, self.strategy = setup, data, epochs, verbose, strategy
        self.work_dir = Path(work_dir) if work_dir is not None else None
        self._counts: dict = {}  # id(dataset) -> examples, for rebatching user pipelines

    # The setup's parts, by the names KerasTuner users and kerazoo's tests read.
    model_name = property(lambda self: self.setup.name)
    config = property(lambda self: self.setup.config)
    recipe = property(lambda self: self.setup.recipe)
    kwargs = property(lambda self: self.setup.kwargs)
    space = property(lambda self: self.setup.space)

    def sample(self, hp) -> tuple[dict, Recipe]:
        """`(builder kwargs, Recipe)` for the values in `hp` (declaring the space on it)."""
        model_values, recipe_values = self.space.declare(hp)
        where = f"{self.model_name} sampled hyperparameters"
        kwargs = {**self.kwargs, **check_kwargs(builder(self.model_name), model_values, where)}
        recipe = dataclasses.replace(self.recipe, **check_dataclass(Recipe, recipe_values, where))
        return kwargs, recipe

    def build(self, hp):
        import keras

        kwargs, recipe = self.sample(hp)
        keras.utils.set_random_seed(recipe.seed)
        # the tuner enters the strategy's scope (distribution_strategy=); this adds its precision policy
        with distribute.scope(self.strategy) if self.strategy is not None else contextlib.nullcontext():
            try:
                return build(self.model_name, kwargs, recipe=recipe)
            except (ValueError, TypeError) as e:
                changed = {k: v for k, v in kwargs.items() if self.kwargs.get(k, object()) != v}
                raise kt.errors.FailedTrialError(f"{self.model_name}: the builder rejects the sampled values "
                                                 f"{changed}: {e}") from e

    def fit(self, hp, model, *args, **kwargs):
        import tensorflow as tf

        model_kwargs, recipe = self.sample(hp)
        _, sampled = self.space.declare(hp)
        task = None
        if self.data is not None:
            args, data_kwargs, task = self.data.inputs(model_kwargs)
            kwargs.update(data_kwargs)
        kwargs.setdefault("epochs", recipe.epochs if "epochs" in sampled else self.epochs or recipe.epochs)
        # as kerazoo.train: sync and the family's metric callbacks first (they add to the logs the tuner reads)
        first, last = fit_assembly.fit_callbacks(hooks(self.config.family), recipe, task,
                                                 replicas=model.distribute_strategy.num_replicas_in_sync)
        kwargs["callbacks"] = [*first, *kwargs.get("callbacks", []), *last]
        batch_size = distribute.global_batch_size(recipe.batch_size, model.distribute_strategy)
        kwargs["verbose"] = self.verbose
        if recipe.pretrain and not kwargs.get("initial_epoch"):  # as kerazoo.train: e.g. DBN's RBMs first
            self._pretrain(model, recipe, args, task)
        if args and isinstance(args[0], tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # pipelines shuffle themselves, seeded
            if "batch_size" in sampled:  # they come batched by the recipe's default: rebatch
                args = (self._rebatch(args[0], batch_size), *args[1:])
                if isinstance(kwargs.get("validation_data"), tf.data.Dataset):
                    kwargs["validation_data"] = self._rebatch(kwargs["validation_data"], batch_size)
        else:
            kwargs.setdefault("batch_size", batch_size)
        return model.fit(*args, **kwargs)

    def _pretrain(self, model, recipe, args, task):
        """The family's pretraining stage, as `kerazoo.train` runs it, on this trial's training data."""
        import tensorflow as tf

        from kerazoo.data.sources import to_dataset

        train = args[0] if isinstance(args[0], tf.data.Dataset) else to_dataset(
            (args[0], args[1]), batch_size=recipe.batch_size, cache=False)
        if self.work_dir is None:
            self.work_dir = Path(tempfile.mkdtemp(prefix="kerazoo-pretrain-"))
        data = dataclasses.replace(task, train=train) if task is not None else TaskData(train)  # keeps a vectorizer
        try:
            fit_assembly.pretrain(self.model_name, hooks(self.config.family), model, data, recipe, self.work_dir)
        except ValueError as e:
            raise kt.errors.FatalValueError(str(e)) from None

    def _rebatch(self, dataset, batch_size):
        """`dataset` in batches of `batch_size`, its length known to Keras (progress, no warnings)."""
        import tensorflow as tf

        if id(dataset) not in self._counts:  # one pass over the (cached) pipeline per search
            self._counts[id(dataset)] = int(dataset.reduce(tf.constant(0, tf.int64), lambda n, batch: n + tf.shape(
                tf.nest.flatten(batch)[0], out_type=tf.int64)[0]))
        steps = -(-self._counts[id(dataset)] // batch_size)
        shapes = [spec.shape for spec in tf.nest.flatten(dataset.element_spec)]
        if any(shape.rank and None in shape[1:] for shape in shapes):  # length-bucketed text batches
            return dataset.unbatch().padded_batch(batch_size).apply(tf.data.experimental.assert_cardinality(steps))
        return dataset.rebatch(batch_size).apply(tf.data.experimental.assert_cardinality(steps))


# === The search's data ===

class _RecordingDict(dict):
    """Records which builder arguments the data preparation reads."""

    def __init__(self, *args):
        super().__init__(*args)
        self.read = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)


class RecipeData:
    """The recipe's data (`kerazoo.training.tasks.prepare`), prepared again whenever a trial samples other
    values for the builder arguments it is built from (word2vec's window, an IMDB model's vocabulary size)."""

    def __init__(self, setup: SearchSetup, recipe: Recipe, data_dir, seed: int):
        self.setup, self.recipe, self.data_dir, self.seed = setup, recipe, data_dir, seed
        reads = _RecordingDict(setup.kwargs)
        self.task = prepare(setup.config, recipe, reads, data_dir, seed)
        searched = {p.arg for p in setup.space.params if p.target == "model"}
        self.names = sorted(reads.read & searched)  # the searched builder arguments the data is made from
        self.key = self._key(setup.kwargs)

    has_val = property(lambda self: self.task.val is not None)

    def _key(self, kwargs):
        return tuple(json.dumps(plain(kwargs.get(n)), default=str) for n in self.names)

    def inputs(self, model_kwargs) -> tuple[tuple, dict, TaskData]:
        """`(fit args, fit kwargs, TaskData)` of a trial with these builder arguments."""
        if self._key(model_kwargs) != self.key:  # one data set kept at a time
            self.task = None
            self.task = prepare(self.setup.config, self.recipe, dict(model_kwargs), self.data_dir, self.seed)
            self.key = self._key(model_kwargs)
        return (self.task.train,), {"validation_data": self.task.val}, self.task


@dataclasses.dataclass
class GivenData:
    """Data passed to `kerazoo.tune`: the same `fit` arguments for every trial."""

    args: tuple
    kwargs: dict
    has_val: bool
    task: TaskData | None = None

    def inputs(self, model_kwargs) -> tuple[tuple, dict, TaskData | None]:
        return self.args, dict(self.kwargs), self.task


def search_data(setup: SearchSetup, data, *, recipe: Recipe, data_dir=None, seed: int = 1337):
    """The data of a search: `RecipeData` when `data` is None, else `GivenData` from a `tf.data.Dataset`,
    `(x, y)` arrays, `x` alone, `{"train": ..., "val": ...}` or a `TaskData`. `recipe` is `data_recipe(...)`."""
    import numpy as np
    import tensorflow as tf

    if data is None:
        return RecipeData(setup, recipe, data_dir, seed)
    task = data if isinstance(data, TaskData) else None
    if isinstance(data, TaskData):
        data = {"train": data.train, "val": data.val}
    if isinstance(data, Mapping):
        unknown = set(data) - {"train", "val"}
        if unknown or "train" not in data:
            raise TuningError(f"data: expected keys 'train' and optionally 'val', received {sorted(data)}")
        train, val = data["train"], data.get("val")
    else:
        train, val = data, None
    if isinstance(train, tf.data.Dataset):
        args = (train,)
    elif isinstance(train, (tuple, list)) and len(train) == 2:
        args = tuple(train)
    elif isinstance(train, np.ndarray):
        args = (train, _targets_of_inputs(setup, train))
    else:
        raise TuningError("data: expected a tf.data.Dataset, (x, y) arrays, x alone (autoencoders, models that need "
                          "no targets), "
                          f"a TaskData or {{'train': ..., 'val': ...}}; received {type(train).__name__}")
    kwargs: dict[str, Any] = {}
    if isinstance(val, np.ndarray):
        val = (val, _targets_of_inputs(setup, val))
    if val is not None:
        kwargs["validation_data"] = val if isinstance(val, tf.data.Dataset) else tuple(val)
    elif not isinstance(train, tf.data.Dataset):
        kwargs["validation_split"] = recipe.validation_split
    return GivenData(args, kwargs, bool(kwargs), task)


def _targets_of_inputs(setup: SearchSetup, x):
    """Targets for inputs passed alone: what the family derives from them (`targets_of_inputs`, e.g. an
    autoencoder's rescaled images), else none (models whose `train_step` needs none)."""
    targets = hooks(setup.config.family).targets_of_inputs
    return targets(x, setup.kwargs) if targets else None


# === The public entry points ===

def hypermodel(name: str, *, search_space: Mapping | None = None, config=None, model_overrides: Mapping | None = None,
               epochs: int | None = None, verbose: str | int = "auto", **recipe_overrides) -> ZooHyperModel:
    """A catalogue model as a `keras_tuner.HyperModel` searching its config's `search_space:`.

    `build(hp)` declares the search space on `hp`, calls the registered builder with the sampled
    values over the config's training arguments, and compiles it with the recipe (sampled learning
    rate, optimizer, clipping, ... applied). `fit(hp, model, ...)` trains with the recipe's sampled
    batch size, epochs and callbacks, after the family's pretraining stage when the recipe has
    `pretrain:` (DBN's RBMs), as `kerazoo.train` does.

    Args:
      name: registered model name.
      search_space: a `search_space:` block to use instead of the config's.
      config: a config overlay (YAML path or dict), as for `kerazoo.train`.
      model_overrides: builder arguments on top of the config's.
      epochs: epochs per trial (default: the recipe's, unless `epochs` is itself searched).
      verbose: Keras' `fit` verbosity in every trial.
      **recipe_overrides: recipe fields (`batch_size=...`, `learning_rate=...`).

    Returns:
      A `keras_tuner.HyperModel` (usable with any KerasTuner tuner).

    Example:
      >>> hm = kerazoo.hypermodel("imdb_lstm")
      >>> tuner = keras_tuner.RandomSearch(hm, objective="val_accuracy", max_trials=5)
    """
    setup = resolve_search(name, search_space=search_space, config=config, model_overrides=model_overrides,
                           **recipe_overrides)
    return ZooHyperModel(setup, epochs=epochs, verbose=verbose)


def sample_hyperparameters(hm: ZooHyperModel, seed: int = 0):
    """A random point of `hm`'s search space as `keras_tuner.HyperParameters` (conditions respected).

    Example:
      >>> hm = kerazoo.hypermodel("lenet5")
      >>> model = hm.build(sample_hyperparameters(hm, seed=1))
    """
    space = kt.HyperParameters()
    hm.space.declare(space)  # registers every parameter, active or not
    hp = kt.HyperParameters()
    for i, param in enumerate(space.space):  # KerasTuner's RandomSearchOracle does the same
        hp.merge([param])
        if hp.is_active(param):
            hp.values[param.name] = param.random_sample(seed + i)
    return hp
