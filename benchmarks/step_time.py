"""Training-step time of Layca(inner) divided by that of inner alone, beside the peer's
ratio measured in the same run: Keras' Lamb over Adam (goal: Layca's ratio <= Lamb's),
and Adam training the kernels only over Adam (what leaving the other variables alone,
as Layca does, costs by itself).

    KERAS_BACKEND=tensorflow|jax|torch python benchmarks/step_time.py [--repeats 7] [--steps 5]

Same model, same initial weights, same batch, same process; the two optimizers of a
ratio alternate within every repeat. Modes: those of the backend (`common.MODES`).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import INNERS, MODELS, MODES, PEER, compiled, interleaved_ratio, model_and_weights  # noqa: E402
import keras  # noqa: E402

from layer_rotation_tools import Layca, backend  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5, help="steps per timed block")
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--modes", nargs="*", default=list(MODES[keras.backend.backend()]))
    args = parser.parse_args(argv)
    backend.enable_float64()  # Layca's float64 dot products, on JAX
    peer_name, peer, peer_base = PEER
    # (label, baseline optimizer, compared optimizer, whether the compared one trains the
    # kernels only), all measured in this run. The last row is what leaving biases and
    # normalisation parameters alone costs by itself, as Layca does (its default): on JAX,
    # XLA compiles a backward pass without their gradients, which can be slower.
    comparisons = [(f"Layca({name})/{name}", inner, lambda inner=inner: Layca(inner()), False)
                   for name, inner in INNERS.items()]
    comparisons.append((f"{peer_name}/{peer_base}", INNERS[peer_base], peer, False))
    comparisons.append((f"{peer_base}, kernels only/{peer_base}", INNERS[peer_base], INNERS[peer_base], True))
    print(f"backend: {keras.backend.backend()}")
    print(f"{'model':11} {'mode':6} {'ratio of':26} {'base s/step':>11} {'other s/step':>12} {'ratio':>7}")
    rows = []
    for model_name in args.models:
        make_model, weights, batches = model_and_weights(model_name)
        x, y = batches()
        for mode in args.modes:
            for label, base, other, kernels_only in comparisons:
                plain = compiled(make_model, base(), weights, mode)
                compared = compiled(make_model, other(), weights, mode, kernels_only)
                for model in (plain, compared):  # trace, compile, build the optimizers
                    model.train_on_batch(x, y)
                    model.train_on_batch(x, y)

                def steps(model):
                    return lambda: [model.train_on_batch(x, y) for _ in range(args.steps)]

                ratio, t_plain, t_other = interleaved_ratio(steps(plain), steps(compared), args.repeats)
                rows.append((model_name, mode, label, ratio))
                print(f"{model_name:11} {mode:6} {label:26} {t_plain / args.steps:11.4f} {t_other / args.steps:12.4f} "
                      f"{ratio:7.3f}", flush=True)
    return rows


if __name__ == "__main__":
    main()
