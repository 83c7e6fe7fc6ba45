"""The report's verdicts with their seed spread, and the random-label control (issue 44).

Read from results files only: the `seeds` study's runs over several seeds of their initial
weights and batch order (`python -m experiments study seeds --seeds 0 1 2`), and the
`random_labels` study's runs on the same images with their training labels permuted once.

- Each comparison the report's claims rest on (`comparisons`) is stated as a difference of
  mean test accuracy over the seeds, and whether it exceeds the seed spread
  (`replicates.Comparison`): a verdict that rests on a difference within it says so.
- Claim 2 (higher, more uniform rotation generalises better) gets a bootstrap interval over
  runs for its correlations, and Kendall's tau of test accuracy against the mean final
  rotation beside the same for two simple rivals: the mean L2 distance of the kernels from
  their initial values ("distance from initialization", Jiang et al., "Fantastic
  generalization measures and where to find them", ICLR 2020) and the learning rate summed
  over the steps taken.
- The control: rotation curves and accuracies of the runs on permuted labels beside the
  same configurations on the true labels.
"""

from typing import NamedTuple

import numpy as np

from experiments.claims import SCOPE_TRAIN_ACCURACY
from experiments.drawing import curves_grid, new_figure, save_figure
from experiments.recipes import SEED_ALPHAS, SEED_RHOS, SEED_SGD_RATES, TASKS, RunConfig, with_layca
from experiments.replicates import Comparison, replicates, spread
from experiments.studies import study_configs

SEEDS_STUDY = "seeds"
CONTROL_STUDY = "random_labels"
#: Resamples of the runs for a bootstrap interval, its confidence, and the seed of the
#: resampling (fixed: the report redraws identically).
BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95
BOOTSTRAP_SEED = 0


class Pair(NamedTuple):
    """A comparison a claim rests on: `a` against `b`."""

    claim: str
    a: RunConfig
    b: RunConfig


def comparisons(task):
    """The comparisons of the report's claims (`experiments.claims.CLAIMS`) on `task`: SGD+Layca
    at 3^-3 and alpha 0 against each other SGD+Layca run (claim 1), SGD at its two best
    rates (claim 3), the adaptive method with Layca and alone (claim 4), SGD + L2 (claim 5)
    and LARS (claim 6)."""
    best = RunConfig(task, "layca")
    adaptive = TASKS[task].adaptive
    layca_runs = [RunConfig(task, "layca", learning_rate=r) for r in SEED_RHOS]
    layca_runs += [RunConfig(task, "layca", alpha=a) for a in SEED_ALPHAS]
    return (
        *(Pair("1", best, other) for other in layca_runs),
        *(Pair("3", best, RunConfig(task, "sgd", learning_rate=lr)) for lr in SEED_SGD_RATES),
        Pair("4", RunConfig(task, with_layca(adaptive)), best),
        Pair("4", RunConfig(task, with_layca(adaptive)), RunConfig(task, adaptive)),
        Pair("5", RunConfig(task, "sgd_weight_decay"), best),
        Pair("6", RunConfig(task, "lars"), best),
    )


def mean_rotation(result):
    """The mean over kernel layers of the final cosine distance from the initial kernel."""
    return float(np.mean(result.curves.values[-1]))


def mean_l2_distance(result):
    """The mean over kernel layers of ||w_l - w_l(0)||_2 at the tested weights; nan for files
    written before it was kept."""
    distances = result.final_kernel_distances
    return float("nan") if distances is None else float(np.mean(distances))


def rate_times_steps(result):
    """The learning rate summed over the steps taken: each epoch's rate times its steps."""
    steps = np.diff(np.concatenate([[0], np.asarray(result.curves.steps, float)]))
    rates = np.asarray(result.history["learning_rate"], float)
    if len(steps) != len(rates):  # records not one per epoch
        return float("nan")
    return float(np.sum(rates * steps))


#: Claim 2's measure and its rivals, by name.
MEASURES = (("mean final rotation (cosine distance)", mean_rotation),
            ("mean L2 distance from initialisation", mean_l2_distance),
            ("learning rate x steps", rate_times_steps))


def pearson(x, y):
    """Pearson's r (nan when either is constant)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.corrcoef(x, y)[0, 1])


def kendall_tau(x, y):
    """Kendall's tau-b (scipy.stats.kendalltau)."""
    from scipy.stats import kendalltau

    return float(kendalltau(x, y).statistic)


def bootstrap_interval(statistic, x, y):
    """The `CONFIDENCE` percentile interval of `statistic(x, y)` over `BOOTSTRAP_RESAMPLES`
    resamples of the runs (pairs kept together; scipy.stats.bootstrap)."""
    from scipy.stats import bootstrap

    found = bootstrap((np.asarray(x, float), np.asarray(y, float)), statistic, paired=True, vectorized=False,
                      n_resamples=BOOTSTRAP_RESAMPLES, confidence_level=CONFIDENCE, method="percentile",
                      random_state=np.random.default_rng(BOOTSTRAP_SEED))
    return float(found.confidence_interval.low), float(found.confidence_interval.high)


def _with_interval(statistic, x, y):
    """'+0.52 [+0.31, +0.70]'."""
    low, high = bootstrap_interval(statistic, x, y)
    return f"{statistic(x, y):+.2f} [{low:+.2f}, {high:+.2f}]"


def _in_scope(result):
    return result is not None and result.train_accuracy is not None and result.train_accuracy > SCOPE_TRAIN_ACCURACY


def seed_table(results, task, seeds):
    """Markdown: each configuration of the `seeds` study, its test accuracy and mean final
    rotation over `seeds` (mean +- standard deviation, then each run)."""
    lines = ["| run | test accuracy (%), mean +- sd (each seed) | mean final rotation |", "|---|---|---|"]
    outside = []
    for config in study_configs(SEEDS_STUDY, [task]):
        accuracy = spread(results, config, seeds)
        rotation = spread(results, config, seeds, quantity=mean_rotation)
        lines.append(f"| {config.label} | {accuracy.describe()} | {rotation.describe('.3f')} |")
        for seed, run in zip(seeds, replicates(config, seeds)):
            result = results.get(run)
            if result is not None and not _in_scope(result):
                why = result.stop_reason or f"{100 * result.train_accuracy:.1f}% on its training set"
                outside.append(f"{config.label}, seed {seed} ({why})")
    if outside:
        lines += ["", "Counted above, though out of the papers' scope (claim 2 below leaves them out): "
                  + "; ".join(outside) + "."]
    return "\n".join(lines)


def comparison_lines(results, task, seeds):
    """One line per `comparisons(task)`: the difference of means and whether it exceeds the
    seed spread; where the single run of seed 0 and the means disagree in sign, it says so."""
    lines = []
    for pair in comparisons(task):
        compared = Comparison(spread(results, pair.a, seeds), spread(results, pair.b, seeds))
        if not compared.a.count or not compared.b.count:
            lines.append(f"- claim {pair.claim}: {pair.a.label} against {pair.b.label}: not run yet.")
            continue
        first = compared.a.values[0] - compared.b.values[0]
        text = f"- claim {pair.claim}: {pair.a.label} against {pair.b.label}: {compared.describe()}"
        if np.isfinite(first) and np.sign(first) != np.sign(compared.difference):
            text += f"; seed 0 alone said {first:+.2f}, the other way"
        lines.append(text + ".")
    return "\n".join(lines)


def measure_lines(results, task, seeds):
    """Claim 2 over every seeded SGD and SGD+Layca run in the papers' scope: Pearson's r of
    test accuracy with the mean and the spread of the final rotation (first, middle, last
    kernel layers) with bootstrap intervals; Kendall's tau of test accuracy with each of
    `MEASURES`, over the runs that have all three, with bootstrap intervals."""
    runs = [results.get(run) for config in study_configs(SEEDS_STUDY, [task]) if config.optimizer in ("layca", "sgd")
            for run in replicates(config, seeds)]
    runs = [run for run in runs if _in_scope(run)]
    if len(runs) < 4:
        return f"Claim 2 over seeded runs: not testable yet ({len(runs)} SGD and SGD+Layca runs in scope)."
    accuracy = [100 * run.test_accuracy for run in runs]
    layers = [run.curves.values[-1][[0, (run.curves.values.shape[1] - 1) // 2, -1]] for run in runs]
    lines = [
        f"Claim 2 over the {len(runs)} seeded SGD and SGD+Layca runs in scope, Pearson's r of test accuracy "
        f"(95% bootstrap interval over runs, {BOOTSTRAP_RESAMPLES} resamples): with the mean final rotation of the "
        f"first / middle / last kernel layers {_with_interval(pearson, [np.mean(v) for v in layers], accuracy)}, "
        f"with its spread (max - min) {_with_interval(pearson, [np.ptp(v) for v in layers], accuracy)}.",
    ]
    values = {name: np.array([measure(run) for run in runs]) for name, measure in MEASURES}
    complete = np.all([np.isfinite(v) for v in values.values()], axis=0)
    if complete.sum() < 4:
        return lines[0] + (f" Kendall's tau against the rivals: not testable yet ({int(complete.sum())} runs record the "
                           "L2 distance).")
    kept = np.asarray(accuracy)[complete]
    taus = "; ".join(f"{name} {_with_interval(kendall_tau, v[complete], kept)}" for name, v in values.items())
    lines.append(f"Kendall's tau of test accuracy with each measure over the {int(complete.sum())} of them that record "
                 f"the L2 distance (95% bootstrap interval): {taus}.")
    return " ".join(lines)


def seeds_figure(results, task, seeds, out):
    """Left: each configuration's test accuracy, every seed a dot and the mean +- sd a bar.
    Right: test accuracy against mean final rotation, every run a dot, each configuration's
    mean +- sd on both axes."""
    configs = study_configs(SEEDS_STUDY, [task])
    figure, axes = new_figure(1, 2, size=(4.2, 0.28 * len(configs) + 1.0))
    left, right = axes[0]
    for y, config in enumerate(configs):
        color = {"layca": "C0", "sgd": "C1"}.get(config.optimizer, "C2")
        runs = [run for run in (results.get(c) for c in replicates(config, seeds)) if run is not None]
        if not runs:
            continue
        accuracy = np.array([100 * run.test_accuracy for run in runs])
        rotation = np.array([mean_rotation(run) for run in runs])
        left.scatter(accuracy, np.full(len(runs), y), s=12, color=color, alpha=0.6)
        right.scatter(rotation, accuracy, s=10, color=color, alpha=0.35)
        sd = (lambda v: np.std(v, ddof=1) if len(v) > 1 else 0.0)
        left.errorbar(accuracy.mean(), y, xerr=sd(accuracy), fmt="|", color=color, markersize=12, capsize=3)
        right.errorbar(rotation.mean(), accuracy.mean(), xerr=sd(rotation), yerr=sd(accuracy), fmt="o", color=color,
                       markersize=3, capsize=2)
    left.set_yticks(range(len(configs)), [config.label for config in configs], fontsize=6)
    left.invert_yaxis()
    left.set_xlabel(f"test accuracy (%), seeds {', '.join(map(str, seeds))}")
    right.set_xlabel("mean final rotation")
    right.set_ylabel("test accuracy (%)")
    return save_figure(figure, out)


def control_pairs(task):
    """(configuration on the true labels, the same on `task`'s permuted labels) for each run
    of the `random_labels` study; `task` is the true-label task."""
    controls = study_configs(CONTROL_STUDY)
    return [(RunConfig(task, c.optimizer, learning_rate=c.learning_rate), c) for c in controls]


def _layers_text(result):
    d = result.curves.values[-1]
    return " / ".join(f"{v:.3f}" for v in d[[0, (len(d) - 1) // 2, -1]])


def control_lines(results, task):
    """Markdown: each control run beside the same configuration on the true labels: training
    and test accuracy, final rotation of the first / middle / last kernel layers, its mean."""
    lines = ["| run | labels | training accuracy | test accuracy | final rotation: first / middle / last (mean) |",
             "|---|---|---|---|---|"]
    for true, permuted in control_pairs(task):
        for name, config in (("true", true), ("permuted", permuted)):
            result = results.get(config)
            if result is None:
                lines.append(f"| {config.label} | {name} | not run | | |")
                continue
            lines.append(f"| {config.label} | {name} | {100 * result.train_accuracy:.2f}% | "
                         f"{100 * result.test_accuracy:.2f}% | {_layers_text(result)} ({mean_rotation(result):.3f}) |")
    return "\n".join(lines)


def control_figure(results, task, out):
    """The control runs' rotation curves (bottom row) under the same configurations' on the
    true labels (top row)."""
    pairs = control_pairs(task)
    return curves_grid(results, [("true labels", [(true.label, true) for true, _ in pairs]),
                                 ("permuted labels", [(permuted.label, permuted) for _, permuted in pairs])], out)


def section(results, task, seeds):
    """The report's section: the seed table, the comparisons, claim 2's intervals and
    rivals, and the control's table."""
    parts = [f"## Seeds {', '.join(map(str, seeds))}: each configuration's spread", "", seed_table(results, task, seeds),
             "", comparison_lines(results, task, seeds), "", measure_lines(results, task, seeds)]
    if any(results.get(c) is not None for _, c in control_pairs(task)):
        parts += ["", "## The control: the same images with their training labels permuted once", "",
                  control_lines(results, task)]
    return "\n".join(parts)
