"""The feedback signal of a layer and the silhouette score (ICLR Figure 8, right)."""

import keras
import numpy as np
import pytest

from experiments import feedback
from experiments.models import build_model


def test_silhouette_equals_scikit_learn():
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), [5, 7, 1, 9])  # a class of one point scores 0
    points = rng.normal(size=(len(labels), 6)) + labels[:, None]
    assert feedback.silhouette_score(points, labels) == pytest.approx(silhouette_score(points, labels), rel=1e-10)
    with pytest.raises(ValueError, match=r"2 to n - 1 classes; received 1"):
        feedback.silhouette_score(points, np.zeros(len(labels)))


@pytest.mark.tensorflow
def test_feedback_is_the_gradient_of_each_examples_loss_at_the_layer_output():
    import tensorflow as tf

    model = build_model("mlp11", (28, 28, 1), 10, width=1 / 49)  # 16 units per hidden layer
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 28, 28, 1)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, 8)]
    first = keras.Model(model.inputs, model.get_layer("hidden1").output)
    rest = keras.Sequential(model.layers[3:])
    h = tf.constant(first(x))
    with tf.GradientTape() as tape:
        tape.watch(h)
        losses = keras.losses.categorical_crossentropy(y, rest(h))
        total = tf.reduce_sum(losses)  # the sum: each example's own gradient
    expected = tape.gradient(total, h).numpy()
    np.testing.assert_allclose(feedback.layer_feedback(model, x, y, layer=0), expected, rtol=1e-3, atol=1e-6)


def test_feedback_refuses_a_network_it_cannot_backpropagate():
    model = build_model("c10_cnn1", (32, 32, 3), 10, width=1 / 16, stage_units=1)
    with pytest.raises(ValueError, match=r"bias-free ReLU MLP"):
        feedback.layer_feedback(model, np.zeros((1, 32, 32, 3)), np.eye(10)[:1])


def test_orthogonal_eleven_layer_mlp_has_orthogonal_kernels_of_gain_sqrt_2():
    model = build_model("mlp11_orthogonal", (28, 28, 1), 10)
    kernel = np.asarray(model.get_layer("hidden3").kernel, np.float64)
    np.testing.assert_allclose(kernel.T @ kernel, 2 * np.eye(784), atol=1e-4)
