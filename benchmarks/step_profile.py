"""Milliseconds a C10-CNN1 training step takes on one CPU core, under each setting that
keeps float32 arithmetic, and where its time goes (issue 42).

    python benchmarks/step_profile.py [--widths 0.125 0.25] [--core 0] [--steps 12] [--repeats 3]

Each setting (`SETTINGS`: backend, compilation, layout, oneDNN, allocator) runs in a fresh
process pinned to `--core` with single-threaded frameworks (`experiments.parallel`, as a
study's shard), on a batch of 128 noise images, SGD+Layca at 3^-3 (a study's default run).
A step's time is the median over `--repeats` blocks of `--steps` calls of
`train_on_batch`, after two blocks of warm-up (tracing, compilation). Its achieved GFLOP/s
counts the convolutions' and the dense layer's multiply-adds (`training_flops`: forward,
then the gradients of the kernels and of the inputs, as 2 flops per multiply-add), and its
fraction is of the single-thread float32 matrix product measured by the same process
(numpy, 1024 x 1024). The parts (`PARTS`), on the default setting: the forward pass
alone, forward and backward without an update, the step with plain SGD, and the step
without batch normalisation; the difference between two parts is the time of what one
adds. Run it with the other core idle, and again with a study's run on the other core.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from experiments.parallel import shard_environment  # noqa: E402

BATCH = 128
#: (name, KERAS_BACKEND, extra environment, options of `measure`).
SETTINGS = (
    ("TensorFlow, graph (the studies' default)", "tensorflow", {}, {}),
    ("TensorFlow, XLA step (jit_compile=True)", "tensorflow", {}, {"jit_compile": True}),
    ("TensorFlow, graph, oneDNN off", "tensorflow", {"TF_ENABLE_ONEDNN_OPTS": "0"}, {}),
    ("TensorFlow, graph, glibc malloc", "tensorflow", {"LD_PRELOAD": ""}, {}),
    ("TensorFlow, graph, channels first", "tensorflow", {}, {"channels_first": True}),
    ("JAX, XLA step", "jax", {}, {"jit_compile": True}),
    ("JAX, XLA step, channels first", "jax", {}, {"jit_compile": True, "channels_first": True}),
    ("PyTorch, eager", "torch", {}, {}),
    ("PyTorch, eager, channels first", "torch", {}, {"channels_first": True}),
    ("PyTorch, torch.compile step (jit_compile=True)", "torch", {}, {"jit_compile": True}),
    ("PyTorch, torch.compile step, plain SGD", "torch", {}, {"jit_compile": True, "optimizer": "sgd"}),
)
#: The parts of the default setting's step: (name, options of `measure`).
PARTS = (
    ("forward pass (training mode)", {"part": "forward"}),
    ("forward and backward, no update", {"part": "gradients"}),
    ("step, plain SGD", {"optimizer": "sgd"}),
    ("step, SGD+Layca", {}),
    ("step, SGD+Layca, without batch normalisation", {"no_batch_norm": True}),
)


def training_flops(model):
    """Flops of one training step on a batch of BATCH: per convolution and dense layer, 2
    flops per multiply-add of the forward pass, of the kernel's gradient, and of the
    input's gradient (none for the first layer, whose input needs none)."""
    import keras

    total, first = 0, True
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            out = layer.output.shape
            spatial = out[1] * out[2] if layer.data_format == "channels_last" else out[2] * out[3]
            kernel = layer.kernel.shape
            macs = spatial * kernel[0] * kernel[1] * kernel[2] * kernel[3]
        elif isinstance(layer, keras.layers.Dense):
            macs = layer.kernel.shape[0] * layer.kernel.shape[1]
        else:
            continue
        total += 2 * macs * (2 if first else 3)
        first = False
    return total * BATCH


def matmul_gflops(size=1024, repeats=5):
    """The single-thread float32 rate of numpy's matrix product, best of `repeats`."""
    import numpy as np

    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    np.dot(a, a)
    best = min(_seconds(lambda: np.dot(a, a)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _seconds(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def measure(width, steps, repeats, jit_compile=False, channels_first=False, part=None, optimizer="layca",
            no_batch_norm=False):
    """In this process: milliseconds a step (median over blocks), GFLOP a step, and the
    matrix-product rate, as a dict."""
    import keras
    import numpy as np

    from experiments.models import build_model
    from experiments.recipes import TASKS, RunConfig
    from experiments.runner import make_optimizer
    from layer_rotation_tools import backend

    backend.enable_float64()  # as a run does: Layca's float64 products (JAX: x64)
    if channels_first:
        keras.config.set_image_data_format("channels_first")
    shape = (3, 32, 32) if channels_first else (32, 32, 3)
    keras.utils.set_random_seed(0)
    model = build_model(TASKS["C10-CNN1"].model, shape, 10, width)
    if no_batch_norm:
        model = _without_batch_norm(model, shape)
    flops = training_flops(model)
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, *shape), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 10, BATCH), 10)
    config = RunConfig("C10-CNN1", optimizer)
    model.compile(make_optimizer(config, model, config.learning_rate), "categorical_crossentropy",
                  jit_compile=jit_compile)
    step = _part(model, part, x, y) if part else (lambda: model.train_on_batch(x, y))
    for _ in range(2):
        for _ in range(steps):
            step()
    blocks = [_seconds(lambda: [step() for _ in range(steps)]) / steps for _ in range(repeats)]
    milliseconds = 1000 * statistics.median(blocks)
    return {"ms": milliseconds, "gflop": flops / 1e9, "matmul_gflops": matmul_gflops()}


def _part(model, part, x, y):
    """A callable running `part` of the step on TensorFlow, in a graph as the step runs:
    'forward' (the training-mode forward pass) or 'gradients' (forward and backward)."""
    import keras
    import tensorflow as tf

    @tf.function
    def forward():
        return model(x, training=True)[0, 0]

    @tf.function
    def gradients():
        with tf.GradientTape() as tape:
            loss = keras.losses.categorical_crossentropy(y, model(x, training=True))
        return tape.gradient(loss, model.trainable_variables)[0][0, 0, 0, 0]

    call = forward if part == "forward" else gradients
    return lambda: call().numpy()


def _without_batch_norm(model, shape):
    """The same network with every BatchNormalization layer removed."""
    import keras

    inputs = keras.Input(shape)
    x = inputs
    for layer in model.layers[1:]:
        if not isinstance(layer, keras.layers.BatchNormalization):
            x = layer(x)
    return keras.Model(inputs, x)


def _child(setting_env, backend, options, width, args):
    """`measure` in a fresh process on `args.core`; its dict, or {'error': ...}."""
    env = shard_environment({**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"})
    env.update(setting_env)
    if env.get("LD_PRELOAD") == "":
        del env["LD_PRELOAD"]
    code = (f"import json, sys; sys.path.insert(0, {os.getcwd()!r}); from benchmarks.step_profile import measure; "
            f"print('RESULT', json.dumps(measure({width}, {args.steps}, {args.repeats}, **{options!r})))")
    found = subprocess.run(["taskset", "-c", str(args.core), sys.executable, "-c", code], env=env,
                           capture_output=True, text=True, timeout=1800)
    for line in found.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    errors = [line for line in found.stderr.splitlines() if "Error" in line] or found.stderr.strip().splitlines()
    return {"error": (errors or ["no output"])[-1][:200]}


def _row(name, found, rate_known=True):
    if "error" in found:
        return f"| {name} | fails: {found['error']} | | |"
    if not rate_known:
        return f"| {name} | {found['ms']:.0f} |"
    rate = found["gflop"] / found["ms"] * 1000
    return f"| {name} | {found['ms']:.0f} | {rate:.1f} | {rate / found['matmul_gflops']:.2f} |"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=float, nargs="+", default=[0.125, 0.25])
    parser.add_argument("--core", type=int, default=0)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--settings", nargs="*", default=None, help="names of SETTINGS to run (default: all)")
    args = parser.parse_args(argv)
    settings = [s for s in SETTINGS if args.settings is None or s[0] in args.settings]
    for width in args.widths:
        print(f"\nC10-CNN1 at widths x{width:g}, batch {BATCH}, core {args.core}\n")
        print("| setting | ms a step | GFLOP/s | of the core's matrix product |\n|---|---|---|---|")
        for name, backend, env, options in settings:
            print(_row(name, _child(env, backend, options, width, args)), flush=True)
        print("\n| part of the default step (TensorFlow, graph) | ms |\n|---|---|")
        for name, options in PARTS:
            print(_row(name, _child({}, "tensorflow", options, width, args), rate_known=False), flush=True)


if __name__ == "__main__":
    main()
