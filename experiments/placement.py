"""Where a study's shards run: one per CPU core on a machine without GPUs, several per GPU
on a machine with them, each with its memory bounded and its share of the CPU cores.

`find_gpus` lists the NVIDIA GPUs this process may use (`nvidia-smi`, honouring
`CUDA_VISIBLE_DEVICES`), without importing a framework: JAX, imported in the parent to
look, would take 75% of every GPU's memory before the shards start. `plan` turns the
devices found into one `Placement` per shard. It is a function of the device lists alone,
so that it is tested without a GPU.

On GPUs, a shard's process sees one GPU (`CUDA_VISIBLE_DEVICES`), takes at most its share
of that GPU's memory (JAX: no preallocation and `XLA_PYTHON_CLIENT_MEM_FRACTION`; PyTorch:
`torch.cuda.set_per_process_memory_fraction` from `GPU_MEMORY_FRACTION`, applied by
`apply_memory_fraction` when a run starts; TensorFlow: memory growth), and its frameworks'
thread pools and core affinity cover the CPU cores left to it, which feed its input
pipeline. How many shards share one GPU is the least of: `runs_per_gpu` (default
`RUNS_PER_GPU`), the GPU's memory over a run's (`run_memory_mib`), and the cores per GPU.
"""

import json
import os
import subprocess
from dataclasses import dataclass, field

#: Shards that share one GPU by default. A C10-CNN1 step at full width leaves much of an
#: H200 idle from one process: on the H200 lent to this project (JAX, SGD+Layca,
#: `benchmarks/gpu_share.py`), one process made 183 steps a second, two 217 together
#: (1.18x) and four 328 (1.79x) (docs/benchmarks.md, "A GPU check").
RUNS_PER_GPU = 4
#: A run's GPU memory when the caller does not say (MiB): a generous bound. A C10-CNN1 run
#: at full width peaked at 708 MiB of JAX's allocations on the H200, and two such shards
#: held 5.4 GiB together as nvidia-smi counts (the CUDA contexts and XLA's workspace).
RUN_MEMORY_MIB = 8192
#: The fraction of a GPU's memory that its shards share; the rest is left to the driver
#: and the frameworks' own contexts.
USABLE_MEMORY = 0.9
#: The variable through which a shard tells PyTorch its share of the GPU's memory.
GPU_MEMORY_FRACTION = "EXPERIMENTS_GPU_MEMORY_FRACTION"
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")


@dataclass(frozen=True)
class Gpu:
    """A GPU as `nvidia-smi` lists it: its index (as CUDA_VISIBLE_DEVICES names it), name
    and memory in MiB."""

    index: str
    name: str
    memory_mib: int


@dataclass(frozen=True)
class Placement:
    """One shard's place: the GPU it runs on (None: the CPU), the cores it is pinned to,
    and the environment variables its process starts with."""

    gpu: Gpu
    cores: tuple
    environment: dict = field(default_factory=dict)

    def describe(self):
        cores = f"core{'s' if len(self.cores) > 1 else ''} {_ranges(self.cores)}"
        if self.gpu is None:
            return f"CPU, {cores}"
        share = self.environment.get(GPU_MEMORY_FRACTION)
        return f"GPU {self.gpu.index} ({self.gpu.name}, {share} of its memory), {cores} for the input pipeline"


def parse_gpu_list(text):
    """The GPUs of `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits`."""
    gpus = []
    for line in text.strip().splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) != 3 or not parts[2].isdigit():
            raise ValueError(f"Unexpected line from nvidia-smi: {line!r} (expected 'index, name, memory in MiB').")
        gpus.append(Gpu(parts[0], parts[1], int(parts[2])))
    return gpus


def find_gpus(environ=os.environ, run=subprocess.run):
    """The NVIDIA GPUs this process may use: every GPU `nvidia-smi` lists, kept to those
    `CUDA_VISIBLE_DEVICES` names where it is set (by index; "" or "-1" hides them all).
    No `nvidia-smi`, or one that fails (no driver): no GPU."""
    try:
        listed = run(["nvidia-smi", "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
                     capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if listed.returncode != 0:
        return []
    gpus = parse_gpu_list(listed.stdout)
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return gpus
    wanted = [name.strip() for name in visible.split(",") if name.strip()]
    if wanted[:1] == ["-1"]:
        return []
    by_index = {gpu.index: gpu for gpu in gpus}
    return [by_index[name] for name in wanted if name in by_index]


def plan(gpus, cores, runs, backend, run_memory_mib=RUN_MEMORY_MIB, runs_per_gpu=None, jobs=None):
    """One `Placement` per shard for `runs` independent runs (run groups) on `gpus` and
    `cores`, on Keras backend `backend`.

    Without GPUs: one shard per core, at most `jobs` (default: every core) and at most one
    per run, each pinned to its core with single-threaded frameworks (the CPU studies'
    fastest use of a machine, `experiments/parallel.py`). With GPUs: as many shards per GPU
    as the GPU's memory, the cores and `runs_per_gpu` (default `RUNS_PER_GPU`) allow, dealt
    GPU by GPU, at most `jobs` and one per run; the cores are split between the shards."""
    if not cores:
        raise ValueError("No CPU core to run on: the process's affinity mask is empty.")
    if runs < 1:
        raise ValueError(f"A study of {runs} runs has nothing to place.")
    if jobs is not None and jobs < 1:
        raise ValueError(f"--jobs must be at least 1; received {jobs}.")
    if not gpus:
        count = min(jobs or len(cores), runs)
        return [Placement(None, (cores[i % len(cores)],), thread_environment(1)) for i in range(count)]
    if runs_per_gpu is not None and runs_per_gpu < 1:
        raise ValueError(f"--runs-per-gpu must be at least 1; received {runs_per_gpu}.")
    if run_memory_mib <= 0:
        raise ValueError(f"A run's GPU memory must be positive; received {run_memory_mib} MiB.")
    per_gpu = []
    for gpu in gpus:
        by_memory = int(gpu.memory_mib * USABLE_MEMORY // run_memory_mib)
        if by_memory < 1:
            raise ValueError(
                f"GPU {gpu.index} ({gpu.name}) has {gpu.memory_mib} MiB, less than the {run_memory_mib} MiB a run "
                f"needs with {USABLE_MEMORY:.0%} of it usable: run on the CPU (CUDA_VISIBLE_DEVICES=-1) or on a "
                "larger GPU."
            )
        per_gpu.append(min(runs_per_gpu or RUNS_PER_GPU, by_memory, max(1, len(cores) // len(gpus))))
    slots = [(gpu, share) for gpu, count in zip(gpus, per_gpu) for share in [count] * count]
    count = min(jobs or len(slots), len(slots), runs)
    # Deal the shards across GPUs first, so that a study of few runs uses every GPU.
    order = sorted(range(len(slots)), key=lambda i: (sum(1 for j in range(i) if slots[j][0] == slots[i][0]), i))
    chosen = [slots[i] for i in order[:count]]
    groups = _split(cores, count)
    return [Placement(gpu, group, {**thread_environment(len(group)), **_gpu_environment(gpu, share, backend)})
            for (gpu, share), group in zip(chosen, groups)]


def configured_backend(environ=os.environ):
    """The Keras backend a new process will use, read as Keras reads it (`KERAS_BACKEND`,
    else `keras.json` in `KERAS_HOME` or ~/.keras, else TensorFlow) without importing
    Keras, whose JAX backend would take GPU memory in the process that only places shards."""
    if environ.get("KERAS_BACKEND"):
        return environ["KERAS_BACKEND"]
    home = environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as file:
            return json.load(file).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


def apply_memory_fraction(environ=os.environ):
    """Bound this process's PyTorch GPU memory to the share its placement gave it (a
    no-op without the variable, off PyTorch or without CUDA)."""
    fraction = environ.get(GPU_MEMORY_FRACTION)
    if fraction is None:
        return
    import keras

    if keras.backend.backend() != "torch":
        return
    import torch

    if torch.cuda.is_available():
        torch.cuda.set_per_process_memory_fraction(float(fraction))


def _gpu_environment(gpu, share, backend):
    fraction = f"{USABLE_MEMORY / share:.3f}"
    environment = {"CUDA_VISIBLE_DEVICES": gpu.index, GPU_MEMORY_FRACTION: fraction}
    if backend == "jax":
        environment.update(XLA_PYTHON_CLIENT_PREALLOCATE="false", XLA_PYTHON_CLIENT_MEM_FRACTION=fraction)
    elif backend == "torch":
        environment.update(PYTORCH_CUDA_ALLOC_CONF="expandable_segments:True")
    elif backend == "tensorflow":
        environment.update(TF_FORCE_GPU_ALLOW_GROWTH="true")
    return environment


def thread_environment(count):
    """The variables that give every framework's thread pools `count` threads (OpenMP and
    MKL for PyTorch and numpy, TensorFlow's intra-op pool; its inter-op pool keeps one)."""
    return {**{name: str(count) for name in _THREAD_VARIABLES}, "TF_NUM_INTEROP_THREADS": "1"}


def _split(cores, count):
    """`cores` in `count` contiguous groups as even as can be (a core shared round-robin
    when there are fewer cores than groups)."""
    if count > len(cores):
        return [(cores[i % len(cores)],) for i in range(count)]
    size, extra = divmod(len(cores), count)
    groups, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        groups.append(tuple(cores[start:end]))
        start = end
    return groups


def _ranges(cores):
    return f"{cores[0]}-{cores[-1]}" if len(cores) > 1 and list(cores) == list(range(cores[0], cores[-1] + 1)) \
        else ",".join(str(c) for c in cores)
