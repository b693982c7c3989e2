"""What a search found: `TuneResult`, and its record on disk (the results table, `results.json`,
`best.yaml`, the `search.png` plot).

Importing this module imports neither TensorFlow nor Keras (plotting imports Matplotlib).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from kerazoo.tuning.specs import plain

__all__ = ["TuneResult", "report", "results_table", "plot_search"]


@dataclasses.dataclass
class TuneResult:
    """What a search found (on the chief or a single machine) or ran (on a worker)."""

    name: str
    tuner: str
    objective: str
    direction: str
    directory: Path                      # the project directory
    role: str                            # "local", "chief" or "worker"
    trials: list                         # every trial: trial_id, status, score, values (builder/recipe)
    ran: list                            # trial ids this process trained
    best: dict | None = None             # the best trial (trial_id, score, values)
    overlay: dict | None = None          # {"name", "model": {...}, "recipe": {...}} of the best trial
    overlay_path: Path | None = None     # best.yaml: `kerazoo train NAME --config best.yaml`
    plot_path: Path | None = None        # search.png: score per trial and best so far
    tuner_object: Any = None             # the keras_tuner tuner

    @property
    def best_hyperparameters(self) -> dict:
        """The best trial's searched values, builder and recipe arguments together."""
        return {**self.overlay["model"], **self.overlay["recipe"]} if self.overlay else {}


def report(result: TuneResult, oracle, setup, verbose: int) -> None:
    """Fills the result from the oracle; writes best.yaml, results.json and search.png; prints the table."""
    for trial_id in oracle.start_order:
        trial = oracle.trials[trial_id]
        model_values, recipe_values = setup.space.values_of(trial.hyperparameters.values)
        result.trials.append({"trial_id": trial_id, "status": str(trial.status), "score": plain(trial.score),
                              "values": setup.space.flat(model_values, recipe_values),
                              "model": plain(model_values), "recipe": plain(recipe_values)})
    best = oracle.get_best_trials(1)
    project = result.directory
    if best and best[0].score is not None:
        row = next(t for t in result.trials if t["trial_id"] == best[0].trial_id)
        result.best = {k: row[k] for k in ("trial_id", "score", "values")}
        overrides = plain(setup.model_overrides)
        result.overlay = {"name": result.name, "model": {**overrides, **row["model"]}, "recipe": row["recipe"]}
        result.overlay_path = project / "best.yaml"
        header = (f"# kerazoo tune {result.name}: best of {len(result.trials)} trials ({result.tuner} search), "
                  f"trial {row['trial_id']}, {result.objective}={row['score']:.6g}\n"
                  f"# retrain with: kerazoo train {result.name} --config {result.overlay_path}\n")
        result.overlay_path.write_text(header + yaml.safe_dump(result.overlay, sort_keys=False))
    (project / "results.json").write_text(json.dumps(
        {"name": result.name, "tuner": result.tuner, "objective": {"name": result.objective,
                                                                   "direction": result.direction},
         "best": result.best, "trials": result.trials}, indent=2, default=str))
    if any(t["score"] is not None for t in result.trials):
        result.plot_path = plot_search(result.trials, project / "search.png", objective=result.objective,
                                       direction=result.direction,
                                       title=f"{result.name}: {result.tuner} search")
    if verbose:
        print(results_table(result))


def results_table(result: TuneResult) -> str:
    """The trials as a text table: trial, status, score, hyperparameters (best marked with *)."""
    best_id = result.best["trial_id"] if result.best else None
    rows = [(f"{t['trial_id']}{' *' if t['trial_id'] == best_id else ''}", t["status"],
             "-" if t["score"] is None else f"{t['score']:.4f}",
             ", ".join(f"{k}={_short(v)}" for k, v in t["values"].items())) for t in result.trials]
    header = ("trial", "status", result.objective, "hyperparameters")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(3)]
    lines = [f"{result.name}: {result.tuner} search, {len(rows)} trials, objective {result.objective} "
             f"({result.direction}), in {result.directory}"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[3] for r in [header] + rows]
    if result.overlay_path:
        lines.append(f"best: trial {best_id}, {result.objective}={result.best['score']:.4f}; overlay "
                     f"{result.overlay_path} (kerazoo train {result.name} --config {result.overlay_path})")
    return "\n".join(lines)


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else value if isinstance(value, str) else json.dumps(value)


def plot_search(trials: Sequence[Mapping], path: str | Path, *, objective: str, direction: str,
                title: str = "") -> Path:
    """Score per trial (in start order) and the best-so-far curve, as a PNG."""
    import numpy as np

    from kerazoo.plots import pyplot

    plt = pyplot()
    points = [(i + 1, t["score"]) for i, t in enumerate(trials) if t["score"] is not None]
    x, y = np.array([p[0] for p in points]), np.array([p[1] for p in points], dtype=float)
    best = (np.maximum if direction == "max" else np.minimum).accumulate(y)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.plot(x, y, "o", color="tab:blue", label="trial")
    ax.step(x, best, where="post", color="tab:orange", label="best so far")
    i = int(np.argmax(y) if direction == "max" else np.argmin(y))
    ax.plot([x[i]], [y[i]], "*", markersize=14, color="tab:red", label=f"best: {y[i]:.4g}")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel("trial (in start order)")
    ax.set_ylabel(f"{objective} ({direction})")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


