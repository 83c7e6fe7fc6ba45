"""The real CIFAR-10 script runs end to end (at smoke scale, on a generated archive in the
class-folder layout) and reports every run and every claim."""

import os
import shutil

import numpy as np
import pytest

from experiments import fake_data
from experiments.claims import Row, rows
from experiments.claims import report as claims
from experiments.real_cifar10 import PAPER_FIGURES, main, report_configs
from experiments.recipes import RunConfig
from experiments.results import Results, read_result, run_paths
from tests.run_results import write_made_result


@pytest.mark.slow  # trains a model and reads the smoke studies
def test_real_cifar10_script_writes_table_claims_and_figure(tmp_path, smoke_results):
    fake_data.write_class_folders(
        tmp_path / "data", [f"c{i}" for i in range(10)], 20, 7, image_format="JPEG", archive_name="cifar10-jpeg.tar.gz"
    )
    # The study's other 14 runs are those of the smoke studies (finished, so skipped); the
    # script trains SGD+Layca at 3^-3 itself, on the JPEG archive.
    task = "C10-CNN1-subset"
    shutil.copytree(os.path.join(smoke_results[0], "smoke", task), tmp_path / "results" / "smoke" / task)
    os.remove(run_paths(str(tmp_path / "results"), "smoke", RunConfig(task, "layca"))["result"])
    args = ["--data-dir", str(tmp_path / "data"), "--results", str(tmp_path / "results"),
            "--out", str(tmp_path / "out"), "--scale", "smoke"]
    text = main(args)
    assert "real CIFAR-10 (JPEG re-encoded)" in text and "500 training images per class" in text
    runs = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| run ")]
    assert len(runs) == 15 and not any("not run" in line for line in runs)
    # The accuracy on the whole training set, with the last epoch's running mean, beside
    # the test and validation accuracy.
    sgd = read_result(run_paths(str(tmp_path / "results"), "smoke", RunConfig(task, "sgd", learning_rate=1.0))["result"])
    row = next(line for line in runs if line.startswith("| SGD lr=3^0 |")).split(" | ")
    assert row[1:4] == [f"{100 * sgd.test_accuracy:.2f}%", f"{100 * sgd.history['val_accuracy'][-1]:.2f}%",
                        f"{100 * sgd.train_accuracy:.2f}% ({100 * sgd.history['accuracy'][-1]:.2f}%)"]
    for name in ("SGD+Layca rho(0)=3^-3 |", "SGD+Layca rho(0)=3^-3 alpha=-0.6", "SGD lr=3^0 |",
                 "RMSprop (3^-6)", "RMSprop+Layca (3^-3)", "SGD+L2 (3^-1)", "LARS (3^-3)"):
        assert f"| {name}" in text, name
    # Smoke runs train 3 epochs on noise: none fits its training set, none is judged.
    assert "Over the 0 of 15 runs in the papers' scope" in text
    assert "No run fits its training set: these runs give no verdict on the papers' claims." in text
    assert "1. *Layca" not in text and "2. *Higher" not in text
    # No run in the papers' scope: none of their figures is drawn (it would illustrate no verdict).
    assert sorted(os.listdir(tmp_path / "out")) == ["real_cifar10_smoke.md", "real_cifar10_smoke_curves.png",
                                                 "real_cifar10_smoke_rotation.png"]
    assert (tmp_path / "out" / "real_cifar10_smoke.md").read_text().strip() == text
    assert main([*args, "--report-only"]) == text


def test_a_report_that_finds_no_results_leaves_the_committed_one_alone(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "real_cifar10_cpu.md").write_text("the committed table")
    args = ["--data-dir", str(tmp_path / "data"), "--results", str(tmp_path / "elsewhere"), "--out", str(out),
            "--scale", "cpu", "--report-only"]
    with pytest.raises(SystemExit, match=r"No results file.*scale 'cpu'.*elsewhere/cpu/C10-CNN1-subset.*--results notebooks/results"):
        main(args)
    assert sorted(os.listdir(out)) == ["real_cifar10_cpu.md"] and (out / "real_cifar10_cpu.md").read_text() == "the committed table"


def test_the_all_images_scale_keeps_every_training_image_and_the_recipe_at_the_same_fractions():
    from experiments.recipes import SCALES, TASKS, scaled_schedule, scaled_stopping

    scale, task = SCALES["cpu_all"], TASKS["C10-CNN1"]
    assert scale.limit is None and task.train_per_class is None and scale.width == 1 / 8
    assert scaled_schedule(task.schedule, scale).drops == (20, 22, 24)  # 80/90/97% of 25 epochs
    stopping = scaled_stopping(task.stopping, task.schedule, scale)
    assert (stopping.min_accuracy, stopping.at_epoch, stopping.loss_floor, stopping.plateau_epochs) == (0.2, 2, 1e-4, 3)


def test_claims_wait_for_enough_runs_before_a_verdict():
    def config(optimizer, exponent):
        return RunConfig("C10-CNN1", optimizer, learning_rate=3.0**exponent)

    two = [Row(config("layca", -3), 0.435, 0.44, 1.0, (0.18, 0.29, 0.19), 20),
           Row(config("sgd", -1), 0.403, 0.40, 0.995, (0.60, 0.11, 0.06), 20),
           Row(config("layca", -2))]
    text = claims(two)
    assert "1. *Layca at rho(0) = 3^-3 and alpha = 0 is best among the SGD+Layca runs*: not testable yet" in text
    assert "2. *Higher and more uniform rotation generalises better*: not testable yet: 2 SGD and SGD+Layca" in text
    assert "correlation of test accuracy" not in text and "SGD lr=3^-1) gets 40.30%" in text
    four = two[:2] + [Row(config("layca", -2), 0.31, 0.31, 0.99, (0.77, 0.96, 0.85), 20),
                      Row(config("sgd", 0), 0.38, 0.37, 1.0, (0.88, 0.24, 0.19), 20)]
    text = claims(four)
    assert "1. *Layca at rho(0) = 3^-3 and alpha = 0 is best among the SGD+Layca runs*: holds" in text
    assert "(4 runs): this" in text
    # Runs are told apart by their configuration: an alpha run at 3^-3 is a Layca run, the
    # adaptive method's runs with and without Layca are claim 4's.
    rival = Row(RunConfig("C10-CNN1", "layca", alpha=0.6), 0.45, 0.45, 1.0, (0.5, 0.5, 0.5), 20)
    adaptive = [Row(RunConfig("C10-CNN1", "rmsprop"), 0.39, 0.39, 0.97, (0.1, 0.1, 0.1), 20),
                Row(RunConfig("C10-CNN1", "rmsprop_layca"), 0.42, 0.42, 1.0, (0.3, 0.3, 0.3), 20)]
    text = claims(four + [rival] + adaptive)
    assert ("does not hold: 3^-3, alpha = 0 gets 43.50%; the best Layca run is SGD+Layca rho(0)=3^-3 alpha=+0.6 "
            "at 45.00%") in text
    assert "(5 runs): this" in text
    assert ("4. *The adaptive method with Layca comes close to SGD+Layca*: RMSprop+Layca (3^-3) gets 42.00%, "
            "-1.50 points from SGD+Layca at 3^-3; RMSprop (3^-6) alone gets 39.00%.") in text


def _sgd_runs(tests_and_rotations):
    """SGD runs that fit their training set in 20 epochs, one per (test accuracy, rotation) pair."""
    return [Row(RunConfig("C10-CNN1", "sgd", learning_rate=3.0**-i), test, test, 1.0, rotation, 20)
            for i, (test, rotation) in enumerate(tests_and_rotations)]


def _correlations(runs):
    """Pearson's r of test accuracy with the mean of the three layers' rotation, and with its spread."""
    accuracy = [row.test for row in runs]
    return (np.corrcoef([np.mean(row.rotation) for row in runs], accuracy)[0, 1],
            np.corrcoef([np.ptp(row.rotation) for row in runs], accuracy)[0, 1])


@pytest.mark.parametrize("tests_and_rotations, verdict", [
    # accuracy rises with uniform, high rotation
    ([(0.3, (0.1, 0.2, 0.6)), (0.4, (0.3, 0.4, 0.7)), (0.5, (0.6, 0.6, 0.8)), (0.6, (0.9, 0.9, 0.9))],
     "supports it"),
    # the claimed direction, but |r| of the mean below 0.3
    ([(0.59, (1.0, 0.1, 0.6)), (0.3, (0.1, 0.1, 1.0)), (0.5, (0.6, 0.0, 0.4)), (0.54, (0.5, 0.0, 0.4))],
     "points the claimed way, too weakly to support it (|r| < 0.3)"),
    # accuracy falls as rotation rises
    ([(0.6, (0.1, 0.1, 0.1)), (0.5, (0.3, 0.3, 0.3)), (0.4, (0.6, 0.5, 0.6)), (0.3, (0.9, 0.8, 0.9))],
     "does not support it"),
])
def test_claim_2_correlates_test_accuracy_with_the_height_and_spread_of_rotation(tests_and_rotations, verdict):
    runs = _sgd_runs(tests_and_rotations)
    height, spread = _correlations(runs)
    assert (f"the mean final rotation of the three layers is {height:+.2f}, and with its spread (max - min) "
            f"{spread:+.2f} (4 runs): this {verdict}.") in claims(runs)


def test_claim_2_says_when_its_verdict_rests_on_runs_a_stopping_rule_ended():
    finished = _sgd_runs([(0.60, (0.2, 0.2, 0.2)), (0.55, (0.3, 0.3, 0.4)), (0.50, (0.5, 0.4, 0.3)),
                          (0.45, (0.7, 0.5, 0.3)), (0.40, (0.9, 0.6, 0.3))])
    # Runs that fit their training set early: the authors' loss floor ends them after 3 epochs.
    stopped = [Row(RunConfig("C10-CNN1", "layca", alpha=alpha), 0.1, 0.1, 1.0, rotation, 3,
                   "train loss 9.90e-05 <= 0.0001")
               for alpha, rotation in [(-0.6, (0.6, 0.0, 0.0)), (-0.8, (0.3, 0.0, 0.0))]]
    text = claims(finished + stopped)
    every, alone = _correlations(finished + stopped), _correlations(finished)
    assert (f"is {every[0]:+.2f}, and with its spread (max - min) {every[1]:+.2f} (7 runs): this supports it. "
            "A stopping rule ended 2 of them (SGD+Layca rho(0)=3^-3 alpha=-0.6 after 3 epochs, SGD+Layca "
            "rho(0)=3^-3 alpha=-0.8 after 3 epochs), their rotation measured then; over the 5 runs that trained to "
            f"the end, {alone[0]:+.2f} and {alone[1]:+.2f}: this does not support it. Mixed: the verdict rests on "
            "the runs stopped early.") in text
    by_layer = [np.corrcoef([row.rotation[i] for row in finished], [row.test for row in finished])[0, 1]
                for i in range(3)]
    assert ("Layer by layer, over the 5 runs that trained to the end, test accuracy correlates with the final "
            f"rotation of the first / middle / last layer at {by_layer[0]:+.2f} / {by_layer[1]:+.2f} / "
            f"{by_layer[2]:+.2f}.") in text
    assert "stopped early" not in claims(finished)


def test_claims_are_judged_over_the_runs_that_fit_their_training_set():
    """The authors keep runs with train_acc > 0.9 (accuracy-versus-alpha notebook): runs
    below it, or whose training accuracy was never measured on the training set, are listed
    and left out of every verdict."""
    fitted = _sgd_runs([(0.3, (0.1, 0.2, 0.6)), (0.4, (0.3, 0.4, 0.7)), (0.5, (0.6, 0.6, 0.8)), (0.6, (0.9, 0.9, 0.9))])
    unfitted = Row(RunConfig("C10-CNN1", "layca", learning_rate=3.0**-7), 0.9, 0.9, 0.45, (0.01, 0.01, 0.01), 20)
    unmeasured = Row(RunConfig("C10-CNN1", "layca", learning_rate=3.0**-5), 0.9, 0.9, None, (0.02, 0.02, 0.02), 20,
                     running=0.99)
    text = claims(fitted + [unfitted, unmeasured])
    assert text.startswith(
        "Over the 4 of 6 runs in the papers' scope (more than 90% on their whole training set, the authors' filter). "
        "Out of it: SGD+Layca rho(0)=3^-7 (45.0% on its training set); SGD+Layca rho(0)=3^-5 (training accuracy not "
        "measured on the training set; last epoch's running mean 99.0%).")
    height, spread = _correlations(fitted)
    assert f"is {height:+.2f}, and with its spread (max - min) {spread:+.2f} (4 runs): this supports it." in text
    assert claims(fitted).startswith("2. *Higher")


def test_the_cpu_fit_scale_keeps_the_recipe_at_200_epochs_on_2000_images():
    from experiments.recipes import SCALES, TASKS, scaled_schedule, scaled_stopping

    scale, task = SCALES["cpu_fit"], TASKS["C10-CNN1-fit"]
    assert (task.train_per_class, task.batch_size, scale.width, scale.epochs) == (200, 128, 1 / 8, 200)
    assert scaled_schedule(task.schedule, scale).drops == (160, 180, 194)  # 80/90/97% of 200 epochs
    stopping = scaled_stopping(task.stopping, task.schedule, scale)
    assert (stopping.min_accuracy, stopping.at_epoch, stopping.loss_floor, stopping.plateau_epochs) == (0.2, 14, 1e-4, 3)


def test_a_task_that_keeps_its_best_weights_is_refused_at_a_scale_that_validates_less_often():
    from experiments.runner import Run

    with pytest.raises(ValueError, match=r"C100-resnet keeps its best-validation weights.*every 20 epochs.*validation_freq=1"):
        Run(RunConfig("C100-resnet", "layca"), scale="cpu_fit")


def test_weight_decay_and_lars_are_compared_with_layca_and_kept_apart_from_the_adaptive_method():
    def row(optimizer, test, rotation):
        return Row(RunConfig("C10-CNN1", optimizer), test, test, 1.0, rotation, 20)

    runs = [row("layca", 0.40, (0.5, 0.6, 0.7)), row("rmsprop_layca", 0.39, (0.5, 0.5, 0.5)),
            row("sgd_weight_decay", 0.395, (0.4, 0.5, 0.6)), row("lars", 0.37, (0.5, 0.6, 0.7))]
    text = claims(runs)
    assert "4. *The adaptive method with Layca comes close to SGD+Layca*: RMSprop+Layca (3^-3) gets 39.00%, -1.00" in text
    assert ("5. *SGD with weight decay rotates like SGD+Layca and generalises as well*: SGD+L2 (3^-1) gets 39.50%, "
            "-0.50 points from SGD+Layca at 3^-3 (as well, within 1 point: holds); its final rotation of the first / "
            "middle / last kernel layer is 0.400 / 0.500 / 0.600 against 0.500 / 0.600 / 0.700.") in text
    assert ("6. *LARS controls layer rotation like Layca and generalises as well*: LARS (3^-3) gets 37.00%, -3.00 "
            "points from SGD+Layca at 3^-3 (as well, within 1 point: does not hold)") in text


def _layca(plateau, stopped=None, **options):
    return Row(RunConfig("C10-CNN1", "layca", **options), 0.4, 0.4, 1.0, (0.5, 0.5, 0.5), 20, stopped, plateau=plateau)


def test_claim_7_orders_the_loss_plateaus_of_layca_as_extended_figure_11_s_columns():
    runs = [_layca(0.10, learning_rate=3.0**-4), _layca(0.20, learning_rate=3.0**-3.4), _layca(0.30),
            _layca(0.25, alpha=0.2), _layca(0.15, alpha=-0.4), _layca(0.05, alpha=0.6), _layca(0.2, alpha=-0.1),
            _layca(0.90, "train accuracy 0.1 <= 0.2 at epoch index 14", learning_rate=3.0**-3.2),  # stopped: left out
            _layca(0.95, alpha=0.8), _layca(0.01, learning_rate=3.0**-5)]  # outside the figure's grid: left out
    text = claims(runs)
    assert ("7. *The larger or the more uniform the rotation rates, the higher the loss plateau*: the SGD+Layca "
            "runs' plateau (mean training loss over the last tenth of the epochs before the first drop of the "
            "learning rate), against alpha <= 0 at rho(0) = 3^-3 (0: 0.300, -0.1: 0.200, -0.4: 0.150), rank "
            "correlation -1.00: holds; against alpha >= 0 at rho(0) = 3^-3 (0: 0.300, 0.2: 0.250, 0.6: 0.050), rank "
            "correlation -1.00: holds; against rho(0) at alpha = 0 (3^-4: 0.100, 3^-3.4: 0.200, 3^-3: 0.300), rank "
            "correlation +1.00: holds.") in text
    reversed_rates = [_layca(0.30, learning_rate=3.0**-4), _layca(0.20, learning_rate=3.0**-3.6), _layca(0.10)]
    text = claims(reversed_rates)
    assert "against rho(0) at alpha = 0 (3^-4: 0.300, 3^-3.6: 0.200, 3^-3: 0.100), rank correlation -1.00: does not hold" in text
    assert "against alpha >= 0 at rho(0) = 3^-3: not testable yet (1 run(s), at least 3 needed)" in text
    # Equal values give no order (and equal rotations no correlation): no verdict either way.
    level = [_layca(0.2, learning_rate=rate) for rate in (3.0**-4, 3.0**-3.4, 3.0**-3)]
    text = claims(level)
    assert "rank correlation undefined: says nothing (every run has the same value)" in text
    assert "(3 runs)" not in text  # claim 2 waits for 4 runs
    assert "this says nothing (a correlation with a value equal in every run is undefined)" in claims(level + [_layca(0.1, learning_rate=3.0**-6)])


def test_claim_8_finds_the_tipping_point_of_sgd_s_learning_rate():
    runs = _sgd_runs([(0.50, (0.9, 0.9, 0.9)), (0.60, (0.6, 0.6, 0.6)), (0.55, (0.4, 0.4, 0.4)), (0.40, (0.1, 0.1, 0.1))])
    text = claims(runs)  # rates 3^0, 3^-1, 3^-2, 3^-3: the best is 3^-1
    r = np.corrcoef(np.argsort(np.argsort([0.1, 0.4, 0.6, 0.9])), np.argsort(np.argsort([0.40, 0.55, 0.60, 0.50])))[0, 1]
    assert ("8. *SGD: test accuracy rises with the rotation its learning rate brings, until a tipping point*: over "
            "SGD's rates 3^-3: 40.00% at mean final rotation 0.100, 3^-2: 55.00% at mean final rotation 0.400, "
            "3^-1: 60.00% at mean final rotation 0.600, 3^0: 50.00% at mean final rotation 0.900, the rank "
            f"correlation of test accuracy with the mean final rotation is {r:+.2f} (rises with rotation: holds); the "
            "tipping point is reached: beyond 3^-1, 3^0 gets 50.00%.") in text
    first = Row(RunConfig("C10-CNN1", "sgd", learning_rate=1.0, only_epochs=1, per_batch=True), 0.2, None, 0.2,
                (0.8, 0.3, 0.1), 1, running=0.15)
    text = claims(runs[1:] + [first])
    assert "the tipping point is not reached within the grid (its largest rate, 3^-1, is the best)" in text
    assert ("In its first epoch, SGD lr=3^0 rotates the first / middle / last kernel layer to 0.800 / 0.300 / 0.100 "
            "and ends it at 15.00% training accuracy (running mean).") in text
    assert "SGD lr=3^0, first 1 epoch only (trained for its first 1 epoch only, for extended Figure 10)" in text
    assert "In its first epoch, SGD lr=3^0 rotates" in claims(runs + [first])  # beside claim 2's 4 runs


def test_the_report_adds_the_grids_finished_runs_and_measures_their_plateau(tmp_path):
    from experiments.results import Results
    from experiments.results import HISTORY_KEYS
    from experiments.studies import study_configs
    from tests.run_results import write_made_result

    history = {key: np.linspace(1.0, 0.5, 25) for key in HISTORY_KEYS}
    history["learning_rate"] = np.array([0.1] * 20 + [0.02] * 5)  # the first drop after epoch 20
    history["loss"] = np.arange(25.0)[::-1]
    low = RunConfig("C10-CNN1-fit", "layca", learning_rate=3.0**-7)  # of the rho grid, not of the study
    write_made_result(str(tmp_path), "cpu_fit", low, history=history)
    results = Results(str(tmp_path), "cpu_fit")
    configs = report_configs(results, "C10-CNN1-fit", "cpu_fit")
    assert [c.run_id for c in configs] == [c.run_id for c in study_configs("real_cifar10", ["C10-CNN1-fit"], "cpu_fit")] + [low.run_id]
    (row,) = [row for row in rows(results, configs) if row.test is not None]
    assert row.plateau == pytest.approx(np.mean(history["loss"][18:20]))  # the last tenth of the 20 epochs before it
    # In the papers' scope (fits its training set), it is reported and their figures drawn for its task.
    write_made_result(str(tmp_path), "cpu_fit", RunConfig("C10-CNN1-fit", "lars"), history=history, train_accuracy=1.0)
    text = main(["--data-dir", str(tmp_path / "no data: not read"), "--results", str(tmp_path), "--out",
                 str(tmp_path / "out"), "--scale", "cpu_fit", "--report-only"])
    assert "Over the 1 of 2 runs in the papers' scope" in text and "| SGD+Layca rho(0)=3^-7 | 50.00% |" in text
    assert sorted(os.listdir(tmp_path / "out")) == sorted(
        ["real_cifar10_cpu_fit.md", "real_cifar10_cpu_fit_curves.png", "real_cifar10_cpu_fit_rotation.png"]
        + [f"real_cifar10_cpu_fit_{name}.png" for name in PAPER_FIGURES])


def test_claim_9_compares_how_fast_the_copy_of_the_adaptive_rates_trains():
    source = RunConfig("C10-CNN1", "rmsprop", record_rates=True)
    copy = RunConfig("C10-CNN1", "layca_copy", copy_from=source.run_id)

    def row(config, fit_epoch, test):
        return Row(config, test, test, 1.0, (0.3, 0.3, 0.3), 200, fit_epoch=fit_epoch)

    runs = [row(source, 40, 0.27), row(copy, 45, 0.30), row(RunConfig("C10-CNN1", "sgd_weight_decay"), 90, 0.31)]
    assert ("9. *SGD+Layca replaying the adaptive method's rotation rates trains as fast as the adaptive method, "
            "faster than SGD+L2*: the first epoch above 90% running training accuracy is 40 for RMSprop (3^-6) "
            "(27.00% test), 45 for SGD+Layca (copied rates) (3^0) (30.00% test), 90 for SGD+L2 (3^-1) (31.00% test): "
            "the copy trains like the adaptive method (nearer to it than to SGD+L2): holds; the adaptive method trains "
            "faster than SGD+L2: holds.") in claims(runs)
    runs[1] = row(copy, 80, 0.30)
    assert "(nearer to it than to SGD+L2): does not hold; the adaptive method trains faster than SGD+L2: holds." in claims(runs)
    runs[2] = row(RunConfig("C10-CNN1", "sgd_weight_decay"), 39, 0.31)
    runs[1] = row(copy, 40, 0.30)
    assert "(nearer to it than to SGD+L2): holds; the adaptive method trains faster than SGD+L2: does not hold." in claims(runs)
    assert "faster than SGD+L2*: not testable yet (the three runs must fit their training set)." in claims(runs[1:])


def test_claim_10_compares_adam_s_second_moments_across_and_inside_layers():
    # Three layers at epochs 1 and 10: 10th / 50th / 90th percentiles. Medians 1e-8, 1e-6,
    # 1e-4 span 4 decades; inside, the 10th-90th ranges are 1, 2 and 1 decades (median 1).
    spread_out = np.array([[[1e-8 / 3, 1e-8, 3e-8], [1e-7, 1e-6, 1e-5], [1e-4 / 3, 1e-4, 3e-4]]] * 2)
    adam = Row(RunConfig("C10-CNN1", "adam"), 0.3, 0.3, 1.0, (0.1, 0.1, 0.1), 200,
               moments=(np.array([1, 10]), spread_out))
    inside = np.median(np.log10(spread_out[0, :, 2] / spread_out[0, :, 0]))
    assert np.isclose(inside, np.log10(9))
    assert (f"10. *Adam's second-moment estimates vary much more across layers than inside layers*: Adam (3^-5), in "
            "decades (the range of the layers' medians; a layer's 10th-90th percentile range, median over layers): "
            f"epoch 1: 4.0 across, {inside:.1f} inside; epoch 10: 4.0 across, {inside:.1f} inside: holds.") in claims([adam])
    # Every layer with the same median, each spread over two decades: the claim fails.
    alike = np.array([[[1e-7, 1e-6, 1e-5]] * 3] * 2)
    assert "epoch 10: 0.0 across, 2.0 inside: does not hold." in claims([adam._replace(moments=(np.array([1, 10]), alike))])


def test_a_report_on_another_task_at_a_scale_is_named_by_it():
    from experiments.real_cifar10 import report_prefix

    assert report_prefix("out", "cpu_fit", "C10-CNN1-fit") == os.path.join("out", "real_cifar10_cpu_fit")
    assert report_prefix("out", "cpu_fit", "C10-CNN2-fit") == os.path.join("out", "real_cifar10_cpu_fit_C10-CNN2-fit")
    assert report_prefix("out", "full", "C10-CNN1") == os.path.join("out", "real_cifar10_full")


def test_finished_runs_of_laycas_full_grids_join_the_report_of_a_task_whose_studies_run_them_in_part(tmp_path):
    finished = [RunConfig("C10-CNN2-fit", "layca", alpha=0.2),
                RunConfig("C10-CNN2-fit", "layca", learning_rate=3.0**-6)]
    for config in finished:
        write_made_result(str(tmp_path), "cpu_fit", config)
    ids = [config.run_id for config in report_configs(Results(str(tmp_path), "cpu_fit"), "C10-CNN2-fit", "cpu_fit")]
    assert all(config.run_id in ids for config in finished)
    assert RunConfig("C10-CNN2-fit", "layca", alpha=0.4).run_id not in ids  # not run: not in the report
    assert RunConfig("C10-CNN2-fit", "layca", alpha=0.6).run_id in ids  # the study's own, run or not
