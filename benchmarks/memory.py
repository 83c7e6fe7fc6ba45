"""Peak memory of training with Layca(inner) divided by that of inner alone.

    python benchmarks/memory.py [--steps 5]

Each variant trains in a fresh process (so peaks do not mix); on a GPU the peak comes
from tf.config.experimental.get_memory_info, on a CPU from the process' peak resident
set size, of which the model and optimizer state are a part.
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CHILD = """
import json, resource, sys
sys.path.insert(0, {root!r})
import keras, tensorflow as tf
from benchmarks.common import INNERS, compiled, model_and_weights
from layer_rotation_tools import Layca
make_model, weights, batches = model_and_weights({model!r})
inner = INNERS[{inner!r}]()
model = compiled(make_model, Layca(inner) if {layca} else inner, weights, "graph")
x, y = batches()
for _ in range({steps}):
    model.train_on_batch(x, y)
gpus = tf.config.list_physical_devices("GPU")
peak = tf.config.experimental.get_memory_info("GPU:0")["peak"] if gpus else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({{"peak": peak, "device": "GPU" if gpus else "CPU (peak RSS)"}}))
"""


def peak(model, inner, layca, steps):
    code = _CHILD.format(root=ROOT, model=model, inner=inner, layca=layca, steps=steps)
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=["C10-CNN1", "small MLP"])
    args = parser.parse_args(argv)
    print(f"{'model':10} {'inner':5} {'inner MiB':>10} {'Layca MiB':>10} {'ratio':>7}  device")
    rows = []
    for model in args.models:
        for inner in ("SGD", "Adam"):  # the keys of common.INNERS (not imported: no TensorFlow here)
            plain, layca = peak(model, inner, False, args.steps), peak(model, inner, True, args.steps)
            ratio = layca["peak"] / plain["peak"]
            rows.append((model, inner, ratio))
            print(f"{model:10} {inner:5} {plain['peak'] / 2**20:10.1f} {layca['peak'] / 2**20:10.1f} {ratio:7.3f}  {plain['device']}",
                  flush=True)
    return rows


if __name__ == "__main__":
    main()
