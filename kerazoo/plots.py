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
    fig = learning_curves_figure(history, title, marks)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def learning_curves_figure(history: dict[str, Sequence[float]], title: str = "",
                           marks: dict[int, str] | None = None):
    """The figure of `learning_curves` (epochs on whole-number ticks only, even for one epoch)."""
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    keys = [k for k in history if k not in ("epoch", "learning_rate")]
    # a metric with its validation curve, or measured on validation data only (e.g. the DCGAN's val_lenet_fid)
    metrics = [k for k in keys if not k.startswith("val_") or k[4:] not in history]
    fig, axes = plt.subplots(1, max(len(metrics), 1), figsize=(5 * max(len(metrics), 1), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        epochs = np.arange(1, len(history[metric]) + 1)
        if metric.startswith("val_"):
            ax.plot(epochs, history[metric], "s--", color="C1", label="validation")
            metric = metric[4:]
        else:
            ax.plot(epochs, history[metric], "o-", label="train")
        if history.get(f"val_{metric}") and f"val_{metric}" not in metrics:
            ax.plot(epochs[: len(history[f"val_{metric}"])], history[f"val_{metric}"], "s--", label="validation")
        for epoch, label in (marks or {}).items():
            ax.axvline(epoch + 0.5, color="gray", lw=0.9, ls=":", label=label)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        if len(epochs) == 1:
            ax.set_xlim(0.5, 1.5)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


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


def place_labels(ax, xy, labels: Sequence[str], *, styles: Sequence[dict] | None = None, marker_px: float = 4.0):
    """Writes `labels[i]` next to the point `xy[i]` of `ax` so that no two labels overlap and no label
    covers a point: each label, in the given order (put the important ones first), takes the first
    free spot of a ring of candidates at growing distance around its point; one placed away from its
    point gets a thin gray leader line. Call it once the axes' limits and the figure's layout are final.

    Args:
      ax: matplotlib axes holding the points (data coordinates).
      xy: `(N, 2)` point positions.
      labels: N strings.
      styles: per label, keyword arguments for the text (fontsize, weight, color).
      marker_px: radius of a point's marker in pixels (kept clear).

    Returns:
      The N text artists (`None` for a label that found no free spot inside the axes).
    """
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    points = ax.transData.transform(np.asarray(xy, dtype=float))
    frame = ax.get_window_extent(renderer)
    taken = [(x - marker_px, y - marker_px, x + marker_px, y + marker_px) for x, y in points]
    directions = [(np.cos(a), np.sin(a)) for a in np.deg2rad([0, 180, 90, 270, 45, 135, 315, 225, 22.5, 157.5,
                                                             337.5, 202.5, 67.5, 112.5, 292.5, 247.5])]
    out = []
    for (px, py), label, style in zip(points, labels, styles or [{}] * len(labels)):
        probe = ax.text(0, 0, label, **style)
        box = probe.get_window_extent(renderer)
        probe.remove()
        w, h = box.width + 2, box.height + 2  # 1 px of air around every label
        spot = None
        for r in (marker_px + 2, 8, 14, 22, 32, 45, 60, 80, 105, 135):
            for dx, dy in directions:
                cx, cy = px + dx * (r + w / 2), py + dy * (r + h / 2)
                rect = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
                inside = frame.x0 <= rect[0] and rect[2] <= frame.x1 and frame.y0 <= rect[1] and rect[3] <= frame.y1
                if inside and not any(rect[0] < b[2] and b[0] < rect[2] and rect[1] < b[3] and b[1] < rect[3]
                                      for b in taken):
                    spot = (cx, cy, r)
                    break
            if spot:
                break
        if spot is None:
            out.append(None)
            continue
        cx, cy, r = spot
        taken.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
        to_data = ax.transData.inverted().transform
        out.append(ax.text(*to_data((cx, cy)), label, ha="center", va="center", **style))
        if r > 8:  # a leader line from the marker's edge to the label's box
            edge = (np.clip(px, cx - w / 2, cx + w / 2), np.clip(py, cy - h / 2, cy + h / 2))
            gap = np.subtract(edge, (px, py))
            start = (px, py) + gap * min(1.0, marker_px / max(np.hypot(*gap), 1e-9))
            (x0, y0), (x1, y1) = to_data(start), to_data(edge)
            ax.plot([x0, x1], [y0, y1], lw=0.5, color="gray", zorder=1)
    return out
