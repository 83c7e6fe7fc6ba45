"""The run loop: results files, resume after a killed process, skipping, stopping rules."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from experiments import fake_data
from experiments.models import build_model
from experiments.recipes import SCALES, TASKS, RunConfig, Stopping
from experiments.results import is_finished, read_result, run_paths
from experiments.runner import run_one, stop_reason
from experiments.schedule import StepDecay
from layer_rotation_tools import kernel_variables
from tests.run_results import copy_run
from tests.serialization import round_trip

pytestmark = pytest.mark.slow  # trains models or runs studies; `pytest -m "not slow"` skips it

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return fake_data.write_all(str(tmp_path_factory.mktemp("data")))


@pytest.mark.parametrize(
    "model, kernels, params",
    [
        ("c10_cnn1", 25, (4.2e6, 4.4e6)),
        ("resnet32", 34, (0.45e6, 0.48e6)),  # "~0.46M params"
        ("tiny_cnn", 11, (4.7e6, 4.9e6)),
        ("c10_cnn2", 15, (14.9e6, 15.1e6)),
        ("wrn28_10", 29, (36.4e6, 36.6e6)),  # WRN-28-10: 36.5M
        ("resnet110", 112, (1.7e6, 1.75e6)),  # ResNet-110: 1.7M
    ],
)
def test_published_structures(model, kernels, params):
    shape, classes = ((64, 64, 3), 200) if model == "tiny_cnn" else ((32, 32, 3), 100 if model in ("resnet32", "wrn28_10") else 10)
    network = build_model(model, shape, classes)
    assert len(kernel_variables(network)) == kernels
    assert params[0] <= network.count_params() <= params[1]
    assert not any(v.path.endswith(("bias", "gamma", "beta")) for v in network.trainable_variables)


@pytest.mark.parametrize(
    "model, kernels",
    [("c10_cnn1", 5), ("resnet32", 10), ("resnet110", 10), ("tiny_cnn", 6), ("c10_cnn2", 7), ("wrn28_10", 11),
     ("mlp11", 11)],  # ResNets: conv0, 3 blocks of 2, 2 projections, the classifier; the MLP keeps its layers
)
def test_one_unit_per_stage_keeps_every_kind_of_layer(model, kernels):
    shape = (64, 64, 3) if model == "tiny_cnn" else (28, 28, 1) if model == "mlp11" else (32, 32, 3)
    published = build_model(model, shape, 10, width=1 / 16)
    shallow = build_model(model, shape, 10, width=1 / 16, stage_units=1)
    assert len(kernel_variables(shallow)) == kernels
    assert {type(layer) for layer in shallow.layers} == {type(layer) for layer in published.layers}


def test_weight_decay_is_an_l2_kernel_regulariser():
    network = build_model("c10_cnn1", (32, 32, 3), 10, width=1 / 16, weight_decay=1e-3)
    network(np.zeros((1, 32, 32, 3), np.float32))
    expected = 1e-3 * sum(float(np.sum(np.square(k))) for k in kernel_variables(network))
    assert float(sum(network.losses)) == pytest.approx(expected, rel=1e-5)


def test_step_decay_with_warmup():
    schedule = StepDecay(0.3, [10, 20], 0.2, warmup_steps=5)
    values = [float(schedule(step)) for step in (0, 5, 9, 10, 19, 20)]
    np.testing.assert_allclose(values, [0.03, 0.3, 0.3, 0.06, 0.06, 0.012], rtol=1e-6)
    round_trip(schedule)


def _authors_stop_epoch(losses, accuracies, acc, nbepochs, finished, converged):
    """The epoch index at which the authors' StoppingCriteria (paper-experiments/
    get_training_utils.py) sets stop_training, restated: accuracy rule at Keras' 0-based
    epoch == nbepochs, loss floor, and `converged` epochs in a row equal to the previous."""
    previous, counter = -1, 0
    for epoch, (loss, accuracy) in enumerate(zip(losses, accuracies)):
        stop = (epoch == nbepochs and accuracy <= acc) or loss <= finished
        if loss == previous:
            counter += 1
            stop = stop or counter >= converged
        else:
            counter, previous = 0, loss
        if stop:
            return epoch
    return None


def _our_stop_epoch(losses, accuracies, rules):
    for epoch in range(len(losses)):
        if stop_reason({"loss": losses[: epoch + 1], "accuracy": accuracies[: epoch + 1]}, rules):
            return epoch
    return None


@pytest.mark.parametrize(
    "task, authors",
    [("C10-CNN1", (0.2, 7, 1e-4, 3)), ("C100-resnet", (0.1, 7, 1e-3, 3)), ("tiny-CNN", (0.2, 10, 1e-3, 3)),
     ("C10-resnet", (0.2, 60, 0.0, float("inf"))), ("C10-CNN2", None), ("C100-WRN", None)],
)
def test_stopping_rules_stop_where_the_authors_do(task, authors):
    rules = TASKS[task].stopping
    rng = np.random.default_rng(0)
    histories = [
        ([2.0] * 12, [0.15] * 12),  # stuck from the start: a plateau (where a rule has one)
        (list(np.linspace(2, 1, 70)), [0.15] * 70),  # learning slowly, accuracy low
        (list(np.linspace(2, 1, 70)), [0.05] * 70),
        ([1.0, 0.5, 0.5, 0.5, 0.5, 0.4], [0.5] * 6),  # loss unchanged three epochs in a row
        ([1.0, 0.5, 0.5, 0.5, 0.4], [0.5] * 5),  # only twice
        ([1.0, 5e-4, 1e-4, 5e-5], [0.9, 1.0, 1.0, 1.0]),  # below the floors
    ] + [(list(np.round(rng.uniform(0, 2, 15), 1)), list(rng.uniform(0, 0.3, 15))) for _ in range(20)]
    for losses, accuracies in histories:
        # None: the authors' get_stopping_criteria gives these tasks no callback at all.
        expected = _authors_stop_epoch(losses, accuracies, *authors) if authors else None
        assert _our_stop_epoch(losses, accuracies, rules) == expected


def test_stopping_reasons_say_which_rule():
    rules = Stopping(min_accuracy=0.2, at_epoch=1, loss_floor=1e-3, plateau_epochs=3)
    assert stop_reason({"loss": [2.0, 1.9], "accuracy": [0.1, 0.15]}, rules).startswith("train accuracy 0.150 <= 0.2")
    assert stop_reason({"loss": [2.0, 1.9], "accuracy": [0.1, 0.25]}, rules) is None
    assert stop_reason({"loss": [2.0, 5e-4], "accuracy": [0.5, 1.0]}, rules).startswith("train loss 5.00e-04")
    assert "unchanged for 3 epochs" in stop_reason({"loss": [1.0, 0.5, 0.5, 0.5, 0.5], "accuracy": [0.5] * 5}, rules)
    assert stop_reason({"loss": [float("nan")], "accuracy": [0.1]}, rules) == "train loss is not finite"


def test_smoke_run_writes_complete_results_and_restart_skips_it(tmp_path, data_dir):
    config = RunConfig("C10-CNN1", "layca", alpha=-0.4, record_rates=True)
    result = run_one(config, "smoke", data_dir, str(tmp_path))
    path = run_paths(str(tmp_path), "smoke", config)["result"]
    assert sorted(os.listdir(os.path.dirname(path))) == sorted([os.path.basename(path), "initial.weights.h5"])
    assert result.config == config.to_dict() and result.epochs_run == 3 and 0 <= result.test_accuracy <= 1
    # C10-CNN1 at smoke scale: 4 stages of one conv, the classifier; 2 steps per epoch
    assert result.curves.values.shape == (3, 5) and result.rates.values.shape == (6, 5)
    # Layca with the alpha profile: per-step rates are rho(t) times each layer's multiplier.
    from tests.references import alpha_profile

    np.testing.assert_allclose(result.rates.values[0], 3.0**-3 * alpha_profile(5, -0.4), rtol=2e-3)
    # Layca keeps each kernel's norm, so its L2 distance from the initial kernel follows
    # from the cosine distance d: ||w - w0||^2 = 2 ||w0||^2 d.
    np.testing.assert_allclose(result.final_kernel_distances**2,
                               2 * np.asarray(result.initial_kernel_norms)**2 * result.curves.values[-1], rtol=1e-3)
    printed = []
    again = run_one(config, "smoke", data_dir, str(tmp_path), printer=printed.append)
    assert printed == [] and again.test_accuracy == result.test_accuracy


def test_corrupt_results_are_moved_aside_and_recomputed(tmp_path, smoke_data, smoke_results):
    config = RunConfig("C10-CNN1", "sgd", learning_rate=3.0**-2)  # run by the smoke sgd study
    copy_run(smoke_results[0], str(tmp_path), "smoke", config)
    path = run_paths(str(tmp_path), "smoke", config)["result"]
    result = read_result(path)
    content = open(path, "rb").read()
    open(path, "wb").write(content[: len(content) // 3])
    assert not is_finished(str(tmp_path), "smoke", config)
    assert os.path.exists(path + ".corrupt")
    again = run_one(config, "smoke", smoke_data, str(tmp_path))
    np.testing.assert_allclose(again.curves.values, result.curves.values, rtol=1e-6)


def test_copy_run_replays_the_recorded_rates(tmp_path, data_dir):
    source = RunConfig("C10-CNN1", "adam_layca", record_rates=True, alpha=0.3)
    recorded = run_one(source, "smoke", data_dir, str(tmp_path))
    copy = RunConfig("C10-CNN1", "sgd_amom_layca_copy", copy_from=source.run_id, record_rates=True)
    replayed = run_one(copy, "smoke", data_dir, str(tmp_path))
    np.testing.assert_allclose(replayed.rates.values, recorded.rates.values, rtol=2e-3)
    np.testing.assert_array_equal(replayed.rates.steps, recorded.rates.steps)


_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {root!r})
    from experiments import runner
    from experiments.recipes import RunConfig
    original = runner.{target}
    calls = []
    def killing(*args, **kwargs):
        calls.append(1)
        if len(calls) == {kill_at}:
            {before_kill}
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)
    runner.{target} = killing
    runner.run_one(RunConfig("C10-CNN1", "layca", record_rates=True), "smoke", {data!r}, {results!r})
    """
)


@pytest.fixture(scope="module")
def straight_layca(tmp_path_factory, data_dir):
    """The killer's run, uninterrupted: (config, result)."""
    config = RunConfig("C10-CNN1", "layca", record_rates=True)
    return config, run_one(config, "smoke", data_dir, str(tmp_path_factory.mktemp("straight")))


@pytest.mark.xdist_group("straight_layca")  # one worker runs the straight run for both
@pytest.mark.parametrize(
    "target, kill_at, before_kill",
    [
        ("_Checkpoint.on_epoch_end", 3, "pass"),  # killed after epoch 2's checkpoint: resume from it
        ("write_progress", 2, "original(*args, **kwargs)"),  # killed mid-checkpoint (after the progress file, before old model files go)
    ],
)
def test_a_killed_run_leaves_no_corrupt_file_and_resumes_to_identical_results(tmp_path, data_dir, straight_layca, target,
                                                                              kill_at, before_kill):
    config, straight = straight_layca
    script = _KILLER.format(root=ROOT, target=target, kill_at=kill_at, before_kill=before_kill,
                            data=data_dir, results=str(tmp_path / "killed"))
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert process.returncode == -9, process.stderr[-2000:]
    assert not is_finished(str(tmp_path / "killed"), "smoke", config)
    folder = os.path.dirname(run_paths(str(tmp_path / "killed"), "smoke", config)["result"])
    assert not [f for f in os.listdir(folder) if f.endswith(".corrupt")]
    printed = []
    resumed = run_one(config, "smoke", data_dir, str(tmp_path / "killed"), printer=printed.append)
    assert any("resuming after epoch" in line for line in printed)
    for key in ("curves", "rates"):
        records, expected = getattr(resumed, key), getattr(straight, key)
        np.testing.assert_allclose(records.values, expected.values, rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(records.steps, expected.steps)
        np.testing.assert_array_equal(records.epochs, expected.epochs)
        assert records.variable_paths == expected.variable_paths
    for key in ("loss", "val_accuracy"):
        np.testing.assert_allclose(resumed.history[key], straight.history[key], rtol=1e-5, atol=1e-7)
    assert sorted(f for f in os.listdir(folder) if "partial" in f or "epoch" in f) == []


def test_keep_best_restores_the_best_validation_weights(tmp_path, data_dir):
    config = RunConfig("C100-resnet", "sgd", learning_rate=0.3)
    result = run_one(config, "smoke", data_dir, str(tmp_path))
    assert result.epochs_run == 3 and not os.path.exists(run_paths(str(tmp_path), "smoke", config)["best"])
    assert len(result.history["val_accuracy"]) == 3


def test_smoke_scale_only_shrinks():
    smoke = SCALES["smoke"]
    assert smoke.width < 1 and smoke.limit and smoke.epochs == 3


def test_results_file_round_trip_of_config(smoke_results):
    config = RunConfig("tiny-CNN", "layca", learning_rate=3.0**-3)  # run by the smoke rho study
    result = read_result(run_paths(smoke_results[0], "smoke", config)["result"])
    assert RunConfig(**result.config) == config
    assert result.curves.values.shape[1] == 6  # tiny-CNN at smoke scale: 5 stages of one conv, the classifier


def test_first_epoch_per_batch_records_equal_a_batch_by_batch_replay(data_dir, tmp_path):
    # Extended Figure 10: SGD at 3^0 for one epoch, curves and training accuracy per batch.
    from experiments import data
    from experiments.runner import load_splits
    from experiments.studies import study_configs

    config = study_configs("sgd_first_epoch", ["C10-CNN1"], "smoke")[0]
    result = run_one(config, "smoke", data_dir, str(tmp_path))
    assert result.epochs_run == 1
    # The same model, weights and batches, one train_on_batch at a time, each batch's
    # accuracy measured alone (Keras 2's on_batch_end logs, which the authors recorded).
    splits = load_splits("cifar10", data_dir, "smoke")
    model = build_model(TASKS["C10-CNN1"].model, splits.x_train.shape[1:], 10, SCALES["smoke"].width,
                        stage_units=SCALES["smoke"].stage_units)
    model.load_weights(run_paths(str(tmp_path), "smoke", config)["initial"])
    model.compile(keras.optimizers.SGD(1.0), "categorical_crossentropy", metrics=["accuracy"])
    initial = [np.asarray(k, np.float64).ravel() for k in kernel_variables(model)]
    batches = data.EpochBatches(splits.x_train, splits.y_train, TASKS["C10-CNN1"].batch_size, 0, 0, 1)
    accuracies, distances = [], []
    for i in range(len(batches)):
        model.reset_metrics()
        accuracies.append(model.train_on_batch(*batches[i], return_dict=True)["accuracy"])
        kernels = [np.asarray(k, np.float64).ravel() for k in kernel_variables(model)]
        distances.append([1 - k @ k0 / np.linalg.norm(k) / np.linalg.norm(k0) for k, k0 in zip(kernels, initial)])
    assert len(batches) == 2  # 144 smoke training images: a batch of 128 and one of 16
    np.testing.assert_allclose(result.batch_accuracy, accuracies, atol=1e-5)
    np.testing.assert_array_equal(result.curves.steps, [1, 2])
    np.testing.assert_allclose(result.curves.values, distances, rtol=1e-4, atol=1e-6)


def test_init_scale_multiplies_every_initial_kernel(smoke_results):
    # ICLR Figure 7: the task's initial weights, every kernel rescaled by f (the smoke
    # init_scale study's SGD runs at f = 0.1 and 10).
    small, large = (read_result(run_paths(smoke_results[0], "smoke", RunConfig(
        "C10-CNN1", "sgd", learning_rate=3.0**-5, init_scale=f))["result"]) for f in (0.1, 10.0))
    assert len(small.initial_kernel_norms) == 5  # C10-CNN1 at smoke scale
    np.testing.assert_allclose(large.initial_kernel_norms, 100 * np.asarray(small.initial_kernel_norms), rtol=1e-5)
    with pytest.raises(ValueError, match=r"init_scale must be a finite number > 0; received 0"):
        RunConfig("C10-CNN1", "sgd", init_scale=0)


def test_a_finished_run_without_rates_runs_again_when_a_study_needs_them(tmp_path, smoke_data):
    """The adaptive method's run of one study records no rates; the study that replays
    them (adapt_copy) asks for the same run id with rates: it is run again, with them."""
    plain = RunConfig("C10-CNN1", "rmsprop")
    recording = RunConfig("C10-CNN1", "rmsprop", record_rates=True)
    assert recording.run_id == plain.run_id
    assert run_one(plain, "smoke", smoke_data, str(tmp_path), printer=lambda line: None).rates is None
    assert is_finished(str(tmp_path), "smoke", plain) and not is_finished(str(tmp_path), "smoke", recording)
    result = run_one(recording, "smoke", smoke_data, str(tmp_path), printer=lambda line: None)
    assert result.rates is not None and result.rates.values.shape[1] == len(result.kernel_layer_names)
    assert is_finished(str(tmp_path), "smoke", recording)
    copy = RunConfig("C10-CNN1", "layca_copy", copy_from=plain.run_id)
    assert run_one(copy, "smoke", smoke_data, str(tmp_path), printer=lambda line: None).test_accuracy >= 0
