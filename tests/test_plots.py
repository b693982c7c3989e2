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
