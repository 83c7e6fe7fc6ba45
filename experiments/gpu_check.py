"""The GPU check: as much of a task's Table 1 column as fits in a time limit, at the
papers' scale by default, then a short report of what the machine did.

    python -m experiments.gpu_check --data-dir data/cifar10-jpeg --minutes 9 --results notebooks/results

It runs `python -m experiments reproduce TASK` with `--minutes` (the study `table1`, its
shards placed on the GPUs found: `experiments.placement`), then writes `gpu_check_<scale>
_<task>.md` beside the results: the device (nvidia-smi's name, memory and driver), the
backend and its versions, the placement, the column beside the published one, and per
run its state, minutes, steps and images a second, peak GPU memory, and the minutes a
whole run would take at the speed measured. Runs stopped by the limit keep their
checkpoints: the same command resumes them. `gpu_check.sh` beside the repository's
`experiments/` runs it on a machine with no network (Keras from wheels in the tree).
"""

import argparse
import os
import platform
import subprocess
import sys
import threading
import time

from experiments.parallel import launch
from experiments.placement import configured_backend, find_gpus
from experiments.recipes import SCALES, TASKS, scaled_schedule
from experiments.reproduce import column_report, run_costs

#: The papers' run length in optimizer steps (100 epochs of 352 steps: 45,000 images at batch 128).
PAPER_STEPS = {"C10-CNN1": 35200}


class MemorySampler(threading.Thread):
    """The largest GPU memory in use (MiB, all processes, every GPU summed) that
    `nvidia-smi` reports, sampled every `interval` seconds until `stop()`."""

    def __init__(self, interval=5.0):
        super().__init__(daemon=True)
        self.interval, self.peak_mib, self._done = interval, None, threading.Event()

    def run(self):
        while not self._done.is_set():
            try:
                used = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                      capture_output=True, text=True, timeout=30).stdout.split()
                total = sum(int(value) for value in used)
                self.peak_mib = max(self.peak_mib or 0, total)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                return
            self._done.wait(self.interval)

    def stop(self):
        self._done.set()


def machine_lines(gpus):
    """What the report says of the machine: GPUs, driver, CPU cores, backend and versions."""
    backend = configured_backend()
    lines = [f"- GPUs: {', '.join(f'{g.name} ({g.memory_mib} MiB)' for g in gpus) if gpus else 'none (CPU only)'}"]
    try:
        driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=30).stdout.split()
        if driver:
            lines.append(f"- driver: {driver[0]}")
    except (OSError, subprocess.TimeoutExpired):
        pass
    lines.append(f"- CPU cores usable: {len(os.sched_getaffinity(0))}; Python {platform.python_version()}")
    lines.append(f"- Keras backend: {backend}; {', '.join(_versions(backend))}")
    return lines


def _versions(backend):
    """The versions of Keras and the backend's framework, read in a child process (so that
    this one imports neither, and JAX takes no GPU memory here)."""
    module = {"jax": "jax", "torch": "torch", "tensorflow": "tensorflow"}[backend]
    code = (f"import keras, {module}; print('Keras', keras.__version__); print('{module}', {module}.__version__)"
            + ("; import jax; print('jax matmul precision', jax.config.jax_default_matmul_precision)"
               if backend == "jax" else "")
            + ("; import torch; print('torch float32 matmul precision', torch.get_float32_matmul_precision())"
               if backend == "torch" else ""))
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    return found.stdout.split("\n")[:-1] or [f"(versions not read: {found.stderr.strip()[-200:]})"]


def report(results_dir, scale, task, gpus, minutes, elapsed, peak_mib, machine):
    """The report's text (markdown)."""
    paper_steps = PAPER_STEPS.get(TASKS[task].paper_task)
    schedule = scaled_schedule(TASKS[task].schedule, SCALES[scale])
    lines = [f"# GPU check: {task}'s Table 1 column at scale {scale!r}", "",
             f"Run by `python -m experiments.gpu_check` for at most {minutes:g} minutes ({elapsed / 60:.1f} used); "
             f"{schedule.epochs} epochs a run.", "", "## Machine", "", *machine,
             f"- GPU memory in use at most (all shards, nvidia-smi every 5 s): "
             f"{'-' if peak_mib is None else f'{peak_mib} MiB'}", "", "## Column and runs", "",
             column_report(results_dir, scale, task), ""]
    rows = [row for row in run_costs(results_dir, scale, task) if row.steps_per_second]
    if rows and paper_steps and scale == "full":
        lines += ["## A whole run at the speed measured", "",
                  "| run | state | minutes for the papers' " + f"{paper_steps:,} steps |", "|---|---|---|"]
        lines += [f"| {row.label} | {row.state} | {paper_steps / row.steps_per_second / 60:.1f} |"
                  for row in rows]
        lines.append("")
    lines.append(f"Published: {task} Layca best 88.45% (extended paper, Table 1)." if task == "C10-CNN1" else "")
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments.gpu_check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="C10-CNN1", help="default: %(default)s")
    parser.add_argument("--scale", choices=tuple(SCALES), default="full", help="default: %(default)s")
    parser.add_argument("--data-dir", required=True, help="the dataset (CIFAR-10: its class-folder .tar.gz or folder)")
    parser.add_argument("--results", default="notebooks/results", help="default: %(default)s")
    parser.add_argument("--minutes", type=float, default=9.0, help="time limit of the runs (default: %(default)s)")
    parser.add_argument("--runs-per-gpu", type=int, default=None, help="default: experiments.placement's choice")
    parser.add_argument("--report", default=None,
                        help="report path (default: <results>/<scale>/gpu_check_<task>.md)")
    args = parser.parse_args(argv)
    gpus = find_gpus()
    machine = machine_lines(gpus)
    print("\n".join(machine), flush=True)
    sampler = MemorySampler()
    if gpus:
        sampler.start()
    started = time.monotonic()
    try:
        code = launch("table1", [args.task], args.scale, args.data_dir, args.results, None, args.runs_per_gpu,
                      args.minutes)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        sampler.stop()
    path = args.report or os.path.join(args.results, args.scale, f"gpu_check_{args.task}.md")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    text = report(args.results, args.scale, args.task, gpus, args.minutes, time.monotonic() - started,
                  sampler.peak_mib, machine)
    with open(path, "w") as file:
        file.write(text)
    print(text)
    print(f"report written to {path}")
    return code


if __name__ == "__main__":
    sys.exit(main())
