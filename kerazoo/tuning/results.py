"""What a search found: `TuneResult`, and its record on disk (the results table, `results.json`,
`best.yaml`, the `search.png` plot).

Trials are named by their id everywhere (the console, the table, the plot and the `trial_<id>`
folders); a Hyperband round that continues an earlier trial names it. Every trial lists the epochs
it was given (`epochs`: Hyperband's `tuner/epochs` for its rounds) and the epochs it ran
(`epochs_run`: fewer when it was pruned or stopped early).

Importing this module imports neither TensorFlow nor Keras (plotting imports Matplotlib).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from kerazoo.tuning.space import trial_seed
from kerazoo.tuning.specs import plain
from kerazoo.tuning.state import write_atomic, write_json

__all__ = ["TuneResult", "PRUNED_METRIC", "trial_status", "epochs_run", "report", "results_table", "plot_search"]

PRUNED_METRIC = "pruned_at_epoch"  # logged by the median stopping rule at the epoch it stops a trial


@dataclasses.dataclass
class TuneResult:
    """What a search found (on the chief or a single machine) or ran (on a worker)."""

    name: str
    tuner: str
    objective: str
    direction: str
    directory: Path                      # the project directory
    role: str                            # "local", "chief" or "worker"
    trials: list                         # every trial: trial_id, status, score, epochs, epochs_run, values, ...
    ran: list                            # trial ids this process trained
    best: dict | None = None             # the best trial (trial_id, score, values, epochs, epochs_run)
    overlay: dict | None = None          # best.yaml: {"name", "model", "recipe", "search"}
    overlay_path: Path | None = None     # best.yaml: `kerazoo train NAME --config best.yaml`
    plot_path: Path | None = None        # search.png: score per trial and best so far
    tuner_object: Any = None             # the keras_tuner tuner
    record: dict = dataclasses.field(default_factory=dict)  # what the trials' scores depend on (kerazoo_search.json)
    notes: list = dataclasses.field(default_factory=list)   # what the user should know (a Bayesian warm-up, ...)

    @property
    def best_hyperparameters(self) -> dict:
        """The best trial's searched values, builder and recipe arguments together."""
        return dict(self.best["values"]) if self.best else {}

    @property
    def best_trial_dir(self) -> Path | None:
        """The best trial's folder: its `model.keras` and `run.json` (`kerazoo export` takes it)."""
        return self.directory / f"trial_{self.best['trial_id']}" if self.best else None


def trial_status(trial) -> str:
    """A KerasTuner trial's status, `PRUNED` for a completed trial the median stopping rule stopped."""
    status = str(trial.status)
    return "PRUNED" if status == "COMPLETED" and trial.metrics.exists(PRUNED_METRIC) else status


def epochs_run(trial) -> int:
    """Epochs a KerasTuner trial's model was trained for (Hyperband rounds: from the first epoch)."""
    steps = [obs.step for name in trial.metrics.metrics for obs in trial.metrics.get_history(name)]
    return int(max(steps)) + 1 if steps else 0


def history_of(trial) -> dict:
    """`{metric: [value per epoch]}` KerasTuner logged for a trial (the mean over its executions)."""
    history = {}
    for name in sorted(trial.metrics.metrics):
        observations = sorted(trial.metrics.get_history(name), key=lambda o: o.step)
        values = [sum(o.value) / len(o.value) for o in observations if o.value]
        if values and name != PRUNED_METRIC:
            history[name] = [plain(float(v)) for v in values]
    return history


def report(result: TuneResult, oracle, setup, verbose: int) -> None:
    """Fills the result from the oracle; writes best.yaml, results.json and search.png; prints the table."""
    seed = result.record.get("seed", setup.recipe.seed)
    for trial_id in oracle.start_order:
        trial = oracle.trials[trial_id]
        values = trial.hyperparameters.values
        model_values, recipe_values = setup.space.values_of(values)
        result.trials.append({
            "trial_id": trial_id, "status": trial_status(trial), "score": plain(trial.score),
            "epochs": int(values.get("tuner/epochs") or recipe_values.get("epochs") or result.record["epochs"]),
            "epochs_run": epochs_run(trial), "continues": values.get("tuner/trial_id"),
            "seed": trial_seed(seed, values), "values": setup.space.flat(model_values, recipe_values),
            "model": plain(model_values), "recipe": plain(recipe_values), "history": history_of(trial)})
    best = oracle.get_best_trials(1)
    project = result.directory
    if best and best[0].score is not None:
        row = next(t for t in result.trials if t["trial_id"] == best[0].trial_id)
        result.best = {k: row[k] for k in ("trial_id", "score", "values", "epochs", "epochs_run")}
        result.overlay_path = project / "best.yaml"
        result.overlay = {
            "name": result.name,
            "model": {**setup.overlay.get("model", {}), **plain(setup.model_overrides), **row["model"]},
            "recipe": {**setup.overlay.get("recipe", {}), **row["recipe"]},
            "search": {"directory": str(project), "tuner": result.tuner, "trial": row["trial_id"],
                       "objective": result.objective, "score": row["score"], "epochs": row["epochs"],
                       "epochs_run": row["epochs_run"]}}
        header = (f"# kerazoo tune {result.name}: best of {len(result.trials)} trials ({result.tuner} search), trial "
                  f"{row['trial_id']}, {result.objective}={row['score']:.6g} after {row['epochs_run']} epoch(s)\n"
                  f"# retrain with the full recipe: kerazoo train {result.name} --config {result.overlay_path}\n"
                  "# (search: what found these values; training ignores it)\n")
        write_atomic(result.overlay_path, header + yaml.safe_dump(result.overlay, sort_keys=False))
    write_json(project / "results.json", {
        "name": result.name, "tuner": result.tuner,
        "objective": {"name": result.objective, "direction": result.direction}, "best": result.best,
        "trials": result.trials, "search": result.record, "notes": result.notes})
    if any(t["score"] is not None for t in result.trials):
        result.plot_path = plot_search(result.trials, project / "search.png", objective=result.objective,
                                       direction=result.direction, title=f"{result.name}: {result.tuner} search")
    if verbose:
        print(results_table(result))


def results_table(result: TuneResult) -> str:
    """The trials as a text table: trial, status, score, epochs run (of those given), hyperparameters
    (best marked with *; a Hyperband round names the trial it continues)."""
    best_id = result.best["trial_id"] if result.best else None
    rows = []
    for t in result.trials:
        epochs = f"{t.get('epochs_run', '?')}/{t['epochs']}" if t.get("epochs") else str(t.get("epochs_run", "?"))
        values = ", ".join(f"{k}={_short(v)}" for k, v in t["values"].items())
        rows.append((f"{t['trial_id']}{' *' if t['trial_id'] == best_id else ''}", t["status"],
                     "-" if t["score"] is None else f"{t['score']:.4f}", epochs,
                     values + (f"  (continues trial {t['continues']})" if t.get("continues") else "")))
    header = ("trial", "status", result.objective, "epochs", "hyperparameters")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]
    pruned = sum(t["status"] == "PRUNED" for t in result.trials)
    lines = [f"{result.name}: {result.tuner} search, {len(rows)} trials{f' ({pruned} pruned)' if pruned else ''}, "
             f"objective {result.objective} ({result.direction}), in {result.directory}"]
    lines += [f"note: {note}" for note in result.notes]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[4] for r in [header] + rows]
    if result.overlay_path:
        lines.append(f"best: trial {best_id}, {result.objective}={result.best['score']:.4f}; overlay "
                     f"{result.overlay_path} (kerazoo train {result.name} --config {result.overlay_path}); its model: "
                     f"{result.best_trial_dir / 'model.keras'}")
    return "\n".join(lines)


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else value if isinstance(value, str) else json.dumps(value)


def plot_search(trials: Sequence[Mapping], path: str | Path, *, objective: str, direction: str,
                title: str = "") -> Path:
    """Score per trial (by trial id; pruned trials as crosses, Hyperband rounds that continue a trial as
    open circles) and the best-so-far curve, as a PNG."""
    import numpy as np

    from kerazoo.plots import pyplot

    plt = pyplot()
    scored = [t for t in trials if t["score"] is not None]
    x = np.array([int(t["trial_id"]) for t in scored])
    y = np.array([t["score"] for t in scored], dtype=float)
    kinds = np.array(["pruned" if t["status"] == "PRUNED" else "continues" if t.get("continues") else "trial"
                      for t in scored])
    best = (np.maximum if direction == "max" else np.minimum).accumulate(y)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    styles = {"trial": dict(marker="o", color="tab:blue", label="trial"),
              "continues": dict(marker="o", markerfacecolor="none", color="tab:blue",
                                label="continues an earlier trial (Hyperband)"),
              "pruned": dict(marker="x", color="tab:gray", label="pruned (median rule)")}
    for kind, style in styles.items():
        if (kinds == kind).any():
            ax.plot(x[kinds == kind], y[kinds == kind], linestyle="none", markersize=7, **style)
    ax.step(x, best, where="post", color="tab:orange", label="best so far")
    i = int(np.argmax(y) if direction == "max" else np.argmin(y))
    ax.plot([x[i]], [y[i]], "*", markersize=14, color="tab:red",
            label=f"best: {y[i]:.4g} (trial {scored[i]['trial_id']})")
    if len(scored) <= 20:  # the ids as the folders spell them
        ax.set_xticks(x, [t["trial_id"] for t in scored], rotation=45 if len(scored) > 10 else 0)
    else:
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel("trial (its folder: trial_<id>)")
    ax.set_ylabel(f"{objective} ({direction})")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
