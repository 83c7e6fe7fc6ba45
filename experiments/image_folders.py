"""Image-classification datasets in the class-folder layout, as a folder or a .tar.gz:

    train/<class>/<image>    test/<class>/<image>

(the layout of, e.g., the widespread JPEG re-encoding of CIFAR-10). Labels are the
indices of the class folder names sorted alphabetically, which for CIFAR-10 and
CIFAR-100 is the official label order. Images are decoded with Pillow (JPEG, PNG, BMP,
GIF; JPEG with libjpeg's accurate integer DCT, as `tf.io.decode_jpeg(dct_method=
"INTEGER_ACCURATE")`, not TensorFlow's default fast DCT), once: the arrays are cached
in an `.npz` next to the data (or in `cache_dir`), written atomically and stamped with
a fingerprint of the source (an archive's SHA-256; a folder's file paths, sizes and
times) and of the decoder's version, so that later loads take seconds and a changed
source or decoder decodes again. Where the data's folder cannot be written (a read-only
copy, a shared drive), the cache goes to the user's cache folder (`user_cache_dir`).
"""

import hashlib
import io
import os
import tarfile

import numpy as np
import PIL
from PIL import Image

from layer_rotation_tools.storage import atomic_path

SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
_CACHE_SUFFIX = ".decoded.npz"
#: The variable naming the cache folder (`--cache-dir` of the command line sets it).
CACHE_VARIABLE = "EXPERIMENTS_CACHE_DIR"


class ImageFolderError(ValueError):
    """A class-folder dataset that cannot be read as one; the message names what and where."""


def find_source(data_dir):
    """The class-folder dataset at `data_dir`: the path itself when it is a `.tar.gz` or a
    folder holding `train/` and `test/`, else the only `.tar.gz` inside it; None if none."""
    if data_dir is None:
        return None
    if os.path.isfile(data_dir) and _is_archive(data_dir):
        return data_dir
    if not os.path.isdir(data_dir):
        return None
    if all(os.path.isdir(os.path.join(data_dir, split)) for split in SPLITS):
        return data_dir
    archives = sorted(name for name in os.listdir(data_dir) if _is_archive(name))
    return os.path.join(data_dir, archives[0]) if len(archives) == 1 else None


def load(source, image_shape=None, num_classes=None, cache_dir=None):
    """`(x_train, y_train, x_test, y_test, classes)`: uint8 NHWC images, int64 labels and
    the class names, from the cache when it matches `source`, else decoded (then cached).

    `image_shape` (height, width, channels) and `num_classes`, when given, are checked:
    every image must have that shape, and there must be that many class folders.
    """
    fingerprint = _fingerprint(source)
    caches = cache_paths(source, cache_dir)
    cached = next((found for found in (_read_cache(path, fingerprint) for path in caches) if found is not None), None)
    if cached is None:
        cached = _decode(source, image_shape)
        any(_write_cache(path, fingerprint, cached) for path in caches)
    x_train, y_train, x_test, y_test, classes = cached
    if num_classes is not None and len(classes) != num_classes:
        raise ImageFolderError(
            f"{source!r} has {len(classes)} class folders {list(classes)[:12]}; this dataset has {num_classes} classes."
        )
    if image_shape is not None and x_train.shape[1:] != tuple(image_shape):
        raise ImageFolderError(f"{source!r} holds images of shape {x_train.shape[1:]}, not {tuple(image_shape)}.")
    return x_train, y_train, x_test, y_test, [str(name) for name in classes]


def _is_archive(name):
    return name.endswith((".tar.gz", ".tgz"))


def _decode(source, image_shape):
    files = _files(source)
    classes = sorted(files["train"])
    if not classes:
        raise ImageFolderError(f"{source!r} has no class folders in train/ (expected train/<class>/<image>).")
    if sorted(files["test"]) != classes:
        missing = {split: sorted(set(classes + sorted(files["test"])) - set(files[split])) for split in SPLITS}
        raise ImageFolderError(
            f"{source!r}: train/ and test/ must hold the same class folders; missing "
            + "; ".join(f"in {split}/: {names}" for split, names in missing.items() if names)
            + "."
        )
    arrays = []
    for split in SPLITS:
        images, labels = [], []
        for label, name in enumerate(classes):
            entries = files[split][name]
            if not entries:
                raise ImageFolderError(f"{source!r}: the class folder {split}/{name}/ holds no image.")
            for path, read in entries:
                try:
                    image = decode_image(read())
                except (OSError, ValueError, SyntaxError) as error:
                    raise ImageFolderError(
                        f"{path!r} in {source!r} is not a readable image ({type(error).__name__}: "
                        f"{str(error).splitlines()[0]})."
                    ) from None
                if image_shape is not None and image.shape != tuple(image_shape):
                    raise ImageFolderError(
                        f"{path!r} in {source!r} is {image.shape[1]}x{image.shape[0]} with {image.shape[2]} "
                        f"channel(s); this dataset's images are {image_shape[1]}x{image_shape[0]} with "
                        f"{image_shape[2]}."
                    )
                if images and image.shape != images[0].shape:
                    raise ImageFolderError(
                        f"{path!r} in {source!r} has shape {image.shape}, the others {images[0].shape}."
                    )
                images.append(image)
                labels.append(label)
        arrays += [np.stack(images).astype(np.uint8), np.asarray(labels, np.int64)]
    return (*arrays, np.asarray(classes))


def decode_image(content):
    """The pixels of an image file's bytes as uint8 (height, width, channels), keeping the
    file's channels: 1 (grey), 2 (grey and alpha), 3 (RGB) or 4 (RGBA); a palette becomes
    RGB (RGBA where it has transparency), as TensorFlow's `decode_image(channels=0)`."""
    with Image.open(io.BytesIO(content)) as image:
        if image.mode not in ("L", "LA", "RGB", "RGBA"):
            transparent = image.mode == "PA" or (image.mode == "P" and "transparency" in image.info)
            grey = image.mode in ("1", "I", "I;16", "F")
            image = image.convert("RGBA" if transparent else "L" if grey else "RGB")
        pixels = np.asarray(image, np.uint8)
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def _files(source):
    """`{split: {class: [(path, read)]}}` in path order, every class folder listed (also
    empty ones); `read()` returns the file's bytes."""
    files = {split: {} for split in SPLITS}

    def add(path, read=None):
        """A class folder `<split>/<class>` (read None) or an image `<split>/<class>/<file>`,
        under any leading folders."""
        parts = path.strip("/").split("/")
        if read is None:
            if len(parts) >= 2 and parts[-2] in SPLITS:
                files[parts[-2]].setdefault(parts[-1], [])
        elif len(parts) >= 3 and parts[-3] in SPLITS:
            files[parts[-3]].setdefault(parts[-2], []).append((path, read))

    if os.path.isdir(source):
        for split in SPLITS:
            root = os.path.join(source, split)
            for name in sorted(os.listdir(root)):
                folder = os.path.join(root, name)
                if os.path.isdir(folder):
                    add(f"{split}/{name}")
                    for file in sorted(os.listdir(folder)):
                        if file.lower().endswith(IMAGE_SUFFIXES):
                            add(f"{split}/{name}/{file}", _reader(os.path.join(folder, file)))
    else:
        try:
            with tarfile.open(source, "r:gz") as archive:
                for member in archive:  # in stream order: a gzip stream cannot seek back
                    if member.isdir():
                        add(member.name)
                    elif member.isfile() and member.name.lower().endswith(IMAGE_SUFFIXES):
                        data = archive.extractfile(member).read()
                        add(member.name, lambda data=data: data)
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ImageFolderError(f"{source!r} is not a readable .tar.gz archive ({error}).") from None
    for split in SPLITS:
        for name, entries in files[split].items():
            entries.sort(key=lambda entry: entry[0])
    return files


def _reader(path):
    def read():
        with open(path, "rb") as f:
            return f.read()

    return read


def _fingerprint(source):
    digest = hashlib.sha256(f"decoder: Pillow {PIL.__version__}\n".encode())
    if os.path.isdir(source):
        for split in SPLITS:
            for root, folders, names in sorted(os.walk(os.path.join(source, split))):
                folders.sort()
                for name in sorted(names):
                    stat = os.stat(os.path.join(root, name))
                    digest.update(f"{os.path.relpath(os.path.join(root, name), source)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    else:
        with open(source, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def user_cache_dir(environ=os.environ):
    """Where caches go when the data's folder cannot be written: `EXPERIMENTS_CACHE_DIR`,
    else `$XDG_CACHE_HOME/layer-rotation-tools`, else `~/.cache/layer-rotation-tools`."""
    if environ.get(CACHE_VARIABLE):
        return environ[CACHE_VARIABLE]
    root = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "layer-rotation-tools")


def cache_paths(source, cache_dir=None, environ=os.environ):
    """Where the decoded arrays of `source` are looked for, and written to the first that
    can be: `cache_dir` alone where given; else next to the data (`<archive>.decoded.npz`,
    `<folder>/.decoded.npz`), then in `user_cache_dir` (named by the source's name and a
    hash of its absolute path, so that two copies do not share a file)."""
    name = os.path.basename(os.path.normpath(source))
    if cache_dir is not None:
        return [os.path.join(cache_dir, name + _CACHE_SUFFIX)]
    beside = os.path.join(source, _CACHE_SUFFIX) if os.path.isdir(source) else \
        os.path.join(os.path.dirname(os.path.abspath(source)), name + _CACHE_SUFFIX)
    where = hashlib.sha256(os.path.abspath(source).encode()).hexdigest()[:12]
    return [beside, os.path.join(user_cache_dir(environ), f"{name}-{where}{_CACHE_SUFFIX}")]


def _read_cache(path, fingerprint):
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f["fingerprint"]) != fingerprint:
                return None
            return tuple(f[k] for k in ("x_train", "y_train", "x_test", "y_test", "classes"))
    except (OSError, KeyError, ValueError, EOFError):
        return None  # absent, stale or damaged: decode again


def _write_cache(path, fingerprint, arrays):
    """Write the cache atomically (`storage.atomic_path`), its folder made; returns whether
    it was written (False where the folder cannot be written)."""
    names = ("x_train", "y_train", "x_test", "y_test", "classes")
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, fingerprint=np.asarray(fingerprint), **dict(zip(names, arrays)))
    except OSError:
        return False
    return True
