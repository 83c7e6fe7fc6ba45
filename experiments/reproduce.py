"""A task's Table 1 column as `python -m experiments reproduce TASK` prints it: our test
accuracies beside the published ones (`table1.results_table`), then what each run of
the column cost: epochs, minutes, training steps and images a second, device and its
peak memory. Reads results files and checkpoints only.

Minutes and speeds are those of training: the seconds of the run's epochs (training and
validation, the compilation of the first epoch and of the first after a resumption
included; `epoch_seconds` of its history), over every session of a resumed run; start-up,
loading and testing are left out.
"""

import os
from dataclasses import dataclass

import numpy as np

from experiments.drawing import curves_grid
from experiments.recipes import TASKS
from experiments.results import Results, read_progress, run_paths
from experiments.studies import study_configs
from experiments.table1 import results_table

#: The Table 1 study (`studies._table1`).
STUDY = "table1"


@dataclass(frozen=True)
class RunCost:
    """What one run of the column cost: `state` ("finished", "epoch k (checkpointed)", "not
    run"), `epochs` and `steps` done, `minutes` of training, `steps_per_second` and
    `images_per_second` (steps x the task's batch), `test_accuracy` and `train_accuracy` (%),
    `device` and `peak_memory_mib`; None where not known."""

    label: str
    state: str = "not run"
    epochs: int = 0
    steps: int = 0
    minutes: float | None = None
    steps_per_second: float | None = None
    images_per_second: float | None = None
    test_accuracy: float | None = None
    train_accuracy: float | None = None
    device: str | None = None
    peak_memory_mib: float | None = None


def run_costs(results_dir, scale, task):
    """One `RunCost` per run of the task's column, in run order."""
    results, rows = Results(results_dir, scale), []
    for config in study_configs(STUDY, [task], scale):
        result = results.get(config)
        progress_path = run_paths(results_dir, scale, config)["progress"]
        if result is not None:
            history, steps = result.history, result.curves.steps
            known = dict(state="finished", epochs=result.epochs_run, test_accuracy=100 * result.test_accuracy,
                         device=result.device, peak_memory_mib=result.peak_device_memory_mib,
                         train_accuracy=None if result.train_accuracy is None else 100 * result.train_accuracy)
        elif os.path.exists(progress_path):
            progress = read_progress(progress_path, ["distances"], [])
            history, steps = progress.history, progress.monitors["distances"]["steps"]
            known = dict(state=f"epoch {progress.epochs_done} (checkpointed)", epochs=progress.epochs_done)
        else:
            rows.append(RunCost(config.label))
            continue
        known["steps"] = int(steps[-1]) if len(steps) else 0
        seconds = float(np.nansum(history["epoch_seconds"]))
        if seconds > 0:
            known.update(minutes=seconds / 60, steps_per_second=known["steps"] / seconds,
                         images_per_second=known["steps"] * TASKS[task].batch_size / seconds)
        rows.append(RunCost(config.label, **known))
    return rows


def _cell(value, form):
    return "-" if value is None else format(value, form)


def column_report(results_dir, scale, task):
    """The column beside the published one, then a table of each run's cost (text)."""
    lines = [f"{task}, Table 1 column at scale {scale!r} (results in {results_dir}):", "",
             results_table(Results(results_dir, scale), [task]), "",
             "| run | state | epochs | steps | training minutes | steps/s | images/s | train acc % | test acc % | device | "
             "peak MiB |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in run_costs(results_dir, scale, task):
        lines.append(
            f"| {row.label} | {row.state} | {row.epochs} | {row.steps} | {_cell(row.minutes, '.1f')} | "
            f"{_cell(row.steps_per_second, '.1f')} | {_cell(row.images_per_second, '.0f')} | "
            f"{_cell(row.train_accuracy, '.2f')} | {_cell(row.test_accuracy, '.2f')} | {row.device or '-'} | "
            f"{_cell(row.peak_memory_mib, '.0f')} |")
    return "\n".join(lines)


def write_report(results_dir, scale, task, out):
    """`<out>/reproduce_<scale>_<task>.md` (the column and the runs' costs) and
    `..._curves.png` (the layer rotation curves of each run of the column, three to a row,
    "not run" where a run has no results). Returns the two paths."""
    stem = os.path.join(out, f"reproduce_{scale}_{task}")
    os.makedirs(out, exist_ok=True)
    with open(f"{stem}.md", "w") as file:
        file.write(column_report(results_dir, scale, task) + "\n")
    configs = study_configs(STUDY, [task], scale)
    grid = [("", [(config.label, config) for config in configs[i:i + 3]]) for i in range(0, len(configs), 3)]
    return f"{stem}.md", curves_grid(Results(results_dir, scale), grid, f"{stem}_curves.png")
