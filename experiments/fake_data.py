"""Small random datasets written in the official on-disk formats, so that loaders and
smoke-scale studies can be exercised where the real datasets cannot be downloaded.
The images are noise with a class-dependent mean, so that smoke runs can learn a little."""

import gzip
import os
import pickle

import numpy as np


def _images(rng, labels, shape, num_classes):
    base = rng.integers(0, 256, size=(num_classes, *shape))
    noise = rng.integers(-40, 41, size=(len(labels), *shape))
    return np.clip(base[labels] * 0.6 + 50 + noise, 0, 255).astype(np.uint8)


def _cifar(directory, folder, num_classes, n, seed):
    """The folder, labels and channel-major rows of a fake CIFAR dataset."""
    rng = np.random.default_rng(seed)
    folder = os.path.join(directory, folder)
    os.makedirs(folder, exist_ok=True)
    labels = rng.integers(0, num_classes, n)
    return folder, labels, _images(rng, labels, (3, 32, 32), num_classes).reshape(n, 3072)


def write_cifar10(directory, n_train=200, n_test=80, seed=0):
    """`directory/cifar-10-batches-py/` with data_batch_1..5, test_batch, batches.meta."""
    folder, labels, images = _cifar(directory, "cifar-10-batches-py", 10, n_train + n_test, seed)
    chunks = np.array_split(np.arange(n_train), 5)
    for i, chunk in enumerate(chunks, start=1):
        _pickle(os.path.join(folder, f"data_batch_{i}"), {b"data": images[chunk], b"labels": labels[chunk].tolist()})
    _pickle(os.path.join(folder, "test_batch"), {b"data": images[n_train:], b"labels": labels[n_train:].tolist()})
    _pickle(os.path.join(folder, "batches.meta"), {b"label_names": [f"class{i}".encode() for i in range(10)]})
    return folder


def write_cifar100(directory, n_train=200, n_test=80, seed=0):
    """`directory/cifar-100-python/` with train, test, meta (fine and coarse labels)."""
    folder, labels, images = _cifar(directory, "cifar-100-python", 100, n_train + n_test, seed)
    for name, part in (("train", slice(0, n_train)), ("test", slice(n_train, None))):
        _pickle(os.path.join(folder, name), {
            b"data": images[part], b"fine_labels": labels[part].tolist(), b"coarse_labels": (labels[part] // 5).tolist(),
        })
    _pickle(os.path.join(folder, "meta"), {b"fine_label_names": [f"c{i}".encode() for i in range(100)]})
    return folder


def write_tiny_imagenet(directory, num_classes=4, per_class=12, n_val=16, seed=0):
    """`directory/tiny-imagenet-200/` with wnids.txt, train/<wnid>/images/*.JPEG,
    val/images/*.JPEG and val/val_annotations.txt."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder = os.path.join(directory, "tiny-imagenet-200")
    wnids = [f"n{10000000 + i}" for i in range(num_classes)]
    os.makedirs(os.path.join(folder, "val", "images"), exist_ok=True)
    with open(os.path.join(folder, "wnids.txt"), "w") as f:
        f.write("\n".join(wnids) + "\n")
    for c, wnid in enumerate(wnids):
        images_dir = os.path.join(folder, "train", wnid, "images")
        os.makedirs(images_dir, exist_ok=True)
        for i, image in enumerate(_images(rng, np.full(per_class, c), (64, 64, 3), num_classes)):
            Image.fromarray(image).save(os.path.join(images_dir, f"{wnid}_{i}.JPEG"), format="JPEG")
    labels = rng.integers(0, num_classes, n_val)
    rows = []
    for i, (label, image) in enumerate(zip(labels, _images(rng, labels, (64, 64, 3), num_classes))):
        Image.fromarray(image).save(os.path.join(folder, "val", "images", f"val_{i}.JPEG"), format="JPEG")
        rows.append(f"val_{i}.JPEG\t{wnids[label]}\t0\t0\t63\t63")
    with open(os.path.join(folder, "val", "val_annotations.txt"), "w") as f:
        f.write("\n".join(rows) + "\n")
    return folder


def write_mnist_idx(directory, n_train=200, n_test=80, seed=0, compress=True):
    """The four official IDX files (gzipped by default) in `directory`."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    labels = rng.integers(0, 10, n_train + n_test)
    images = _images(rng, labels, (28, 28), 10)
    for stem, array in (
        ("train-images-idx3-ubyte", images[:n_train]), ("train-labels-idx1-ubyte", labels[:n_train]),
        ("t10k-images-idx3-ubyte", images[n_train:]), ("t10k-labels-idx1-ubyte", labels[n_train:]),
    ):
        write_idx(os.path.join(directory, stem + (".gz" if compress else "")), array.astype(np.uint8))
    return directory


def write_idx(path, array):
    """An IDX file of unsigned bytes (gzipped when the name ends in .gz)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_class_folders(directory, classes, train_per_class, test_per_class, shape=(32, 32, 3), seed=0,
                        image_format="PNG", archive_name=None):
    """A dataset in the class-folder layout (`train/<class>/NNNN.<ext>`, `test/...`) in
    `directory`, packed into `directory/<archive_name>` (.tar.gz) when a name is given.
    Returns `(path, {"train": (images, labels), "test": (images, labels)})`, labels being
    indices into sorted `classes`."""
    import tarfile

    from PIL import Image

    rng = np.random.default_rng(seed)
    classes = sorted(classes)
    root = os.path.join(directory, "layout") if archive_name else directory
    written = {}
    for split, count in (("train", train_per_class), ("test", test_per_class)):
        labels = np.repeat(np.arange(len(classes)), count)
        images = _images(rng, labels, shape, len(classes))
        for i, (label, image) in enumerate(zip(labels, images)):
            folder = os.path.join(root, split, classes[label])
            os.makedirs(folder, exist_ok=True)
            pixels = image[..., 0] if shape[-1] == 1 else image
            Image.fromarray(pixels).save(os.path.join(folder, f"{i:04d}.{image_format.lower()}"), format=image_format)
        written[split] = (images, labels)
    if not archive_name:
        return root, written
    path = os.path.join(directory, archive_name)
    with tarfile.open(path, "w:gz") as archive:
        for split in ("train", "test"):
            archive.add(os.path.join(root, split), arcname=split)
    return path, written


def write_all(directory, seed=0):
    """Every dataset of the experiments, small, in `directory` (a valid --data-dir)."""
    write_cifar10(directory, seed=seed)
    write_cifar100(directory, seed=seed)
    write_tiny_imagenet(directory, seed=seed)
    write_mnist_idx(directory, seed=seed)
    return directory


def _pickle(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f)
