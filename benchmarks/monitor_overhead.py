"""Epoch time with LayerRotationCurves(batch_frequency=1) divided by the epoch time
without it (goal: <= 1.05), beside the same ratio for the original approach: copy every
kernel to numpy after every batch and compute the cosine distances there, and beside the
floor of any measure of the cosine distances on the device: 1 + the time of the two
reductions per kernel it cannot do without (y.y and x.y, the references' x.x being known),
compiled as the backend compiles, over the time of a step.

    KERAS_BACKEND=tensorflow|jax|torch python benchmarks/monitor_overhead.py [--repeats 5] [--batches 20]

Steps run in Keras' default mode of the backend (graph, xla, eager) unless --mode says.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from benchmarks.common import DEFAULT_MODES, MODELS, MODES, compiled, interleaved_ratio, model_and_weights  # noqa: E402
from layer_rotation_tools import LayerRotationCurves, backend, kernel_variables  # noqa: E402


class NumpyRotation(keras.callbacks.Callback):
    """The original approach: kernels to numpy every batch, cosine distance in numpy."""

    def on_train_begin(self, logs=None):
        self.initial = [np.asarray(k).ravel() for k in kernel_variables(self.model)]
        self.records = []

    def on_train_batch_end(self, batch, logs=None):
        current = [np.asarray(k).ravel() for k in kernel_variables(self.model)]
        self.records.append([1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) for a, b in zip(self.initial, current)])


def reduction_seconds(model, repeats=201):
    """Median seconds of the two reductions per kernel (y.y and x.y over the model's
    kernels) in one compiled call, less those of a compiled call that reduces nothing."""
    kernels = [k.value for k in kernel_variables(model)]
    references = [ops.copy(k) for k in kernels]

    def reductions(xs, ys):
        return ops.stack([total for x, y in zip(xs, ys) for total in (ops.sum(ops.square(y)), ops.sum(x * y))])

    def nothing(xs, ys):
        return ops.zeros((2 * len(ys),))

    calls = [backend.compiled(f, references, kernels) for f in (reductions, nothing)]
    gaps = []
    for _ in range(repeats):
        times = []
        for call in calls:
            start = time.perf_counter()
            ops.convert_to_numpy(call(references, kernels))
            times.append(time.perf_counter() - start)
        gaps.append(times[0] - times[1])
    return float(np.median(gaps))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", type=int, default=20, help="batches per epoch")
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--mode", default=DEFAULT_MODES[keras.backend.backend()],
                        choices=MODES[keras.backend.backend()])
    args = parser.parse_args(argv)
    backend.enable_float64()  # the monitors' float64 dot products, on JAX
    print(f"backend: {keras.backend.backend()}, mode: {args.mode}")
    print(f"{'model':10} {'epoch s':>8} {'ours':>7} {'numpy':>7} {'floor':>7}   (ratios to no monitoring)")
    rows = []
    for model_name in args.models:
        make_model, weights, batches = model_and_weights(model_name)
        x, y = batches(args.batches)
        model = compiled(make_model, keras.optimizers.SGD(0.01), weights, args.mode)

        def epoch(callbacks):
            return lambda: model.fit(x, y, batch_size=len(x) // args.batches, epochs=1, verbose=0, shuffle=False,
                                     callbacks=callbacks)

        ours, numpy_way = LayerRotationCurves(batch_frequency=1), NumpyRotation()
        for callbacks in ([], [ours], [numpy_way]):  # trace everything once
            epoch(callbacks)()
        ratio_ours, t_none, _ = interleaved_ratio(epoch([]), epoch([ours]), args.repeats)
        ratio_numpy, _, _ = interleaved_ratio(epoch([]), epoch([numpy_way]), args.repeats)
        floor = 1.0 + reduction_seconds(model) / (t_none / args.batches)
        rows.append((model_name, ratio_ours, ratio_numpy, floor))
        print(f"{model_name:10} {t_none:8.3f} {ratio_ours:7.3f} {ratio_numpy:7.3f} {floor:7.3f}", flush=True)
    return rows


if __name__ == "__main__":
    main()
