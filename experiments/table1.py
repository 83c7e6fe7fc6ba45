"""The extended paper's Table 1 (arXiv:1806.01603v4): the published column of each task, and
ours beside it, read from results files (`results_table`)."""

from experiments.recipes import PAPER_TASKS, SGD_GRID, TASKS, RunConfig, known_tasks, with_layca
from experiments.studies import table1_layca

#: The rows of Table 1, and each task's published column: test accuracy of Layca's best
#: configuration, then the difference (points) of every other configuration to it.
PUBLISHED_ROWS = (
    "Layca best (alpha 0, rho(0) 3^-3)", "alpha -0.6", "alpha 0.6", "rho(0) 3^-5", "rho(0) 3^-4",
    "SGD, best lr", "SGD + L2", "adaptive method", "adaptive + Layca",
)
PUBLISHED = {
    "C10-CNN1": (88.45, -5.34, -19.78, -7.44, -2.41, -8.77, -0.30, -3.58, -0.20),
    "C100-resnet": (59.81, -15.55, -30.18, -24.42, -13.03, -14.28, +0.30, -11.99, -1.65),
    "tiny-CNN": (50.89, -10.48, -22.68, -15.21, -10.70, -8.63, -0.85, -13.17, -0.34),
    "C10-CNN2": (93.40, -1.24, -6.61, -1.85, -0.42, -1.70, -0.12, -1.55, +0.07),
    "C100-WRN": (80.69, -6.02, -7.59, -5.01, -1.93, -3.95, -0.24, -1.33, -1.05),
}


def row_configs(task):
    """The configurations of each PUBLISHED_ROWS row for `task` (a list: best of several)."""
    adaptive, layca = TASKS[task].adaptive, table1_layca(task)
    return (
        *([layca[label]] for label in ("best", "a=-0.6", "a=0.6", "r=3^-5", "r=3^-4")),
        [RunConfig(task, "sgd", learning_rate=lr) for lr in SGD_GRID],
        [RunConfig(task, "sgd_weight_decay")],
        [RunConfig(task, adaptive)],
        [RunConfig(task, with_layca(adaptive))],
    )


def results_table(results, tasks=PAPER_TASKS):
    """Our test accuracies beside the published ones (extended paper, Table 1), in its layout: the first
    row absolute (%), the others as differences to Layca's best (points); a variant of a
    paper task (e.g. C10-CNN1-fit) beside its paper task's numbers. Returns text."""
    tasks = known_tasks(tasks)
    width = 22
    lines = ["| " + " | ".join(["configuration".ljust(34)] + [t.ljust(width) for t in tasks]) + " |",
             "|" + "|".join(["-" * 36] + ["-" * (width + 2)] * len(tasks)) + "|"]
    ours = {task: [_best(results, configs) for configs in row_configs(task)] for task in tasks}
    for row, name in enumerate(PUBLISHED_ROWS):
        cells = []
        for task in tasks:
            value, best = ours[task][row], ours[task][0]
            if row and value is not None and best is not None:
                value -= best
            text = "-" if value is None else (f"{value:.2f}" if row == 0 else f"{value:+.2f}")
            published = PUBLISHED[TASKS[task].paper_task][row]
            cells.append(f"{text} ({published:.2f})" if row == 0 else f"{text} ({published:+.2f})")
        lines.append("| " + " | ".join([name.ljust(34)] + [c.ljust(width) for c in cells]) + " |")
    lines.append("ours (published); first row: test accuracy %, other rows: difference to it, in points; "
                 "'-': not run yet")
    elsewhere = [f"{task} at scale {results.scale_of(task)}" for task in tasks
                 if results.scale_of(task) != results.scale]
    if elsewhere:
        lines.append(f"columns at scale {results.scale}, except {', '.join(elsewhere)}")
    return "\n".join(lines)


def _best(results, configs):
    """The test accuracy of the configuration with the best validation accuracy (the
    authors pick a learning rate by max val_acc: "Learning rate gridsearch and
    training.ipynb"); the test set never chooses."""
    done = [c for c in configs if results.get(c) is not None]
    if len(done) == 1:  # nothing to choose from
        return results.accuracy(done[0])
    # Among several, a run stopped before its first validation (None) cannot be chosen.
    validated = [c for c in done if results.validation_accuracy(c) is not None]
    return results.accuracy(max(validated, key=results.validation_accuracy)) if validated else None
