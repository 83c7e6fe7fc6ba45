"""Layca's trajectory with each inner optimizer, written down once (golden values, as
Keras' own optimizer tests keep them), and its stateless step.

The values are Layca(inner, learning_rate=0.1) after three `apply` calls on one 2 x 3
kernel, computed by this package on TensorFlow when these tests were written and agreeing
with PyTorch and JAX to 3e-7. They do not depend on `tests/references.py`: a change to
Layca's step, or to an inner optimizer's, that the equation tests did not foresee moves them.
"""

import keras
import numpy as np
import pytest

from layer_rotation_tools import Layca

KERNEL = np.array([[0.5, -1.0, 0.25], [1.5, 0.75, -0.5]], "float32")
GRADIENTS = [
    np.array([[0.1, 0.2, -0.3], [0.0, -0.1, 0.4]], "float32"),
    np.array([[-0.2, 0.1, 0.1], [0.3, 0.0, -0.2]], "float32"),
    np.array([[0.05, -0.4, 0.2], [0.1, 0.2, 0.0]], "float32"),
]
GOLDEN = {
    "sgd": [[0.593224, -0.997413, 0.228072], [1.421330, 0.746928, -0.630996]],
    "adam": [[0.498163, -1.193257, 0.397149], [1.135884, 0.854815, -0.724087]],
    "rmsprop": [[0.522309, -1.080572, 0.199354], [1.418882, 0.722270, -0.599930]],
    "adagrad": [[0.577289, -1.039083, 0.225355], [1.412571, 0.715647, -0.635413]],
    "sgd_amom": [[0.542310, -1.133520, 0.433498], [1.141781, 0.767607, -0.845710]],
    "keras2_rmsprop": [[0.522307, -1.080570, 0.199350], [1.418885, 0.722273, -0.599928]],
    "keras2_adagrad": [[0.525078, -1.077452, 0.206934], [1.418996, 0.720535, -0.602367]],
    "normalized_sgd": [[0.593225, -0.997412, 0.228074], [1.421332, 0.746928, -0.630991]],
}


@pytest.mark.parametrize("inner", sorted(GOLDEN))
def test_three_steps_land_on_the_golden_values(inner):
    kernel = keras.Variable(KERNEL, name="kernel")
    layca = Layca(inner, learning_rate=0.1)
    for gradient in GRADIENTS:
        layca.apply([gradient], [kernel])
    np.testing.assert_allclose(kernel.numpy(), GOLDEN[inner], atol=2e-6)
    assert np.linalg.norm(kernel.numpy()) == pytest.approx(np.linalg.norm(KERNEL), rel=1e-6)


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="Keras has no stateless_apply on TensorFlow")
@pytest.mark.parametrize("inner", ["sgd", "adam"])
def test_stateless_apply_equals_apply(inner):
    """`stateless_apply` (what JAX's trainer calls) gives the values `apply` writes, and
    leaves the variables as they were. (Copies of the values go in: Keras' PyTorch
    optimizers update the tensors they are given in place.)"""
    stateful_kernel, stateless_kernel = keras.Variable(KERNEL, name="kernel"), keras.Variable(KERNEL, name="kernel")
    stateful, stateless = Layca(inner, learning_rate=0.1), Layca(inner, learning_rate=0.1)
    stateful.build([stateful_kernel])
    stateless.build([stateless_kernel])
    values = [keras.ops.copy(v) for v in stateless.variables]
    kernel_value = [keras.ops.copy(stateless_kernel)]
    for gradient in GRADIENTS:
        stateful.apply([gradient], [stateful_kernel])
        kernel_value, values = stateless.stateless_apply(values, [gradient], kernel_value)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(kernel_value[0]), stateful_kernel.numpy(), atol=1e-6)
    for value, variable in zip(values, stateful.variables):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(value), keras.ops.convert_to_numpy(variable), atol=1e-6)
    np.testing.assert_array_equal(stateless_kernel.numpy(), KERNEL)
    assert int(stateless.iterations) == 0
