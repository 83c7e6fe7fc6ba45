"""Class-folder datasets (folder or .tar.gz): decoded pixels, labels, the cache, errors."""

import os
import shutil
import tarfile

import numpy as np
import pytest

from experiments import data, fake_data, image_folders

CLASSES = ["cat", "airplane", "bird"]  # label order is the sorted names: airplane, bird, cat


def test_archive_and_folder_give_the_written_pixels_and_sorted_labels(tmp_path):
    archive, written = fake_data.write_class_folders(tmp_path, CLASSES, 4, 2, archive_name="set.tar.gz")
    folder = tmp_path / "layout"
    for source in (archive, str(folder)):
        x_train, y_train, x_test, y_test, classes = image_folders.load(source, (32, 32, 3), 3, cache_dir=tmp_path / "c")
        assert classes == ["airplane", "bird", "cat"]
        np.testing.assert_array_equal(x_train, written["train"][0])  # PNG: lossless
        np.testing.assert_array_equal(y_train, written["train"][1])
        np.testing.assert_array_equal(x_test, written["test"][0])
        np.testing.assert_array_equal(y_test, [0, 0, 1, 1, 2, 2])
        assert x_train.dtype == np.uint8 and x_train.shape == (12, 32, 32, 3)


def test_cifar10_from_the_archive_or_the_folder_holding_it(tmp_path):
    names = [f"class{i}" for i in range(10)]
    archive, _ = fake_data.write_class_folders(tmp_path, names, 5, 1, image_format="JPEG", archive_name="cifar10-jpeg.tar.gz")
    # JPEG is lossy: the reference is the files as Pillow reads them one by one.
    from PIL import Image

    layout = tmp_path / "layout" / "train"
    expected = np.stack(
        [np.asarray(Image.open(layout / name / file)) for name in names for file in sorted(os.listdir(layout / name))]
    )
    shutil.rmtree(tmp_path / "layout")
    for data_dir in (archive, str(tmp_path)):
        x_train, y_train, x_test, y_test = data.load_raw("cifar10", data_dir)
        assert x_train.shape == (50, 32, 32, 3) and x_test.shape == (10, 32, 32, 3)
        assert np.bincount(y_train).tolist() == [5] * 10 and np.bincount(y_test).tolist() == [1] * 10
        np.testing.assert_array_equal(x_train, expected)
    assert os.path.exists(archive + ".decoded.npz")  # cached next to the data


def test_the_cache_serves_later_loads_and_follows_its_source(tmp_path):
    archive, _ = fake_data.write_class_folders(tmp_path, CLASSES, 2, 1, archive_name="set.tar.gz")
    first = image_folders.load(archive)
    cache = archive + ".decoded.npz"
    stamp = os.stat(cache).st_mtime_ns
    again = image_folders.load(archive)
    assert os.stat(cache).st_mtime_ns == stamp  # read, not rewritten
    np.testing.assert_array_equal(first[0], again[0])
    # A changed source (one more training image per class) is decoded again.
    changed, _ = fake_data.write_class_folders(tmp_path / "v2", CLASSES, 3, 1, archive_name="set.tar.gz")
    shutil.copyfile(changed, archive)
    assert len(image_folders.load(archive)[0]) == 9
    # A damaged cache is replaced, not trusted.
    with open(cache, "wb") as f:
        f.write(b"not an npz")
    assert len(image_folders.load(archive)[0]) == 9


def _layout(tmp_path):
    folder, _ = fake_data.write_class_folders(tmp_path, CLASSES, 2, 1)
    return folder


def test_a_missing_class_folder_is_named(tmp_path):
    folder = _layout(tmp_path)
    shutil.rmtree(os.path.join(folder, "test", "bird"))
    with pytest.raises(image_folders.ImageFolderError, match=r"same class folders; missing in test/: \['bird'\]"):
        image_folders.load(folder)


def test_an_empty_class_folder_is_named(tmp_path):
    folder = _layout(tmp_path)
    for name in os.listdir(os.path.join(folder, "train", "cat")):
        os.remove(os.path.join(folder, "train", "cat", name))
    with pytest.raises(image_folders.ImageFolderError, match=r"train/cat/ holds no image"):
        image_folders.load(folder)


def test_an_image_of_the_wrong_size_is_named(tmp_path):
    from PIL import Image

    folder = _layout(tmp_path)
    Image.new("RGB", (30, 32)).save(os.path.join(folder, "train", "bird", "0003.png"))
    with pytest.raises(image_folders.ImageFolderError, match=r"train/bird/0003.png.*is 30x32 with 3 channel.*32x32"):
        image_folders.load(folder, image_shape=(32, 32, 3))


def test_a_corrupt_file_is_named_in_a_folder_and_in_an_archive(tmp_path):
    folder = _layout(tmp_path)
    with open(os.path.join(folder, "test", "cat", "0005.png"), "wb") as f:
        f.write(b"\x89PNG truncated")
    with pytest.raises(image_folders.ImageFolderError, match=r"test/cat/0005.png.*not a readable image"):
        image_folders.load(folder)
    archive = str(tmp_path / "broken.tar.gz")
    with tarfile.open(archive, "w:gz") as f:
        for split in ("train", "test"):
            f.add(os.path.join(folder, split), arcname=split)
    with pytest.raises(image_folders.ImageFolderError, match=r"test/cat/0005.png.*not a readable image"):
        image_folders.load(archive)


def test_the_wrong_number_of_classes_for_cifar10_is_an_error(tmp_path):
    archive, _ = fake_data.write_class_folders(tmp_path, CLASSES, 1, 1, archive_name="three.tar.gz")
    with pytest.raises(image_folders.ImageFolderError, match=r"has 3 class folders.*10 classes"):
        data.load_raw("cifar10", archive)


def test_data_in_a_folder_that_cannot_be_written_is_decoded_once_into_the_users_cache(tmp_path, monkeypatch):
    """A read-only copy of the data (root writes anywhere, so the refusal is simulated
    where the cache would be written, as the file system refuses it): the first load
    caches into the user's cache folder, the next reads it without decoding."""
    data_folder = tmp_path / "shared"
    data_folder.mkdir()
    archive, written = fake_data.write_class_folders(data_folder, CLASSES, 4, 2, archive_name="set.tar.gz")
    cache_root = tmp_path / "user-cache"
    monkeypatch.setenv(image_folders.CACHE_VARIABLE, str(cache_root))
    real_atomic_path = image_folders.atomic_path

    def read_only_data(path, **kwargs):
        if os.path.dirname(os.path.abspath(path)) == str(data_folder):
            raise PermissionError(13, "Read-only file system", path)
        return real_atomic_path(path, **kwargs)

    monkeypatch.setattr(image_folders, "atomic_path", read_only_data)
    first = image_folders.load(archive, (32, 32, 3), 3)
    cached = os.listdir(cache_root)
    assert len(cached) == 1 and cached[0].startswith("set.tar.gz-") and cached[0].endswith(".decoded.npz")
    assert not [name for name in os.listdir(data_folder) if name.endswith(".npz")]

    def no_decoding(*args):
        raise AssertionError("decoded again")

    monkeypatch.setattr(image_folders, "_decode", no_decoding)
    second = image_folders.load(archive, (32, 32, 3), 3)
    for a, b in zip(first[:4], second[:4]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(second[0], written["train"][0])
    assert image_folders.user_cache_dir({"XDG_CACHE_HOME": "/x"}) == os.path.join("/x", "layer-rotation-tools")
