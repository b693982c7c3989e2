"""What trains and scores LeNet-5 beyond Keras' `fit`/`evaluate`: the perturbed-digit accuracy on the card."""
from __future__ import annotations

from kerazoo.data.perturb import perturbed_accuracy
from kerazoo.family import FamilyHooks

__all__ = ["recipe_metrics", "HOOKS"]


def recipe_metrics(model, data) -> dict[str, float]:
    """`kerazoo train`/`evaluate` hook: accuracy on the perturbed copy of the held-out images
    (`kerazoo.data.perturb`: shifted, rotated, rescaled), on the card as `test_perturbed_accuracy`."""
    return {"perturbed_accuracy": perturbed_accuracy(model, data.test)}


HOOKS = FamilyHooks(recipe_metrics=recipe_metrics)
