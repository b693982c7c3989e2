"""What `kerazoo train` and every `kerazoo tune` trial run around `fit`, assembled in one place:
the recipe's callbacks, the family's metric callbacks, replica statistics sync, and the family's
pretraining stage before the first epoch."""
from __future__ import annotations

import math
from pathlib import Path

from kerazoo.family import FamilyHooks, TaskData
from kerazoo.recipe import Recipe

__all__ = ["RECIPE_CALLBACKS", "recipe_callbacks", "cosine_decay", "fit_callbacks", "pretrain"]

RECIPE_CALLBACKS = {"early_stopping": "EarlyStopping", "reduce_lr_on_plateau": "ReduceLROnPlateau",
                    "terminate_on_nan": "TerminateOnNaN", "cosine_decay": "LearningRateScheduler"}


def recipe_callbacks(recipe: Recipe) -> list:
    """The Keras callbacks the recipe's `callbacks:` block names, with their options."""
    import keras

    out = []
    for key, options in recipe.callbacks.items():
        if key not in RECIPE_CALLBACKS:
            raise ValueError(f"Unknown callback {key!r} in the recipe. Accepted: {', '.join(sorted(RECIPE_CALLBACKS))}.")
        if key == "cosine_decay":
            out.append(cosine_decay(recipe, **(options or {})))
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


def pretrain(name: str, hooks: FamilyHooks, model, data: TaskData, recipe: Recipe, out: Path) -> list:
    """The family's stage before `fit` when the recipe has a `pretrain:` block (DBN's RBMs, word vectors
    for an embedding); returns the plots it wrote into `out`."""
    if not recipe.pretrain:
        return []
    if hooks.recipe_pretrain is None:
        raise ValueError(f"{name}: the recipe has a `pretrain` block, but its family declares no pretraining stage "
                         "(FamilyHooks.recipe_pretrain).")
    Path(out).mkdir(parents=True, exist_ok=True)
    return list(hooks.recipe_pretrain(model, data, dict(recipe.pretrain), Path(out)))
