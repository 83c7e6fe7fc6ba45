"""The papers' claims on a paper task with real data: C10-CNN1 on the real CIFAR-10 images.

Runs the `real_cifar10` study (resumably, like every study) on the CIFAR-10 images in
the class-folder layout (`--data-dir`: the folder holding `cifar10-jpeg.tar.gz`, the
archive itself, or its unpacked folder), then writes `real_cifar10_<scale>.md` (a table,
and the papers' claims checked one by one against it) and `real_cifar10_<scale>_curves.png`
into `--out`. A report that finds no results file at all refuses to overwrite them.

At `--scale cpu` (the default) the task is `C10-CNN1-subset`: C10-CNN1 with every width
divided by 8, 500 training images per class (5,000; the 5,000-image validation split and
the 10,000 test images are kept) and 20 epochs, which fits a 2-core CPU (about 2 hours).
At `--scale cpu_all` it is C10-CNN1 with every width divided by 8 and every training image
(45,000), 25 epochs (hours per run on one core). At `--scale full` it is the papers' task,
on a GPU.

    python -m experiments.real_cifar10 --data-dir ../shared/data/cifar10-jpeg
    python -m experiments.real_cifar10 --data-dir ../shared/data/cifar10-jpeg --report-only
"""

import argparse
import os
from typing import NamedTuple

import numpy as np

from experiments.figures import Results, curves_grid, new_figure, save_figure
from experiments.recipes import SCALES, TASKS, RunConfig, power_of_3, with_layca
from experiments.studies import run_study, study_configs

STUDY = "real_cifar10"
DEFAULT_TASKS = {"cpu": "C10-CNN1-subset", "cpu_all": "C10-CNN1", "cpu_fit": "C10-CNN1-fit", "full": "C10-CNN1",
                 "smoke": "C10-CNN1-subset"}
DATA_NOTE = "real CIFAR-10 (JPEG re-encoded)"
#: Runs below which the correlation of claim 2 says nothing (two points always correlate at +-1).
MIN_RUNS_FOR_CORRELATION = 4
#: |r| below which a correlation is too weak to count as support (Cohen's medium effect, 0.3).
WEAK_CORRELATION = 0.3
#: The papers' scope: runs that fit their training set. The authors' figure of accuracy
#: against alpha keeps the runs with `train_acc > 0.9` ("Study of the relation between
#: layer rotation and generalization.ipynb"); the extended paper's Section 4 says
#: "≈100% training accuracy in all configurations" (Supp. B.3: 99.2-100%).
SCOPE_TRAIN_ACCURACY = 0.9
#: Test accuracies this close (in points) count as "generalises as well" (claims 5 and 6).
SAME_ACCURACY_POINTS = 1.0


def label(config):
    """'SGD+Layca rho(0)=3^-3', 'SGD lr=3^-1', 'RMSprop', 'RMSprop+Layca', with alpha."""
    exponent = power_of_3(config.learning_rate)
    if config.optimizer == "layca":
        text = f"SGD+Layca rho(0)={exponent}"
        return text + (f" alpha={config.alpha:+.1f}" if config.alpha else "")
    if config.optimizer == "sgd":
        return f"SGD lr={exponent}"
    return f"{config.spec.label} ({exponent})"


def _layers(distances):
    """Column indices of the first, middle and last kernel layers."""
    count = distances.shape[1]
    return 0, (count - 1) // 2, count - 1


class Row(NamedTuple):
    """A run of the report's table; a run not finished has only its configuration."""

    config: RunConfig
    test: float = None  # test accuracy
    validation: float = None  # validation accuracy after the last epoch
    training: float = None  # accuracy on the whole training set after training (None: not measured)
    rotation: tuple = None  # final rotation of the first, middle and last kernel layers
    epochs: int = None
    stopped: str = None  # why a stopping rule ended the run; None: the schedule ended
    running: float = None  # Keras' running mean of the training accuracy over the last epoch

    @property
    def name(self):
        return label(self.config)

    @property
    def out_of_scope(self):
        """Why the run lies outside the papers' scope (`SCOPE_TRAIN_ACCURACY`), or None."""
        if self.training is None:
            running = "" if self.running is None else f"; last epoch's running mean {100 * self.running:.1f}%"
            return f"training accuracy not measured on the training set{running}"
        if self.training <= SCOPE_TRAIN_ACCURACY:
            return f"{100 * self.training:.1f}% on its training set"
        return None


def rows(results, configs):
    """One `Row` per run."""
    out = []
    for config in configs:
        result = results.get(config)
        if result is None:
            out.append(Row(config))
            continue
        final = result.distances[-1]
        validated = result.history["val_accuracy"][np.isfinite(result.history["val_accuracy"])]
        out.append(Row(config, result.test_accuracy, float(validated[-1]) if len(validated) else None,
                       result.train_accuracy, tuple(final[i] for i in _layers(result.distances)),
                       result.epochs_run, result.stop_reason, float(result.history["accuracy"][-1])))
    return out


def _rotations(values):
    """Final rotations as the report writes them: '0.459 / 0.531 / 0.565'."""
    return " / ".join(f"{d:.3f}" for d in values)


def _percent(value):
    return "" if value is None else f"{100 * value:.2f}%"


def table(table_rows, scale_note):
    lines = [f"Data: {DATA_NOTE}; {scale_note}.", "",
             "| run | test accuracy | validation accuracy, last evaluated | training accuracy: whole training set "
             "(last epoch's running mean) | final rotation: first / middle / last kernel layer | epochs | stopped |",
             "|---|---|---|---|---|---|---|"]
    for row in table_rows:
        if row.test is None:
            lines.append(f"| {row.name} | not run | | | | | |")
        else:
            training = "not measured" if row.training is None else _percent(row.training)
            lines.append(f"| {row.name} | {_percent(row.test)} | {_percent(row.validation) or 'not evaluated'} | "
                         f"{training} ({_percent(row.running)}) | {_rotations(row.rotation)} | "
                         f"{row.epochs} | {row.stopped or 'schedule ended'} |")
    return "\n".join(lines)


def _correlation_with_accuracy(runs, value):
    """Pearson's r of the runs' test accuracy with `value(row)`, over `runs`."""
    return np.corrcoef([value(row) for row in runs], [row.test for row in runs])[0, 1]


def _rotation_correlations(runs):
    """Pearson correlations of the runs' test accuracy with the mean final rotation of the
    first, middle and last kernel layers and with its spread (max - min), and the verdict
    on claim 2: higher (r > 0) and more uniform (r < 0 with the spread) rotation
    generalises better; both pointing that way but one weaker than WEAK_CORRELATION is
    said to be too weak to support it."""
    height = _correlation_with_accuracy(runs, lambda row: np.mean(row.rotation))
    spread = _correlation_with_accuracy(runs, lambda row: np.ptp(row.rotation))
    if not (height > 0 and spread < 0):
        return height, spread, "does not support it"
    if min(height, -spread) < WEAK_CORRELATION:
        return height, spread, f"points the claimed way, too weakly to support it (|r| < {WEAK_CORRELATION})"
    return height, spread, "supports it"


def claims(table_rows):
    """The papers' claims, each with what these runs measured and whether it holds, over
    the runs in the papers' scope (that fit their training set: `Row.out_of_scope`); the
    runs out of it are listed first, with why."""
    finished = [row for row in table_rows if row.test is not None]
    done = [row for row in finished if not row.out_of_scope]

    lines = []
    outside = [row for row in finished if row.out_of_scope]
    if outside:
        lines.append(
            f"Over the {len(done)} of {len(finished)} runs in the papers' scope (more than "
            f"{100 * SCOPE_TRAIN_ACCURACY:.0f}% on their whole training set, the authors' filter). Out of it: "
            + "; ".join(f"{row.name} ({row.out_of_scope})" for row in outside) + ".\n"
        )
    if finished and not done:
        lines.append("No run fits its training set: these runs give no verdict on the papers' claims.")
    layca = [row for row in done if row.config.optimizer == "layca"]  # SGD+Layca: every rho(0) and alpha
    sgd = [row for row in done if row.config.optimizer == "sgd"]
    adaptive = [row for row in done if row.config.optimizer in _adaptive_names(row.config.task)]
    others = {name: [row for row in done if row.config.optimizer == name] for name in ("sgd_weight_decay", "lars")}
    reference = next((row for row in layca if not row.config.alpha and np.isclose(row.config.learning_rate, 3.0**-3)),
                     None)
    if reference and len(layca) < 2:
        lines.append("1. *Layca at rho(0) = 3^-3 and alpha = 0 is best among the SGD+Layca runs*: not testable yet "
                     f"(SGD+Layca at 3^-3 is the only SGD+Layca run finished: {_percent(reference.test)}).")
    elif reference:
        top = max(layca, key=lambda row: row.test)
        holds = top is reference
        lines.append(
            f"1. *Layca at rho(0) = 3^-3 and alpha = 0 is best among the SGD+Layca runs*: "
            f"{'holds' if holds else 'does not hold'}: 3^-3, alpha = 0 gets {_percent(reference.test)}; the best Layca run "
            f"is {top.name} at {_percent(top.test)}."
        )
    runs = layca + sgd
    if 0 < len(runs) < MIN_RUNS_FOR_CORRELATION:
        lines.append(
            "2. *Higher and more uniform rotation generalises better*: not testable yet: "
            f"{len(runs)} SGD and SGD+Layca run(s) in the papers' scope, a correlation needs at least {MIN_RUNS_FOR_CORRELATION}."
        )
    elif runs:
        height, spread, verdict = _rotation_correlations(runs)
        line = ("2. *Higher and more uniform rotation generalises better*: over the SGD and SGD+Layca runs, the "
                f"correlation of test accuracy with the mean final rotation of the three layers is {height:+.2f}, "
                f"and with its spread (max - min) {spread:+.2f} ({len(runs)} runs): this {verdict}")
        # A run a stopping rule ended has its rotation measured then, not after a whole schedule.
        stopped = [row for row in runs if row.stopped]
        finished = [row for row in runs if not row.stopped]
        if stopped and len(finished) >= MIN_RUNS_FOR_CORRELATION:
            height, spread, alone = _rotation_correlations(finished)
            names = ", ".join(f"{row.name} after {row.epochs} epochs" for row in stopped)
            line += (f". A stopping rule ended {len(stopped)} of them ({names}), their rotation measured then; "
                     f"over the {len(finished)} runs that trained to the end, {height:+.2f} and {spread:+.2f}: "
                     f"this {alone}")
            if alone != verdict:
                line += ". Mixed: the verdict rests on the runs stopped early"
        if len(finished) >= MIN_RUNS_FOR_CORRELATION:
            by_layer = [_correlation_with_accuracy(finished, lambda row, i=i: row.rotation[i]) for i in range(3)]
            line += (f". Layer by layer, over the {len(finished)} runs that trained to the end, test accuracy "
                     "correlates with the final rotation of the first / middle / last layer at "
                     + " / ".join(f"{r:+.2f}" for r in by_layer))
        lines.append(line + ".")
    if sgd and reference:
        top = max(sgd, key=lambda row: -np.inf if row.validation is None else row.validation)
        less = [ours < theirs for ours, theirs in zip(top.rotation, reference.rotation)]
        lines.append(
            f"3. *SGD rotates little and generalises worse*: SGD's best run by validation accuracy ({top.name}) "
            f"gets {_percent(top.test)} on the test set against {_percent(reference.test)} for SGD+Layca at 3^-3 "
            f"(generalises worse: {'holds' if top.test < reference.test else 'does not hold'}); its final rotation "
            f"of the first / middle / last kernel layer is {_rotations(top.rotation)} against "
            f"{_rotations(reference.rotation)} (rotates less: "
            f"{'holds' if all(less) else 'holds for ' + str(sum(less)) + ' of the 3 layers'})."
        )
    with_layca = [row for row in adaptive if row.config.spec.layca]
    without = [row for row in adaptive if not row.config.spec.layca]
    if with_layca and reference:
        value, = with_layca
        gap = 100 * (value.test - reference.test)
        alone = ", ".join(f"{row.name} alone gets {_percent(row.test)}" for row in without)
        lines.append(
            f"4. *The adaptive method with Layca comes close to SGD+Layca*: {value.name} gets {_percent(value.test)}, "
            f"{gap:+.2f} points from SGD+Layca at 3^-3{'; ' + alone if alone else ''}."
        )
    for number, name, claim in ((5, "sgd_weight_decay", "SGD with weight decay rotates like SGD+Layca and generalises "
                                 "as well"), (6, "lars", "LARS controls layer rotation like Layca and generalises as well")):
        if others[name] and reference:
            row, = others[name]
            gap = 100 * (row.test - reference.test)
            lines.append(
                f"{number}. *{claim}*: {row.name} gets {_percent(row.test)}, {gap:+.2f} points from SGD+Layca at 3^-3 "
                f"(as well, within {SAME_ACCURACY_POINTS:g} point: {'holds' if abs(gap) <= SAME_ACCURACY_POINTS else 'does not hold'}); "
                f"its final rotation of the first / middle / last kernel layer is "
                f"{_rotations(row.rotation)} against {_rotations(reference.rotation)}."
            )
    return "\n".join(lines)


def _adaptive_names(task):
    """The task's adaptive method and its Layca version (claim 4's runs)."""
    adaptive = TASKS[task].adaptive
    return (adaptive, with_layca(adaptive)) if adaptive else ()


def curves_figure(results, configs, out):
    """The study's curves: Layca's rates, then its alphas and the adaptive runs, then SGD's grid."""
    by_kind = {"layca": [], "sgd": [], "other": []}
    for config in configs:
        by_kind[_kind(config)].append((label(config), config))
    by_kind["layca"].sort(key=lambda cell: (cell[1].alpha != 0, cell[1].learning_rate, cell[1].alpha))
    by_kind["sgd"].sort(key=lambda cell: cell[1].learning_rate)
    grid = [("", by_kind["layca"][:4]), ("", by_kind["layca"][4:] + by_kind["other"]), ("", by_kind["sgd"])]
    return curves_grid(results, [row for row in grid if row[1]], out)


def _kind(config):
    """'layca' (SGD+Layca), 'sgd' or 'other': how the figures group the runs."""
    return config.optimizer if config.optimizer in ("layca", "sgd") else "other"


def rotation_figure(table_rows, out):
    """Claim 2 as a picture: each finished run's test accuracy against the mean (left) and
    the spread, max - min (right), of the final rotation of its first, middle and last
    kernel layers; SGD+Layca, SGD and the other optimizers in three colours, runs out of
    the papers' scope (`Row.out_of_scope`) as hollow markers."""
    figure, axes = new_figure(1, 2, size=(3.6, 3.0))
    kinds = (("SGD+Layca", "C0", "layca"), ("SGD", "C1", "sgd"), ("other", "C2", "other"))
    finished = [row for row in table_rows if row.test is not None]
    for ax, (xlabel, value) in zip(axes[0], (("mean final rotation", np.mean), ("spread of final rotation", np.ptp))):
        for name, color, kind in kinds:
            for scope, face in (("in scope", color), ("out of scope", "none")):
                runs = [row for row in finished
                        if _kind(row.config) == kind and bool(row.out_of_scope) == (scope == "out of scope")]
                if runs:
                    ax.scatter([value(row.rotation) for row in runs], [100 * row.test for row in runs],
                               edgecolors=color, facecolors=face, label=f"{name}, {scope}", s=22)
        ax.set_xlabel(xlabel)
        ax.set_xlim(0, 1.05)
    axes[0, 0].set_ylabel("test accuracy (%)")
    axes[0, 0].legend(fontsize=6, loc="best")
    return save_figure(figure, out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True,
                        help="CIFAR-10 in the class-folder layout: a folder holding the .tar.gz, the archive, or its unpacked folder")
    parser.add_argument("--results", default="results")
    parser.add_argument("--out", default=os.path.join("notebooks", "figures"))
    parser.add_argument("--scale", choices=tuple(SCALES), default="cpu")
    parser.add_argument("--task", default=None, help="default: C10-CNN1-subset (cpu, smoke) or C10-CNN1 (full)")
    parser.add_argument("--report-only", action="store_true", help="write the table and figure from the runs saved so far")
    args = parser.parse_args(argv)

    task = args.task or DEFAULT_TASKS[args.scale]
    if not args.report_only:
        run_study(STUDY, [task], args.scale, args.data_dir, args.results)
    results = Results(args.results, args.scale)
    configs = study_configs(STUDY, [task], args.scale)
    scale = SCALES[args.scale]
    per_class = TASKS[task].train_per_class
    scale_note = (
        f"task {task}, scale '{args.scale}': widths x{scale.width:g}, "
        f"{f'{per_class} training images per class' if per_class else 'all training images'}, "
        f"{scale.epochs or 'the recipe’s'} epochs"
    )
    results.require_any(configs, args.out)
    table_rows = rows(results, configs)
    text = table(table_rows, scale_note) + "\n\n" + claims(table_rows)
    os.makedirs(args.out, exist_ok=True)
    figure = curves_figure(results, configs, os.path.join(args.out, f"{STUDY}_{args.scale}_curves.png"))
    scatter = rotation_figure(table_rows, os.path.join(args.out, f"{STUDY}_{args.scale}_rotation.png"))
    with open(os.path.join(args.out, f"{STUDY}_{args.scale}.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    print(f"figures written to {figure} and {scatter}")
    return text


if __name__ == "__main__":
    main()
