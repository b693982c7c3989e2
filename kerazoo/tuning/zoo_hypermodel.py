"""A catalogue model as a `keras_tuner.HyperModel`, and the data its trials train on.

`ZooHyperModel.build(hp)` declares the search space on `hp`, builds the registered builder with
the sampled values over the setup's builder arguments and compiles it by the recipe (sampled
learning rate, optimizer, clipping, ... applied). `fit(hp, model, ...)` trains it with the
callbacks and the pretraining stage of `kerazoo.train` (`kerazoo.training.callbacks`), on the
search's data (`RecipeData`, `GivenData`) or on what KerasTuner's `search(...)` passes.

A trial's score depends only on its values: every execution of a trial is seeded from the search
seed and the trial's values (`kerazoo.tuning.space.trial_seed`: weights, dropout, pretraining), and
every trial starts from the same data order (the recipe's pipelines are made afresh for each trial
under the search seed, and `fit` shuffles arrays under it), whatever ran before it in the process.

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
from kerazoo.data.sources import search_dirs
from kerazoo.errors import TuningError
from kerazoo.family import TaskData
from kerazoo.loading import build, used_artifacts
from kerazoo.recipe import Recipe
from kerazoo.registry import builder
from kerazoo.training import callbacks as fit_assembly
from kerazoo.training.tasks import prepare
from kerazoo.tuning.resolve import SearchSetup, resolve_search
from kerazoo.tuning.space import trial_seed
from kerazoo.tuning.specs import plain

__all__ = ["ZooHyperModel", "RecipeData", "GivenData", "search_data", "data_recipe", "recipe_data_record", "hypermodel",
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
      seed: the search seed every trial's seeds derive from (default: the recipe's).
    """

    def __init__(self, setup: SearchSetup, *, data=None, epochs: int | None = None, verbose: str | int = "auto",
                 strategy=None, work_dir: str | Path | None = None, seed: int | None = None):
        super().__init__(name=f"kerazoo_{setup.name}")
        self.setup, self.data, self.epochs, self.verbose, self.strategy = setup, data, epochs, verbose, strategy
        self.work_dir = Path(work_dir) if work_dir is not None else None
        self.seed = setup.recipe.seed if seed is None else int(seed)
        self._counts: dict = {}  # id(dataset) -> examples, for rebatching user pipelines
        self._execution = 0      # which execution of a trial is being built and fitted (see `executing`)
        self._task = None        # the data the last trial trained on (its vectorizer wraps the shipped model)

    # The setup's parts, by the names KerasTuner users and kerazoo's tests read.
    model_name = property(lambda self: self.setup.name)
    config = property(lambda self: self.setup.config)
    recipe = property(lambda self: self.setup.recipe)
    kwargs = property(lambda self: self.setup.kwargs)
    space = property(lambda self: self.setup.space)

    @contextlib.contextmanager
    def executing(self, execution: int):
        """Builds and fits inside are execution `execution` of a trial (seeded apart from the others)."""
        previous, self._execution = self._execution, execution
        try:
            yield
        finally:
            self._execution = previous

    def trial_seed(self, hp) -> int:
        """The seed of this execution of the trial with `hp`'s values (the search seed and the values only)."""
        values = {k: v for k, v in hp.values.items() if k.startswith("tuner/")}
        values.update(self.space.flat(*self.space.values_of(hp.values)))
        return trial_seed(self.seed, values, self._execution)

    def sample(self, hp) -> tuple[dict, Recipe]:
        """`(builder kwargs, Recipe)` for the values in `hp` (declaring the space on it)."""
        model_values, recipe_values = self.space.declare(hp)
        where = f"{self.model_name} sampled hyperparameters"
        kwargs = {**self.kwargs, **check_kwargs(builder(self.model_name), model_values, where)}
        recipe = dataclasses.replace(self.recipe, **check_dataclass(Recipe, recipe_values, where))
        return kwargs, recipe

    def build(self, hp):
        import keras

        seed = self.trial_seed(hp)
        kwargs, recipe = self.sample(hp)
        keras.utils.set_random_seed(seed)  # weights and dropout: this trial's values only
        # the tuner enters the strategy's scope (distribution_strategy=); this adds its precision policy
        with distribute.scope(self.strategy) if self.strategy is not None else contextlib.nullcontext():
            try:
                return build(self.model_name, kwargs, recipe=recipe)
            except (ValueError, TypeError) as e:
                changed = {k: v for k, v in kwargs.items() if self.kwargs.get(k, object()) != v}
                raise kt.errors.FailedTrialError(f"{self.model_name}: the builder rejects the sampled values "
                                                 f"{changed}: {e}") from e

    def fit(self, hp, model, *args, **kwargs):
        import keras
        import tensorflow as tf

        seed = self.trial_seed(hp)
        model_kwargs, recipe = self.sample(hp)
        _, sampled = self.space.declare(hp)
        task, batched = None, False
        if self.data is not None:
            keras.utils.set_random_seed(self.seed)  # the data: the same split and order for every trial
            args, data_kwargs, task = self.data.inputs(model_kwargs, recipe)
            kwargs.update(data_kwargs)
            batched = self.data.batched_per_trial
        self._task = task
        kwargs.setdefault("epochs", recipe.epochs if "epochs" in sampled else self.epochs or recipe.epochs)
        # as kerazoo.train: sync and the family's metric callbacks first (they add to the logs the tuner reads)
        first, last = fit_assembly.fit_callbacks(self.config.hooks, recipe, task,
                                                 replicas=distribute.replicas(distribute.strategy_of(model)))
        kwargs["callbacks"] = [*first, *kwargs.get("callbacks", []), *last]
        batch_size = distribute.global_batch_size(recipe.batch_size, distribute.strategy_of(model))
        kwargs["verbose"] = self.verbose
        keras.utils.set_random_seed(seed)
        if recipe.pretrain and not kwargs.get("initial_epoch"):  # as kerazoo.train: e.g. DBN's RBMs first
            self._pretrain(model, recipe, args, task)
        if args and isinstance(args[0], tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # pipelines shuffle themselves, seeded
            if "batch_size" in sampled and not batched:  # given pipelines come in the recipe's batches: rebatch
                args = (self._rebatch(args[0], batch_size), *args[1:])
                if isinstance(kwargs.get("validation_data"), tf.data.Dataset):
                    kwargs["validation_data"] = self._rebatch(kwargs["validation_data"], batch_size)
        else:
            kwargs.setdefault("batch_size", batch_size)
        keras.utils.set_random_seed(self.seed)  # arrays are shuffled by fit: in the same order for every trial
        return model.fit(*args, **kwargs)

    def shipped_form(self, model):
        """`model` as it ships, e.g. a text classifier behind the vectorizer of the data it trained on."""
        task = self._task
        return task.wrap(model) if task is not None and task.wrap is not None else model

    def trial_record(self, hp) -> dict:
        """What a trial was: its values, builder arguments, recipe, seed and epochs."""
        model_kwargs, recipe = self.sample(hp)
        _, sampled = self.space.declare(hp)
        epochs = hp.values.get("tuner/epochs") or (recipe.epochs if "epochs" in sampled else
                                                   self.epochs or recipe.epochs)
        return {"values": self.space.flat(*self.space.values_of(hp.values)), "model": plain(model_kwargs),
                "recipe": plain(dataclasses.asdict(dataclasses.replace(recipe, epochs=int(epochs)))),
                "seed": self.trial_seed(hp), "epochs": int(epochs), "continues": hp.values.get("tuner/trial_id")}

    def run_record(self, hp, *, metrics: dict, epochs_run: int, seconds: float) -> dict:
        """A trial's `run.json`, as `kerazoo train` writes one: what `kerazoo export` makes an artifact of.
        Its metrics are the trial's at its best epoch, on the validation data the search scored it on."""
        from kerazoo.training.run import versions

        record = self.trial_record(hp)
        task = self._task
        recipe_data = isinstance(self.data, RecipeData)
        return {"name": self.model_name, "dataset": self.recipe.dataset if recipe_data else "search-data",
                "split": "validation", "metrics": metrics, "model": record["model"], "recipe": record["recipe"],
                "seed": record["seed"], "epochs_run": int(epochs_run), "train_seconds": round(seconds, 1),
                "class_names": task.class_names if task is not None else None,
                "strategy": {"kind": distribute.kind_of(self.strategy),
                             "replicas": (self.strategy.num_replicas_in_sync if self.strategy is not None else 1)},
                "versions": versions()}

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
            fit_assembly.run_pretraining(self.model_name, self.config.hooks, model, data, recipe, self.work_dir)
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

def recipe_data_record(setup: SearchSetup, data_dir) -> dict:
    """What trials on the recipe's data train on, as a resume compares it: the data set, its options and where
    its files are."""
    return {"source": "recipe", "dataset": setup.recipe.dataset, "options": plain(setup.recipe.data),
            "validation_split": setup.recipe.validation_split,
            "data_dir": [str(p.resolve()) for p in search_dirs(data_dir)]}


class RecipeData:
    """The recipe's data (`kerazoo.training.tasks.prepare`), made afresh for every trial: with its sampled
    builder arguments (word2vec's window, an IMDB model's vocabulary size) and batch size, under the
    search seed, so each trial starts from the same split and data order whatever ran before it."""

    batched_per_trial = True

    def __init__(self, setup: SearchSetup, *, data_dir, seed: int, strategy=None):
        import keras

        self.setup, self.data_dir, self.seed, self.strategy = setup, data_dir, seed, strategy
        self._unused = self._key(setup.kwargs, setup.recipe)  # the key of a pipeline no trial iterated yet
        self.record = recipe_data_record(setup, data_dir)  # what a resume compares
        keras.utils.set_random_seed(seed)
        self.task = self._prepare(setup.kwargs, setup.recipe)

    has_val = property(lambda self: self.task.val is not None)

    def _prepare(self, model_kwargs, recipe) -> TaskData:
        return prepare(self.setup.config, data_recipe(recipe, self.strategy), dict(model_kwargs), self.data_dir,
                       self.seed)

    @staticmethod
    def _key(model_kwargs, recipe) -> str:
        return json.dumps([plain(model_kwargs), recipe.batch_size], sort_keys=True, default=str)

    def inputs(self, model_kwargs, recipe) -> tuple[tuple, dict, TaskData]:
        """`(fit args, fit kwargs, TaskData)` of a trial: pipelines no trial iterated before (call it under
        the search seed)."""
        if self._key(model_kwargs, recipe) != self._unused:
            self.task = None  # one data set in memory at a time
            self.task = self._prepare(model_kwargs, recipe)
        self._unused = None
        return (self.task.train,), {"validation_data": self.task.val}, self.task


@dataclasses.dataclass
class GivenData:
    """Data passed to `kerazoo.tune`: the same `fit` arguments for every trial (a `TaskData` given gets the
    artifacts its family's hooks use, as `prepare` gives them, loaded for the first trial)."""

    args: tuple
    kwargs: dict
    has_val: bool
    task: TaskData | None = None
    setup: SearchSetup | None = None
    batched_per_trial = False  # pipelines come batched as given (rebatched for a searched batch size)

    def inputs(self, model_kwargs, recipe) -> tuple[tuple, dict, TaskData | None]:
        if self.task is not None and self.setup is not None:  # once: a GAN's scorer, an embedding's vectors
            self.task = dataclasses.replace(self.task, artifacts={
                **used_artifacts(self.setup.config.hooks, self.setup.recipe), **self.task.artifacts})
            self.setup = None
        return self.args, dict(self.kwargs), self.task


def search_data(setup: SearchSetup, data, *, data_dir=None, seed: int = 1337, strategy=None):
    """The data of a search: `RecipeData` when `data` is None, else `GivenData` from a `tf.data.Dataset`,
    `(x, y)` arrays, `x` alone, `{"train": ..., "val": ...}` or a `TaskData` (a pipeline given is iterated
    as it is: a reshuffling one gives each trial the order it has reached)."""
    if data is None:
        return RecipeData(setup, data_dir=data_dir, seed=seed, strategy=strategy)
    return _given_data(setup, data, data_recipe(setup.recipe, strategy))


def _given_data(setup: SearchSetup, data, recipe: Recipe) -> GivenData:
    import numpy as np
    import tensorflow as tf

    task = data if isinstance(data, TaskData) else None
    if task is not None:
        data = {"train": task.train, "val": task.val}
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
    return GivenData(args, kwargs, bool(kwargs), task, setup)


def _targets_of_inputs(setup: SearchSetup, x):
    """Targets for inputs passed alone: what the family derives from them (`targets_of_inputs`, e.g. an
    autoencoder's rescaled images), else none (models whose `train_step` needs none)."""
    targets = setup.config.hooks.targets_of_inputs
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
