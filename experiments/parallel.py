"""A study on the cores of one machine: one process per shard, each pinned to its own core
with single-threaded frameworks.

On the 2-core machine, two such runs side by side made 14.5 training steps a second on
TensorFlow (10.4 on PyTorch), one run on both cores 8.1 (TensorFlow), 7.1 (JAX) and 5.6
(PyTorch) (docs/benchmarks.md, "Where a real-data study's time goes"). The shards are the
study's own (`studies.shard`), so a run's results do not depend on how many processes ran
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

#: A shard's environment: every framework's thread pools at one thread (OpenMP and MKL for
#: PyTorch and numpy, TensorFlow's two pools, XLA's Eigen pool for JAX).
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
                 "TF_NUM_INTEROP_THREADS": "1"}
XLA_SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false"
#: The memory allocator a shard preloads where it is installed and no preload is set.
FAST_ALLOCATOR = "tcmalloc_minimal"


def usable_cores():
    """The cores this process may run on (its affinity mask: `taskset`, a batch system)."""
    return sorted(os.sched_getaffinity(0))


def shard_environment(environ):
    """`environ` with every framework single-threaded, and tcmalloc preloaded where it is
    installed and `environ` preloads nothing of its own."""
    xla_flags = " ".join(flag for flag in (environ.get("XLA_FLAGS", ""), XLA_SINGLE_THREAD) if flag)
    preload = environ.get("LD_PRELOAD") or ctypes.util.find_library(FAST_ALLOCATOR)
    return {**environ, **SINGLE_THREAD, "XLA_FLAGS": xla_flags, **({"LD_PRELOAD": preload} if preload else {})}


def run_shards(study_arguments, jobs, cores=None, printer=print):
    """Run `python -m experiments study <study_arguments> --shard i/jobs` for every i, at
    once, the i-th process pinned to core `cores[i % len(cores)]`; wait for all. Returns 0,
    or the exit status of the first shard that failed (each failure is printed). An
    interrupt stops every shard (their finished runs and checkpoints are kept)."""
    cores = cores or usable_cores()
    environment = shard_environment(os.environ)
    processes = []
    try:
        for index in range(jobs):
            core = cores[index % len(cores)]
            command = [sys.executable, "-m", "experiments", "study", *study_arguments, "--shard", f"{index + 1}/{jobs}"]
            processes.append(subprocess.Popen(command, env=environment,
                                              preexec_fn=lambda core=core: os.sched_setaffinity(0, {core})))
        codes = [process.wait() for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait()
    failed = [(index + 1, code) for index, code in enumerate(codes) if code]
    for index, code in failed:
        printer(f"shard {index}/{jobs} failed with exit status {code}; run it again to resume its runs.")
    return failed[0][1] if failed else 0
