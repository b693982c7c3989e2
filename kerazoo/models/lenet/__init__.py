"""LeNet-5 (LeCun et al. 1998): `model.py` holds the architecture, `training.py` what scores it."""
from kerazoo.models.lenet.model import lenet5

__all__ = ["lenet5"]
