"""Step time with the dot products taken a chunk of rows at a time (`transforms.CHUNK_BYTES`,
where operations run eagerly) over the step with each kernel taken whole, for Layca and for
`LayerRotationRates`, on the model of `kernel_memory.py` (kernels large enough to be cut
into chunks), and the memory it buys there (issue 46).

    KERAS_BACKEND=torch python benchmarks/chunked_products.py [--repeats 5] [--layers 10] [--width 2000]

Chunks only apply where operations run eagerly (PyTorch, `run_eagerly=True`); elsewhere
both sides run the same code. The sides alternate within each repeat, and the median of
the per-repeat ratios is printed.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.kernel_memory import dense_stack  # noqa: E402
from layer_rotation_tools import Layca, LayerRotationRates, backend, transforms  # noqa: E402

#: Larger than any kernel: every kernel's products taken whole.
WHOLE = 2**62


def seconds_per_step(variant, chunk_bytes, layers, width, batches):
    """Seconds per step of `batches` steps of the variant, after one step of warm-up."""
    transforms.CHUNK_BYTES = chunk_bytes
    model = dense_stack(layers, width)
    optimizer = Layca("sgd") if variant == "Layca(sgd)" else keras.optimizers.SGD(0.01)
    callbacks = [LayerRotationRates()] if variant == "SGD + LayerRotationRates()" else []
    model.compile(optimizer=optimizer, loss="mse")
    x = np.random.default_rng(0).normal(size=(64 * batches, width)).astype("float32")
    model.fit(x[:64], x[:64], batch_size=64, epochs=1, verbose=0, callbacks=callbacks)
    start = time.perf_counter()
    model.fit(x, x, batch_size=64, epochs=1, verbose=0, callbacks=callbacks)
    return (time.perf_counter() - start) / batches


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--width", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=8)
    args = parser.parse_args(argv)
    backend.enable_float64()
    chunked = transforms.CHUNK_BYTES
    print(f"backend {keras.backend.backend()}; {args.layers} kernels of {args.width} x {args.width}; "
          f"chunks of {chunked / 2**20:g} MiB (float64) against whole kernels; median of {args.repeats}")
    for variant in ("Layca(sgd)", "SGD + LayerRotationRates()"):
        chunks, whole = [], []
        for _ in range(args.repeats):
            chunks.append(seconds_per_step(variant, chunked, args.layers, args.width, args.batches))
            whole.append(seconds_per_step(variant, WHOLE, args.layers, args.width, args.batches))
        ratio = statistics.median(c / w for c, w in zip(chunks, whole))
        chunks, whole = statistics.median(chunks), statistics.median(whole)
        print(f"{variant:28s} chunks / whole {ratio:.2f} ({chunks:.3f} s against {whole:.3f} s a step)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
