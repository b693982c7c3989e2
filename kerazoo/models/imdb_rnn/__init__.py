"""Recurrent IMDB sentiment classifiers (SimpleRNN, LSTM, GRU): `model.py` holds the architecture,
`training.py` the word-vector start of their embedding, `tf_export.py` their LiteRT/ONNX core."""
from kerazoo.models import lazy_attributes
from kerazoo.models.imdb_rnn.model import MaskedGlobalMaxPooling1D, imdb_gru, imdb_lstm, imdb_rnn

__all__ = ["imdb_rnn", "imdb_lstm", "imdb_gru", "MaskedGlobalMaxPooling1D", "recipe_pretrain", "export_core"]
__getattr__ = lazy_attributes(__name__, training=["recipe_pretrain", "uses"], tf_export=["export_core"])
