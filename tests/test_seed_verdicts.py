"""The report's seed section: comparisons against the seed spread, claim 2's bootstrap
intervals and rivals, the random-label control; read from results files written here."""

import numpy as np
import pytest

from experiments import seed_verdicts
from experiments.results import Results
from experiments.recipes import RunConfig
from experiments.replicates import replicates
from experiments.studies import study_configs
from tests.run_results import made_curves, made_result, write_made_result

TASK = "C10-CNN1-fit"


def test_the_rivals_follow_their_definitions():
    result = made_result(RunConfig(TASK, "sgd"), val_accuracy=(0.3, 0.4, 0.5), final_kernel_distances=np.array([2.0, 4.0]))
    result.history["learning_rate"] = np.array([1.0, 1.0, 0.1])
    # curve_steps 10, 20, 30: ten steps an epoch
    assert seed_verdicts.rate_times_steps(result) == pytest.approx(10 * 1.0 + 10 * 1.0 + 10 * 0.1)
    assert seed_verdicts.mean_l2_distance(result) == 3.0
    assert seed_verdicts.mean_rotation(result) == pytest.approx(np.mean(result.curves.values[-1]))
    assert np.isnan(seed_verdicts.mean_l2_distance(made_result(RunConfig(TASK, "sgd"))))  # older files


def test_kendall_tau_and_its_bootstrap_interval():
    x = np.arange(12.0)
    y = x + np.array([0, 3, -2, 1, 0, -3, 2, 0, 1, -1, 0, 2])
    concordant = sum(np.sign(x[i] - x[j]) == np.sign(y[i] - y[j]) for i in range(12) for j in range(i))
    discordant = sum(np.sign(x[i] - x[j]) == -np.sign(y[i] - y[j]) for i in range(12) for j in range(i))
    ties = sum(y[i] == y[j] for i in range(12) for j in range(i))
    pairs = 66
    assert seed_verdicts.kendall_tau(x, y) == pytest.approx((concordant - discordant) / np.sqrt(pairs * (pairs - ties)))
    low, high = seed_verdicts.bootstrap_interval(seed_verdicts.kendall_tau, x, y)
    assert low < seed_verdicts.kendall_tau(x, y) < high <= 1
    assert (low, high) == seed_verdicts.bootstrap_interval(seed_verdicts.kendall_tau, x, y)  # a fixed resampling


def _write_seeds(results_dir, accuracies):
    """Three seeds of every `seeds` configuration: accuracies[label] or 0.3 each, fitted."""
    for config in study_configs("seeds", [TASK]):
        values = accuracies.get(config.label, (0.30, 0.31, 0.32))
        for seed, (run, accuracy) in enumerate(zip(replicates(config, [0, 1, 2]), values)):
            rotation = 0.2 + accuracy + 0.01 * seed
            write_made_result(results_dir, "cpu_fit", run, test_accuracy=accuracy, train_accuracy=1.0,
                              curves=made_curves(np.full((1, 3), rotation), [1.0], [10]),
                              final_kernel_distances=np.full(3, 10 * rotation))


def test_comparisons_say_whether_they_exceed_the_seed_spread(tmp_path):
    _write_seeds(str(tmp_path), {"SGD+Layca rho(0)=3^-3": (0.40, 0.38, 0.39),
                                 "SGD+Layca rho(0)=3^-4": (0.37, 0.36, 0.35),  # every run below: separated
                                 "LARS (3^-3)": (0.41, 0.36, 0.38)})  # overlapping
    text = seed_verdicts.comparison_lines(Results(str(tmp_path), "cpu_fit"), TASK, [0, 1, 2])
    lines = text.splitlines()
    assert lines[0] == ("- claim 1: SGD+Layca rho(0)=3^-3 against SGD+Layca rho(0)=3^-4: +3.00 points "
                        "(exceeds the seed spread; 3 and 3 runs).")
    assert lines[-1] == ("- claim 6: LARS (3^-3) against SGD+Layca rho(0)=3^-3: -0.67 points (within the seed spread; 3 and 3 runs); "
                         "seed 0 alone said +1.00, the other way.")
    assert len(lines) == len(seed_verdicts.comparisons(TASK))
    table = seed_verdicts.seed_table(Results(str(tmp_path), "cpu_fit"), TASK, [0, 1, 2])
    assert "| SGD+Layca rho(0)=3^-3 | 39.00 +- 1.00 (40.00, 38.00, 39.00) |" in table
    assert "out of the papers' scope" not in table
    write_made_result(str(tmp_path), "cpu_fit", RunConfig(TASK, "lars").with_init_seed(1), test_accuracy=0.19,
                      train_accuracy=0.19, stop_reason="train accuracy 0.191 <= 0.2")
    table = seed_verdicts.seed_table(Results(str(tmp_path), "cpu_fit"), TASK, [0, 1, 2])
    assert table.endswith("out of the papers' scope (claim 2 below leaves them out): LARS (3^-3), seed 1 "
                          "(train accuracy 0.191 <= 0.2).")
    one_seed = seed_verdicts.comparison_lines(Results(str(tmp_path), "cpu_fit"), TASK, [0])
    assert "(no seed spread yet: 1 and 1 runs)" in one_seed.splitlines()[0]


def test_claim_2_over_seeded_runs_reports_intervals_and_the_rivals_tau(tmp_path):
    _write_seeds(str(tmp_path), {})
    results = Results(str(tmp_path), "cpu_fit")
    text = seed_verdicts.measure_lines(results, TASK, [0, 1, 2])
    runs = [results.get(run) for config in study_configs("seeds", [TASK]) if config.optimizer in ("layca", "sgd")
            for run in replicates(config, [0, 1, 2])]
    accuracy = [100 * run.test_accuracy for run in runs]
    rotation = [np.mean(run.curves.values[-1]) for run in runs]
    r = np.corrcoef(rotation, accuracy)[0, 1]
    assert f"over the {len(runs)} seeded SGD and SGD+Layca runs in scope" in text
    assert f"first / middle / last kernel layers {r:+.2f} [" in text
    tau = seed_verdicts.kendall_tau(rotation, accuracy)
    assert f"mean final rotation (cosine distance) {tau:+.2f} [" in text
    assert f"mean L2 distance from initialisation {tau:+.2f} [" in text  # 10 x the rotation: the same order


def test_the_control_sits_beside_the_true_labels(tmp_path):
    write_made_result(str(tmp_path), "cpu_fit", RunConfig(TASK, "layca"), test_accuracy=0.38, train_accuracy=1.0)
    write_made_result(str(tmp_path), "cpu_fit", RunConfig(TASK + "-random-labels", "layca"), test_accuracy=0.13,
                      train_accuracy=0.15)
    text = seed_verdicts.control_lines(Results(str(tmp_path), "cpu_fit"), TASK)
    assert "| SGD+Layca rho(0)=3^-3 | true | 100.00% | 38.00% |" in text
    assert "| SGD+Layca rho(0)=3^-3 | permuted | 15.00% | 13.00% |" in text
    assert "| SGD lr=3^-1 | permuted | not run | | |" in text
