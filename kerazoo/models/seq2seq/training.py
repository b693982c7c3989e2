"""What trains, scores and plots seq2seq on the date task: the generated pipelines, exact match and the "not a
date" flags on held-out formats, attention heat maps."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import keras
import numpy as np

from kerazoo.data.dates import date_splits, date_vectorizer, strftime_dates
from kerazoo.data.parallel import END, START, ParallelVectorizer, teacher_forcing_dataset
from kerazoo.errors import ConfigError
from kerazoo.family import FamilyHooks, TaskData
from kerazoo.models.common import check_choice
from kerazoo.models.seq2seq.decoding import Translation
from kerazoo.models.seq2seq.model import Seq2SeqAttention
from kerazoo.models.seq2seq.tf_export import export_core, serving_endpoint
from kerazoo.plots import pyplot

__all__ = ["plot_attention", "exact_match", "recipe_data", "date_metrics", "recipe_metrics", "recipe_plots",
           "ExactMatch", "metric_callbacks", "example_batch", "HOOKS"]


def plot_attention(translation: Translation, path, title: str | None = None) -> Path:
    """A PNG heat map of `translation.attention`: source tokens across, output tokens down."""
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
        raise ConfigError(f"seq2seq recipe data: unknown option(s) {sorted(unknown)}. Accepted: {sorted(options)}.")
    options.update(recipe.data)
    pairs = date_splits(**options, seed=seed)
    vec = ParallelVectorizer.from_config(model_kwargs["vectorizer"]) if model_kwargs.get("vectorizer") else None
    vec = vec or date_vectorizer()
    sets = {k: teacher_forcing_dataset(p, vec, batch_size=recipe.batch_size, shuffle=k == "train", seed=seed) if p else None
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
