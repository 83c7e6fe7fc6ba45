"""Layer rotation curves in the papers' style (Figure 1 of arXiv:1806.01603).

One line per kernel layer, coloured with viridis from the first layer (dark) to the
last (yellow); x = epoch with a 0 prepended at epoch 0 (every layer starts at distance
0); y = cosine distance from initialisation, in [0, 1]. Curves of each output unit
(`per_unit_quantiles`) draw each layer's middle quantile as its line, in a band of its
colour from its lowest to its highest quantile.
"""

import numpy as np


def layer_colors(num_layers):
    """The viridis colour of each layer, first (dark) to last (yellow)."""
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(i / max(num_layers - 1, 1)) for i in range(num_layers)]


def plot_layer_rotation_curves(distances, ax=None, epochs=None, title=None):
    """Plot layer rotation curves.

    Args:
        distances: array (records x layers) of cosine distances from initialisation,
            one record per epoch unless `epochs` says otherwise; or (records x layers x
            quantiles), quantiles of each layer's units in increasing order.
        ax: a matplotlib Axes; a new figure is made when None.
        epochs: x position (in epochs) of each record; 1, 2, ... by default.
        title: optional Axes title (the papers put the test accuracy there).

    Returns:
        The Axes.
    """
    import matplotlib.pyplot as plt

    distances = np.asarray(distances, dtype=float)
    if distances.ndim not in (2, 3):
        raise ValueError(
            "distances must be a 2-D array (records x layers), or 3-D (records x layers x quantiles); "
            f"received shape {distances.shape}."
        )
    epochs = np.arange(1, len(distances) + 1) if epochs is None else np.asarray(epochs, dtype=float)
    if epochs.shape != (len(distances),):
        raise ValueError(f"epochs has shape {epochs.shape}; expected ({len(distances)},), one per record.")
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3))
    x = np.concatenate([[0.0], epochs])
    for layer, color in enumerate(layer_colors(distances.shape[1])):
        values = distances[:, layer]
        if values.ndim == 2:
            low, high = (np.concatenate([[0.0], values[:, j]]) for j in (0, -1))
            ax.fill_between(x, low, high, color=color, alpha=0.2, linewidth=0)
            values = values[:, values.shape[1] // 2]
        ax.plot(x, np.concatenate([[0.0], values]), color=color, linewidth=1)
    ax.set_ylim(0, 1)
    ax.set_xlim(0, x[-1] if x[-1] > 0 else 1)
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Cosine distance")
    if title:
        ax.set_title(title)
    return ax
