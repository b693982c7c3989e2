"""The architecture of sequence-to-sequence with attention: a recurrent encoder-decoder (Bahdanau or Luong scores).

Encoder: `source_embedding` (padding id 0 masked) -> `encoder` (GRU or LSTM, bidirectional by
option) whose final states, forward and backward concatenated, start the decoder. Decoder
(teacher forcing): `target_embedding` -> `decoder` RNN -> `attention` over the encoder outputs
(`keras.layers.Attention`, Luong's dot score, or `keras.layers.AdditiveAttention` on the
`attention_query`/`attention_key` projections, Bahdanau's additive score) -> `attention_vector`
`tanh(W [context; h])` (Luong's attentional state) -> `predictions`, a softmax over the target
vocabulary per step. Padding is masked throughout: in the RNNs, the attention and the loss.

The model carries its `ParallelVectorizer` (vocabularies) in its config, so one `.keras` file
translates raw strings: `inference_models()` gives keras-io lstm_seq2seq's encoder and one-step
decoder built from the trained layers, `translate` (`decoding.py`) decodes greedily or by beam search
and returns the attention weights, `plot_attention` (`training.py`) draws them. `variant` names the
recurrent cell (it was `cell` before 0.2).

Reference:
  Bahdanau, Cho, Bengio, "Neural machine translation by jointly learning to align and
  translate", ICLR 2015; Luong, Pham, Manning, "Effective approaches to attention-based neural
  machine translation", EMNLP 2015.
"""
from __future__ import annotations

from typing import Literal, Sequence

import keras

from kerazoo.data.parallel import ParallelVectorizer, date_vectorizer
from kerazoo.errors import ConfigError
from kerazoo.models.common import check_choice, check_positive, check_rate
from kerazoo.models.seq2seq.decoding import OUTPUT_CHECKS, Translation, translate
from kerazoo.registry import register_model

__all__ = ["seq2seq_attention", "Seq2SeqAttention"]

_CELLS = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}


@keras.saving.register_keras_serializable(package="kerazoo")
class Seq2SeqAttention(keras.Model):
    """The teacher-forcing model; arguments as in `seq2seq_attention` (the registered builder)."""

    def __init__(self, *, vectorizer=None, embedding_dim=32, units=64, variant="gru", attention="luong",
                 attention_units=None, bidirectional=True, dropout=0.0, output_check=None, **kwargs):
        variant = kwargs.pop("cell", variant)  # the name in .keras files written before 0.2
        check_choice("variant", variant, list(_CELLS))
        check_choice("output_check", output_check, [None, *OUTPUT_CHECKS])
        check_choice("attention", attention, ["bahdanau", "luong"])
        check_positive(embedding_dim=embedding_dim, units=units, **({} if attention_units is None else
                                                                    {"attention_units": attention_units}))
        check_rate(dropout=dropout)
        if attention == "luong" and attention_units is not None:
            raise ConfigError("`attention_units` sizes Bahdanau's projections; Luong's dot score has none. Received: "
                             f"attention='luong', attention_units={attention_units}")
        try:
            vec = date_vectorizer() if vectorizer is None else ParallelVectorizer.from_config(vectorizer)
        except (TypeError, KeyError) as e:
            raise ConfigError(f"`vectorizer` should be a ParallelVectorizer.get_config() dict. Received keys "
                             f"{sorted(vectorizer)}: {e}") from None
        width = 2 * units if bidirectional else units  # the decoder continues the concatenated encoder states
        # === Layers ===
        rnn = _CELLS[variant]
        encoder = rnn(units, dropout=dropout, return_sequences=True, return_state=True, name="encoder_rnn")
        layers = {
            "source_embedding": keras.layers.Embedding(len(vec.source_vocabulary), embedding_dim, mask_zero=True,
                                                       name="source_embedding"),
            "encoder": keras.layers.Bidirectional(encoder, name="encoder") if bidirectional else encoder,
            "target_embedding": keras.layers.Embedding(len(vec.target_vocabulary), embedding_dim, mask_zero=True,
                                                       name="target_embedding"),
            "decoder": rnn(width, dropout=dropout, return_sequences=True, return_state=True, name="decoder"),
            "context_and_state": keras.layers.Concatenate(name="context_and_state"),
            "attention_vector": keras.layers.Dense(width, activation="tanh", name="attention_vector"),
            "dropout": keras.layers.Dropout(dropout, name="dropout"),
            "predictions": keras.layers.Dense(len(vec.target_vocabulary), activation="softmax", name="predictions"),
        }
        if bidirectional:
            for part in ("h", "c") if variant == "lstm" else ("h",):
                layers[f"encoder_state_{part}"] = keras.layers.Concatenate(name=f"encoder_state_{part}")
        if attention == "luong":
            layers["attention"] = keras.layers.Attention(score_mode="dot", name="attention")
        else:
            layers["attention_query"] = keras.layers.Dense(attention_units or width, use_bias=False,
                                                           name="attention_query")
            layers["attention_key"] = keras.layers.Dense(attention_units or width, use_bias=False, name="attention_key")
            layers["attention"] = keras.layers.AdditiveAttention(name="attention")
        # === Functional Model ===
        source = keras.Input(shape=(None,), dtype="int32", name="source")
        target_in = keras.Input(shape=(None,), dtype="int32", name="target_in")
        encoder_outputs, states = _encode(layers, source)
        probs, _, _ = _decode(layers, target_in, encoder_outputs, states)  # masks travel with the tensors
        super().__init__(inputs=[source, target_in], outputs=probs, **kwargs)
        # === Config ===
        self.vectorizer = vec
        self.embedding_dim, self.units, self.variant, self.attention = embedding_dim, units, variant, attention
        self.attention_units, self.bidirectional, self.dropout = attention_units, bidirectional, dropout
        self.output_check = output_check or ("iso_date" if vectorizer is None else "none")

    def get_config(self):
        return {"vectorizer": self.vectorizer.get_config(), "embedding_dim": self.embedding_dim, "units": self.units,
                "variant": self.variant, "attention": self.attention, "attention_units": self.attention_units,
                "bidirectional": self.bidirectional, "dropout": self.dropout, "output_check": self.output_check,
                "name": self.name,
                "trainable": self.trainable}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)

    def inference_models(self) -> tuple[keras.Model, keras.Model]:
        """`(encoder, decoder_step)` sharing this model's trained layers (keras-io lstm_seq2seq).

        `encoder`: `source` ids -> `[encoder_outputs, *states]`. `decoder_step`: `[token (batch, 1),
        encoder_outputs, source_mask (batch, source_len) bool, *states]` -> `[probs (batch, 1, vocab),
        attention (batch, 1, source_len), *states]`.
        """
        layers = {layer.name: layer for layer in self.layers}
        layers["encoder"] = self.get_layer("encoder" if self.bidirectional else "encoder_rnn")
        source = keras.Input(shape=(None,), dtype="int32", name="source")
        encoder_outputs, states = _encode(layers, source)
        encoder = keras.Model(source, [encoder_outputs, *states], name="encoder_model")
        token = keras.Input(shape=(1,), dtype="int32", name="token")
        outputs = keras.Input(shape=(None, encoder_outputs.shape[-1]), name="encoder_outputs")
        source_mask = keras.Input(shape=(None,), dtype="bool", name="source_mask")
        state_in = [keras.Input(shape=(s.shape[-1],), name=f"state_{i}") for i, s in enumerate(states)]
        probs, attention, state_out = _decode(layers, token, outputs, state_in, source_mask)
        step = keras.Model([token, outputs, source_mask, *state_in], [probs, attention, *state_out],
                           name="decoder_step_model")
        return encoder, step

    def translate(self, texts: str | Sequence[str], *, beam_width: int | None = None, max_length: int | None = None,
                  batch_size: int = 256) -> Translation | list[Translation]:
        """Decodes raw strings: greedily (`beam_width=None`) or by beam search of that width
        (`kerazoo.models.seq2seq.decoding.translate`).

        Example:
          >>> t = model.translate("Sept. 3rd, '98")
          >>> t.text, t.valid, t.flag, round(t.confidence, 3)
          ('1998-09-03', True, None, 0.999)
          >>> model.translate("hello world").flag
          'not_a_date'
        """
        return translate(self, texts, beam_width=beam_width, max_length=max_length, batch_size=batch_size)


def _encode(layers, source):
    outputs, *states = layers["encoder"](layers["source_embedding"](source))
    if "encoder_state_h" in layers:  # bidirectional: [forward states..., backward states...]
        half = len(states) // 2
        states = [layers[f"encoder_state_{p}"]([f, b]) for p, f, b in zip("hc", states[:half], states[half:])]
    return outputs, states


def _decode(layers, target_in, encoder_outputs, states, source_mask=None):
    hidden, *states = layers["decoder"](layers["target_embedding"](target_in), initial_state=states)
    query, key = hidden, encoder_outputs
    if "attention_query" in layers:
        query, key = layers["attention_query"](hidden), layers["attention_key"](encoder_outputs)
    mask = None if source_mask is None else [None, source_mask]
    context, scores = layers["attention"]([query, encoder_outputs, key], mask=mask, return_attention_scores=True)
    x = layers["attention_vector"](layers["context_and_state"]([context, hidden]))
    return layers["predictions"](layers["dropout"](x)), scores, states


@register_model(task="translation")
def seq2seq_attention(
    *,
    vectorizer: dict | None = None,                         # ParallelVectorizer config; None: the date task's
    embedding_dim: int = 32,                                # source and target embedding width
    units: int = 64,                                        # encoder RNN width (per direction)
    variant: Literal["gru", "lstm"] = "gru",                # the recurrent cell of encoder and decoder
    attention: Literal["bahdanau", "luong"] = "luong",
    attention_units: int | None = None,                     # Bahdanau's projection width (None: decoder width)
    bidirectional: bool = True,
    dropout: float = 0.0,
    output_check: Literal["iso_date", "none"] | None = None,  # what translate accepts (None: iso_date for dates)
    name: str = "seq2seq_attention",
) -> keras.Model:
    """Sequence-to-sequence with attention (Bahdanau et al. 2015, Luong et al. 2015): a recurrent encoder-decoder.

    Args:
      vectorizer: `ParallelVectorizer.get_config()` of the corpus (vocabularies, level, casing);
        it sets both vocabulary sizes and travels in the model's config. `None`: the date task's
        character vocabularies (`kerazoo.data.parallel.date_vectorizer()`).
      embedding_dim: width of the source and target embeddings (id 0, padding, masked).
      units: encoder RNN width; the decoder is `2 * units` wide when bidirectional.
      variant: the recurrent cell, `"gru"` or `"lstm"`, for encoder and decoder.
      attention: `"luong"` (dot score, `keras.layers.Attention`) or `"bahdanau"` (additive score
        on learned projections, `keras.layers.AdditiveAttention`).
      attention_units: width of Bahdanau's query/key projections (default: the decoder width).
      bidirectional: bidirectional encoder (its final states concatenated start the decoder).
      dropout: input dropout of both RNNs and dropout before `predictions`.
      output_check: what `translate` (and the SavedModel) accept as an answer: `"iso_date"` (a
        calendar date `YYYY-MM-DD`; an empty output means "not a date", anything else is
        flagged `invalid_output`) or `"none"`. Default: `"iso_date"` for the date task's
        vocabularies (`vectorizer=None`), else `"none"`.
      name: model name.

    Returns:
      A `Seq2SeqAttention` mapping `[source (batch, S), target_in (batch, T)]` int ids to the
      per-step softmax `(batch, T, target vocabulary)`; train it with
      `sparse_categorical_crossentropy` on `target_out` (padding is masked out of the loss).

    Reference:
      Bahdanau, Cho, Bengio, "Neural machine translation by jointly learning to align and
      translate", ICLR 2015; Luong, Pham, Manning, "Effective approaches to attention-based
      neural machine translation", EMNLP 2015.

    Example:
      >>> model = kerazoo.get("seq2seq_attention", attention="bahdanau", compile=True)
      >>> model.fit(kerazoo.data.dates.date_datasets(20000)["train"], epochs=10)
      >>> model.translate("3rd of March 1998", beam_width=3).text
      '1998-03-03'
    """
    return Seq2SeqAttention(vectorizer=vectorizer, embedding_dim=embedding_dim, units=units, variant=variant,
                            attention=attention, attention_units=attention_units, bidirectional=bidirectional,
                            dropout=dropout, output_check=output_check, name=name)
