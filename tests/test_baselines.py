"""The SGD variants of REFERENCE.md against their equations in numpy."""

import keras
import numpy as np
import pytest

from layer_rotation_tools import EffectiveLRSGD, Layca, NormalizedSGD, SGDAMom


def _run(optimizer, steps=3, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(4, 3)).astype("float32")
    grads = [rng.normal(size=(4, 3)).astype("float32") for _ in range(steps)]
    variable = keras.Variable(w)
    for g in grads:
        optimizer.apply([g], [variable])
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
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(clone) is cls and clone.get_config() == optimizer.get_config()
    name = {SGDAMom: "sgd_amom", NormalizedSGD: "normalized_sgd", EffectiveLRSGD: "effective_lr_sgd"}[cls]
    assert type(Layca(name).inner_optimizer) is cls


def test_sgd_amom_rejects_bad_momentum():
    with pytest.raises(ValueError, match="momentum=1.5"):
        SGDAMom(momentum=1.5)
