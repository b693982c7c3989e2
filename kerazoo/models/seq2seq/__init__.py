"""Sequence-to-sequence with attention: `model.py` holds the architecture, `decoding.py` greedy and beam
decoding, `training.py` the date task's training, scores and plots, `tf_export.py` its SavedModel endpoint."""
from kerazoo.models import lazy_attributes
from kerazoo.models.seq2seq.decoding import FLAGS, OUTPUT_CHECKS, Translation, translate
from kerazoo.models.seq2seq.model import Seq2SeqAttention, seq2seq_attention

__all__ = ["seq2seq_attention", "Seq2SeqAttention", "Translation", "FLAGS", "plot_attention", "exact_match",
           "date_metrics", "recipe_data", "recipe_metrics", "recipe_plots", "serving_endpoint", "metric_callbacks",
           "ExactMatch"]
__getattr__ = lazy_attributes(__name__, training=["plot_attention", "exact_match", "date_metrics", "recipe_data",
                                                  "recipe_metrics", "recipe_plots", "ExactMatch", "metric_callbacks",
                                                  "example_batch"],
                              tf_export=["serving_endpoint", "export_core", "id_core"])
