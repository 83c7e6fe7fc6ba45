"""Training steps a second of one GPU shared by 1, 2, ... processes, each training its own
C10-CNN1 with SGD+Layca at 3^-3 (the papers' best), placed as a study places its shards
(`experiments.placement.plan`): the measurement behind `placement.RUNS_PER_GPU`.

    KERAS_BACKEND=jax|torch python benchmarks/gpu_share.py [--shares 1 2 4] [--steps 300] [--width 1]

For each number of processes k, k processes start together; each builds the network at
`--width`, compiles the training step on one batch (not timed), then times `--steps` steps
of `model.fit` on noise batches of 128 and prints its steps a second. The line per k gives
the sum over the processes, and its ratio to one process's. Without a GPU the processes
share the CPU cores the same way (a smoke test of the script).
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from experiments.parallel import shard_environment, usable_cores  # noqa: E402
from experiments.placement import configured_backend, find_gpus, plan  # noqa: E402


def worker(steps, width):
    """One process's measurement: steps a second of `steps` training steps (JSON line)."""
    import layer_rotation_tools  # noqa: F401  (Keras with TensorFlow's start-up lines held)
    import keras
    import numpy as np

    from experiments.models import build_model
    from experiments.recipes import RunConfig
    from experiments.runner import make_optimizer
    from layer_rotation_tools import backend

    backend.enable_float64()
    model = build_model("c10_cnn1", (32, 32, 3), 10, width)
    model.compile(make_optimizer(RunConfig("C10-CNN1", "layca"), model, 3.0**-3), "categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128 * 8, 32, 32, 3)).astype("float32")
    y = keras.utils.to_categorical(rng.integers(0, 10, len(x)), 10)
    model.fit(x, y, batch_size=128, epochs=1, steps_per_epoch=2, verbose=0)  # compile
    epochs = max(1, steps // 8)
    started = time.perf_counter()
    model.fit(x, y, batch_size=128, epochs=epochs, verbose=0, shuffle=False)
    seconds = time.perf_counter() - started
    device, peak = backend.accelerator()
    print(json.dumps({"steps_per_second": epochs * 8 / seconds, "device": device, "peak_mib": peak}), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shares", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.steps, args.width)
    gpus, cores, backend = find_gpus(), usable_cores(), configured_backend()
    print(f"backend {backend}; GPUs: {[gpu.name for gpu in gpus] or 'none'}; {len(cores)} cores; width {args.width}; "
          f"{args.steps} steps a process")
    alone = None
    for share in args.shares:
        placements = plan(gpus[:1], cores, share, backend, runs_per_gpu=share, jobs=share)
        processes = [subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", "--steps", str(args.steps), "--width",
             str(args.width)], env=shard_environment(os.environ, placement), stdout=subprocess.PIPE, text=True,
            preexec_fn=lambda cores=placement.cores: os.sched_setaffinity(0, set(cores))) for placement in placements]
        measured = [json.loads(process.communicate()[0].strip().splitlines()[-1]) for process in processes]
        total = sum(m["steps_per_second"] for m in measured)
        if alone is None:  # the first measurement sets the single process's speed
            alone = total / len(measured)
        each = ", ".join(f"{m['steps_per_second']:.1f}" for m in measured)
        peaks = ", ".join("-" if m["peak_mib"] is None else f"{m['peak_mib']:.0f}" for m in measured)
        print(f"{len(placements)} process(es): {total:.1f} steps/s together ({each} each; peak {peaks} MiB), "
              f"{total / alone:.2f}x one process alone", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
