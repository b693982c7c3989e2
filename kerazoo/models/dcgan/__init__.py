"""DCGAN (Radford et al. 2016): `model.py` holds the architecture and its backend-neutral training step,
`training.py` what trains and plots it, `scores.py` LeNet-5's scores of its digits, `tf_export.py` its
SavedModel endpoint and LiteRT/ONNX core."""
from kerazoo.models import lazy_attributes
from kerazoo.models.dcgan.model import DCGAN, EVALUATION_SEED, dcgan, scale_images, to_pixels

__all__ = ["SAMPLE_SEED", "DCGAN", "dcgan", "scale_images", "to_pixels", "image_mosaic", "plot_image_grid",
           "SampleGrid", "LeNetScores", "lenet_scores", "recipe_data", "recipe_callbacks", "recipe_metrics",
           "recipe_plots", "serving_endpoint", "metric_callbacks"]
__getattr__ = lazy_attributes(__name__, scores=["lenet_scores", "frechet_distance"],
                              training=["SAMPLE_SEED", "image_mosaic", "plot_image_grid", "SampleGrid", "LeNetScores",
                                        "uses", "recipe_data", "recipe_callbacks", "checkpoint_monitor",
                                        "recipe_metrics", "recipe_plots", "metric_callbacks", "example_batch"],
                              tf_export=["serving_endpoint", "export_core", "export_data"])
