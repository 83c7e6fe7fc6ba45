"""Shared pieces of the benchmarks: the two models, data, and interleaved timing.

Ratios are measured side by side in one process: the compared variants alternate
within each repeat, and the median of the per-repeat ratios is reported, so that slow
drifts of the machine hit both sides alike.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from experiments.models import build_model  # noqa: E402


def c10_cnn1():
    return build_model("c10_cnn1", (32, 32, 3), 10)


def small_mlp():
    inputs = keras.Input((784,))
    x = keras.layers.Dense(256, activation="relu", use_bias=False)(inputs)
    x = keras.layers.Dense(256, activation="relu", use_bias=False)(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax", use_bias=False)(x), name="small_mlp")


MODELS = {"C10-CNN1": (c10_cnn1, (32, 32, 3)), "small MLP": (small_mlp, (784,))}
#: The inner optimizers compared with and without Layca.
INNERS = {"SGD": lambda: keras.optimizers.SGD(0.01), "Adam": lambda: keras.optimizers.Adam(1e-3)}
#: The peer: Keras' own layer-wise optimizer, Lamb (Adam with per-variable norms and a
#: trust ratio), over Adam.
PEER = ("Lamb", lambda: keras.optimizers.Lamb(1e-3), "Adam")


def model_and_weights(name):
    """(model factory, input shape, initial weights) of a benchmark model, weights from seed 0."""
    make_model, shape = MODELS[name]
    keras.utils.set_random_seed(0)
    return make_model, shape, make_model().get_weights()


def batch(input_shape, size=128, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(size, *input_shape)).astype("float32")
    return x, keras.utils.to_categorical(rng.integers(0, 10, size), 10)


#: The ways each backend runs a training step: eager (`run_eagerly=True`), graph
#: (`tf.function`, TensorFlow only) and xla (`jit_compile=True`, JAX's default). PyTorch
#: runs eagerly (its `jit_compile`, torch.compile, is not benchmarked).
MODES = {"tensorflow": ("eager", "graph", "xla"), "jax": ("eager", "xla"), "torch": ("eager",)}
#: Keras' default way of running steps on each backend (`compile()`'s defaults).
DEFAULT_MODES = {"tensorflow": "graph", "jax": "xla", "torch": "eager"}


def compiled(make_model, optimizer, initial_weights, mode):
    """A fresh model with `initial_weights`, compiled in `mode` (one of `MODES`)."""
    backend = keras.backend.backend()
    if mode not in MODES[backend]:
        raise ValueError(f"mode={mode!r} does not exist on the {backend} backend; its modes: {MODES[backend]}.")
    model = make_model()
    model.set_weights(initial_weights)
    model.compile(optimizer, "categorical_crossentropy", run_eagerly=mode == "eager", jit_compile=mode == "xla")
    return model


def interleaved_ratio(run_a, run_b, repeats):
    """Median over repeats of time(run_b) / time(run_a), the two alternating."""
    ratios, times_a, times_b = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        run_a()
        middle = time.perf_counter()
        run_b()
        end = time.perf_counter()
        times_a.append(middle - start)
        times_b.append(end - middle)
        ratios.append((end - middle) / (middle - start))
    return float(np.median(ratios)), float(np.median(times_a)), float(np.median(times_b))
