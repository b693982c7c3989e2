"""Autoencoders (dense, convolutional, denoising, variational): `model.py` holds the architecture,
`training.py` what trains and plots it, `tf_export.py` what its exported files are measured on."""
from kerazoo.models import lazy_attributes
from kerazoo.models.autoencoder.model import VAESampling, autoencoder, decoder_of, encoder_of

__all__ = ["autoencoder", "encoder_of", "decoder_of", "VAESampling", "reconstruction_plot", "recipe_data",
           "recipe_plots"]
__getattr__ = lazy_attributes(__name__, training=["reconstruction_plot", "recipe_data", "recipe_plots",
                                                  "targets_of_inputs"])
