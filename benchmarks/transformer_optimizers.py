"""AdamW, Muon and Layca on them (per layer and per neuron) training the small Transformer
of `benchmarks/common.py` side by side in one run (issue 46): step time over AdamW's,
peak memory, and the training loss after the same number of steps.

    python benchmarks/transformer_optimizers.py [--steps 300] [--rho 0.01]

The task is learnable: a sequence of 64 tokens is of class 1 when more than half of its
tokens lie in the lower half of the vocabulary (a bag-of-tokens rule the attention and
pooling can fit). Every variant starts from the same initial weights and sees the same
batches of 32, in a fresh process of its own (so that peaks do not mix): the step time is
the median over the steps after the first 10 (compilation), the loss the mean over the last
20 steps, the peak memory the process's peak resident set (the framework's fixed part
included: at 1.04M parameters it hides what the optimizers keep; `benchmarks/kernel_memory.py`
measures that in kernel bytes). Layca wraps its inner optimizer as the Hyperball recipe
does (Wen et al., 2026: AdamH is Layca on Adam, MuonH Layca on Muon, each kernel's norm
and update norm fixed; README "On Muon"), with `train_non_kernels=True` so that biases and
normalisation parameters train with the inner optimizer's step; its rate `--rho` is the
rotation per step.
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The variants: name -> the expression of the optimizer, in the child's namespace.
VARIANTS = {
    "AdamW": "keras.optimizers.AdamW(1e-3)",
    "Muon": "keras.optimizers.Muon()",
    "Layca(Adam)": "Layca(keras.optimizers.Adam(1e-3), learning_rate=RHO, train_non_kernels=True)",
    "Layca(Adam), per neuron": "Layca(keras.optimizers.Adam(1e-3), learning_rate=RHO, train_non_kernels=True, per_unit=True)",
    "Layca(Muon)": "Layca(keras.optimizers.Muon(weight_decay=None, adam_weight_decay=None), learning_rate=RHO, "
                   "train_non_kernels=True)",
    "Layca(Muon), per neuron": "Layca(keras.optimizers.Muon(weight_decay=None, adam_weight_decay=None), "
                               "learning_rate=RHO, train_non_kernels=True, per_unit=True)",
}

_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
import keras, numpy as np
from benchmarks.common import transformer
from layer_rotation_tools import Layca
RHO = {rho!r}
keras.utils.set_random_seed(0)
model = transformer()
rng = np.random.default_rng(1)
x = rng.integers(0, 5000, size=({steps} * 32, 64)).astype("int32")
y = keras.utils.to_categorical((x < 2500).mean(axis=1) > 0.5, 2)
model.compile({optimizer}, "categorical_crossentropy")
times, losses = [], []
for step in range({steps}):
    batch = slice(32 * step, 32 * (step + 1))
    start = time.perf_counter()
    loss = model.train_on_batch(x[batch], y[batch])
    times.append(time.perf_counter() - start)
    losses.append(float(loss))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(dict(step=float(np.median(times[10:])), loss=float(np.mean(losses[-20:])), first=losses[0], peak=peak)))
"""


def measure(name, steps, rho):
    code = _CHILD.format(root=ROOT, rho=rho, steps=steps, optimizer=VARIANTS[name])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rho", type=float, default=0.01, help="Layca's rotation per step (default: 0.01)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args(argv)
    import keras  # noqa: F401 (the backend, for the header)

    rows = {name: measure(name, args.steps, args.rho) for name in args.variants}
    base = rows[args.variants[0]]
    print(f"Transformer (1.04M parameters), batch 32, {args.steps} steps, backend {keras.backend.backend()}, "
          f"Layca's rho {args.rho:g}; ratios over {args.variants[0]}")
    print(f"{'optimizer':26s} {'step ms':>8s} {'x time':>7s} {'peak MiB':>9s} {'x peak':>7s} {'loss: first':>12s} {'last 20':>8s}")
    for name, row in rows.items():
        print(f"{name:26s} {1e3 * row['step']:8.1f} {row['step'] / base['step']:7.2f} {row['peak'] / 2**20:9.0f} "
              f"{row['peak'] / base['peak']:7.2f} {row['first']:12.3f} {row['loss']:8.3f}")
    return rows


if __name__ == "__main__":
    main()
