"""Deep Belief Network (Hinton et al. 2006): `model.py` holds the architecture (RBMs trained by contrastive
divergence, the classifier they unroll into), `training.py` greedy pretraining and the `DBN` pipeline."""
from kerazoo.models import lazy_attributes
from kerazoo.models.dbn.model import RBM, dbn, hidden_layers, unroll

__all__ = ["RBM", "DBN", "dbn", "pretrain", "unroll", "reconstruction_errors", "reconstruction_error_plot",
           "pretrain_and_finetune", "recipe_pretrain", "recipe_metrics"]
__getattr__ = lazy_attributes(__name__, training=["DBN", "pretrain", "pretrain_and_finetune", "reconstruction_errors",
                                                  "reconstruction_error_plot", "recipe_pretrain", "recipe_metrics"])
