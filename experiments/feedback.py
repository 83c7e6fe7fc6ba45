"""The feedback signal a layer receives, and how well it separates the classes (Figure 8,
right, of the ICLR version: the silhouette score of the first layer's feedback with
respect to the classes rises while only the first layer trains).

The feedback of layer l is the gradient of each example's loss with respect to the
layer's output h_l. For the toy MLPs (bias-free Dense layers, ReLU, a softmax classifier,
cross-entropy), backpropagation in numpy gives it on any backend:

    g_L = (softmax(h_L W_c) - y) W_c^T,    g_{l-1} = (g_l * [h_l > 0]) W_l^T.
"""

import keras
import numpy as np

from layer_rotation_tools import kernel_layers


def layer_feedback(model, x, y, layer=0):
    """(examples x units) gradients of each example's cross-entropy with respect to the
    output of the `layer`-th Dense layer (forward order) of a bias-free ReLU MLP whose
    last Dense layer is a softmax classifier."""
    dense = kernel_layers(model)
    others = [l.name for l in model.layers if not isinstance(l, (keras.layers.Dense, keras.layers.Flatten,
                                                                   keras.layers.InputLayer))]
    if others or any(l.use_bias for l in dense) or not 0 <= layer < len(dense) - 1:
        raise ValueError(
            f"layer_feedback needs a bias-free ReLU MLP with a softmax classifier and layer < {len(dense) - 1}; "
            f"{model.name!r} has layers {others or [l.name for l in dense]} (layer={layer})."
        )
    kernels = [np.asarray(keras.ops.convert_to_numpy(l.kernel), np.float64) for l in dense]
    outputs = [np.asarray(x, np.float64).reshape(len(x), -1)]
    for kernel in kernels[:-1]:
        outputs.append(np.maximum(outputs[-1] @ kernel, 0.0))
    logits = outputs[-1] @ kernels[-1]
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    gradient = (probabilities - np.asarray(y, np.float64)) @ kernels[-1].T  # with respect to the last hidden output
    for index in range(len(kernels) - 2, layer, -1):
        gradient = (gradient * (outputs[index + 1] > 0)) @ kernels[index].T
    return gradient


def silhouette_score(points, labels):
    """Mean over points of (b - a) / max(a, b), with a the mean Euclidean distance to the
    other points of its class and b the smallest mean distance to another class's points
    (Rousseeuw, 1987; as `sklearn.metrics.silhouette_score`: 0 for a point alone in its
    class)."""
    points, labels = np.asarray(points, np.float64), np.asarray(labels)
    classes = np.unique(labels)
    if not 2 <= len(classes) < len(points):
        raise ValueError(f"The silhouette needs 2 to n - 1 classes; received {len(classes)} for {len(points)} points.")
    squared = np.sum(points**2, axis=1)
    distances = np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2 * points @ points.T, 0.0))
    np.fill_diagonal(distances, 0.0)
    members = labels[None, :] == classes[:, None]  # classes x points
    sums = distances @ members.T  # points x classes: summed distance to each class
    counts = members.sum(axis=1)
    own = np.searchsorted(classes, labels)
    alone = counts[own] == 1
    a = sums[np.arange(len(points)), own] / np.maximum(counts[own] - 1, 1)
    others = sums / counts
    others[np.arange(len(points)), own] = np.inf
    b = others.min(axis=1)
    scores = np.where(alone, 0.0, (b - a) / np.maximum(np.maximum(a, b), np.finfo(float).tiny))
    return float(scores.mean())
