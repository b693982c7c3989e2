"""A search for a researcher to analyse: `kerazoo tune NAME --report DIR` (`write_report(result, DIR)`).

From the search's `results.json` it writes:

- `trials.csv`: one row per trial (id, status, score, epochs given and run, seed, then one column per
  searched parameter; a parameter a trial did not use is empty), ready for `pandas.read_csv`;
- `importance.csv` and `importance.png`: how much of the variance of the score each parameter
  explains on its own, over the scored trials: the correlation ratio eta^2 = Var(E[score | value]) /
  Var(score), with numeric parameters of many values grouped into quantile bins (up to `BINS`, at
  least 3 trials a bin where there are enough).
  This is fANOVA's first-order (main-effect) term computed on the trials themselves, not on a
  random-forest surrogate; with few trials it is noisy, and interactions are not split out (the
  importances need not sum to 1);
- `curves/trial_<id>.png`: the learning curves of each trial (every metric KerasTuner logged per
  epoch), and `curves.png`: the objective of every trial per epoch on one plot.

Importing this module imports neither TensorFlow nor Keras (plotting imports Matplotlib).
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from kerazoo.errors import TuningError

__all__ = ["write_report", "importance", "BINS"]

BINS = 4  # quantile bins of a numeric parameter with more distinct values than this


def _groups(values: list) -> list:
    """Each trial's group for one parameter: its value, or its quantile bin for many numeric values."""
    present = [v for v in values if v is not None]
    numeric = present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    bins = max(2, min(BINS, len(present) // 3))  # at least 3 trials a bin where there are enough
    if not numeric or len(set(present)) <= bins:
        return [json.dumps(v, sort_keys=True) for v in values]
    ordered = sorted(present)
    edges = [ordered[min(len(ordered) - 1, math.ceil(len(ordered) * q / bins))] for q in range(1, bins)]
    return [None if v is None else sum(v >= e for e in edges) for v in values]


def importance(trials: list, params: list) -> dict:
    """`{parameter: eta^2}` over the trials with a score (see the module docstring); empty with fewer than 3."""
    scored = [t for t in trials if isinstance(t.get("score"), (int, float)) and math.isfinite(t["score"])]
    if len(scored) < 3:
        return {}
    scores = [t["score"] for t in scored]
    mean = sum(scores) / len(scores)
    total = sum((s - mean) ** 2 for s in scores)
    out = {}
    for param in params:
        groups = _groups([t["values"].get(param) for t in scored])
        by_group: dict = {}
        for group, score in zip(groups, scores):
            by_group.setdefault(group, []).append(score)
        between = sum(len(g) * (sum(g) / len(g) - mean) ** 2 for g in by_group.values())
        out[param] = between / total if total > 0 else 0.0
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def write_report(project, folder) -> dict:
    """Writes the report of the search in `project` (its `results.json`) to `folder`; returns the paths.

    Args:
      project: the search's project directory (`TuneResult.directory`, `<directory>/<name>`).
      folder: where to write (created).
    """
    from kerazoo import plots

    project, folder = Path(project), Path(folder)
    try:
        results = json.loads((project / "results.json").read_text())
    except (OSError, ValueError) as e:
        raise TuningError(f"{project} holds no readable results.json ({e}); run the search first") from None
    trials, objective = results["trials"], results["objective"]["name"]
    params = list(dict.fromkeys(k for t in trials for k in t["values"]))
    folder.mkdir(parents=True, exist_ok=True)
    written = {"trials": folder / "trials.csv", "importance": folder / "importance.csv"}
    columns = ["trial_id", "status", objective, "epochs", "epochs_run", "seed", *params]
    with open(written["trials"], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for t in trials:
            writer.writerow([t["trial_id"], t["status"], t["score"], t["epochs"], t["epochs_run"], t.get("seed"),
                             *(_cell(t["values"].get(p)) for p in params)])
    scores = importance(trials, params)
    with open(written["importance"], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["parameter", "variance_explained"])
        writer.writerows((p, f"{v:.6f}") for p, v in scores.items())
    plt = plots.pyplot()
    if scores:
        fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(scores)))
        names = list(scores)[::-1]
        ax.barh(names, [scores[n] for n in names], color="tab:blue")
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"share of the variance of {objective} explained alone (eta$^2$)")
        ax.set_title(f"{results['name']}: parameter importance over {sum(t['score'] is not None for t in trials)} "
                     "trials", fontsize=10)
        fig.tight_layout()
        written["importance_plot"] = folder / "importance.png"
        fig.savefig(written["importance_plot"], dpi=110)
        plt.close(fig)
    curves = folder / "curves"
    curves.mkdir(exist_ok=True)
    fig_all, ax_all = plt.subplots(figsize=(7, 4.5))
    for t in trials:
        history = t.get("history") or {}
        if not history:
            continue
        values = ", ".join(f"{k}={_cell(v)}" for k, v in t["values"].items())
        plots.learning_curves(history, curves / f"trial_{t['trial_id']}.png",
                              title=f"{results['name']} trial {t['trial_id']} ({t['status']}): {values}"[:110])
        if objective in history:
            epochs = range(1, len(history[objective]) + 1)
            ax_all.plot(epochs, history[objective], marker="o", markersize=3, label=f"trial {t['trial_id']}")
    from matplotlib.ticker import MaxNLocator

    ax_all.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_all.set_xlabel("epoch")
    ax_all.set_ylabel(objective)
    ax_all.set_title(f"{results['name']}: {objective} of every trial per epoch", fontsize=10)
    if ax_all.lines:
        ax_all.legend(fontsize=7, ncol=2)
    fig_all.tight_layout()
    written["curves"] = folder / "curves.png"
    fig_all.savefig(written["curves"], dpi=110)
    plt.close(fig_all)
    return written


def _cell(value):
    return json.dumps(value) if isinstance(value, (list, dict)) else value
