"""AlexNet (Krizhevsky et al. 2012) and its CIFAR-10 layout: `model.py` holds the architecture."""
from kerazoo.models.alexnet.model import LocalResponseNormalization, alexnet, alexnet_cifar

__all__ = ["alexnet", "alexnet_cifar", "LocalResponseNormalization"]
