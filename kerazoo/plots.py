"""Plots a person looks at: learning curves, a confusion matrix (PNG), and the one way kerazoo
gets matplotlib (`pyplot()`: the non-interactive Agg backend, imported on first use)."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import numpy as np


def pyplot():
    """`matplotlib.pyplot` on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def read_history(csv_path: str | Path) -> dict[str, list[float]]:
    """A `CSVLogger` file as `{metric: [per-epoch values]}` (the whole run, resumes included)."""
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    missing = (None, "", "NA")  # CSVLogger writes NA for a metric an epoch did not log
    history = {k: [float(r[k]) for r in rows if r.get(k) not in missing] for k in (rows[0] if rows else {})}
    return {k: v for k, v in history.items() if v}


def learning_curves(history: dict[str, Sequence[float]], path: str | Path, title: str = "",
                    marks: dict[int, str] | None = None) -> Path:
    """One panel per metric, training and validation curves against the epoch; `marks` draws a
    labelled vertical line after each given epoch (e.g. `{5: "backbone unfrozen"}`)."""
    plt = pyplot()
    metrics = [k for k in history if k not in ("epoch", "learning_rate") and not k.startswith("val_")]
    fig, axes = plt.subplots(1, max(len(metrics), 1), figsize=(5 * max(len(metrics), 1), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        epochs = np.arange(1, len(history[metric]) + 1)
        ax.plot(epochs, history[metric], "o-", label="train")
        if history.get(f"val_{metric}"):
            ax.plot(epochs[: len(history[f"val_{metric}"])], history[f"val_{metric}"], "s--", label="validation")
        for epoch, label in (marks or {}).items():
            ax.axvline(epoch + 0.5, color="gray", lw=0.9, ls=":", label=label)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def confusion_matrix_plot(y_true, y_pred, path: str | Path, class_names: Sequence[str] | None = None,
                          title: str = "") -> Path:
    """Counts of true (rows) vs predicted (columns) classes, with the error rate in the title."""
    plt = pyplot()
    y_true, y_pred = np.asarray(y_true).astype(int).ravel(), np.asarray(y_pred).astype(int).ravel()
    n = int(max(y_true.max(), y_pred.max()) + 1) if class_names is None else len(class_names)
    matrix = np.zeros((n, n), dtype=int)
    np.add.at(matrix, (y_true, y_pred), 1)
    names = list(class_names) if class_names else [str(i) for i in range(n)]
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * n, 0.8 + 0.6 * n))
    ax.imshow(np.log1p(matrix), cmap="Blues")
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                ax.text(j, i, matrix[i, j], ha="center", va="center", fontsize=8,
                        color="white" if i == j else "black")
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    error = 1.0 - np.trace(matrix) / max(matrix.sum(), 1)
    ax.set_title(f"{title} error {100 * error:.2f}% of {matrix.sum()}".strip())
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
