"""Layer rotation curves in the papers' style (Figure 1 of arXiv:1806.01603).

One line per kernel layer, coloured with viridis from the first layer (dark) to the
last (yellow); x = epoch with a 0 prepended at epoch 0 (every layer starts at distance
0); y = cosine distance from initialisation, in [0, 1].
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
            one record per epoch unless `epochs` says otherwise.
        ax: a matplotlib Axes; a new figure is made when None.
        epochs: x position (in epochs) of each record; 1, 2, ... by default.
        title: optional Axes title (the papers put the test accuracy there).

    Returns:
        The Axes.
    """
    import matplotlib.pyplot as plt

    distances = np.asarray(distances, dtype=float)
    if distances.ndim != 2:
        raise ValueError(
            f"distances must be a 2-D array (records x layers); received shape {distances.shape}."
        )
    epochs = np.arange(1, len(distances) + 1) if epochs is None else np.asarray(epochs, dtype=float)
    if epochs.shape != (len(distances),):
        raise ValueError(f"epochs has shape {epochs.shape}; expected ({len(distances)},), one per record.")
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3))
    x = np.concatenate([[0.0], epochs])
    for layer, color in enumerate(layer_colors(distances.shape[1])):
        ax.plot(x, np.concatenate([[0.0], distances[:, layer]]), color=color, linewidth=1)
    ax.set_ylim(0, 1)
    ax.set_xlim(0, x[-1] if x[-1] > 0 else 1)
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Cosine distance")
    if title:
        ax.set_title(title)
    return ax
