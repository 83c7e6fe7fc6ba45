"""Dataset loaders on files written in the official formats; preprocessing; pipeline."""

import os
import pickle

import numpy as np
import pytest

from experiments import data, fake_data


def test_cifar10_official_python_format(tmp_path):
    fake_data.write_cifar10(tmp_path, n_train=50, n_test=20)
    x_train, y_train, x_test, y_test = data.load_raw("cifar10", str(tmp_path))
    assert x_train.shape == (50, 32, 32, 3) and x_test.shape == (20, 32, 32, 3) and x_train.dtype == np.uint8
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    # Channel-major rows: the first 1024 bytes are the red plane of the first image.
    np.testing.assert_array_equal(x_train[0, :, :, 0].ravel(), batch[b"data"][0, :1024])
    np.testing.assert_array_equal(y_train[: len(batch[b"labels"])], batch[b"labels"])


def test_cifar100_uses_fine_labels(tmp_path):
    fake_data.write_cifar100(tmp_path, n_train=40, n_test=10)
    _, y_train, _, y_test = data.load_raw("cifar100", str(tmp_path / "cifar-100-python"))
    with open(tmp_path / "cifar-100-python" / "train", "rb") as f:
        np.testing.assert_array_equal(y_train, pickle.load(f, encoding="bytes")[b"fine_labels"])
    assert len(y_test) == 10


def test_tiny_imagenet_directory(tmp_path):
    fake_data.write_tiny_imagenet(tmp_path, num_classes=3, per_class=4, n_val=5)
    x_train, y_train, x_test, y_test = data.load_raw("tiny_imagenet", str(tmp_path))
    assert x_train.shape == (12, 64, 64, 3) and sorted(set(y_train.tolist())) == [0, 1, 2]
    rows = (tmp_path / "tiny-imagenet-200" / "val" / "val_annotations.txt").read_text().split("\n")
    wnids = (tmp_path / "tiny-imagenet-200" / "wnids.txt").read_text().split()
    assert x_test.shape == (5, 64, 64, 3)
    assert [wnids[label] for label in y_test] == [row.split("\t")[1] for row in rows if row]


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_idx_files(tmp_path, compress):
    fake_data.write_mnist_idx(tmp_path, n_train=30, n_test=12, compress=compress)
    x_train, y_train, x_test, y_test = data.load_raw("mnist", str(tmp_path))
    assert x_train.shape == (30, 28, 28, 1) and x_test.shape == (12, 28, 28, 1) and y_test.shape == (12,)


def test_mnist_npz(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 255, (8, 28, 28), dtype=np.uint8), "y_train": np.arange(8) % 10,
              "x_test": rng.integers(0, 255, (4, 28, 28), dtype=np.uint8), "y_test": np.arange(4)}
    np.savez(tmp_path / "mnist.npz", **arrays)
    x_train, y_train, x_test, y_test = data.load_raw("mnist", str(tmp_path))
    np.testing.assert_array_equal(x_train[..., 0], arrays["x_train"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])


def test_missing_datasets_say_where_to_put_the_files(tmp_path):
    with pytest.raises(data.DatasetNotFoundError, match=r"cifar-10-batches-py/.*--data-dir"):
        data.load_raw("cifar10", str(tmp_path))
    with pytest.raises(data.DatasetNotFoundError, match=r"wnids.txt.*is missing"):
        os.makedirs(tmp_path / "tiny-imagenet-200")
        data.load_raw("tiny_imagenet", str(tmp_path))
    with pytest.raises(data.DatasetNotFoundError, match=r"mnist.npz, or the four official IDX files"):
        data.load_raw("mnist", str(tmp_path))
    with pytest.raises(data.DatasetNotFoundError, match="pass data_dir"):
        data.load_raw("mnist", None)


def test_malformed_files_are_clear_errors(tmp_path):
    fake_data.write_mnist_idx(tmp_path, n_train=10, n_test=5, compress=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match=r"truncated: header says \(10, 28, 28\)"):
        data.load_raw("mnist", str(tmp_path))
    path.write_bytes(b"\x01\x02\x03\x04garbage")
    with pytest.raises(ValueError, match="bad magic number"):
        data.read_idx(str(path))
    fake_data.write_cifar10(tmp_path, n_train=10, n_test=5)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match=r"test_batch.*not a readable cifar10 batch"):
        data.load_raw("cifar10", str(tmp_path))


def test_prepare_standardises_with_training_statistics_and_splits_ten_percent():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (100, 4, 4, 3)).astype(np.uint8)
    y = rng.integers(0, 5, 100)
    splits = data.prepare(x, y, x[:10], y[:10])
    assert len(splits.x_val) == 10 and len(splits.x_train) == 90 and splits.num_classes == 5
    # Statistics of all 100 training images, before the split (import_task.py, import_cifar).
    everything = np.concatenate([splits.x_train, splits.x_val])
    assert abs(float(everything.mean())) < 1e-5 and abs(float(everything.std()) - 1) < 1e-4
    np.testing.assert_array_equal(splits.y_train.sum(axis=1), 1.0)
    again = data.prepare(x, y, x[:10], y[:10])
    np.testing.assert_array_equal(again.x_val, splits.x_val)  # fixed seed


def test_permuted_labels_permute_the_training_part_once_and_keep_the_rest():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (200, 4, 4, 3)).astype(np.uint8)
    y = rng.integers(0, 5, 200)
    true = data.prepare(x, y, x[:10], y[:10], per_class=12)
    permuted = data.prepare(x, y, x[:10], y[:10], per_class=12, permute_labels=0)
    np.testing.assert_array_equal(permuted.x_train, true.x_train)  # the same images
    labels, true_labels = permuted.y_train.argmax(axis=1), true.y_train.argmax(axis=1)
    order = np.random.default_rng(0).permutation(len(true_labels))
    np.testing.assert_array_equal(labels, true_labels[order])  # one permutation, drawn from the seed
    np.testing.assert_array_equal(np.bincount(labels), np.bincount(true_labels))  # each class keeps its count
    assert (labels != true_labels).mean() > 0.5
    np.testing.assert_array_equal(permuted.y_val, true.y_val)
    np.testing.assert_array_equal(permuted.y_test, true.y_test)


def _epochs(x, y, first, count, augment):
    batches = data.EpochBatches(x, y, batch_size=4, seed=3, first_epoch=first, last_epoch=first + count, augment=augment)
    batches = [batches[i] for i in range(len(batches))]
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


@pytest.mark.parametrize("augment", [False, True])
def test_pipeline_depends_only_on_seed_and_epoch(augment):
    x = np.random.default_rng(0).normal(size=(10, 8, 8, 3)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)
    per_epoch = 8 if augment else 10  # augmented epochs: whole batches only
    images_from_0, labels_from_0 = _epochs(x, y, first=0, count=3, augment=augment)
    images_from_2, labels_from_2 = _epochs(x, y, first=2, count=1, augment=augment)
    np.testing.assert_array_equal(images_from_0[2 * per_epoch :], images_from_2)  # epoch 2, either way
    np.testing.assert_array_equal(labels_from_0[2 * per_epoch :], labels_from_2)
    assert len(set(labels_from_0[:per_epoch].argmax(1).tolist())) == per_epoch  # drawn without replacement
    assert not np.array_equal(labels_from_0[:per_epoch], labels_from_0[per_epoch : 2 * per_epoch])  # reshuffled


def test_augmentation_shifts_by_at_most_one_eighth_with_keras_reflect_fill_and_flips():
    x = np.arange(64, dtype=np.float32).reshape(1, 8, 8, 1).repeat(64, axis=0)
    images, _ = _epochs(x, np.eye(64, dtype=np.float32), first=0, count=1, augment=True)
    padded = np.pad(x[0, :, :, 0], 1, mode="symmetric")  # Keras' "reflect": abcd|dcba
    crops = {padded[i : i + 8, j : j + 8].tobytes() for i in range(3) for j in range(3)}
    crops |= {np.fliplr(padded[i : i + 8, j : j + 8]).tobytes() for i in range(3) for j in range(3)}
    seen = {image[:, :, 0].tobytes() for image in images}
    assert seen <= crops and len(seen) > 4


def test_augmentation_reads_numpy_symmetric_padding_for_any_shift_and_the_chosen_images():
    rng = np.random.default_rng(0)
    colour = rng.normal(size=(6, 8, 8, 2)).astype(np.float32)
    indices, shifts, flips = np.array([5, 0, 5, 2]), rng.integers(-8, 9, size=(4, 2)), rng.random(4) < 0.5
    for images in (colour, colour[..., 0]):  # with and without a channel axis
        out = data.augment_batch(images, shifts, flips, indices)
        for got, index, (dy, dx), flip in zip(out, indices, shifts, flips):
            padded = np.pad(images[index], [(8, 8), (8, 8)] + [(0, 0)] * (images.ndim - 3), mode="symmetric")
            want = padded[8 + dy : 16 + dy, 8 + dx : 16 + dx]
            np.testing.assert_array_equal(got, want[:, ::-1] if flip else want)
    np.testing.assert_array_equal(data.augment_batch(colour, shifts[:1].repeat(6, 0), np.zeros(6, bool)),
                                  data.augment_batch(colour, shifts[:1].repeat(6, 0), np.zeros(6, bool), np.arange(6)))


@pytest.mark.parametrize("augment", [False, True])
def test_fit_trains_on_the_batches_in_index_order_across_epochs(augment):
    import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8, 8, 3)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 200)]
    batches = data.EpochBatches(x, y, 16, seed=1, first_epoch=2, last_epoch=5, augment=augment)

    def model():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
        model.compile(keras.optimizers.SGD(0.1), "categorical_crossentropy")
        return model

    fitted = model()
    fitted.fit(batches, initial_epoch=2, epochs=5, steps_per_epoch=batches.steps, shuffle=False, verbose=0)
    by_hand = model()
    for index in range(len(batches)):
        by_hand.train_on_batch(*batches[index])
    for a, b in zip(fitted.get_weights(), by_hand.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
