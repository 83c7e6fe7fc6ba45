"""The SGD variants of the papers (extended paper, Supp. B.4; ICLR version, Figure 7; docs/faithfulness.md), and the authors' RMSprop and Adagrad, against their
equations in numpy."""

import keras
import numpy as np
import pytest

from layer_rotation_tools import EffectiveLRSGD, Keras2Adagrad, Keras2RMSprop, Layca, NormalizedSGD, SGDAMom
from tests.serialization import round_trip


def _run(optimizer, steps=3, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(4, 3)).astype("float32")
    grads = [rng.normal(size=(4, 3)).astype("float32") for _ in range(steps)]
    variable = keras.Variable(w)
    for g in grads:
        optimizer.apply([keras.ops.convert_to_tensor(g)], [variable])  # torch's Keras optimizers take tensors
    return w.astype(np.float64), [g.astype(np.float64) for g in grads], variable.numpy()


def test_sgd_amom_is_adam_momentum_without_adaptivity():
    w, grads, result = _run(SGDAMom(learning_rate=0.1, momentum=0.9))
    v = np.zeros_like(w)
    for g in grads:
        v = 0.9 * v + 0.1 * g
        w = w - 0.1 * v
    np.testing.assert_allclose(result, w, rtol=1e-5)


def test_normalized_sgd_takes_steps_of_norm_lr():
    w, grads, result = _run(NormalizedSGD(learning_rate=0.1))
    for g in grads:
        w = w - 0.1 * g / np.linalg.norm(g)
    np.testing.assert_allclose(result, w, rtol=1e-5)


def test_normalized_sgd_zero_gradient_is_no_step():
    variable = keras.Variable(np.ones((2, 2), "float32"))
    NormalizedSGD(0.1).apply([np.zeros((2, 2), "float32")], [variable])
    np.testing.assert_array_equal(variable.numpy(), 1.0)


def test_effective_lr_sgd_scales_the_step_by_the_squared_norm():
    w, grads, result = _run(EffectiveLRSGD(learning_rate=0.01))
    for g in grads:
        w = w - 0.01 * g * np.sum(w**2)
    np.testing.assert_allclose(result, w, rtol=1e-5)


@pytest.mark.parametrize("cls", [SGDAMom, NormalizedSGD, EffectiveLRSGD])
def test_config_round_trip_and_use_inside_layca(cls):
    optimizer = cls(learning_rate=0.02)
    round_trip(optimizer)
    name = {SGDAMom: "sgd_amom", NormalizedSGD: "normalized_sgd", EffectiveLRSGD: "effective_lr_sgd"}[cls]
    assert type(Layca(name).inner_optimizer) is cls


def test_sgd_amom_rejects_bad_momentum():
    with pytest.raises(ValueError, match="momentum=1.5"):
        SGDAMom(momentum=1.5)


def _small_gradients(optimizer, scale=1e-4, steps=3):
    rng = np.random.default_rng(2)
    w = rng.normal(size=(4, 3)).astype("float32")
    grads = [(scale * rng.normal(size=(4, 3))).astype("float32") for _ in range(steps)]
    variable = keras.Variable(w)
    for g in grads:
        optimizer.apply([keras.ops.convert_to_tensor(g)], [variable])  # torch's Keras optimizers take tensors
    return w.astype(np.float64), [g.astype(np.float64) for g in grads], variable.numpy()


def test_keras2_rmsprop_divides_by_sqrt_plus_epsilon_as_the_authors():
    # paper-experiments/layca_optimizers.py, RMSprop: a = rho a + (1 - rho) g^2; p -= lr g / (sqrt(a) + eps)
    w, grads, result = _small_gradients(Keras2RMSprop(learning_rate=0.01))
    a = np.zeros_like(w)
    for g in grads:
        a = 0.9 * a + 0.1 * g**2
        w = w - 0.01 * g / (np.sqrt(a) + 1e-7)
    np.testing.assert_allclose(result, w, rtol=1e-6)
    _, _, keras3 = _small_gradients(keras.optimizers.RMSprop(learning_rate=0.01))
    assert np.abs(keras3 - w).max() > 1e-3  # Keras 3's sqrt(a + eps) differs for 1e-4 gradients


def test_keras2_adagrad_starts_from_zero_as_the_authors():
    # paper-experiments/layca_optimizers.py, Adagrad: a += g^2 (a_0 = 0); p -= lr g / (sqrt(a) + eps)
    lr = 3.0**-4
    w, grads, result = _small_gradients(Keras2Adagrad(learning_rate=lr), scale=1e-3)
    a = np.zeros_like(w)
    for g in grads:
        a = a + g**2
        w = w - lr * g / (np.sqrt(a) + 1e-7)
    np.testing.assert_allclose(result, w, rtol=1e-6)
    # The first step with a 1e-3 gradient: about lr for the authors, 316x smaller in Keras 3.
    first = [keras.Variable(np.zeros(1, "float32")) for _ in range(2)]
    gradient = keras.ops.full((1,), 1e-3, "float32")
    Keras2Adagrad(learning_rate=lr).apply([gradient], [first[0]])
    keras.optimizers.Adagrad(learning_rate=lr).apply([gradient], [first[1]])
    ratio = float(first[0].numpy()[0] / first[1].numpy()[0])
    assert ratio == pytest.approx(316, rel=0.01)


@pytest.mark.parametrize(
    "optimizer, name",
    [(Keras2RMSprop(0.002, rho=0.8, epsilon=1e-6), "keras2_rmsprop"), (Keras2Adagrad(0.003, epsilon=1e-5), "keras2_adagrad")],
)
def test_keras2_optimizers_round_trip_and_serve_inside_layca(optimizer, name):
    round_trip(optimizer)
    assert isinstance(Layca(name).inner_optimizer, type(optimizer))
