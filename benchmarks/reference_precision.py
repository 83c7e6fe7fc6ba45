"""What keeping `LayerRotationCurves`' references in a narrower dtype costs in accuracy:
the largest difference between the distances measured from bfloat16 or float16 initial
kernels and from the float32 ones, on the same fit (issue 46).

    KERAS_BACKEND=tensorflow|jax|torch python benchmarks/reference_precision.py [--steps 300]

Each model of `common.MODELS` (its batches of noise) trains with SGD+Layca at 3^-3 (the
papers' best rate, so that every kernel turns towards a cosine distance of 1) and with
plain SGD at 0.01 (small distances, where a relative error shows most), watched by three
`LayerRotationCurves` at once (references in float32, bfloat16 and float16), recording
every 10 steps. Printed per model and optimizer: the largest distance reached, and for
each narrower dtype the largest absolute difference from float32's distances over every
record and kernel, and the references' bytes over float32's.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import MODELS  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from layer_rotation_tools import Layca, LayerRotationCurves, backend  # noqa: E402

DTYPES = ("float32", "bfloat16", "float16")
OPTIMIZERS = {"SGD+Layca 3^-3": lambda: Layca("sgd", learning_rate=3.0**-3),
              "SGD 0.01": lambda: keras.optimizers.SGD(0.01)}


def measured(model_name, optimizer_name, steps):
    """{dtype: distances (records x kernels)} of one fit watched in every dtype."""
    make_model, input_shape, batches = MODELS[model_name]
    keras.utils.set_random_seed(0)
    model = make_model()
    model.compile(OPTIMIZERS[optimizer_name](), "categorical_crossentropy")
    x, y = batches(input_shape, batches=10)
    curves = {dtype: LayerRotationCurves(batch_frequency=10, reference_dtype=dtype) for dtype in DTYPES}
    model.fit(x, y, batch_size=len(x) // 10, epochs=steps // 10, verbose=0, callbacks=list(curves.values()))
    return {dtype: monitor.distances for dtype, monitor in curves.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    args = parser.parse_args(argv)
    backend.enable_float64()
    print(f"backend {keras.backend.backend()}; {args.steps} steps, a record every 10")
    print(f"{'model':12s} {'optimizer':16s} {'largest distance':>16s}  "
          + "  ".join(f"{dtype + ': |error|, bytes':>24s}" for dtype in DTYPES[1:]))
    for model_name in args.models:
        for optimizer_name in OPTIMIZERS:
            distances = measured(model_name, optimizer_name, args.steps)
            exact = distances["float32"]
            errors = [f"{np.abs(distances[d] - exact).max():16.2e}, {np.dtype(_numpy(d)).itemsize / 4:5.2f}"
                      for d in DTYPES[1:]]
            print(f"{model_name:12s} {optimizer_name:16s} {exact.max():16.4f}  " + "  ".join(f"{e:>24s}" for e in errors))
    return 0


def _numpy(dtype):
    import ml_dtypes

    return ml_dtypes.bfloat16 if dtype == "bfloat16" else dtype


if __name__ == "__main__":
    sys.exit(main())
