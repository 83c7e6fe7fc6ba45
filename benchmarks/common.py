"""Shared pieces of the benchmarks: the models, their batches, and interleaved timing.

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
from layer_rotation_tools.kernels import kernel_mask  # noqa: E402


def c10_cnn1():
    return build_model("c10_cnn1", (32, 32, 3), 10)


def small_mlp():
    inputs = keras.Input((784,))
    x = keras.layers.Dense(256, activation="relu", use_bias=False)(inputs)
    x = keras.layers.Dense(256, activation="relu", use_bias=False)(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax", use_bias=False)(x), name="small_mlp")


class PositionEmbedding(keras.layers.Layer):
    """A learned embedding of each position, added to the token embeddings."""

    def build(self, input_shape):
        self.embeddings = self.add_weight(shape=tuple(input_shape[1:]), initializer="glorot_uniform", name="embeddings")

    def call(self, x):
        return x + self.embeddings


def transformer(vocabulary=5000, length=64, width=128, blocks=2):
    """A small Transformer encoder (about 1.04M parameters, 62% of them the token
    embedding): token and learned position embeddings, `blocks` x (4-head self-attention,
    key_dim 32, and a 512-unit GELU feed-forward layer, each added back and normalised),
    global average pooling and a 2-way softmax."""
    tokens = keras.Input((length,), dtype="int32")
    x = PositionEmbedding()(keras.layers.Embedding(vocabulary, width)(tokens))
    for _ in range(blocks):
        x = keras.layers.LayerNormalization()(x + keras.layers.MultiHeadAttention(4, 32)(x, x))
        feed_forward = keras.layers.Dense(width)(keras.layers.Dense(512, activation="gelu")(x))
        x = keras.layers.LayerNormalization()(x + feed_forward)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(tokens, keras.layers.Dense(2, activation="softmax")(x), name="transformer")


def images(input_shape, batches=1, seed=0):
    """`batches` batches of 128 standard-normal inputs, in one array, and one-hot labels of 10 classes."""
    rng = np.random.default_rng(seed)
    size = 128 * batches
    x = rng.normal(size=(size, *input_shape)).astype("float32")
    return x, keras.utils.to_categorical(rng.integers(0, 10, size), 10)


def sequences(input_shape, batches=1, seed=0, vocabulary=5000):
    """`batches` batches of 32 token sequences, in one array, and one-hot labels of 2 classes."""
    rng = np.random.default_rng(seed)
    size = 32 * batches
    x = rng.integers(0, vocabulary, size=(size, *input_shape)).astype("int32")
    return x, keras.utils.to_categorical(rng.integers(0, 2, size), 2)


#: name: (model factory, input shape, batch maker).
MODELS = {
    "C10-CNN1": (c10_cnn1, (32, 32, 3), images),
    "small MLP": (small_mlp, (784,), images),
    "Transformer": (transformer, (64,), sequences),
}
#: The inner optimizers compared with and without Layca.
INNERS = {"SGD": lambda: keras.optimizers.SGD(0.01), "Adam": lambda: keras.optimizers.Adam(1e-3)}
#: The peer: Keras' own layer-wise optimizer, Lamb (Adam with per-variable norms and a
#: trust ratio), over Adam.
PEER = ("Lamb", lambda: keras.optimizers.Lamb(1e-3), "Adam")


def model_and_weights(name):
    """(model factory, initial weights from seed 0, batches(n=1) -> n of its batches as
    one (x, y)) of a benchmark model."""
    make_model, shape, make_batches = MODELS[name]
    keras.utils.set_random_seed(0)
    return make_model, make_model().get_weights(), lambda n=1: make_batches(shape, n)


#: The ways each backend runs a training step: eager (`run_eagerly=True`), graph
#: (`tf.function`, TensorFlow only) and xla (`jit_compile=True`, JAX's default). PyTorch
#: runs eagerly (its `jit_compile`, torch.compile, is not benchmarked).
MODES = {"tensorflow": ("eager", "graph", "xla"), "jax": ("eager", "xla"), "torch": ("eager",)}
#: Keras' default way of running steps on each backend (`compile()`'s defaults).
DEFAULT_MODES = {"tensorflow": "graph", "jax": "xla", "torch": "eager"}


def compiled(make_model, optimizer, initial_weights, mode, kernels_only=False):
    """A fresh model with `initial_weights`, compiled in `mode` (one of `MODES`); with
    `kernels_only`, every trainable variable that is not a kernel (biases, normalisation
    parameters) frozen, as Layca leaves them."""
    backend = keras.backend.backend()
    if mode not in MODES[backend]:
        raise ValueError(f"mode={mode!r} does not exist on the {backend} backend; its modes: {MODES[backend]}.")
    model = make_model()
    model.set_weights(initial_weights)
    if kernels_only:
        for variable, is_kernel in zip(model.trainable_variables, kernel_mask(model.trainable_variables)):
            variable.trainable = is_kernel
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
