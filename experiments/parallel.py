"""A study on one machine: one process per shard, each placed by `experiments.placement`
(on a machine without GPUs: pinned to its own core with single-threaded frameworks).

On the 2-core machine, two such runs side by side made 14.5 training steps a second on
TensorFlow (10.4 on PyTorch), one run on both cores 8.1 (TensorFlow), 7.1 (JAX) and 5.6
(PyTorch) (docs/benchmarks.md, "Where a real-data study's time goes"). The shards are the
study's own (`sharding.shard`), so a run's results do not depend on how many processes ran
the study, beyond the float rounding of a different thread count.

Where tcmalloc is installed (Debian's libtcmalloc-minimal4), each shard runs with it put
first (`LD_PRELOAD`): with glibc's malloc, a `cpu_fit` epoch on this project's machines
took about 2 million page faults and twice the time (`benchmarks/allocator.py`). The
allocator changes no number a run computes.
"""

import ctypes.util
import os
import subprocess
import sys
import time

from experiments.placement import thread_environment

#: A shard's environment: every framework's thread pools at one thread (OpenMP and MKL for
#: PyTorch and numpy, TensorFlow's two pools, XLA's Eigen pool for JAX).
SINGLE_THREAD = thread_environment(1)
XLA_SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false"
#: The memory allocator a shard preloads where it is installed and no preload is set.
FAST_ALLOCATOR = "tcmalloc_minimal"


def usable_cores():
    """The cores this process may run on (its affinity mask: `taskset`, a batch system)."""
    return sorted(os.sched_getaffinity(0))


def shard_environment(environ, placement=None):
    """`environ` for a shard's process: its placement's variables (GPU, memory share,
    thread pools; without one, every framework single-threaded), XLA's CPU pool
    single-threaded where the shard has one core, and tcmalloc preloaded where it is
    installed and `environ` preloads nothing of its own."""
    placed = placement.environment if placement is not None else SINGLE_THREAD
    single_core = placement is None or len(placement.cores) == 1
    xla_flags = " ".join(flag for flag in (environ.get("XLA_FLAGS", ""), XLA_SINGLE_THREAD if single_core else "")
                         if flag)
    preload = environ.get("LD_PRELOAD") or ctypes.util.find_library(FAST_ALLOCATOR)
    return {**environ, **placed, **({"XLA_FLAGS": xla_flags} if xla_flags else {}),
            **({"LD_PRELOAD": preload} if preload else {})}


def run_shards(command, placements, deadline=None, printer=print):
    """Run `python -m experiments <command> --shard i/n` for every placement i of n, at
    once, each process pinned to its placement's cores with its environment
    (`shard_environment`); print each placement, then wait for all, or until `deadline`
    (a `time.monotonic()` value; None: no limit), when every shard still running is
    stopped. Returns 0, or the exit status of the first shard that failed (each failure
    is printed). An interrupt or the deadline stops every shard; their finished runs and
    checkpoints are kept, and the same command resumes them."""
    count, processes = len(placements), []
    try:
        for index, placement in enumerate(placements):
            printer(f"shard {index + 1}/{count}: {placement.describe()}")
            arguments = [sys.executable, "-m", "experiments", *command, "--shard", f"{index + 1}/{count}"]
            processes.append(subprocess.Popen(
                arguments, env=shard_environment(os.environ, placement),
                preexec_fn=lambda cores=placement.cores: os.sched_setaffinity(0, set(cores))))
        while any(process.poll() is None for process in processes):
            if deadline is not None and time.monotonic() >= deadline:
                running = [index + 1 for index, process in enumerate(processes) if process.poll() is None]
                printer(f"time limit reached: shard{'s' if len(running) > 1 else ''} "
                        f"{', '.join(map(str, running))} of {count} stopped (finished runs and checkpoints are kept; "
                        "the same command resumes them).")
                break
            time.sleep(1.0)
        stopped = {index for index, process in enumerate(processes) if process.poll() is None}
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait()
    failed = [(index + 1, process.returncode) for index, process in enumerate(processes)
              if process.returncode and index not in stopped]
    for index, code in failed:
        printer(f"shard {index}/{count} failed with exit status {code}; run it again to resume its runs.")
    return failed[0][1] if failed else 0


def launch(study, tasks, scale, data_dir, results_dir, jobs=None, runs_per_gpu=None, minutes=None, printer=print,
           seeds=None):
    """Run a study on this machine as `experiments.placement.plan` places it on the GPUs
    found (`find_gpus`) or the usable cores, printing what it chose: in this process
    where that is one CPU shard, else one process per shard (`run_shards`), stopped after
    `minutes` where given; each configuration once per seed of `seeds`. Returns the exit
    status."""
    from experiments.placement import configured_backend, find_gpus, plan
    from experiments.sharding import run_groups, run_study
    from experiments.studies import study_configs

    runs = len(run_groups(study_configs(study, tasks, scale, seeds)))
    gpus = find_gpus()
    placements = plan(gpus, usable_cores(), runs, configured_backend(), runs_per_gpu=runs_per_gpu, jobs=jobs)
    deadline = None if minutes is None else time.monotonic() + 60 * minutes
    if len(placements) == 1 and placements[0].gpu is None and deadline is None:
        run_study(study, tasks, scale, data_dir, results_dir, "1/1", printer, seeds)
        return 0
    printer(f"{study}: {runs} run{'s' if runs > 1 else ''} on {len(placements)} shard{'s' if len(placements) > 1 else ''}"
            + (f" over {len(gpus)} GPU{'s' if len(gpus) > 1 else ''}" if gpus else " on the CPU"))
    command = ["study", study, "--scale", scale, "--results", results_dir, *(["--tasks", *tasks] if tasks else []),
               *(["--data-dir", data_dir] if data_dir else []), *(["--seeds", *map(str, seeds)] if seeds else [])]
    return run_shards(command, placements, deadline, printer)
