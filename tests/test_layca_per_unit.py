"""Layca per output unit (`per_unit=True`): the four operations on each unit's weight
vector (a Dense column, a convolution's output channel, a recurrent kernel's column)
against the numpy reference applied column by column, on every backend."""

import os

import keras
import numpy as np
import pytest

from layer_rotation_tools import Layca
from tests import references
from tests.test_layca import _problem, _variables


@pytest.mark.parametrize("jit_compile", [True, False])
@pytest.mark.parametrize("inner", ["sgd", "adam"])
def test_each_unit_turns_by_its_layers_rate_and_keeps_its_norm(inner, jit_compile, chunking):
    init, grads = _problem()
    rho, multipliers = 0.2, {"dense_a": 1.0, "conv_b": 0.5}
    kernels = _variables(init)
    make = {"sgd": lambda: keras.optimizers.SGD(0.05), "adam": lambda: keras.optimizers.Adam(0.01)}[inner]
    layca = Layca(make(), learning_rate=rho, multipliers=multipliers, jit_compile=jit_compile, per_unit=True)
    alone, shadow = make(), [keras.Variable(w) for w in init]
    expected = [w.astype(np.float64) for w in init]
    for g in grads:
        before = [v.numpy() for v in shadow]
        alone.apply([keras.ops.convert_to_tensor(x) for x in g], shadow)
        steps = [b - v.numpy() for b, v in zip(before, shadow)]
        previous = expected
        expected = [references.per_unit(references.layca, e, s, rho * m)
                    for e, s, m in zip(expected, steps, multipliers.values())]
        layca.apply(g, kernels)
        for kernel, want, old, m in zip(kernels, expected, previous, multipliers.values()):
            got = kernel.numpy().astype(np.float64)
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
            flat, flat_old = got.reshape(-1, got.shape[-1]), old.reshape(-1, old.shape[-1])
            tangents = [references.tan_angle(flat_old[:, u], flat[:, u]) for u in range(got.shape[-1])]
            np.testing.assert_allclose(tangents, rho * m, rtol=2e-3)
            np.testing.assert_allclose(np.linalg.norm(flat, axis=0), np.linalg.norm(flat_old, axis=0), rtol=1e-5)


def test_lars_per_unit_caps_each_units_growth_by_its_initial_norm(chunking):
    init, _ = _problem()
    grads = [[-w for w in init]] * 3  # outward steps: every unit's norm would grow by rho ||w_u||
    kernels = _variables(init)
    layca = Layca("sgd", learning_rate=0.2, lars=True, per_unit=True)
    expected = [w.astype(np.float64) for w in init]
    unit_norms = [np.linalg.norm(w.reshape(-1, w.shape[-1]), axis=0) for w in init]
    for g in grads:
        expected = [references.per_unit(references.lars, e, s, 0.2, n0) for e, s, n0 in zip(expected, g, unit_norms)]
        layca.apply(g, kernels)
    for kernel, want, n0 in zip(kernels, expected, unit_norms):
        got = kernel.numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        growth = np.linalg.norm(got.reshape(-1, got.shape[-1]), axis=0) - n0
        np.testing.assert_allclose(growth, 3 * 1e-4 * n0, rtol=1e-2)


def test_per_unit_layca_trains_a_recurrent_model_and_round_trips_through_model_save(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 5, 3)).astype("float32"), rng.integers(0, 2, 32)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4, name="enc"), keras.layers.Dense(2, name="out")])
    model.compile(Layca("adam", learning_rate=0.1, per_unit=True, multipliers={"out": 0.5}),
                  "sparse_categorical_crossentropy")
    before = [v.numpy().astype(np.float64) for v in model.trainable_variables]
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    for old, new in zip(before, model.trainable_variables):
        if new.path.endswith("kernel"):
            new = new.numpy().astype(np.float64)
            flat_old, flat = old.reshape(-1, old.shape[-1]), new.reshape(-1, new.shape[-1])
            np.testing.assert_allclose(np.linalg.norm(flat, axis=0), np.linalg.norm(flat_old, axis=0), rtol=1e-5)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.optimizer.per_unit and loaded.optimizer.multipliers == {"out": 0.5}
    for a, b in ((model, x[:16]), (loaded, x[:16])):
        a.train_on_batch(b, y[:16])
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
