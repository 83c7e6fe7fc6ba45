"""The papers' claims as data, and the runs they are judged on.

Each `Claim` is a number, the statement as the papers make it, where they make it, and the
function that judges it on a report's runs (`Row`s): it returns a `Finding` (the verdict in
a few words, and what the runs measured, as the report writes it) or None where no run is
about the claim. The report (`experiments/real_cifar10.py`), the seed section
(`experiments/seed_verdicts.py`) and the table of scales (`experiments/scales.py`) number the
claims from `CLAIMS`, and so does the README.

The papers' scope is the runs that fit their training set (`SCOPE_TRAIN_ACCURACY`): the
claims are judged over those, and the runs out of it are listed with why. Reporting only:
this module reads what results files hold and never imports training.
"""

from dataclasses import dataclass, replace
from typing import Callable, NamedTuple

import numpy as np

from experiments.recipes import LAYCA_BEST, PLATEAU_ALPHAS, PLATEAU_RHOS, TASKS, RunConfig, power_of_3, with_layca

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
#: Runs a verdict on an ordering (claims 7 and 8) needs at least.
MIN_RUNS_FOR_ORDER = 3
#: The verdict of a claim whose runs are not all there yet.
NOT_TESTABLE = "not testable yet"


def first_middle_last(distances):
    """Column indices of the first, middle and last kernel layers."""
    count = distances.shape[1]
    return 0, (count - 1) // 2, count - 1


class Row(NamedTuple):
    """A run as the claims see it; a run not finished has only its configuration."""

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
    """One `Row` per configuration, from `results` (an `experiments.results.Results`)."""
    out = []
    for config in configs:
        result = results.get(config)
        if result is None:
            out.append(Row(config))
            continue
        final = result.curves.values[-1]
        _, validated = result.validation
        out.append(Row(config, result.test_accuracy, float(validated[-1]) if len(validated) else None,
                       result.train_accuracy, tuple(final[i] for i in first_middle_last(result.curves.values)),
                       result.epochs_run, result.stop_reason, float(result.history["accuracy"][-1]),
                       _plateau(result.history), _fit_epoch(result.history),
                       None if result.second_moments is None else (result.second_moment_epochs, result.second_moments)))
    return out


def rotations_text(values):
    """Final rotations as the report writes them: '0.459 / 0.531 / 0.565'."""
    return " / ".join(f"{d:.3f}" for d in values)


def percent(value):
    """'38.42%', or '' for None."""
    return "" if value is None else f"{100 * value:.2f}%"


def signed(r):
    """'+0.66', or 'undefined' for nan."""
    return f"{r:+.2f}" if np.isfinite(r) else "undefined"


class Runs(NamedTuple):
    """A report's rows as the judges group them: the finished runs, those in the papers'
    scope (`done`), and the scope's runs by optimizer; `reference` is SGD+Layca at 3^-3 and
    alpha 0 (None until it is finished and in scope)."""

    finished: list
    done: list
    layca: list  # SGD+Layca: every rho(0) and alpha
    sgd: list
    adaptive: list  # the task's adaptive method, alone and with Layca
    others: dict  # {"sgd_weight_decay": [...], "lars": [...]}
    reference: Row

    @classmethod
    def of(cls, table_rows):
        finished = [row for row in table_rows if row.test is not None]
        done = [row for row in finished if not row.out_of_scope]
        layca = [row for row in done if row.config.optimizer == "layca"]
        reference = next((row for row in layca if not row.config.alpha and np.isclose(row.config.learning_rate, LAYCA_BEST)),
                         None)
        return cls(finished, done, layca, [row for row in done if row.config.optimizer == "sgd"],
                   [row for row in done if row.config.optimizer in _adaptive_names(row.config.task)],
                   {name: [row for row in done if row.config.optimizer == name] for name in ("sgd_weight_decay", "lars")},
                   reference)


class Finding(NamedTuple):
    """What a claim's runs say: `verdict` in a few words ('holds', 'does not hold',
    `NOT_TESTABLE`, ...) and `text`, what they measured, as the report writes it."""

    verdict: str
    text: str


@dataclass(frozen=True)
class Claim:
    """One of the papers' claims: `judge(runs)` gives its `Finding` on a report's `Runs`,
    or None where none of them is about it."""

    number: int
    statement: str
    source: str
    judge: Callable

    def line(self, finding):
        """The report's line: '1. *statement*: what the runs measured'."""
        return f"{self.number}. *{self.statement}*: {finding.text}"


def _holds(condition):
    return "holds" if condition else "does not hold"


def _best_layca(runs):
    """Claim 1: SGD+Layca at 3^-3 and alpha 0 is the best SGD+Layca run (a tie is no defeat)."""
    reference = runs.reference
    if reference is None:
        return None
    if len(runs.layca) < 2:
        return Finding(NOT_TESTABLE, f"{NOT_TESTABLE} (SGD+Layca at 3^-3 is the only SGD+Layca run finished: "
                                     f"{percent(reference.test)}).")
    top = max(runs.layca, key=lambda row: row.test)
    verdict = _holds(reference.test >= top.test)
    return Finding(verdict, f"{verdict}: 3^-3, alpha = 0 gets {percent(reference.test)}; the best Layca run "
                            f"is {top.name} at {percent(top.test)}.")


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


def _rotation_generalises(runs):
    """Claim 2 over the SGD and SGD+Layca runs in scope: Pearson's r of test accuracy with
    the mean final rotation (> 0) and with its spread across layers (< 0); again over the
    runs that trained to the end where a stopping rule ended some, and layer by layer."""
    runs = runs.layca + runs.sgd
    if not runs:
        return None
    if len(runs) < MIN_RUNS_FOR_CORRELATION:
        return Finding(NOT_TESTABLE, f"{NOT_TESTABLE}: {len(runs)} SGD and SGD+Layca run(s) in the papers' scope, "
                                     f"a correlation needs at least {MIN_RUNS_FOR_CORRELATION}.")
    height, spread, verdict = _rotation_correlations(runs)
    text = ("over the SGD and SGD+Layca runs, the "
            f"correlation of test accuracy with the mean final rotation of the three layers is {signed(height)}, "
            f"and with its spread (max - min) {signed(spread)} ({len(runs)} runs): this {verdict}")
    # A run a stopping rule ended has its rotation measured then, not after a whole schedule.
    stopped = [row for row in runs if row.stopped]
    ended = [row for row in runs if not row.stopped]
    if stopped and len(ended) >= MIN_RUNS_FOR_CORRELATION:
        height, spread, alone = _rotation_correlations(ended)
        names = ", ".join(f"{row.name} after {row.epochs} epochs" for row in stopped)
        text += (f". A stopping rule ended {len(stopped)} of them ({names}), their rotation measured then; "
                 f"over the {len(ended)} runs that trained to the end, {signed(height)} and {signed(spread)}: "
                 f"this {alone}")
        if alone != verdict:
            text += ". Mixed: the verdict rests on the runs stopped early"
            verdict = "mixed"
    if len(ended) >= MIN_RUNS_FOR_CORRELATION:
        by_layer = [_correlation_with_accuracy(ended, lambda row, i=i: row.rotation[i]) for i in range(3)]
        text += (f". Layer by layer, over the {len(ended)} runs that trained to the end, test accuracy "
                 "correlates with the final rotation of the first / middle / last layer at "
                 + " / ".join(signed(r) for r in by_layer))
    return Finding(verdict, text + ".")


def _sgd_worse(runs):
    """Claim 3: SGD's best run by validation accuracy (as the authors pick) generalises
    worse than SGD+Layca at 3^-3, and rotates less in each of the three layers."""
    reference = runs.reference
    if not (runs.sgd and reference):
        return None
    top = max(runs.sgd, key=lambda row: -np.inf if row.validation is None else row.validation)
    worse = top.test < reference.test
    less = sum(ours < theirs for ours, theirs in zip(top.rotation, reference.rotation))
    rotates = "holds" if less == 3 else f"holds for {less} of the 3 layers"
    verdict = "holds" if worse and less == 3 else f"worse: {_holds(worse)}; rotates less in {less} of 3 layers"
    return Finding(verdict, (
        f"SGD's best run by validation accuracy ({top.name}) "
        f"gets {percent(top.test)} on the test set against {percent(reference.test)} for SGD+Layca at 3^-3 "
        f"(generalises worse: {_holds(worse)}); its final rotation "
        f"of the first / middle / last kernel layer is {rotations_text(top.rotation)} against "
        f"{rotations_text(reference.rotation)} (rotates less: {rotates})."))


def _adaptive_with_layca(runs):
    """Claim 4: the adaptive method with Layca comes close to SGD+Layca at 3^-3 (the
    verdict is the gap in points; the method alone beside it)."""
    with_layca = [row for row in runs.adaptive if row.config.spec.layca]
    if not (with_layca and runs.reference):
        return None
    value, = with_layca
    gap = 100 * (value.test - runs.reference.test)
    alone = ", ".join(f"{row.name} alone gets {percent(row.test)}" for row in runs.adaptive if not row.config.spec.layca)
    return Finding(f"{gap:+.2f} points", f"{value.name} gets {percent(value.test)}, "
                                        f"{gap:+.2f} points from SGD+Layca at 3^-3{'; ' + alone if alone else ''}.")


def _as_well(name):
    """Claims 5 and 6: `name`'s run generalises as well as SGD+Layca at 3^-3 (within
    SAME_ACCURACY_POINTS), its rotation beside Layca's."""
    def judge(runs):
        if not (runs.others[name] and runs.reference):
            return None
        row, = runs.others[name]
        gap = 100 * (row.test - runs.reference.test)
        verdict = _holds(abs(gap) <= SAME_ACCURACY_POINTS)
        return Finding(verdict, (
            f"{row.name} gets {percent(row.test)}, {gap:+.2f} points from SGD+Layca at 3^-3 "
            f"(as well, within {SAME_ACCURACY_POINTS:g} point: {verdict}); "
            f"its final rotation of the first / middle / last kernel layer is "
            f"{rotations_text(row.rotation)} against {rotations_text(runs.reference.rotation)}."))
    return judge


def _rank_correlation(x, y):
    """Spearman's rank correlation of `x` and `y` (ranks by order; nan when either is constant)."""
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(np.corrcoef(np.argsort(np.argsort(x)), np.argsort(np.argsort(y)))[0, 1])


def _order_verdict(r, sign):
    """Whether a rank correlation `r` goes the claimed way (`sign`), strongly enough."""
    if not np.isfinite(r):
        return "says nothing (every run has the same value)"
    if sign * r <= 0:
        return "does not hold"
    return "holds" if sign * r >= WEAK_CORRELATION else f"points the claimed way, too weakly (|r| < {WEAK_CORRELATION})"


def _plateaus(runs):
    """Claim 7 over the SGD+Layca runs of extended Figure 11's three columns that trained
    to the end: the loss plateau (`_plateau`) against alpha <= 0 and against alpha >= 0
    (`PLATEAU_ALPHAS`, at rho(0) = 3^-3: higher for more uniform rates, alpha nearer 0),
    and against rho(0) (`PLATEAU_RHOS`, at alpha = 0: higher for a larger rate)."""
    if not runs.layca:
        return None
    ended = [row for row in runs.layca if not row.stopped]
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
    parts, verdicts = [], []
    for name, group, value, show, sign in groups:
        if len(group) < MIN_RUNS_FOR_ORDER:
            parts.append(f"against {name}: {NOT_TESTABLE} ({len(group)} run(s), at least {MIN_RUNS_FOR_ORDER} needed)")
            verdicts.append(f"{name.split(' at ')[0]}: {NOT_TESTABLE}")
            continue
        group = sorted(group, key=lambda row: (value(row), row.config.alpha))
        r = _rank_correlation([value(row) for row in group], [row.plateau for row in group])
        verdict = _order_verdict(r, sign)
        parts.append(f"against {name} (" + ", ".join(f"{show(row)}: {row.plateau:.3f}" for row in group)
                     + f"), rank correlation {signed(r)}: {verdict}")
        verdicts.append(f"{name.split(' at ')[0]}: {verdict}")
    verdict = NOT_TESTABLE if all(v.endswith(NOT_TESTABLE) for v in verdicts) else "; ".join(verdicts)
    return Finding(verdict, (
        "the SGD+Layca runs' plateau (mean training loss over the last tenth of the epochs before the first drop of the "
        "learning rate), " + "; ".join(parts) + "."))


def _sgd_rates(runs):
    """Claim 8 over SGD's runs that trained to the end: test accuracy rises with the
    rotation its learning rate brings, until a tipping point where rotations turn abrupt
    (extended paper, Section 5.1, Figures 2 and 10); with what SGD's first-epoch runs
    rotated and trained."""
    if not runs.sgd:
        return None
    ended = sorted((row for row in runs.sgd if not row.stopped), key=lambda row: row.config.learning_rate)
    if len(ended) < MIN_RUNS_FOR_ORDER:
        return Finding(NOT_TESTABLE, f"{NOT_TESTABLE} ({len(ended)} run(s), at least {MIN_RUNS_FOR_ORDER} needed).")
    r = _rank_correlation([np.mean(row.rotation) for row in ended], [row.test for row in ended])
    top = max(ended, key=lambda row: row.test)
    beyond = [row for row in ended if row.config.learning_rate > top.config.learning_rate]
    tipping = (f"reached: beyond {power_of_3(top.config.learning_rate)}, "
               + ", ".join(f"{power_of_3(row.config.learning_rate)} gets {percent(row.test)}" for row in beyond)
               if beyond else f"not reached within the grid (its largest rate, {power_of_3(top.config.learning_rate)}, is the best)")
    verdict = _order_verdict(r, +1)
    text = ("over SGD's rates " + ", ".join(
        f"{power_of_3(row.config.learning_rate)}: {percent(row.test)} at mean final rotation {np.mean(row.rotation):.3f}"
        for row in ended) + f", the rank correlation of test accuracy with the mean final rotation is {signed(r)} "
        f"(rises with rotation: {verdict}); the tipping point is {tipping}")
    for row in (row for row in runs.finished if row.config.only_epochs):
        text += (f". In its first epoch, {replace(row.config, only_epochs=None).label} rotates the first / middle / last "
                 f"kernel layer to {rotations_text(row.rotation)} and ends it at {percent(row.running)} training accuracy "
                 "(running mean)")
    return Finding(verdict, text + ".")


def _copy_trains_alike(runs):
    """Claim 9 (extended paper, Section 5.4, Figure 7): SGD+Layca replaying the adaptive
    method's per-layer rotation rates trains as fast as the adaptive method, which trains
    faster than SGD + L2; speed as `Row.fit_epoch`. Each part judged on its own: the copy
    fits nearer to the adaptive method than to SGD + L2; the adaptive method fits first."""
    copies = [row for row in runs.done if row.config.spec.replays_rates]
    if not copies:
        return None
    copy = copies[0]
    source = next((row for row in runs.done if row.config.run_id == copy.config.copy_from), None)
    weight_decay = next((row for row in runs.done if row.config.optimizer == "sgd_weight_decay"), None)
    if source is None or weight_decay is None or None in (copy.fit_epoch, source.fit_epoch, weight_decay.fit_epoch):
        return Finding(NOT_TESTABLE, f"{NOT_TESTABLE} (the three runs must fit their training set).")
    alike = _holds(abs(copy.fit_epoch - source.fit_epoch) < abs(copy.fit_epoch - weight_decay.fit_epoch))
    faster = _holds(source.fit_epoch < weight_decay.fit_epoch)
    return Finding(f"copy: {alike}; faster: {faster}", (
        f"the first epoch above {100 * SCOPE_TRAIN_ACCURACY:.0f}% running training accuracy is "
        + ", ".join(f"{row.fit_epoch} for {row.name} ({percent(row.test)} test)" for row in (source, copy, weight_decay))
        + f": the copy trains like the adaptive method (nearer to it than to SGD+L2): {alike}; "
        f"the adaptive method trains faster than SGD+L2: {faster}."))


def _second_moments(runs):
    """Claim 10 (extended paper, Section 5.3 and Figure 5; ICLR Figure 11): Adam's
    second-moment estimates "vary much more across layers than inside layers". In decades
    (log10), at each epoch recorded: across layers, the range of the layers' medians;
    inside a layer, its 10th-to-90th percentile range, the median over layers. Holds where
    the first exceeds the second at every epoch recorded."""
    recorded = [row for row in runs.done if row.moments is not None]
    if not recorded:
        return None
    row = recorded[0]
    epochs, percentiles = row.moments
    logs = np.log10(np.asarray(percentiles))  # (epoch, layer, 10th / 50th / 90th)
    across = np.ptp(logs[:, :, 1], axis=1)
    inside = np.median(logs[:, :, 2] - logs[:, :, 0], axis=1)
    measured = "; ".join(f"epoch {int(e)}: {a:.1f} across, {i:.1f} inside" for e, a, i in zip(epochs, across, inside))
    verdict = _holds(np.all(across > inside))
    return Finding(verdict, f"{row.name}, in decades (the range of the layers' medians; a layer's 10th-90th percentile "
                            f"range, median over layers): {measured}: {verdict}.")


def _adaptive_names(task):
    """The task's adaptive method and its Layca version (claim 4's runs)."""
    adaptive = TASKS[task].adaptive
    return (adaptive, with_layca(adaptive)) if adaptive else ()


#: The claims the reports judge, in the reports' and the README's order.
CLAIMS = (
    Claim(1, "Layca at rho(0) = 3^-3 and alpha = 0 is best among the SGD+Layca runs",
          "extended paper, Figures 1 and 9; ICLR Figure 2", _best_layca),
    Claim(2, "Higher and more uniform rotation generalises better", "extended paper, Section 4, Figures 1 and 9",
          _rotation_generalises),
    Claim(3, "SGD rotates little and generalises worse", "extended paper, Figures 2 and 10; ICLR Figure 4", _sgd_worse),
    Claim(4, "The adaptive method with Layca comes close to SGD+Layca", "extended paper, Figures 5, 6 and 7; ICLR Figures 5, 6 and 11", _adaptive_with_layca),
    Claim(5, "SGD with weight decay rotates like SGD+Layca and generalises as well", "extended paper, Section 5.2, Figure 3",
          _as_well("sgd_weight_decay")),
    Claim(6, "LARS controls layer rotation like Layca and generalises as well", "extended paper, Figure 12; ICLR Figure 9",
          _as_well("lars")),
    Claim(7, "The larger or the more uniform the rotation rates, the higher the loss plateau",
          "extended paper, Section 6, Figure 11; ICLR Figures 3 and 10", _plateaus),
    Claim(8, "SGD: test accuracy rises with the rotation its learning rate brings, until a tipping point",
          "extended paper, Section 5.1, Figures 2 and 10", _sgd_rates),
    Claim(9, "SGD+Layca replaying the adaptive method's rotation rates trains as fast as the adaptive method, "
             "faster than SGD+L2", "extended paper, Section 5.4, Figure 7", _copy_trains_alike),
    Claim(10, "Adam's second-moment estimates vary much more across layers than inside layers",
          "extended paper, Section 5.3, Figure 5; ICLR Figure 11", _second_moments),
)
#: Each claim by its number.
BY_NUMBER = {claim.number: claim for claim in CLAIMS}


def findings(runs):
    """`{number: Finding}` of every claim that some of `runs` (a `Runs`) is about."""
    return {claim.number: finding for claim in CLAIMS if (finding := claim.judge(runs)) is not None}


def report(table_rows):
    """The papers' claims, each with what these runs measured and whether it holds, over
    the runs in the papers' scope (`Row.out_of_scope`); the runs out of it are listed
    first, with why."""
    runs = Runs.of(table_rows)
    lines = []
    outside = [row for row in runs.finished if row.out_of_scope]
    if outside:
        lines.append(
            f"Over the {len(runs.done)} of {len(runs.finished)} runs in the papers' scope (more than "
            f"{100 * SCOPE_TRAIN_ACCURACY:.0f}% on their whole training set, the authors' filter). Out of it: "
            + "; ".join(f"{row.name} ({row.out_of_scope})" for row in outside) + ".\n"
        )
    if runs.finished and not runs.done:
        lines.append("No run fits its training set: these runs give no verdict on the papers' claims.")
    lines += [BY_NUMBER[number].line(finding) for number, finding in findings(runs).items()]
    return "\n".join(lines)
