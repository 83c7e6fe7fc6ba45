"""The drawing pieces the figures share: a grid of panels, a run's layer rotation curves in
a panel (or "not run"), and saving a figure."""

import os

from experiments.recipes import RunConfig
from layer_rotation_tools import plot_layer_rotation_curves


def new_figure(rows, cols, size=(2.6, 2.1)):
    """A figure of rows x cols panels of `size` inches each (matplotlib's Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False)
    return figure, axes


def missing(ax, label):
    """Mark a panel whose run has no results: "<label> not run"."""
    ax.text(0.5, 0.5, f"{label}\nnot run", ha="center", va="center", transform=ax.transAxes, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def curves_panel(ax, results, config, label, best=None):
    """The run's layer rotation curves, titled with its test accuracy (and its difference
    to `best`, in points)."""
    result = results.get(config)
    if result is None:
        missing(ax, label)
        return
    accuracy = 100.0 * result.test_accuracy
    title = f"{label}\neta={accuracy:.2f}%"
    if best is not None:
        title += f", delta={accuracy - best:+.2f}"
    plot_layer_rotation_curves(result.curves.values, ax=ax, epochs=result.curves.epochs, title=title)
    ax.title.set_fontsize(8)
    ax.set_xlabel("")
    ax.set_ylabel("")


def curves_grid(results, grid, out):
    """`grid`: rows of (row label, [(column label, config)]); titles give each run's
    accuracy and its difference to its task's Layca best."""
    figure, axes = new_figure(len(grid), max(len(cells) for _, cells in grid))
    for r, (row_label, cells) in enumerate(grid):
        for c, (label, config) in enumerate(cells):
            best = results.accuracy(RunConfig(config.task, "layca"))
            curves_panel(axes[r, c], results, config, f"{row_label} {label}".strip(), best)
        for c in range(len(cells), axes.shape[1]):
            axes[r, c].axis("off")
    return save_figure(figure, out)


def save_figure(figure, out):
    """Write `figure` to `out` (its folder made), close it; returns `out`."""
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return out
