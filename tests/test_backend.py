"""What `backend` tells apart between Keras' backends and their ways of running a step."""

import numpy as np
import pytest
from keras import ops

from layer_rotation_tools import backend


@pytest.mark.tensorflow
def test_xla_compiles_step_in_a_tensorflow_function_traced_for_xla_not_in_an_update_compiled_alone():
    """True in a TensorFlow function traced for XLA and in what it calls (an update made by
    `xla_compiled_update` included); False in TensorFlow's other graphs and in an update
    that XLA compiles alone inside them. `windows_long_sums` is True wherever XLA compiles,
    the update compiled alone included; `fuses_elementwise` is False throughout (JAX
    only)."""
    import tensorflow as tf

    found = {}

    def recording(key):
        def fn(y):
            found[key] = (backend.xla_compiles_step(y), backend.windows_long_sums(y), backend.fuses_elementwise(y))
            return y * 2.0

        return fn

    nested = tf.function(recording("called in xla"))
    in_step, alone = backend.xla_compiled_update(recording("update in xla")), backend.xla_compiled_update(
        recording("update alone"))

    @tf.function(jit_compile=True)
    def xla(y):
        found["xla"] = (backend.xla_compiles_step(y), backend.windows_long_sums(y), backend.fuses_elementwise(y))
        return nested(in_step(y))

    @tf.function
    def graph(y):
        found["graph"] = (backend.xla_compiles_step(y), backend.windows_long_sums(y), backend.fuses_elementwise(y))
        return xla(alone(y))

    x = tf.ones((2, 3))
    np.testing.assert_array_equal(ops.convert_to_numpy(graph(x)), np.full((2, 3), 8.0))
    assert found == {"graph": (False, False, False), "update alone": (False, True, False),
                     "xla": (True, True, False), "update in xla": (True, True, False),
                     "called in xla": (True, True, False)}
    assert not backend.xla_compiles_step(x) and not backend.windows_long_sums(x)
