"""Training-step time of Layca(inner) divided by that of inner alone (goal: <= 1.03).

    python benchmarks/step_time.py [--repeats 7] [--steps 5]

Same model, same initial weights, same batch, same process; the two optimizers
alternate within every repeat. Modes: eager (run_eagerly), graph (tf.function) and
xla (jit_compile=True).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import INNERS, MODELS, batch, compiled, interleaved_ratio, model_and_weights  # noqa: E402
from layer_rotation_tools import Layca  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5, help="steps per timed block")
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--modes", nargs="*", default=["eager", "graph", "xla"])
    args = parser.parse_args(argv)
    print(f"{'model':10} {'mode':6} {'inner':5} {'inner s/step':>12} {'Layca s/step':>12} {'ratio':>7}")
    rows = []
    for model_name in args.models:
        make_model, shape, weights = model_and_weights(model_name)
        x, y = batch(shape)
        for mode in args.modes:
            for inner_name, inner in INNERS.items():
                plain = compiled(make_model, inner(), weights, mode)
                layca = compiled(make_model, Layca(inner()), weights, mode)
                for model in (plain, layca):  # trace, compile, build the optimizers
                    model.train_on_batch(x, y)
                    model.train_on_batch(x, y)

                def steps(model):
                    return lambda: [model.train_on_batch(x, y) for _ in range(args.steps)]

                ratio, t_plain, t_layca = interleaved_ratio(steps(plain), steps(layca), args.repeats)
                rows.append((model_name, mode, inner_name, ratio))
                print(f"{model_name:10} {mode:6} {inner_name:5} {t_plain / args.steps:12.4f} {t_layca / args.steps:12.4f} "
                      f"{ratio:7.3f}", flush=True)
    return rows


if __name__ == "__main__":
    main()
