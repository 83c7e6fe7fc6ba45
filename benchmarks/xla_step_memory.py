"""The temporary buffers of Keras' compiled training step on JAX, as XLA's buffer assignment
counts them (`jax.stages.Compiled.memory_analysis`), in units of the kernels' bytes, on the
model of `kernel_memory.py` (issue 46). Where `kernel_memory.py` measures what the process
holds at its peak, this says what the one compiled step holds beside its arguments and
results (the variables, donated, are updated in place), and so whether a difference comes
from XLA's schedule of the step.

    KERAS_BACKEND=jax python benchmarks/xla_step_memory.py [--layers 10] [--width 2000]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import layer_rotation_tools  # noqa: E402,F401  (Keras with TensorFlow's start-up lines held)
import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.kernel_memory import dense_stack  # noqa: E402
from layer_rotation_tools import Layca, backend  # noqa: E402

#: name -> optimizer expression
VARIANTS = {
    "SGD": "keras.optimizers.SGD(0.01)",
    "Layca(sgd)": "Layca('sgd')",
    "Layca(sgd, per_unit=True)": "Layca('sgd', per_unit=True)",
    "Adam": "keras.optimizers.Adam(1e-3)",
    "Layca(adam)": "Layca('adam')",
}


def temporary_bytes(optimizer, layers, width):
    """XLA's temporary bytes of the training step of the model with `optimizer`, compiled
    as Keras compiles it (`jax.jit`, the state donated)."""
    import jax

    model = dense_stack(layers, width)
    model.compile(optimizer=optimizer, loss="mse")
    x = np.random.default_rng(0).normal(size=(64, width)).astype("float32")
    model.fit(x, x, batch_size=64, epochs=1, verbose=0)  # builds the optimizer's variables
    state = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
             [v.value for v in model.optimizer.variables], [v.value for v in model.metrics_variables])
    step = jax.jit(lambda state, data: type(model).train_step(model, state, data), donate_argnums=0)
    return step.lower(state, (x, x)).compile().memory_analysis().temp_size_in_bytes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--width", type=int, default=2000)
    args = parser.parse_args(argv)
    if keras.backend.backend() != "jax":
        raise SystemExit(f"xla_step_memory.py reads JAX's compiled step; run it with KERAS_BACKEND=jax "
                         f"(this is {keras.backend.backend()!r}).")
    backend.enable_float64()
    kernel_bytes = args.layers * args.width * args.width * 4
    print(f"{args.layers} kernels of {args.width} x {args.width}; XLA's temporary bytes of the training step")
    for variant, expression in VARIANTS.items():
        temp = temporary_bytes(eval(expression), args.layers, args.width)
        print(f"{variant:28s} {temp / 2**20:8.0f} MiB, {temp / kernel_bytes:.2f} x the kernels' bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
