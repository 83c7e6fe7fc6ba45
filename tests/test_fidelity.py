"""Settings pinned to the authors' code (../shared/original/paper-experiments, cited per test):
optimizers, networks, preprocessing, epochs, best-weights and best-rate selection."""

import keras
import numpy as np
import pytest

from experiments import data
from experiments.results import Results
from experiments.table1 import results_table
from experiments.models import build_model
from experiments.recipes import RunConfig
from experiments.runner import is_new_best, make_optimizer
from tests.run_results import write_made_result


@pytest.mark.parametrize("optimizer", ["sgd", "sgd_weight_decay"])
def test_c100_wrn_sgd_uses_nesterov_momentum(optimizer):
    # "Learning rate gridsearch and training.ipynb": SGD(lr, momentum=0.9, nesterov=True) for C100-WRN.
    sgd = make_optimizer(RunConfig("C100-WRN", optimizer), None, 0.1)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.momentum == 0.9 and sgd.nesterov
    plain = make_optimizer(RunConfig("C10-CNN1", "sgd"), None, 0.1)
    assert plain.momentum == 0.0 and not plain.nesterov


def test_wide_resnet_uses_keras_default_initializer_and_projects_the_raw_block_input():
    # models.py, WideResNet/block: Conv2D without kernel_initializer; add([x, Conv2D(1x1)(inp)]).
    model = build_model("wrn28_10", (32, 32, 3), 100, width=1 / 40)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(isinstance(c.kernel_initializer, keras.initializers.GlorotUniform) for c in convs)
    assert isinstance(model.get_layer("classifier").kernel_initializer, keras.initializers.GlorotUniform)
    for projection in [c for c in convs if c.name.endswith("_projection")]:
        source = projection.input._keras_history.operation
        assert isinstance(source, (keras.layers.Add, keras.layers.Conv2D)), (projection.name, source.name)


def test_resnet_classifier_has_no_weight_decay():
    # models.py, resnet_v1: the last Dense has no kernel_regularizer; the convolutions do.
    model = build_model("resnet32", (32, 32, 3), 100, width=1 / 8, weight_decay=1e-3, stage_units=1)
    assert model.get_layer("classifier").kernel_regularizer is None
    assert model.get_layer("conv0").kernel_regularizer is not None


def test_standardisation_uses_every_training_image_before_the_split():
    # import_task.py, import_cifar: m, st = x_train.mean(), x_train.std() on all 50,000 images.
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (100, 4, 4, 3)).astype(np.uint8)
    x_test = rng.integers(0, 256, (10, 4, 4, 3)).astype(np.uint8)
    y_train, y_test = np.arange(100) % 5, np.arange(10) % 5
    splits = data.prepare(x_train, y_train, x_test, y_test)
    mean, std = x_train.astype(np.float64).mean(), x_train.astype(np.float64).std()
    np.testing.assert_allclose(splits.x_test, (x_test - mean) / std, rtol=1e-5, atol=1e-5)
    assert len(splits.x_val) == 10 and len(splits.x_train) == 90


def test_augmented_epochs_have_whole_batches_only():
    # "Learning rate gridsearch and training.ipynb": fit_generator(steps_per_epoch=x_train.shape[0] // batch_size).
    assert data.steps_per_epoch(45000, 128, augment=True) == 351
    assert data.steps_per_epoch(45000, 128) == 352
    x = np.zeros((300, 8, 8, 3), np.float32)
    y = np.zeros((300, 2), np.float32)
    batches = data.EpochBatches(x, y, 128, seed=0, first_epoch=0, last_epoch=1, augment=True)
    assert [len(batches[i][0]) for i in range(len(batches))] == [128, 128]


def test_shifts_follow_keras_2_image_data_generator_with_nearest_resampling():
    # "Learning rate gridsearch and training.ipynb": ImageDataGenerator(width_shift_range=0.125,
    # height_shift_range=0.125, fill_mode='reflect', horizontal_flip=True), run with keras 2.1.2
    # (paper-experiments/README.md), whose apply_transform resamples with order=0: an image of
    # 32 pixels moves by round(U(-4, 4)) whole pixels, so +-4 half as often as -3..3.
    n = 200_000
    shifts, flips = data.draw_augmentation(np.random.default_rng(0), n, (32, 32))
    for axis in (0, 1):
        counts = np.bincount(shifts[:, axis] + 4, minlength=9) / n
        expected = np.array([1, 2, 2, 2, 2, 2, 2, 2, 1]) / 16
        np.testing.assert_allclose(counts, expected, atol=0.003)
    assert abs(flips.mean() - 0.5) < 0.003
    # The shift itself, against numpy's "symmetric" (scipy's "reflect": abcd|dcba) padding.
    images = np.random.default_rng(1).normal(size=(3, 32, 32, 3)).astype(np.float32)
    moves, mirror = np.array([[4, -4], [-2, 3], [0, 0]]), np.array([False, True, True])
    out = data.augment_batch(images, moves, mirror)
    for image, (dy, dx), flip, got in zip(images, moves, mirror, out):
        padded = np.pad(image, [(4, 4), (4, 4), (0, 0)], mode="symmetric")
        want = padded[4 + dy : 36 + dy, 4 + dx : 36 + dx]
        np.testing.assert_array_equal(got, want[:, ::-1] if flip else want)


def test_best_weights_need_a_strict_improvement():
    # Keras 2's ModelCheckpoint(save_best_only=True, monitor='val_acc'): np.greater against the best so far.
    assert is_new_best([0.5])
    assert is_new_best([0.5, 0.6]) and not is_new_best([0.6, 0.6]) and not is_new_best([0.6, 0.7, 0.65])


def test_alpha_without_layca_is_refused():
    # get_training_utils.py, get_optimizer: "multipliers have only been implemented for SGD".
    with pytest.raises(ValueError, match=r"alpha=0.2 sets layer-wise rates through Layca.*'rmsprop' has no Layca"):
        RunConfig("C10-CNN1", "rmsprop", alpha=0.2)


def test_sgd_best_rate_is_chosen_by_validation_never_by_test(tmp_path):
    # "Learning rate gridsearch and training.ipynb" keeps the rate whose max(val_acc) is highest.
    runs = [(RunConfig("C10-CNN1", "layca"), 0.75, 0.70),
            (RunConfig("C10-CNN1", "sgd", learning_rate=3.0**-1), 0.70, 0.60),
            (RunConfig("C10-CNN1", "sgd", learning_rate=3.0**-2), 0.65, 0.68)]
    for config, validation, test in runs:
        write_made_result(str(tmp_path), "full", config, test_accuracy=test,
                          val_accuracy=(0.5, validation, validation - 0.01))
    table = results_table(Results(str(tmp_path), "full"), tasks=["C10-CNN1"])
    row = next(line for line in table.splitlines() if line.startswith("| SGD, best lr"))
    assert row.split("|")[2].split()[0] == "-10.00"  # 3^-1 (best validation), not 3^-2 (best test: -2.00)


def test_every_optimizer_name_builds_what_its_record_says():
    from experiments.recipes import OPTIMIZERS, with_layca
    from layer_rotation_tools import Keras2Adagrad, Keras2RMSprop, Layca, NormalizedSGD, SGDAMom

    classes = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam, "keras2_rmsprop": Keras2RMSprop,
               "keras2_adagrad": Keras2Adagrad, "sgd_amom": SGDAMom, "normalized_sgd": NormalizedSGD}
    for name, spec in OPTIMIZERS.items():
        task = "C10-CNN2" if spec.weight_decay else "C10-CNN1"
        config = RunConfig(task, name, learning_rate=0.1, copy_from="C10-CNN1__adam__lr0.1" if spec.replays_rates else None)
        optimizer = make_optimizer(config, None, 0.1)
        assert isinstance(optimizer, Layca) == spec.layca, name
        inner = optimizer.inner_optimizer if spec.layca else optimizer
        assert isinstance(inner, classes[spec.inner]), name  # on PyTorch, a backend subclass
        assert not spec.layca or optimizer.lars == spec.lars
        assert (config.weight_decay is not None) == spec.weight_decay
    # The authors' RMSprop and Adagrad are Keras 2's, as their names in the records say.
    assert OPTIMIZERS["rmsprop"].inner == "keras2_rmsprop" and OPTIMIZERS["adagrad_layca"].inner == "keras2_adagrad"
    # L2 has no role beside Layca, which holds kernel norms: the counterpart drops it.
    assert with_layca("adam_weight_decay") == "adam_layca" and with_layca("sgd") == "layca"


def test_block_normalised_sgd_takes_the_authors_best_rates():
    # get_training_utils.py, get_optimized_training_schedule: SGD_normalized at 3^-2 on
    # C10-CNN1, C100-resnet and C100-WRN, 3^-1 elsewhere.
    rates = {task: RunConfig(task, "normalized_sgd").learning_rate for task in
             ("C10-CNN1", "C100-resnet", "tiny-CNN", "C10-CNN2", "C100-WRN")}
    assert rates == {"C10-CNN1": 3.0**-2, "C100-resnet": 3.0**-2, "tiny-CNN": 3.0**-1, "C10-CNN2": 3.0**-1,
                     "C100-WRN": 3.0**-2}


def test_warmup_study_runs_sgd_with_l2_as_the_authors():
    # "Learning rate warmup experiment.ipynb" draws 'SGD_weight_decay' for warmups 0, 5, 10, 15
    # and 'SGD_layca' without warmup; import_task.py builds ResNet-110 with L2 1e-3.
    from experiments.studies import study_configs

    configs = study_configs("warmup")
    assert [(c.optimizer, c.warmup_epochs, c.weight_decay) for c in configs] == [
        ("sgd_weight_decay", 0, 1e-3), ("sgd_weight_decay", 5, 1e-3), ("sgd_weight_decay", 10, 1e-3),
        ("sgd_weight_decay", 15, 1e-3), ("layca", 0, None),
    ]
    assert configs[0].learning_rate == 3.0**-1 and configs[-1].learning_rate == 3.0**-3


def test_mnist_features_follow_the_authors_rates_and_schedules():
    # "MNIST 1st layer feature visualization.ipynb": training_configs and lrs.
    from experiments.studies import study_configs

    layca = [c for c in study_configs("mnist_features") if c.optimizer == "layca"]
    assert [round(np.log(c.learning_rate) / np.log(3), 6) for c in layca] == [-2, -2.5, -3, -4]
    assert [(c.schedule.epochs, c.schedule.drops, c.schedule.factor) for c in layca] == [
        (100, (90,), 0.2), (100, (95,), 0.2), (100, (95,), 0.2), (100, (), 1.0),
    ]
