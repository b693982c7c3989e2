"""What `kerazoo train` and every `kerazoo tune` trial run around `fit`, assembled in one place:
the recipe's callbacks, the family's metric callbacks, replica statistics sync, and the family's
pretraining stage before the first epoch."""
from __future__ import annotations

import difflib
import inspect
import math
from pathlib import Path

from kerazoo._typecheck import coerce
from kerazoo.errors import ConfigError
from kerazoo.family import FamilyHooks, TaskData
from kerazoo.recipe import Recipe

__all__ = ["RECIPE_CALLBACKS", "check_recipe_callbacks", "recipe_callbacks", "cosine_decay", "one_cycle",
           "fit_callbacks", "run_pretraining"]

RECIPE_CALLBACKS = {"early_stopping": "EarlyStopping", "reduce_lr_on_plateau": "ReduceLROnPlateau",
                    "terminate_on_nan": "TerminateOnNaN", "cosine_decay": "LearningRateScheduler",
                    "one_cycle": "OneCycle"}


def check_recipe_callbacks(callbacks: dict, where: str = "recipe") -> dict:
    """Checks a recipe's `callbacks:` block without running anything: known callbacks, each option
    one its Keras callback (or `cosine_decay`) accepts, of the type of that option's default.

    Raises:
      ConfigError: naming `where`, the callback and option, and what is accepted.
    """
    import keras

    if not isinstance(callbacks, dict):
        raise ConfigError(f"{where}: callbacks: expected a mapping such as {{early_stopping: {{patience: 3}}}}, "
                          f"received {callbacks!r}")
    for key, options in callbacks.items():
        if key not in RECIPE_CALLBACKS:
            close = difflib.get_close_matches(str(key), list(RECIPE_CALLBACKS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{where}: callbacks: unknown callback {key!r}.{hint} "
                              f"Accepted: {', '.join(sorted(RECIPE_CALLBACKS))}.")
        if options is None:
            continue
        if not isinstance(options, dict):
            raise ConfigError(f"{where}: callbacks.{key}: expected a mapping of options, received {options!r}")
        fn = OWN.get(key) or getattr(keras.callbacks, RECIPE_CALLBACKS[key]).__init__
        params = {n: p for n, p in inspect.signature(fn).parameters.items()
                  if n not in ("self", "recipe") and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        for option, value in options.items():
            if option not in params:
                close = difflib.get_close_matches(str(option), list(params), n=1)
                raise ConfigError(f"{where}: callbacks.{key}: unknown option {option!r}."
                                  f"{f' Did you mean {close[0]!r}?' if close else ''} Accepted: {', '.join(params)}.")
            default = params[option].default
            kind = bool if isinstance(default, bool) else float if isinstance(default, (int, float)) else \
                str if isinstance(default, str) else None
            try:
                if kind is not None:
                    coerce(value, kind)
            except TypeError as e:
                raise ConfigError(f"{where}: callbacks.{key}.{option}: {e}") from None
    return callbacks


def recipe_callbacks(recipe: Recipe) -> list:
    """The Keras callbacks the recipe's `callbacks:` block names, with their options."""
    import keras

    check_recipe_callbacks(recipe.callbacks)
    out = []
    for key, options in recipe.callbacks.items():
        if key in OWN:
            out.append(OWN[key](recipe, **(options or {})))
        else:
            out.append(getattr(keras.callbacks, RECIPE_CALLBACKS[key])(**(options or {})))
    return out


def cosine_decay(recipe: Recipe, *, min_lr: float = 0.0, epochs: int | None = None):
    """Recipe callback `cosine_decay: {min_lr, epochs}`: the learning rate of epoch e is
    `min_lr + (lr - min_lr) (1 + cos(pi e / epochs)) / 2` (Loshchilov & Hutter 2017, without
    restarts), from the recipe's learning rate over its epochs; a function of the epoch only, so a
    resumed run continues the same curve."""
    import keras

    total = int(epochs or recipe.epochs)
    if total < 1 or min_lr < 0 or min_lr > recipe.learning_rate:
        raise ValueError(f"cosine_decay: needs epochs >= 1 and 0 <= min_lr <= learning_rate "
                         f"({recipe.learning_rate}). Received: epochs={total}, min_lr={min_lr}")

    def schedule(epoch, lr):
        return min_lr + 0.5 * (recipe.learning_rate - min_lr) * (1 + math.cos(math.pi * min(epoch, total) / total))

    return keras.callbacks.LearningRateScheduler(schedule)


def one_cycle(recipe: Recipe, *, warmup: float = 0.25, initial: float = 0.1, final: float = 0.0,
              epochs: int | None = None):
    """Recipe callback `one_cycle: {warmup, initial, final, epochs}`: the learning rate of each step rises
    linearly from `initial x` the recipe's learning rate to the learning rate over the first `warmup` of
    the run's steps, then falls along a half cosine to `final x` it by the last step (Smith & Topin 2019's
    one-cycle policy, as fast CIFAR-10 recipes use it). A function of the epoch and the step within it,
    so a resumed run continues the same curve; set before every compiled call (with
    `steps_per_execution: k` it moves every k steps).

    Reference:
      L. N. Smith, N. Topin, "Super-convergence: very fast training of neural networks using large
      learning rates", 2019.
    """
    import keras

    total_epochs = int(epochs or recipe.epochs)
    if total_epochs < 1 or not 0 <= warmup < 1 or not 0 <= initial <= 1 or not 0 <= final <= 1:
        raise ValueError(f"one_cycle: needs epochs >= 1, 0 <= warmup < 1 and initial, final in [0, 1] (fractions of "
                         f"the learning rate). Received: epochs={total_epochs}, warmup={warmup}, initial={initial}, "
                         f"final={final}")
    peak = recipe.learning_rate

    def rate(progress: float) -> float:  # progress: the fraction of the run's steps done
        if progress < warmup:
            return peak * (initial + (1 - initial) * progress / warmup)
        fall = min((progress - warmup) / (1 - warmup), 1.0)
        return peak * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * fall)))

    class OneCycle(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            steps = self.params.get("steps") or 1
            self.model.optimizer.learning_rate = rate((self.epoch * steps + batch) / (total_epochs * steps))

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    callback = OneCycle()
    callback.rate = rate  # the curve, for plots and tests
    return callback


OWN = {"cosine_decay": cosine_decay, "one_cycle": one_cycle}  # recipe callbacks made here, not by Keras


def fit_callbacks(hooks: FamilyHooks, recipe: Recipe, data: TaskData | None, *, replicas: int = 1) -> tuple[list, list]:
    """`(first, last)` callbacks of every fit, train's and each search trial's.

    `first` run before anything that reads the epoch logs: replica statistics sync (several
    replicas), then the family's metric callbacks (they add `val_*` entries). `last` are the
    recipe's own (early stopping, schedules), which may read those entries.
    """
    from kerazoo import distribute

    first = [distribute.SyncMovingStatistics()] if replicas > 1 else []
    if hooks.metric_callbacks is not None:
        first += list(hooks.metric_callbacks(data if data is not None else TaskData(train=None)))
    return first, recipe_callbacks(recipe)


def run_pretraining(name: str, hooks: FamilyHooks, model, data: TaskData, recipe: Recipe, out: Path) -> list:
    """The family's stage before `fit` when the recipe has a `pretrain:` block (DBN's RBMs, word vectors
    for an embedding); returns the plots it wrote into `out`."""
    if not recipe.pretrain:
        return []
    if hooks.recipe_pretrain is None:
        raise ConfigError(f"{name}: the recipe has a `pretrain` block, but its family declares no pretraining stage "
                         "(FamilyHooks.recipe_pretrain).")
    Path(out).mkdir(parents=True, exist_ok=True)
    return list(hooks.recipe_pretrain(model, data, dict(recipe.pretrain), Path(out)))
