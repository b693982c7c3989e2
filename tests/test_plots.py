"""Plots a person reads: whole epochs on learning curves, labels that do not overlap."""
import numpy as np
import pytest

from kerazoo import plots


@pytest.mark.parametrize("epochs", [1, 3, 40])
def test_learning_curves_tick_whole_epochs_only(epochs):
    history = {"epoch": list(range(epochs)), "loss": list(np.linspace(1, 0.5, epochs)),
               "val_loss": list(np.linspace(1.1, 0.6, epochs))}
    fig = plots.learning_curves_figure(history, "t")
    ax = fig.axes[0]
    low, high = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if low <= t <= high]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    assert low < 1 and high > epochs  # every epoch's point inside the panel
    plots.pyplot().close(fig)


def test_learning_curves_show_metrics_measured_on_validation_data_only():
    """The DCGAN logs `val_lenet_fid` (what its best checkpoint is chosen by) with no training counterpart."""
    history = {"epoch": [0, 1], "d_loss": [1.3, 1.2], "g_loss": [0.7, 0.8], "val_lenet_fid": [40.0, 20.0],
               "loss": [0.5, 0.4], "val_loss": [0.6, 0.5]}
    fig = plots.learning_curves_figure(history)
    panels = {ax.get_title(): [line.get_label() for line in ax.get_lines()] for ax in fig.axes}
    assert panels == {"d_loss": ["train"], "g_loss": ["train"], "lenet_fid": ["validation"],
                      "loss": ["train", "validation"]}
    plots.pyplot().close(fig)


def test_placed_labels_overlap_neither_each_other_nor_points():
    plt = plots.pyplot()
    rng = np.random.default_rng(0)
    centres = rng.uniform(0, 1, (5, 2))
    xy = np.concatenate([c + rng.normal(0, 0.02, (8, 2)) for c in centres])  # 5 tight clusters of 8 words
    labels = [f"word{i:02d}-{'x' * (i % 7)}" for i in range(len(xy))]
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.scatter(xy[:, 0], xy[:, 1], s=16)
    ax.set_xlim(-0.2, 1.2)
    ax.set_ylim(-0.2, 1.2)
    fig.tight_layout()
    texts = plots.place_labels(ax, xy, labels, styles=[{"fontsize": 8}] * len(labels))
    assert all(t is not None for t in texts)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts]
    for i, a in enumerate(boxes):
        assert all(not a.overlaps(b) for b in boxes[i + 1:]), labels[i]
        assert not any(a.contains(*p) for p in ax.transData.transform(xy)), labels[i]
    assert [t.get_text() for t in texts] == labels
    plt.close(fig)
