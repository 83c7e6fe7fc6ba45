"""Seconds an epoch and page faults under each memory allocator found, over glibc's malloc
(the default), for a study's shard: a `cpu_fit` run of SGD+Layca on C10-CNN1-fit (widths / 8,
2,000 training images, batch 128: 16 steps an epoch, with the runner's monitors and
checkpoints), one process pinned to one core with single-threaded frameworks
(`experiments.parallel`), on noise data in the CIFAR-10 format.

    python benchmarks/allocator.py [--epochs 4] [--repeats 2]

Each allocator other than glibc's is a shared library put first with `LD_PRELOAD`
(tcmalloc from Debian's libtcmalloc-minimal4, jemalloc from libjemalloc2), in a fresh
process per measurement; those not installed are skipped. The processes run one after the
other on the same core, the allocators alternating within each repeat; the median of the
per-repeat ratios to glibc is printed. An epoch's time is the median over the epochs after
the first (tracing and compilation excluded), between the runner's end-of-epoch lines;
page faults are the process's minor faults (`getrusage`) over the same epochs.
"""

import argparse
import ctypes.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from experiments.parallel import shard_environment, usable_cores  # noqa: E402

SCALE = "cpu_fit"
#: The baseline, and the allocators compared with it: a name and the library `LD_PRELOAD` puts first.
BASELINE = "glibc malloc"
ALLOCATORS = (("tcmalloc", "tcmalloc_minimal"), ("jemalloc", "jemalloc"))


def measure(epochs):
    """In this process: a `cpu_fit` run of SGD+Layca on C10-CNN1-fit (noise data in the
    CIFAR-10 format) for `epochs` epochs; return the median seconds an epoch after the
    first, and the minor page faults an epoch over the same epochs."""
    from experiments import fake_data
    from experiments.recipes import RunConfig
    from experiments.runner import Run

    marks = []

    def printer(line):
        if " epoch " in line:
            marks.append((time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt))

    with tempfile.TemporaryDirectory() as folder:
        fake_data.write_cifar10(folder, n_train=2500, n_test=500)
        Run(RunConfig("C10-CNN1-fit", "layca", only_epochs=epochs), SCALE, folder, os.path.join(folder, "results"),
            printer=printer).execute()
    seconds = np.diff([t for t, _ in marks])
    faults = np.diff([f for _, f in marks])
    return float(np.median(seconds)), float(np.median(faults))


def run_child(library, epochs, core):
    """`measure` in a fresh process pinned to `core`, with `library` preloaded."""
    environment = shard_environment(os.environ)
    environment.pop("LD_PRELOAD", None)
    if library:
        environment["LD_PRELOAD"] = library
    output = subprocess.run([sys.executable, __file__, "--child", "--epochs", str(epochs)], env=environment,
                            check=True, capture_output=True, text=True,
                            preexec_fn=lambda: os.sched_setaffinity(0, {core})).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4, help="epochs a run (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.epochs)))
        return None
    installed = ((name, ctypes.util.find_library(library)) for name, library in ALLOCATORS)
    found = [(BASELINE, None)] + [(name, path) for name, path in installed if path]
    core = usable_cores()[0]
    rows = {name: [] for name, _ in found}
    for _ in range(args.repeats):
        for name, path in found:
            rows[name].append(run_child(path, args.epochs, core))
    print(f"C10-CNN1-fit at cpu_fit, SGD+Layca, 16 steps an epoch, one process on core {core}, single-threaded, "
          f"epochs 2-{args.epochs} timed, median of {args.repeats} repeats")
    print(f"{'allocator':>14} {'s an epoch':>11} {'faults an epoch':>16} {'time / glibc':>13}")
    baseline = [seconds for seconds, _ in rows[BASELINE]]
    for name, measured in rows.items():
        seconds, faults = np.median(measured, axis=0)
        ratio = np.median([s / b for (s, _), b in zip(measured, baseline)])
        print(f"{name:>14} {seconds:11.2f} {faults:16.0f} {ratio:13.2f}")
    return rows


if __name__ == "__main__":
    main()
