"""Peak memory that Layca and the monitors add, in units of the kernels' bytes, on a model
large enough that the framework's fixed memory does not hide it (issue 46).

    KERAS_BACKEND=tensorflow|jax|torch python benchmarks/kernel_memory.py [--layers 10 [20]] [--width 2000]

The model is a stack of `--layers` Dense kernels of width x width (10 x 2,000 x 2,000:
160 MB of float32). Each variant runs in a fresh process: build, compile (Keras' default
`jit_compile="auto"`, or for the "compiled step" variants the model's whole step
compiled, `jit_compile=True`: by XLA on TensorFlow, its default where it sees a GPU, and
on JAX, by torch.compile on PyTorch), one fit of three steps on batches of 64, with
glibc told to give every block of 1 MiB or more back to the system when it is freed
(`MALLOC_MMAP_THRESHOLD_`), so that the peak counts the buffers alive at once rather
than what the allocator kept of earlier ones (without it, PyTorch's peaks vary by more
than a kernel's bytes between settings that run the same code). Two peaks of resident
memory: the whole fit's (`ru_maxrss`, the first step's compilation included), and the
steps after the first (`VmHWM` reset after the first step, once glibc has given back the
freed memory it keeps, `malloc_trim`: the memory of training, without what compiling the
step left behind; Linux only). A variant's cost is its peak less its baseline's (plain
SGD's, or Adam's, in the same kind of step), over the kernels' bytes; beside Layca, Adam
over SGD and Keras' Lamb over Adam (Lamb also takes per-layer norms and keeps no state
beyond Adam's) give the yardstick. The variants alternate over `--repeats` rounds and
the median of each is printed. Given two depths (`--layers 10 20`), it also prints each
variant's cost per kernel byte added between them: the slope of its extra memory over
the model's depth, which leaves out what does not grow with the model (a framework's
compiled code, a group's temporaries while the largest kernel is stepped).

On PyTorch, `--recompile-limit N` sets `torch._dynamo.config.recompile_limit` (PyTorch's
default: 8) in every worker before the step is compiled. torch.compile breaks Keras' step
where Layca chooses between float32 and float64 dot products on their values, so each
group of kernels that Layca steps (`layca.memory_groups`) is a frame of its own, compiled
for that group's variables: past the limit, the remaining groups run eagerly.
"""

import argparse
import ctypes
import ctypes.util
import json
import os
import resource
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: name -> (optimizer expression, callbacks expression, baseline variant, the model's jit_compile)
VARIANTS = {
    "SGD": ("keras.optimizers.SGD(0.01)", "[]", None, "auto"),
    "Adam": ("keras.optimizers.Adam(1e-3)", "[]", "SGD", "auto"),
    "Lamb": ("keras.optimizers.Lamb(1e-3)", "[]", "Adam", "auto"),
    "Layca(sgd)": ("Layca('sgd')", "[]", "SGD", "auto"),
    "Layca(sgd, jit_compile=True)": ("Layca('sgd', jit_compile=True)", "[]", "SGD", "auto"),
    "Layca(sgd, per_unit=True)": ("Layca('sgd', per_unit=True)", "[]", "SGD", "auto"),
    "Layca(adam)": ("Layca('adam')", "[]", "Adam", "auto"),
    "SGD + LayerRotationCurves()": ("keras.optimizers.SGD(0.01)", "[LayerRotationCurves()]", "SGD", "auto"),
    "SGD + LayerRotationCurves(reference_dtype='bfloat16')": (
        "keras.optimizers.SGD(0.01)", "[LayerRotationCurves(reference_dtype='bfloat16')]", "SGD", "auto"),
    "SGD + LayerRotationRates()": ("keras.optimizers.SGD(0.01)", "[LayerRotationRates()]", "SGD", "auto"),
    "SGD + LayerRotationCurves(per_unit_quantiles=(0.1, 0.5, 0.9))": (
        "keras.optimizers.SGD(0.01)", "[LayerRotationCurves(per_unit_quantiles=(0.1, 0.5, 0.9))]", "SGD", "auto"),
    "SGD + LayerRotationRates(per_unit_quantiles=(0.1, 0.5, 0.9))": (
        "keras.optimizers.SGD(0.01)", "[LayerRotationRates(per_unit_quantiles=(0.1, 0.5, 0.9))]", "SGD", "auto"),
    # The model's whole step compiled (`model.compile(jit_compile=True)`): by XLA on TensorFlow (its
    # default where it sees a GPU) and on JAX (always: there these repeat the variants above), by
    # torch.compile on PyTorch.
    "SGD, compiled step": ("keras.optimizers.SGD(0.01)", "[]", None, True),
    "Adam, compiled step": ("keras.optimizers.Adam(1e-3)", "[]", "SGD, compiled step", True),
    "Layca(sgd), compiled step": ("Layca('sgd')", "[]", "SGD, compiled step", True),
    "Layca(sgd, per_unit=True), compiled step": ("Layca('sgd', per_unit=True)", "[]", "SGD, compiled step", True),
    "Layca(adam), compiled step": ("Layca('adam')", "[]", "Adam, compiled step", True),
}


def dense_stack(layers, width):
    """The benchmarks' large model: `layers` Dense kernels of width x width, no biases, the
    same initial weights at every call (seed 0)."""
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((width,))] + [keras.layers.Dense(width, use_bias=False) for _ in range(layers)])


def kernel_bytes(layers, width):
    """The float32 bytes of `layers` Dense kernels of width x width."""
    return layers * width * width * 4


def worker(variant, layers, width, recompile_limit=None):
    """Train the variant for three steps; print its peak resident memory in bytes, over the
    whole fit and over the steps after the first (JSON). On PyTorch, with `recompile_limit`,
    torch.compile's limit of compiled versions per frame first set to it."""
    import layer_rotation_tools  # noqa: F401  (Keras with TensorFlow's start-up lines held)
    import keras
    import numpy as np

    if recompile_limit is not None and keras.backend.backend() == "torch":
        import torch

        torch._dynamo.config.recompile_limit = recompile_limit

    from layer_rotation_tools import Layca, LayerRotationCurves, LayerRotationRates, backend  # noqa: F401

    class AfterTheFirstStep(keras.callbacks.Callback):
        first = None  # the peak until the first step's end (`reset_peak` also resets `ru_maxrss`)

        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                self.first = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
                release_freed_memory()
                reset_peak()

    backend.enable_float64()
    model = dense_stack(layers, width)
    optimizer, callbacks, _, jit_compile = VARIANTS[variant]
    model.compile(optimizer=eval(optimizer), loss="mse", jit_compile=jit_compile)
    x = np.random.default_rng(0).normal(size=(192, width)).astype("float32")
    after_the_first = AfterTheFirstStep()
    model.fit(x, x, batch_size=64, epochs=1, verbose=0, callbacks=eval(callbacks) + [after_the_first])
    steps = peak()
    whole = max(after_the_first.first, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    print(json.dumps({"whole": whole, "steps": steps}), flush=True)


def release_freed_memory():
    """glibc's `malloc_trim(0)`: give the system back the freed memory the allocator keeps
    (what compiling a step leaves behind); nothing where the C library has no such call."""
    library = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(library), "malloc_trim", None) if library else None
    if trim is not None:
        trim(0)


def reset_peak():
    """Start the process's peak resident memory (`VmHWM`, and `ru_maxrss` with it) again from
    what it holds now (Linux)."""
    if os.path.exists("/proc/self/clear_refs"):
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")


def peak():
    """The process's peak resident memory in bytes since `reset_peak` (`VmHWM`; None where
    /proc does not give it)."""
    if not os.path.exists("/proc/self/status"):
        return None
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def peaks_of(variants, layers, width, repeats, recompile_limit=None):
    """{variant: {"whole": median peak resident bytes of the fit, "steps": of the steps after
    the first}} over `repeats` fresh processes, for a model of `layers` kernels, the variants
    alternating within each repeat (`worker`'s `recompile_limit` passed on)."""
    limit = [] if recompile_limit is None else ["--recompile-limit", str(recompile_limit)]
    peaks = {v: [] for v in variants}
    for _ in range(repeats):
        for variant in variants:
            found = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", variant, "--layers",
                                    str(layers), "--width", str(width)] + limit, capture_output=True, text=True,
                                   env={**os.environ, "MALLOC_MMAP_THRESHOLD_": str(2**20)})
            if found.returncode:
                raise SystemExit(f"{variant} failed: {found.stderr[-2000:]}")
            peaks[variant].append(json.loads(found.stdout.strip().splitlines()[-1]))
    return {v: {measure: (None if None in (values := [p[measure] for p in found]) else statistics.median(values))
                for measure in MEASURES} for v, found in peaks.items()}


#: The two peaks each worker reports, and how they are printed.
MEASURES = {"whole": "the whole fit", "steps": "the steps after the first"}


def with_baselines(variants):
    """`variants` and the baselines each is measured against, and theirs (Layca(adam) is
    over Adam, Adam over SGD), in the order of `VARIANTS`."""
    wanted = set()
    for variant in variants:
        while variant is not None and variant not in wanted:
            wanted.add(variant)
            variant = VARIANTS[variant][2]
    return [v for v in VARIANTS if v in wanted]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, nargs="+", default=[10],
                        help="model depths (each measured once); with two or more different depths, also the "
                             "cost per kernel added (slope) between the least and the greatest")
    parser.add_argument("--width", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--recompile-limit", type=int, default=None,
                        help="PyTorch: torch._dynamo.config.recompile_limit in every worker (default: PyTorch's, 8)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.layers[0], args.width, args.recompile_limit)
    wanted = with_baselines(args.variants)
    depths = sorted(set(args.layers))
    extras = {}  # (variant, layers, measure) -> bytes over the baseline
    import keras

    for layers in depths:
        kernels = kernel_bytes(layers, args.width)
        peaks = peaks_of(wanted, layers, args.width, args.repeats, args.recompile_limit)
        print(f"backend {keras.backend.backend()}; {layers} kernels of {args.width} x {args.width} "
              f"({kernels / 2**20:.0f} MiB)"
              + ("" if args.recompile_limit is None else f"; torch.compile's recompile_limit {args.recompile_limit}")
              + f"; peak resident memory, median of {args.repeats}: " + "; ".join(MEASURES.values()))
        for variant in wanted:
            base = VARIANTS[variant][2]
            columns = []
            for measure in MEASURES:
                value = peaks[variant][measure]
                if value is None:
                    columns.append("(not measured here)")
                    continue
                extra = ""
                if base is not None:
                    extras[variant, layers, measure] = value - peaks[base][measure]
                    extra = f", {extras[variant, layers, measure] / kernels:+.2f} x the kernels' bytes over {base}"
                columns.append(f"{value / 2**20:6.0f} MiB{extra}")
            print(f"{variant:54s} " + "; ".join(columns))
    if len(depths) > 1:
        low, high = depths[0], depths[-1]
        added = kernel_bytes(high, args.width) - kernel_bytes(low, args.width)
        print(f"cost per kernel byte added, from {low} to {high} kernels (what does not grow with depth left out): "
              + "; ".join(MEASURES.values()))
        for variant in wanted:
            if VARIANTS[variant][2] is not None:
                slopes = [f"{(extras[variant, high, m] - extras[variant, low, m]) / added:+.2f}"
                          if (variant, high, m) in extras else "(not measured here)" for m in MEASURES]
                print(f"{variant:54s} " + "; ".join(slopes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
