"""The papers' claims on a paper task with real data: C10-CNN1 on the real CIFAR-10 images.

Runs the `real_cifar10` study (resumably, like every study) on the CIFAR-10 images in
the class-folder layout (`--data-dir`: the folder holding `cifar10-jpeg.tar.gz`, the
archive itself, or its unpacked folder), then writes `real_cifar10_<scale>.md` (a table,
and the papers' claims checked one by one against it), `real_cifar10_<scale>_curves.png`,
`real_cifar10_<scale>_rotation.png` and the papers' figures these runs feed
(`real_cifar10_<scale>_<figure>.png`, `PAPER_FIGURES`) into `--out`. The report also takes
in every finished run of the papers' grids on the task (`GRID_STUDIES`, run with
`python -m experiments study <name> --tasks <task> --scale <scale>`). A report that finds
no results file at all refuses to overwrite them.

At `--scale cpu` (the default) the task is `C10-CNN1-subset`: C10-CNN1 with every width
divided by 8, 500 training images per class (5,000; the 5,000-image validation split and
the 10,000 test images are kept) and 20 epochs, which fits a 2-core CPU (about 2 hours).
At `--scale cpu_all` it is C10-CNN1 with every width divided by 8 and every training image
(45,000), 25 epochs (hours per run on one core). Neither fits its training set, so neither
report gives a verdict. At `--scale cpu_fit` it is `C10-CNN1-fit`: widths divided by 8, 200
training images per class (2,000), 200 epochs, the scale at which the runs reach the papers'
regime of about 100% training accuracy (`docs/regime.md`; about 10 minutes a run on one
core). At `--scale full` it is the papers' task, on a GPU.

    python -m experiments.real_cifar10 --data-dir ../shared/data/cifar10-jpeg
    python -m experiments.real_cifar10 --data-dir ../shared/data/cifar10-jpeg --report-only
"""

import argparse
import os
from dataclasses import replace
from typing import NamedTuple

import numpy as np

from experiments.drawing import curves_grid, new_figure, save_figure
from experiments.figures import FIGURES
from experiments.recipes import LAYCA_BEST, PLATEAU_ALPHAS, PLATEAU_RHOS, SCALES, TASKS, RunConfig, power_of_3, with_layca
from experiments.results import Results
from experiments import seed_verdicts
from experiments.studies import checked_seeds, study_configs

STUDY = "real_cifar10"
DEFAULT_TASKS = {"cpu": "C10-CNN1-subset", "cpu_all": "C10-CNN1", "cpu_fit": "C10-CNN1-fit", "cpu_papers": "C10-CNN1",
                 "cpu_papers_w4": "C10-CNN1", "full": "C10-CNN1",
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
#: Studies whose finished runs of the report's task join its table, claims and figures
#: beside the study's own: the papers' full grids and the runs their figures need.
GRID_STUDIES = ("rho", "alpha", "rho_fine", "second_moments", "sgd_first_epoch", "adapt_copy", "adaptive_equivalent")
#: The papers' figures these runs feed, drawn for the report's task (`experiments.figures`).
PAPER_FIGURES = ("rotation_grid", "accuracy_vs_alpha_rho", "sgd_curves", "sgd_first_epoch", "weight_decay_curves",
                 "adaptive_curves", "adaptive_equivalent_curves", "adapt_copy_curves", "lars_curves", "loss_plateaus",
                 "second_moments")
#: Runs a verdict on an ordering (claims 7 and 8) needs at least.
MIN_RUNS_FOR_ORDER = 3


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
    plateau: float = None  # the training loss's plateau before the first drop (`_plateau`)
    fit_epoch: int = None  # the first epoch whose running training accuracy exceeds SCOPE_TRAIN_ACCURACY
    moments: tuple = None  # (epochs, percentiles): Adam's second-moment percentiles per layer (`SecondMoments`)

    @property
    def name(self):
        return self.config.label

    @property
    def out_of_scope(self):
        """Why the run lies outside the papers' scope (`SCOPE_TRAIN_ACCURACY`), or None."""
        if self.config.only_epochs:
            return f"trained for its first {self.config.only_epochs} epoch only, for extended Figure 10"
        if self.training is None:
            running = "" if self.running is None else f"; last epoch's running mean {100 * self.running:.1f}%"
            return f"training accuracy not measured on the training set{running}"
        if self.training <= SCOPE_TRAIN_ACCURACY:
            return f"{100 * self.training:.1f}% on its training set"
        return None


def report_configs(results, task, scale):
    """The report's runs: the study's (run or not), then every finished run of
    `GRID_STUDIES` on `task` that the study lacks."""
    configs = {config.run_id: config for config in study_configs(STUDY, [task], scale)}
    for name in GRID_STUDIES:
        for config in study_configs(name, [task], scale):
            if config.run_id not in configs and results.get(config) is not None:
                configs[config.run_id] = config
    return list(configs.values())


def _plateau(history):
    """The height of the training loss's plateau: its mean over the last tenth of the
    epochs before the learning rate's first drop (of the whole run when it never drops).
    Extended paper, Section 6 and Figure 11: "the larger or the more uniform the layer
    rotation rates, the higher the plateaus in which the loss gets stuck into"."""
    rate = history["learning_rate"]
    drops = np.flatnonzero(rate < rate[0])
    before = drops[0] if len(drops) else len(rate)
    return float(np.mean(history["loss"][before - max(1, before // 10):before]))


def _fit_epoch(history):
    """The first epoch (from 1) whose running training accuracy exceeds
    SCOPE_TRAIN_ACCURACY, or None: how fast a run trains (claim 9)."""
    reached = np.flatnonzero(history["accuracy"] > SCOPE_TRAIN_ACCURACY)
    return int(reached[0]) + 1 if len(reached) else None


def rows(results, configs):
    """One `Row` per run."""
    out = []
    for config in configs:
        result = results.get(config)
        if result is None:
            out.append(Row(config))
            continue
        final = result.distances[-1]
        _, validated = result.validation
        out.append(Row(config, result.test_accuracy, float(validated[-1]) if len(validated) else None,
                       result.train_accuracy, tuple(final[i] for i in _layers(result.distances)),
                       result.epochs_run, result.stop_reason, float(result.history["accuracy"][-1]),
                       _plateau(result.history), _fit_epoch(result.history),
                       None if result.second_moments is None else (result.second_moment_epochs, result.second_moments)))
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
    """Pearson's r of the runs' test accuracy with `value(row)`, over `runs` (nan when
    either is the same in every run)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.corrcoef([value(row) for row in runs], [row.test for row in runs])[0, 1]


def _rotation_correlations(runs):
    """Pearson correlations of the runs' test accuracy with the mean final rotation of the
    first, middle and last kernel layers and with its spread (max - min), and the verdict
    on claim 2: higher (r > 0) and more uniform (r < 0 with the spread) rotation
    generalises better; both pointing that way but one weaker than WEAK_CORRELATION is
    said to be too weak to support it."""
    height = _correlation_with_accuracy(runs, lambda row: np.mean(row.rotation))
    spread = _correlation_with_accuracy(runs, lambda row: np.ptp(row.rotation))
    if not (np.isfinite(height) and np.isfinite(spread)):
        return height, spread, "says nothing (a correlation with a value equal in every run is undefined)"
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
    reference = next((row for row in layca if not row.config.alpha and np.isclose(row.config.learning_rate, LAYCA_BEST)),
                     None)
    if reference and len(layca) < 2:
        lines.append("1. *Layca at rho(0) = 3^-3 and alpha = 0 is best among the SGD+Layca runs*: not testable yet "
                     f"(SGD+Layca at 3^-3 is the only SGD+Layca run finished: {_percent(reference.test)}).")
    elif reference:
        top = max(layca, key=lambda row: row.test)
        holds = reference.test >= top.test  # a tie with the best is no defeat
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
                f"correlation of test accuracy with the mean final rotation of the three layers is {_signed(height)}, "
                f"and with its spread (max - min) {_signed(spread)} ({len(runs)} runs): this {verdict}")
        # A run a stopping rule ended has its rotation measured then, not after a whole schedule.
        stopped = [row for row in runs if row.stopped]
        ended = [row for row in runs if not row.stopped]
        if stopped and len(ended) >= MIN_RUNS_FOR_CORRELATION:
            height, spread, alone = _rotation_correlations(ended)
            names = ", ".join(f"{row.name} after {row.epochs} epochs" for row in stopped)
            line += (f". A stopping rule ended {len(stopped)} of them ({names}), their rotation measured then; "
                     f"over the {len(ended)} runs that trained to the end, {_signed(height)} and {_signed(spread)}: "
                     f"this {alone}")
            if alone != verdict:
                line += ". Mixed: the verdict rests on the runs stopped early"
        if len(ended) >= MIN_RUNS_FOR_CORRELATION:
            by_layer = [_correlation_with_accuracy(ended, lambda row, i=i: row.rotation[i]) for i in range(3)]
            line += (f". Layer by layer, over the {len(ended)} runs that trained to the end, test accuracy "
                     "correlates with the final rotation of the first / middle / last layer at "
                     + " / ".join(_signed(r) for r in by_layer))
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
    if layca:
        lines.append(_plateau_claim(layca))
    if sgd:
        lines.append(_sgd_rate_claim(sgd, [row for row in finished if row.config.only_epochs]))
    copies = [row for row in done if row.config.spec.replays_rates]
    if copies:
        lines.append(_copy_claim(copies, done))
    recorded = [row for row in done if row.moments is not None]
    if recorded:
        lines.append(_moments_claim(recorded[0]))
    return "\n".join(lines)


def _moments_claim(row):
    """Claim 10 (extended paper, Section 5.3 and Figure 5; ICLR Figure 11): Adam's
    second-moment estimates "vary much more across layers than inside layers". In decades
    (log10), at each epoch recorded: across layers, the range of the layers' medians;
    inside a layer, its 10th-to-90th percentile range, the median over layers. Holds where
    the first exceeds the second at every epoch recorded."""
    epochs, percentiles = row.moments
    logs = np.log10(np.asarray(percentiles))  # (epoch, layer, 10th / 50th / 90th)
    across = np.ptp(logs[:, :, 1], axis=1)
    inside = np.median(logs[:, :, 2] - logs[:, :, 0], axis=1)
    measured = "; ".join(f"epoch {int(e)}: {a:.1f} across, {i:.1f} inside" for e, a, i in zip(epochs, across, inside))
    return (f"10. *Adam's second-moment estimates vary much more across layers than inside layers*: {row.name}, in "
            f"decades (the range of the layers' medians; a layer's 10th-90th percentile range, median over layers): "
            f"{measured}: {'holds' if np.all(across > inside) else 'does not hold'}.")


def _copy_claim(copies, done):
    """Claim 9 (extended paper, Section 5.4, Figure 7): SGD+Layca replaying the adaptive
    method's per-layer rotation rates trains as fast as the adaptive method, which trains
    faster than SGD + L2; speed as `Row.fit_epoch`. Each part judged on its own: the copy
    fits nearer to the adaptive method than to SGD + L2; the adaptive method fits first."""
    copy = copies[0]
    source = next((row for row in done if row.config.run_id == copy.config.copy_from), None)
    weight_decay = next((row for row in done if row.config.optimizer == "sgd_weight_decay"), None)
    claim = ("9. *SGD+Layca replaying the adaptive method's rotation rates trains as fast as the adaptive method, "
             "faster than SGD+L2*")
    if source is None or weight_decay is None or None in (copy.fit_epoch, source.fit_epoch, weight_decay.fit_epoch):
        return f"{claim}: not testable yet (the three runs must fit their training set)."
    alike = abs(copy.fit_epoch - source.fit_epoch) < abs(copy.fit_epoch - weight_decay.fit_epoch)
    faster = source.fit_epoch < weight_decay.fit_epoch
    return (f"{claim}: the first epoch above {100 * SCOPE_TRAIN_ACCURACY:.0f}% running training accuracy is "
            + ", ".join(f"{row.fit_epoch} for {row.name} ({_percent(row.test)} test)" for row in (source, copy, weight_decay))
            + f": the copy trains like the adaptive method (nearer to it than to SGD+L2): "
            f"{'holds' if alike else 'does not hold'}; the adaptive method trains faster than SGD+L2: "
            f"{'holds' if faster else 'does not hold'}.")


def _rank_correlation(x, y):
    """Spearman's rank correlation of `x` and `y` (ranks by order; nan when either is constant)."""
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(np.corrcoef(np.argsort(np.argsort(x)), np.argsort(np.argsort(y)))[0, 1])


def _signed(r):
    """'+0.66', or 'undefined' for nan."""
    return f"{r:+.2f}" if np.isfinite(r) else "undefined"


def _order_verdict(r, sign):
    """Whether a rank correlation `r` goes the claimed way (`sign`), strongly enough."""
    if not np.isfinite(r):
        return "says nothing (every run has the same value)"
    if sign * r <= 0:
        return "does not hold"
    return "holds" if sign * r >= WEAK_CORRELATION else f"points the claimed way, too weakly (|r| < {WEAK_CORRELATION})"


def _plateau_claim(layca):
    """Claim 7 over the SGD+Layca runs of extended Figure 11's three columns that trained
    to the end: the loss plateau (`_plateau`) against alpha <= 0 and against alpha >= 0
    (`PLATEAU_ALPHAS`, at rho(0) = 3^-3: higher for more uniform rates, alpha nearer 0),
    and against rho(0) (`PLATEAU_RHOS`, at alpha = 0: higher for a larger rate)."""
    ended = [row for row in layca if not row.stopped]
    reference = [row for row in ended if np.isclose(row.config.learning_rate, LAYCA_BEST)]

    def alphas(sign):
        return [row for row in reference if any(np.isclose(row.config.alpha, sign * a) for a in PLATEAU_ALPHAS)]

    groups = (
        ("alpha <= 0 at rho(0) = 3^-3", alphas(-1), lambda row: abs(row.config.alpha),
         lambda row: f"{row.config.alpha + 0.0:g}", -1),
        ("alpha >= 0 at rho(0) = 3^-3", alphas(+1), lambda row: abs(row.config.alpha),
         lambda row: f"{row.config.alpha:g}", -1),
        ("rho(0) at alpha = 0", [row for row in ended if not row.config.alpha
                                 and any(np.isclose(row.config.learning_rate, r) for r in PLATEAU_RHOS)],
         lambda row: row.config.learning_rate, lambda row: power_of_3(row.config.learning_rate), +1),
    )
    parts = []
    for name, runs, value, show, sign in groups:
        if len(runs) < MIN_RUNS_FOR_ORDER:
            parts.append(f"against {name}: not testable yet ({len(runs)} run(s), at least {MIN_RUNS_FOR_ORDER} needed)")
            continue
        runs = sorted(runs, key=lambda row: (value(row), row.config.alpha))
        r = _rank_correlation([value(row) for row in runs], [row.plateau for row in runs])
        parts.append(f"against {name} (" + ", ".join(f"{show(row)}: {row.plateau:.3f}" for row in runs)
                     + f"), rank correlation {_signed(r)}: {_order_verdict(r, sign)}")
    return ("7. *The larger or the more uniform the rotation rates, the higher the loss plateau*: the SGD+Layca "
            "runs' plateau (mean training loss over the last tenth of the epochs before the first drop of the "
            "learning rate), " + "; ".join(parts) + ".")


def _sgd_rate_claim(sgd, first_epoch):
    """Claim 8 over SGD's runs that trained to the end: test accuracy rises with the
    rotation its learning rate brings, until a tipping point where rotations turn abrupt
    (extended paper, Section 5.1, Figures 2 and 10); with what SGD's first-epoch runs
    rotated and trained."""
    ended = sorted((row for row in sgd if not row.stopped), key=lambda row: row.config.learning_rate)
    claim = "8. *SGD: test accuracy rises with the rotation its learning rate brings, until a tipping point*"
    if len(ended) < MIN_RUNS_FOR_ORDER:
        return f"{claim}: not testable yet ({len(ended)} run(s), at least {MIN_RUNS_FOR_ORDER} needed)."
    r = _rank_correlation([np.mean(row.rotation) for row in ended], [row.test for row in ended])
    top = max(ended, key=lambda row: row.test)
    beyond = [row for row in ended if row.config.learning_rate > top.config.learning_rate]
    tipping = (f"reached: beyond {power_of_3(top.config.learning_rate)}, "
               + ", ".join(f"{power_of_3(row.config.learning_rate)} gets {_percent(row.test)}" for row in beyond)
               if beyond else f"not reached within the grid (its largest rate, {power_of_3(top.config.learning_rate)}, is the best)")
    text = (f"{claim}: over SGD's rates " + ", ".join(
        f"{power_of_3(row.config.learning_rate)}: {_percent(row.test)} at mean final rotation {np.mean(row.rotation):.3f}"
        for row in ended) + f", the rank correlation of test accuracy with the mean final rotation is {_signed(r)} "
        f"(rises with rotation: {_order_verdict(r, +1)}); the tipping point is {tipping}")
    for row in first_epoch:
        text += (f". In its first epoch, {replace(row.config, only_epochs=None).label} rotates the first / middle / last kernel layer to "
                 f"{_rotations(row.rotation)} and ends it at {_percent(row.running)} training accuracy (running mean)")
    return text + "."


def _adaptive_names(task):
    """The task's adaptive method and its Layca version (claim 4's runs)."""
    adaptive = TASKS[task].adaptive
    return (adaptive, with_layca(adaptive)) if adaptive else ()


def curves_figure(results, configs, out):
    """The study's curves: Layca's rates, then its alphas and the adaptive runs, then SGD's grid."""
    by_kind = {"layca": [], "sgd": [], "other": []}
    for config in configs:
        by_kind[_kind(config)].append((config.label, config))
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
    parser.add_argument("--task", default=None, help="default, by scale: " + ", ".join(
        f"{task} ({scale})" for scale, task in DEFAULT_TASKS.items()))
    parser.add_argument("--report-only", action="store_true", help="write the table and figure from the runs saved so far")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="seeds whose runs of the `seeds` study the report aggregates beside the random-label "
                             "control (experiments/seed_verdicts.py; run them with `python -m experiments study seeds "
                             "--seeds ...`); default: 0 alone, no such section")
    args = parser.parse_args(argv)

    task = args.task or DEFAULT_TASKS[args.scale]
    if not args.report_only:
        from experiments.sharding import run_study  # training, imported only to train

        run_study(STUDY, [task], args.scale, args.data_dir, args.results)
    results = Results(args.results, args.scale)
    configs = report_configs(results, task, args.scale)
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
    prefix = os.path.join(args.out, f"{STUDY}_{args.scale}")
    paths = [curves_figure(results, study_configs(STUDY, [task], args.scale), f"{prefix}_curves.png"),
             rotation_figure(table_rows, f"{prefix}_rotation.png")]
    seeds = checked_seeds(args.seeds)
    if len(seeds) > 1:
        text += "\n\n" + seed_verdicts.section(results, task, seeds)
        paths.append(seed_verdicts.seeds_figure(results, task, seeds, f"{prefix}_seeds.png"))
        if any(results.get(permuted) is not None for _, permuted in seed_verdicts.control_pairs(task)):
            paths.append(seed_verdicts.control_figure(results, task, f"{prefix}_control.png"))
    # The papers' figures illustrate their statements: drawn where some run is in their scope.
    if any(row.test is not None and not row.out_of_scope for row in table_rows):
        paths += [FIGURES[name].render(results, f"{prefix}_{name}.png", (task,)) for name in PAPER_FIGURES]
    with open(f"{prefix}.md", "w") as f:
        f.write(text + "\n")
    print(text)
    print("figures written to " + ", ".join(paths))
    return text


if __name__ == "__main__":
    main()
