"""Datasets of the papers' tasks, read from their standard on-disk formats.

- CIFAR-10 / CIFAR-100: the class-folder layout (`train/<class>/*.jpg`, `test/<class>/*.jpg`,
  as a folder or a .tar.gz; `image_folders`), or the official python format
  (`cifar-10-batches-py/`, `cifar-100-python/`) in a local directory, or Keras' cache
  (~/.keras/datasets), or downloaded by `keras.datasets` where a network is available.
- Tiny ImageNet: the official `tiny-imagenet-200/` directory (train/<wnid>/images/*.JPEG,
  val/images + val/val_annotations.txt; the validation set serves as test set, as the
  official test labels are not public).
- MNIST: the official IDX files (gzipped or not) or Keras' `mnist.npz`. `mnist_t10k`
  uses only the official test files (t10k-*), split with a fixed seed into 8,000
  training and 2,000 held-out digits, for machines that have only those.

Preprocessing (the authors' import_task.py; docs/faithfulness.md): float32, minus the training set's global mean, divided by
its global std; one-hot labels; a 10% random validation split of the training set.
Batches come from `EpochBatches`, a numpy `keras.utils.PyDataset` (any backend, no
TensorFlow) whose order and augmentation depend only on (seed, epoch), so a run resumed
at epoch k sees the batches an uninterrupted run sees.
"""

import glob
import gzip
import os
import pickle
from dataclasses import dataclass

import keras
import numpy as np

from experiments import image_folders

DATASETS = ("cifar10", "cifar100", "tiny_imagenet", "mnist", "mnist_t10k")
#: Digits of the official MNIST test set held out for testing by `mnist_t10k`.
T10K_HELD_OUT = 2000
_CIFAR_DIRS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
_CIFAR_CLASSES = {"cifar10": 10, "cifar100": 100}


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are not where the loader looked; the message says where to put them."""


@dataclass
class Splits:
    """Standardised images and one-hot labels of a task."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def num_classes(self):
        return self.y_train.shape[1]


def load_raw(name, data_dir=None):
    """`(x_train, y_train, x_test, y_test)` as uint8 NHWC images and int labels."""
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; known: {DATASETS}.")
    if name in _CIFAR_DIRS:
        return load_cifar(name, data_dir)
    if name == "tiny_imagenet":
        return load_tiny_imagenet(_require_dir(data_dir, "tiny-imagenet-200", name))
    if name == "mnist_t10k":
        return load_mnist_t10k_split(_require_dir(data_dir, None, name))
    return load_mnist(_require_dir(data_dir, None, name))


def load_cifar(name, data_dir=None, cache_dir=None):
    """CIFAR-10/100 from `data_dir` in the class-folder layout (a folder or a .tar.gz; see
    `image_folders`), or from `data_dir/<official folder>` (or `data_dir` itself), else
    Keras' cache, else `keras.datasets` (network)."""
    source = image_folders.find_source(data_dir)
    if source is not None:
        x_train, y_train, x_test, y_test, _ = image_folders.load(
            source, image_shape=(32, 32, 3), num_classes=_CIFAR_CLASSES[name], cache_dir=cache_dir
        )
        return x_train, y_train, x_test, y_test
    folder = _CIFAR_DIRS[name]
    candidates = []
    if data_dir is not None:
        candidates += [os.path.join(data_dir, folder), data_dir]
    candidates.append(os.path.join(os.path.expanduser("~"), ".keras", "datasets", folder))
    for path in candidates:
        if os.path.isdir(path) and _cifar_files(name, path):
            return _read_cifar(name, path)
    if data_dir is None:
        try:
            import keras

            (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
            return x_train, y_train.ravel(), x_test, y_test.ravel()
        except Exception as error:
            reason = f"keras.datasets could not download it ({type(error).__name__})"
    else:
        reason = f"no {folder}/ in {data_dir!r}"
    raise DatasetNotFoundError(
        f"{name} not found: {reason}. Put the official python version ({folder}/ as extracted "
        f"from the dataset's tar.gz) in a directory and pass it as data_dir (--data-dir)."
    )


def _cifar_files(name, path):
    files = ["data_batch_1", "test_batch"] if name == "cifar10" else ["train", "test"]
    return all(os.path.isfile(os.path.join(path, f)) for f in files)


def _read_cifar(name, path):
    def read(file):
        try:
            with open(os.path.join(path, file), "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            labels = np.asarray(batch[b"labels" if name == "cifar10" else b"fine_labels"], dtype=np.int64)
        except (OSError, pickle.UnpicklingError, EOFError, KeyError, ValueError) as error:
            raise ValueError(
                f"{os.path.join(path, file)!r} is not a readable {name} batch in the official python format "
                f"({type(error).__name__}: {error})."
            ) from None
        if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
            raise ValueError(f"{os.path.join(path, file)!r}: expected N x 3072 images and N labels, got {data.shape}.")
        return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels

    train_files = [f"data_batch_{i}" for i in range(1, 6)] if name == "cifar10" else ["train"]
    parts = [read(f) for f in train_files if os.path.isfile(os.path.join(path, f))]
    x_test, y_test = read("test_batch" if name == "cifar10" else "test")
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), x_test, y_test


def load_tiny_imagenet(path):
    """Tiny ImageNet from the official directory; returns (train, val-as-test) splits."""
    from PIL import Image

    wnids_file = os.path.join(path, "wnids.txt")
    annotations = os.path.join(path, "val", "val_annotations.txt")
    for required in (wnids_file, annotations):
        if not os.path.isfile(required):
            raise DatasetNotFoundError(
                f"{required!r} is missing: {path!r} is not the official tiny-imagenet-200/ directory."
            )
    with open(wnids_file) as f:
        wnids = [line.strip() for line in f if line.strip()]
    index = {wnid: i for i, wnid in enumerate(wnids)}

    def read(files):
        return np.stack([np.asarray(Image.open(file).convert("RGB"), dtype=np.uint8) for file in files])

    train_files, train_labels = [], []
    for wnid in wnids:
        files = sorted(glob.glob(os.path.join(path, "train", wnid, "images", "*.JPEG")))
        train_files += files
        train_labels += [index[wnid]] * len(files)
    with open(annotations) as f:
        rows = [line.split("\t") for line in f if line.strip()]
    unknown = sorted({row[1] for row in rows} - set(index))
    if unknown or not train_files:
        raise ValueError(f"{path!r} is malformed: no training images, or unknown wnids {unknown[:5]} in val annotations.")
    val_files = [os.path.join(path, "val", "images", row[0]) for row in rows]
    return (
        read(train_files),
        np.asarray(train_labels, np.int64),
        read(val_files),
        np.asarray([index[row[1]] for row in rows], np.int64),
    )


def load_mnist(path):
    """MNIST from `path/mnist.npz` or the official IDX files (`train-images-idx3-ubyte[.gz]`, ...)."""
    npz = os.path.join(path, "mnist.npz")
    if os.path.isfile(npz):
        with np.load(npz) as f:
            x_train, y_train, x_test, y_test = (f[k] for k in ("x_train", "y_train", "x_test", "y_test"))
        return x_train[..., None], y_train.astype(np.int64), x_test[..., None], y_test.astype(np.int64)
    parts = []
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        file = _find(path, stem)
        if file is None:
            raise DatasetNotFoundError(
                f"MNIST not found in {path!r}: put mnist.npz, or the four official IDX files "
                f"({stem}[.gz] and its siblings), there."
            )
        parts.append(read_idx(file))
    x_train, y_train, x_test, y_test = parts
    return x_train[..., None], y_train.astype(np.int64), x_test[..., None], y_test.astype(np.int64)


def load_mnist_t10k_split(path, held_out=T10K_HELD_OUT, seed=0):
    """The official MNIST test files only, split into a training part and `held_out`
    test digits (a fixed permutation drawn from `seed`)."""
    files = [_find(path, stem) for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")]
    if None in files:
        raise DatasetNotFoundError(f"mnist_t10k needs t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] in {path!r}.")
    images, labels = read_idx(files[0]), read_idx(files[1]).astype(np.int64)
    if len(images) != len(labels) or len(images) <= held_out:
        raise ValueError(f"{path!r}: {len(images)} images and {len(labels)} labels; need equal counts above {held_out}.")
    order = np.random.default_rng(seed).permutation(len(images))
    train, test = order[held_out:], order[:held_out]
    return images[train][..., None], labels[train], images[test][..., None], labels[test]


def read_idx(path):
    """An array from an IDX file (gzipped or not), checking its header against its size."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path!r} is not a readable IDX file: {error}.") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path!r} is not an IDX file of unsigned bytes (bad magic number).")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path!r} is truncated: header says {shape}, file holds {body.size} values.")
    return body.reshape(shape)


def _find(path, stem):
    for name in (stem, stem + ".gz"):
        if os.path.isfile(os.path.join(path, name)):
            return os.path.join(path, name)
    return None


def _require_dir(data_dir, folder, name):
    if data_dir is None:
        raise DatasetNotFoundError(f"{name} cannot be downloaded here: pass data_dir (--data-dir) holding its files.")
    for path in ([os.path.join(data_dir, folder)] if folder else []) + [data_dir]:
        if os.path.isdir(path):
            return path
    raise DatasetNotFoundError(f"{name}: directory {data_dir!r} does not exist.")


def prepare(x_train, y_train, x_test, y_test, num_classes=None, validation_fraction=0.1, seed=0, limit=None,
            per_class=None, permute_labels=None):
    """Standardise by the global mean/std of every training image (before the split, as
    the authors), one-hot the labels, and split off a random `validation_fraction` of the
    training set (fixed `seed`).

    `limit=(n_train, n_test)` keeps the first examples of each (after shuffling the
    training set) for smoke-scale runs. `per_class=n` then keeps at most n examples of
    each class in the training part (the MNIST toy studies' reduced training sets).
    `permute_labels=k` permutes the labels of the training part once (a permutation
    drawn from seed k, so each class keeps its count): the random-label control of
    Zhang et al. (2017); the validation and test labels stay true.
    """
    num_classes = num_classes or int(max(y_train.max(), y_test.max())) + 1
    order = np.random.default_rng(seed).permutation(len(x_train))
    if limit is not None:
        order = order[: limit[0]]
        x_test, y_test = x_test[: limit[1]], y_test[: limit[1]]
    x_train, y_train = x_train[order].astype(np.float32), y_train[order]
    # The statistics of every training image, taken before the validation split
    # (import_cifar of the authors' paper-experiments/import_task.py).
    mean, std = x_train.mean(), x_train.std()
    n_val = int(round(validation_fraction * len(x_train)))
    keep = np.arange(n_val, len(x_train))
    if per_class is not None:
        keep = np.concatenate([keep[y_train[keep] == c][:per_class] for c in range(num_classes)])
        keep.sort()

    def standardise(x):
        return ((np.asarray(x, np.float32) - mean) / std).astype(np.float32)

    def one_hot(y):
        return np.eye(num_classes, dtype=np.float32)[np.asarray(y, np.int64)]

    labels = y_train[keep]
    if permute_labels is not None:
        labels = labels[np.random.default_rng(permute_labels).permutation(len(labels))]
    return Splits(
        standardise(x_train[keep]), one_hot(labels),
        standardise(x_train[:n_val]), one_hot(y_train[:n_val]),
        standardise(x_test), one_hot(y_test),
    )


class EpochBatches(keras.utils.PyDataset):
    """The training batches of epochs `first_epoch` to `last_epoch - 1`, in numpy, for
    `model.fit(batches, steps_per_epoch=steps_per_epoch(len(x), batch_size, augment),
    initial_epoch=first_epoch, epochs=last_epoch, shuffle=False)` on any Keras backend (no
    TensorFlow). `shuffle=False` matters: Keras' default shuffles a `PyDataset`'s indices
    over its whole length, which would mix the epochs' batches.

    Epoch e is a permutation drawn from (seed, e), and its augmentation (`augment_batch`)
    from (seed, e) too, so a run resumed at epoch k sees the batches an uninterrupted run
    sees. With augmentation each epoch drops its last partial batch (`steps_per_epoch`).
    Batches are made in the training process, about 1.5 ms for 128 augmented CIFAR images
    on one CPU core (`benchmarks/input_pipeline.py`). Keras' `PyDataset(workers=N)` does
    not fit this sequence of several epochs: its workers restart at index 0 every epoch,
    which would repeat the first epoch's batches.
    """

    def __init__(self, x, y, batch_size, seed, first_epoch, last_epoch, augment=False):
        super().__init__()
        self.x, self.y, self.batch_size, self.seed, self.augment = x, y, int(batch_size), int(seed), bool(augment)
        self.first_epoch, self.last_epoch = int(first_epoch), int(last_epoch)
        self.steps = steps_per_epoch(len(x), self.batch_size, self.augment)
        self._epoch = None

    def __len__(self):
        return self.steps * max(self.last_epoch - self.first_epoch, 0)

    def __getitem__(self, index):
        epoch, step = divmod(int(index), self.steps)
        order, shifts, flips = self._draws(self.first_epoch + epoch)
        rows = slice(step * self.batch_size, (step + 1) * self.batch_size)
        chosen = order[rows]
        if self.augment:
            return augment_batch(self.x, shifts[rows], flips[rows], chosen), self.y[chosen]
        return self.x[chosen], self.y[chosen]

    def _draws(self, epoch):
        """(permutation, shifts, flips) of `epoch`; the last epoch's are kept, as one
        tuple read once (two epochs' draws are never mixed, whoever calls)."""
        drawn = self._epoch
        if drawn is None or drawn[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            n = len(self.x)
            order = rng.permutation(n)
            shifts, flips = (draw_augmentation(rng, n, self.x.shape[1:3]) if self.augment else (None, None))
            drawn = self._epoch = (epoch, order, shifts, flips)
        return drawn[1:]


def draw_augmentation(rng, n, image_shape):
    """Each image's (vertical, horizontal) shift in whole pixels and its horizontal flip.

    As Keras 2's `ImageDataGenerator(width_shift_range=0.125, height_shift_range=0.125,
    horizontal_flip=True)` of the authors ("Learning rate gridsearch and training.ipynb"):
    a shift of u * size with u ~ U(-0.125, 0.125), applied with nearest-neighbour
    resampling (Keras 2's `apply_transform`, order 0), which moves whole pixels by the
    rounded shift; a flip with probability 1/2.
    """
    limits = 0.125 * np.asarray(image_shape, np.float64)
    shifts = np.rint(rng.uniform(-limits, limits, size=(n, 2))).astype(np.int64)
    return shifts, rng.random(n) < 0.5


def augment_batch(images, shifts, flips, indices=None):
    """Shift each image by `shifts` (rows, columns; whole pixels, at most the image's size)
    with the generator's fill_mode="reflect", which repeats the edge pixel (abcd|dcba,
    numpy's "symmetric" padding), and mirror it left-right where `flips`; `indices` picks
    the images of `images` to augment (default: all, in order).

    One gather of whole pixels: each output pixel reads its source pixel, whose row and
    column are the shifted ones mirrored back inside the image (`_reflected`), by its
    index in the images flattened to a list of pixels (`np.take`, about 8 times faster
    than padding the batch and indexing it by three arrays)."""
    count, height, width = (len(images) if indices is None else len(indices)), *images.shape[1:3]
    indices = np.arange(count) if indices is None else np.asarray(indices)
    rows = _reflected(shifts[:, :1] + np.arange(height), height)
    columns = _reflected(shifts[:, 1:] + np.arange(width), width)
    columns = np.where(flips[:, None], columns[:, ::-1], columns)
    pixels = (indices[:, None, None] * height + rows[:, :, None]) * width + columns[:, None, :]
    channels = images.shape[3:]
    return np.take(images.reshape(-1, *channels), pixels.ravel(), axis=0).reshape(count, height, width, *channels)


def _reflected(positions, size):
    """Positions up to `size` past either edge of [0, size) mirrored back, as numpy's
    "symmetric" padding reads them: -1 -> 0, -2 -> 1, size -> size - 1."""
    positions = np.where(positions < 0, -1 - positions, positions)
    return np.where(positions >= size, 2 * size - 1 - positions, positions)


def batch_sizes(n, batch_size, augment=False):
    """The size of each batch of an epoch (`EpochBatches`): every example (the last batch
    partial), or, with augmentation, whole batches only, as the authors'
    `fit_generator(steps_per_epoch=n // batch_size)` (351 for 45,000 images; "Learning
    rate gridsearch and training.ipynb")."""
    sizes = [batch_size] * (n // batch_size)
    return sizes + ([n % batch_size] if n % batch_size and not augment else [])


def steps_per_epoch(n, batch_size, augment=False):
    """Batches per epoch (`batch_sizes`)."""
    return len(batch_sizes(n, batch_size, augment))
