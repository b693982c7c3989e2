"""Decoding a trained `Seq2SeqAttention`: greedy and beam search over its one-step decoder (NumPy), and what a
translation is (`Translation`, its flags). Backend-neutral: the step model runs on any Keras backend; the
source strings are tokenised by the model's `ParallelVectorizer`."""
from __future__ import annotations

import dataclasses
import datetime
import re
from typing import Sequence

import numpy as np
from keras import ops

from kerazoo.data.parallel import END, START
from kerazoo.inputs import check_sources
from kerazoo.models.common import check_positive

__all__ = ["Translation", "FLAGS", "OUTPUT_CHECKS", "translate", "flag_of", "iso_date"]

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
        return iso_date(self.text)


def iso_date(text: str) -> datetime.date | None:
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return None


def flag_of(output_check: str, text: str) -> str | None:
    """None when `text` (a decoded non-empty input) is an answer, else why not (`FLAGS`)."""
    if output_check == "none":
        return None
    if not text:
        return "not_a_date"
    return None if iso_date(text) else "invalid_output"




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
        probs, weights, *states = (ops.convert_to_numpy(t) for t in step([token, encoder_outputs, mask, *states], training=False))
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


def translate(model, texts: str | Sequence[str], *, beam_width: int | None = None, max_length: int | None = None,
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
    max_length = max_length or (model.vectorizer.max_target_length or 49) + 1
    check_positive(max_length=max_length, batch_size=batch_size)
    results: list[Translation | None] = [None] * len(texts)
    todo = []
    for i, text in enumerate(texts):
        if text.strip():
            todo.append(i)
        else:
            source_tokens = [t.decode() for t in model.vectorizer.tokenize([text])[0].numpy()]
            results[i] = Translation(text, "", source_tokens, [], np.zeros((0, len(source_tokens))), 0.0,
                                     valid=False, flag="empty")
    encoder, step = model.inference_models() if todo else (None, None)
    vocab = model.vectorizer.target_vocabulary
    for start in range(0, len(todo), batch_size):
        chunk = [texts[i] for i in todo[start:start + batch_size]]
        ids = model.vectorizer.encode_source(chunk).numpy()
        mask = ids != 0
        encoder_outputs, *states = (ops.convert_to_numpy(t) for t in encoder(ids, training=False))
        tokens, attention, log_prob = _search(step, encoder_outputs, mask, states, beam_width or 1,
                                              max_length, greedy=beam_width is None)
        source_tokens = model.vectorizer.tokenize(chunk)[:, :ids.shape[1]].to_list()
        for row, (i, text) in enumerate(zip(todo[start:start + batch_size], chunk)):
            n = int(np.argmax(tokens[row] == END)) if (tokens[row] == END).any() else len(tokens[row])
            out = [vocab[t] for t in tokens[row, :n]]
            text_out = model.vectorizer.join(out)
            flag = flag_of(model.output_check, text_out)
            results[i] = Translation(text, text_out, [t.decode() for t in source_tokens[row]], out,
                                     attention[row, :n, :mask[row].sum()], float(log_prob[row]),
                                     valid=flag is None, flag=flag)
    return results[0] if single else results

