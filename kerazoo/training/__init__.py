"""Training by recipe: `train`, `evaluate`, and the per-task data preparation."""
from kerazoo.training.run import TrainResult, evaluate, train

__all__ = ["train", "evaluate", "TrainResult"]
