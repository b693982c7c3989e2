"""Sequence-to-sequence with attention: a recurrent encoder-decoder (Bahdanau or Luong scores).

Encoder: `source_embedding` (padding id 0 masked) -> `encoder` (GRU or LSTM, bidirectional by
option) whose final states, forward and backward concatenated, start the decoder. Decoder
(teacher forcing): `target_embedding` -> `decoder` RNN -> `attention` over the encoder outputs
(`keras.layers.Attention`, Luong's dot score, or `keras.layers.AdditiveAttention` on the
`attention_query`/`attention_key` projections, Bahdanau's additive score) -> `attention_vector`
`tanh(W [context; h])` (Luong's attentional state) -> `predictions`, a softmax over the target
vocabulary per step. Padding is masked throughout: in the RNNs, the attention and the loss.

The model carries its `ParallelVectorizer` (vocabularies) in its config, so one `.keras` file
translates raw strings: `inference_models()` gives keras-io lstm_seq2seq's encoder and one-step
decoder built from the trained layers, `translate` decodes greedily or by beam search and
returns the attention weights, `plot_attention` draws them.

Reference:
  Bahdanau, Cho, Bengio, "Neural machine translation by jointly learning to align and
  translate", ICLR 2015; Luong, Pham, Manning, "Effective approaches to attention-based neural
  machine translation", EMNLP 2015.
"""
from __future__ import annotations

import dataclasses
import datetime
import re
from pathlib import Path
from typing import Literal, Sequence

import keras
import numpy as np

from kerazoo.data.dates import date_splits, date_vectorizer, strftime_dates
from kerazoo.data.parallel import END, START, ParallelVectorizer, make_dataset
from kerazoo.family import FamilyHooks, TaskData
from kerazoo.inputs import check_sources
from kerazoo.models._common import check_choice, check_positive, check_rate
from kerazoo.models.seq2seq_serving import export_core, serving_endpoint
from kerazoo.registry import register_model

__all__ = ["seq2seq_attention", "Seq2SeqAttention", "Translation", "FLAGS", "plot_attention", "exact_match",
           "date_metrics", "recipe_data", "recipe_metrics", "recipe_plots", "serving_endpoint", "metric_callbacks",
           "ExactMatch"]

_CELLS = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}
OUTPUT_CHECKS = ("iso_date", "none")  # what a valid translation is: a calendar date YYYY-MM-DD, or anything


FLAGS = ("empty", "not_a_date", "invalid_output")  # why a translation is no answer (Translation.flag)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclasses.dataclass
class Translation:
    """One decoded sequence: its tokens, the attention each output token paid to the source, how
    sure the model is, and whether the output is an answer (`valid`) or flagged (`flag`).

    `flag` is None for an answer, else one of `FLAGS`: `"empty"` (the input is empty or
    whitespace: nothing was decoded, `text` is ""), `"not_a_date"` (the model answered that the
    input is no date: `text` is "", the date task's answer to non-dates and impossible dates),
    `"invalid_output"` (the output is not what the model's `output_check` accepts, e.g. the
    impossible `2001-02-30`; `text` keeps it).
    """

    source: str
    text: str
    source_tokens: list[str]
    tokens: list[str]
    attention: np.ndarray  # (len(tokens), len(source_tokens)), rows sum to 1
    log_prob: float        # of the tokens and the final [END] (0.0 for an empty input)
    valid: bool = True     # the output is an answer: `flag` is None
    flag: str | None = None

    @property
    def confidence(self) -> float:
        """`exp(log_prob)`: the probability the model gives this whole output."""
        return float(np.exp(self.log_prob))

    @property
    def date(self) -> datetime.date | None:
        """The output as a `datetime.date` when it is a calendar date `YYYY-MM-DD`, else None."""
        return _iso_date(self.text)


def _iso_date(text: str) -> datetime.date | None:
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return None


@keras.saving.register_keras_serializable(package="kerazoo")
class Seq2SeqAttention(keras.Model):
    """The teacher-forcing model; arguments as in `seq2seq_attention` (the registered builder)."""

    def __init__(self, *, vectorizer=None, embedding_dim=32, units=64, cell="gru", attention="luong",
                 attention_units=None, bidirectional=True, dropout=0.0, output_check=None, **kwargs):
        check_choice("cell", cell, list(_CELLS))
        check_choice("output_check", output_check, [None, *OUTPUT_CHECKS])
        check_choice("attention", attention, ["bahdanau", "luong"])
        check_positive(embedding_dim=embedding_dim, units=units, **({} if attention_units is None else
                                                                    {"attention_units": attention_units}))
        check_rate(dropout=dropout)
        if attention == "luong" and attention_units is not None:
            raise ValueError("`attention_units` sizes Bahdanau's projections; Luong's dot score has none. Received: "
                             f"attention='luong', attention_units={attention_units}")
        try:
            vec = date_vectorizer() if vectorizer is None else ParallelVectorizer.from_config(vectorizer)
        except (TypeError, KeyError) as e:
            raise ValueError(f"`vectorizer` should be a ParallelVectorizer.get_config() dict. Received keys "
                             f"{sorted(vectorizer)}: {e}") from None
        width = 2 * units if bidirectional else units  # the decoder continues the concatenated encoder states
        # === Layers ===
        rnn = _CELLS[cell]
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
            for part in ("h", "c") if cell == "lstm" else ("h",):
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
        self.embedding_dim, self.units, self.cell, self.attention = embedding_dim, units, cell, attention
        self.attention_units, self.bidirectional, self.dropout = attention_units, bidirectional, dropout
        self.output_check = output_check or ("iso_date" if vectorizer is None else "none")

    def get_config(self):
        return {"vectorizer": self.vectorizer.get_config(), "embedding_dim": self.embedding_dim, "units": self.units,
                "cell": self.cell, "attention": self.attention, "attention_units": self.attention_units,
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
        """Decodes raw strings: greedily (`beam_width=None`) or by beam search of that width.

        Beam search ranks by the summed log-probability (no length penalty); a finished beam keeps
        its score. `max_length` defaults to the vectorizer's `max_target_length` + 1 (else 50).
        Every input is decoded on its own (padding is masked): it translates the same alone and in
        any batch. An empty or whitespace-only input is not decoded: its translation is "" with
        `flag="empty"`. Returns one `Translation` for a string, a list for a sequence of strings
        (an empty list for an empty one).

        Example:
          >>> t = model.translate("Sept. 3rd, '98")
          >>> t.text, t.valid, t.flag, round(t.confidence, 3)
          ('1998-09-03', True, None, 0.999)
          >>> model.translate("hello world").flag
          'not_a_date'
        """
        single = isinstance(texts, (str, bytes))
        texts = check_sources([texts] if single else texts, name="translate")  # strings, bounded, no controls
        if beam_width is not None:
            check_positive(beam_width=beam_width)
        max_length = max_length or (self.vectorizer.max_target_length or 49) + 1
        check_positive(max_length=max_length, batch_size=batch_size)
        results: list[Translation | None] = [None] * len(texts)
        todo = []
        for i, text in enumerate(texts):
            if text.strip():
                todo.append(i)
            else:
                source_tokens = [t.decode() for t in self.vectorizer.tokenize([text])[0].numpy()]
                results[i] = Translation(text, "", source_tokens, [], np.zeros((0, len(source_tokens))), 0.0,
                                         valid=False, flag="empty")
        encoder, step = self.inference_models() if todo else (None, None)
        vocab = self.vectorizer.target_vocabulary
        for start in range(0, len(todo), batch_size):
            chunk = [texts[i] for i in todo[start:start + batch_size]]
            ids = self.vectorizer.encode_source(chunk).numpy()
            mask = ids != 0
            encoder_outputs, *states = (np.asarray(t) for t in encoder(ids, training=False))
            tokens, attention, log_prob = _search(step, encoder_outputs, mask, states, beam_width or 1,
                                                  max_length, greedy=beam_width is None)
            source_tokens = self.vectorizer.tokenize(chunk)[:, :ids.shape[1]].to_list()
            for row, (i, text) in enumerate(zip(todo[start:start + batch_size], chunk)):
                n = int(np.argmax(tokens[row] == END)) if (tokens[row] == END).any() else len(tokens[row])
                out = [vocab[t] for t in tokens[row, :n]]
                text_out = self.vectorizer.join(out)
                flag = self._flag(text_out)
                results[i] = Translation(text, text_out, [t.decode() for t in source_tokens[row]], out,
                                         attention[row, :n, :mask[row].sum()], float(log_prob[row]),
                                         valid=flag is None, flag=flag)
        return results[0] if single else results

    def _flag(self, text: str) -> str | None:
        """None when `text` (a decoded non-empty input) is an answer, else why not (`FLAGS`)."""
        if self.output_check == "none":
            return None
        if not text:
            return "not_a_date"
        return None if _iso_date(text) else "invalid_output"


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


def _search(step, encoder_outputs, mask, states, width, max_length, greedy):
    """Greedy or beam decoding over a batch: `(tokens (B, T), attention (B, T, S), log_prob (B,))`."""
    batch, source_len = mask.shape
    if greedy:
        width = 1
    rep = lambda a: np.repeat(a, width, axis=0)  # noqa: E731  rows b*width + k
    encoder_outputs, mask, states = rep(encoder_outputs), rep(mask), [rep(s) for s in states]
    scores = np.full((batch, width), -np.inf)
    scores[:, 0] = 0.0
    done = np.zeros((batch, width), bool)
    tokens, attention = np.zeros((batch, width, 0), int), np.zeros((batch, width, 0, source_len))
    token = np.full((batch * width, 1), START, "int32")
    for _ in range(max_length):
        probs, weights, *states = (np.asarray(t) for t in step([token, encoder_outputs, mask, *states], training=False))
        with np.errstate(divide="ignore"):
            log_p = np.log(probs[:, 0, :]).reshape(batch, width, -1)
        if greedy:
            choice = log_p[:, 0].argmax(-1)[:, None]
            parent, new = np.zeros_like(choice), np.where(done, END, choice)
            scores = scores + np.where(done, 0.0, np.take_along_axis(log_p[:, 0], choice, 1))
        else:
            log_p[done] = -np.inf
            log_p[done, END] = 0.0  # a finished beam only continues with [END], at no cost
            candidates = (scores[:, :, None] + log_p).reshape(batch, -1)
            best = np.argsort(-candidates, axis=1, kind="stable")[:, :width]
            parent, new = best // log_p.shape[-1], best % log_p.shape[-1]
            scores = np.take_along_axis(candidates, best, 1)
        weights = np.take_along_axis(weights.reshape(batch, width, 1, source_len), parent[:, :, None, None], 1)
        tokens = np.concatenate([np.take_along_axis(tokens, parent[:, :, None], 1), new[:, :, None]], 2)
        attention = np.concatenate([np.take_along_axis(attention, parent[:, :, None, None], 1), weights], 2)
        done = np.take_along_axis(done, parent, 1) | (new == END)
        rows = (np.arange(batch)[:, None] * width + parent).ravel()
        states = [s[rows] for s in states]
        if done.all():
            break
        token = new.reshape(-1, 1).astype("int32")
    return tokens[:, 0], attention[:, 0], scores[:, 0]


def plot_attention(translation: Translation, path, title: str | None = None) -> Path:
    """A PNG heat map of `translation.attention`: source tokens across, output tokens down."""
    from kerazoo.plots import pyplot

    plt = pyplot()

    show = lambda tokens: [t if t.strip() else "␣" for t in tokens]  # noqa: E731  visible spaces
    rows, cols = translation.attention.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 0.32 * cols + 1.5), max(3.0, 0.32 * rows + 1.2)))
    image = ax.imshow(translation.attention, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(cols), show(translation.source_tokens), fontsize=9)
    ax.set_yticks(range(rows), show(translation.tokens), fontsize=9)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    ax.set_title(title or f"{translation.source!r} -> {translation.text!r}", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def exact_match(model: Seq2SeqAttention, pairs: Sequence[tuple[str, str]], *, beam_width: int | None = None) -> float:
    """Fraction of `(source, target, ...)` pairs translated exactly (after the vectorizer's lower-casing)."""
    return float(np.mean(_matches(model.translate([p[0] for p in pairs], beam_width=beam_width), pairs, model)))


def _matches(translations: Sequence[Translation], pairs, model) -> np.ndarray:
    vec = model.vectorizer
    expected = [vec.join([t.decode() for t in tokens]) for tokens in vec.tokenize([p[1] for p in pairs]).to_list()]
    return np.array([t.text == e for t, e in zip(translations, expected)], bool)


@register_model
def seq2seq_attention(
    *,
    vectorizer: dict | None = None,                         # ParallelVectorizer config; None: the date task's
    embedding_dim: int = 32,                                # source and target embedding width
    units: int = 64,                                        # encoder RNN width (per direction)
    cell: Literal["gru", "lstm"] = "gru",
    attention: Literal["bahdanau", "luong"] = "luong",
    attention_units: int | None = None,                     # Bahdanau's projection width (None: decoder width)
    bidirectional: bool = True,
    dropout: float = 0.0,
    output_check: Literal["iso_date", "none"] | None = None,  # what translate accepts (None: iso_date for dates)
    name: str = "seq2seq_attention",
) -> keras.Model:
    """Recurrent encoder-decoder with attention, trained with teacher forcing.

    Args:
      vectorizer: `ParallelVectorizer.get_config()` of the corpus (vocabularies, level, casing);
        it sets both vocabulary sizes and travels in the model's config. `None`: the date task's
        character vocabularies (`kerazoo.data.dates.date_vectorizer()`).
      embedding_dim: width of the source and target embeddings (id 0, padding, masked).
      units: encoder RNN width; the decoder is `2 * units` wide when bidirectional.
      cell: `"gru"` or `"lstm"`, for encoder and decoder.
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
    return Seq2SeqAttention(vectorizer=vectorizer, embedding_dim=embedding_dim, units=units, cell=cell,
                            attention=attention, attention_units=attention_units, bidirectional=bidirectional,
                            dropout=dropout, output_check=output_check, name=name)


def recipe_data(recipe, model_kwargs: dict, data_dir, seed: int):
    """`kerazoo train`'s data: the generated date task (`dataset: dates`), leaving out calendar days,
    whole formats and non-date words (`kerazoo.data.dates.date_splits`).

    `recipe.data` options: `n_train` (20000), `n_val` (1000), `n_test` (1000) examples,
    `invalid_fraction` (0.2) of training examples that are no date (target "").
    """

    check_choice("dataset", recipe.dataset, ["dates"])
    options = {"n_train": 20000, "n_val": 1000, "n_test": 1000, "invalid_fraction": 0.2}
    unknown = set(recipe.data) - set(options)
    if unknown:
        raise ValueError(f"seq2seq recipe data: unknown option(s) {sorted(unknown)}. Accepted: {sorted(options)}.")
    options.update(recipe.data)
    pairs = date_splits(**options, seed=seed)
    vec = ParallelVectorizer.from_config(model_kwargs["vectorizer"]) if model_kwargs.get("vectorizer") else None
    vec = vec or date_vectorizer()
    sets = {k: make_dataset(p, vec, batch_size=recipe.batch_size, shuffle=k == "train", seed=seed) if p else None
            for k, p in pairs.items()}
    probe = strftime_dates(options["n_test"], seed=seed)
    return TaskData(sets["train"], sets["val"], sets["test"], extra={"pairs": pairs, "strftime": probe})


def date_metrics(model: Seq2SeqAttention, examples, *, beam_width: int | None = 3, strftime=()) -> dict[str, float]:
    """How a date model does on held-out `DateExample`s (`kerazoo.data.dates.date_splits`).

    - `exact_match_seen` / `exact_match_unseen`: real dates in training formats (on unseen days) /
      in formats training never used, greedy; `..._beam<k>` with a beam of `beam_width`.
    - `flag_precision`, `flag_recall`: of `Translation.valid == False` as a detector of inputs
      that are no date (non-dates, impossible and out-of-window dates; greedy);
      `flag_recall_impossible` / `..._out_of_window` / `..._non_date` per kind;
      `flag_recall_by_model`: flagged by the model's own "not a date" answer alone (without the
      calendar check of its output).
    - `false_flag_rate_seen` / `..._unseen`: real dates flagged.
    - `silent_error_rate_unseen`: real dates in unseen formats answered with a wrong date, unflagged.
    - `exact_match_strftime`: real dates written by Python's `strftime` in `STRFTIME_FORMATS`.
    """
    examples = list(examples)
    greedy = model.translate([e.source for e in examples])
    right = _matches(greedy, examples, model)
    flagged = np.array([not t.valid for t in greedy])
    by_model = np.array([t.flag in ("not_a_date", "empty") for t in greedy])
    kind = np.array([e.kind for e in examples])
    unseen = np.array([e.unseen for e in examples])
    date = kind == "date"
    invalid = ~date
    mean = lambda x: float(np.mean(x)) if np.size(x) else float("nan")  # noqa: E731
    metrics = {"exact_match_seen": mean(right[date & ~unseen]), "exact_match_unseen": mean(right[date & unseen])}
    if beam_width:
        beam = _matches(model.translate([e.source for e in examples], beam_width=beam_width), examples, model)
        metrics.update({f"exact_match_seen_beam{beam_width}": mean(beam[date & ~unseen]),
                        f"exact_match_unseen_beam{beam_width}": mean(beam[date & unseen])})
    metrics.update({
        "flag_precision": mean(invalid[flagged]), "flag_recall": mean(flagged[invalid]),
        "flag_recall_by_model": mean(by_model[invalid]),
        "flag_recall_impossible": mean(flagged[kind == "impossible"]),
        "flag_recall_out_of_window": mean(flagged[kind == "out_of_window"]),
        "flag_recall_non_date": mean(flagged[invalid & (kind != "impossible") & (kind != "out_of_window")]),
        "false_flag_rate_seen": mean(flagged[date & ~unseen]), "false_flag_rate_unseen": mean(flagged[date & unseen]),
        "silent_error_rate_unseen": mean((~right & ~flagged)[date & unseen])})
    if strftime:
        metrics["exact_match_strftime"] = exact_match(model, strftime)
    return metrics


def recipe_metrics(model: Seq2SeqAttention, data) -> dict[str, float]:
    """`date_metrics` on the test split (`kerazoo train`/`evaluate`): exact match on seen and unseen
    formats (greedy and beam 3), the "not a date" flag's precision and recall, the strftime probe."""
    return date_metrics(model, data.extra["pairs"]["test"], strftime=data.extra.get("strftime", ()))


def recipe_plots(model: Seq2SeqAttention, data, out: Path, n: int = 4) -> list[Path]:
    """Attention heat maps of held-out sources (`attention_<i>.png`): dates in unseen and in seen
    formats, and a non-date."""
    test = data.extra["pairs"]["test"]
    picks = ([e for e in test if e.kind == "date" and e.unseen][:n - 2] + [e for e in test if e.kind == "date"
                                                                           and not e.unseen][:1]
             + [e for e in test if e.kind != "date"][:1])
    translations = model.translate([e.source for e in picks])
    return [plot_attention(t, Path(out) / f"attention_{i}.png") for i, t in enumerate(translations)]


class ExactMatch(keras.callbacks.Callback):
    """Adds `val_exact_match` (whole translations right, greedy) to the epoch logs, for search objectives."""

    def __init__(self, pairs: Sequence[tuple[str, str]], *, limit: int = 500):
        super().__init__()
        self.pairs = list(pairs)[:limit]

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["val_exact_match"] = exact_match(self.model, self.pairs)


def metric_callbacks(data) -> list[keras.callbacks.Callback]:
    """`kerazoo.tuning`: the validation exact match every trial logs (`objective: val_exact_match`)."""
    return [ExactMatch(data.extra["pairs"]["val"])] if "pairs" in getattr(data, "extra", {}) else []


def example_batch(model, n: int, seed: int):
    """Valid id sequences with padding at the ends, and the shifted targets."""
    rng = np.random.default_rng(seed)

    def ids(vocab_size, length):
        out = rng.integers(4, vocab_size, size=(n, length))
        return out * (np.arange(length) < rng.integers(1, length + 1, size=(n, 1)))

    target = ids(len(model.vectorizer.target_vocabulary), 7)
    target_in = np.concatenate([np.full((n, 1), START), target], 1)
    target_out = np.concatenate([target, np.zeros((n, 1), int)], 1)
    target_out[np.arange(n), (target != 0).sum(1)] = END
    return [ids(len(model.vectorizer.source_vocabulary), 9).astype("int32"), target_in.astype("int32")], target_out


HOOKS = FamilyHooks(recipe_data=recipe_data, recipe_metrics=recipe_metrics, recipe_plots=recipe_plots,
                    serving_endpoint=serving_endpoint, metric_callbacks=metric_callbacks,
                    example_batch=example_batch, export_core=export_core)
