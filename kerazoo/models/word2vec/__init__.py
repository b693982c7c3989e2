"""word2vec (skip-gram and CBOW with negative sampling): `model.py` holds the architecture, `vectors.py` the
trained vectors with their words, `training.py` what trains, scores and plots it, `probe.py` the linear probe
of the vectors, `tf_export.py` its SavedModel endpoint and LiteRT/ONNX table."""
from kerazoo.errors import UnknownWordError
from kerazoo.models import lazy_attributes
from kerazoo.models.word2vec.model import Word2Vec, word2vec
from kerazoo.models.word2vec.vectors import WordVectors

__all__ = ["word2vec", "Word2Vec", "WordVectors", "UnknownWordError", "linear_probe_accuracy", "recipe_data",
           "recipe_metrics", "recipe_plots", "serving_endpoint", "metric_callbacks", "ProbeAccuracy", "PROBE_WORDS"]
__getattr__ = lazy_attributes(__name__, probe=["linear_probe_accuracy", "mean_vectors"],
                              training=["recipe_data", "recipe_metrics", "recipe_plots", "metric_callbacks",
                                        "ProbeAccuracy", "PROBE_WORDS", "example_batch"],
                              tf_export=["serving_endpoint", "export_core", "export_data"])
