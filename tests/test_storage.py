"""Atomic HDF5 results files."""

import os

import numpy as np
import pytest

from layer_rotation_tools.storage import ResultsFileError, read_h5, write_h5_atomic


def test_round_trip_of_arrays_and_json_attributes(tmp_path):
    arrays = {"distances": np.arange(6.0).reshape(2, 3), "steps": np.array([4, 8])}
    attrs = {"layer_names": ["a", "b", "c"], "config": {"alpha": -0.4, "lr": [0.1, 0.02]}}
    write_h5_atomic(tmp_path / "sub" / "r.h5", arrays, attrs)
    read_arrays, read_attrs = read_h5(tmp_path / "sub" / "r.h5")
    assert read_attrs == attrs
    for name, value in arrays.items():
        np.testing.assert_array_equal(read_arrays[name], value)


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "r.h5"
    write_h5_atomic(path, {"x": np.ones(2)})
    with pytest.raises(TypeError):
        write_h5_atomic(path, {"x": np.ones(2)}, {"bad": object()})
    np.testing.assert_array_equal(read_h5(path)[0]["x"], np.ones(2))
    assert os.listdir(tmp_path) == ["r.h5"]


def test_missing_and_foreign_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No results file"):
        read_h5(tmp_path / "none.h5")
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(ResultsFileError, match=r"junk.h5.*unreadable"):
        read_h5(tmp_path / "junk.h5")


def test_a_written_file_has_the_permissions_of_a_file_created_normally(tmp_path):
    umask = os.umask(0o022)
    try:
        write_h5_atomic(tmp_path / "r.h5", {"x": np.ones(2)})
        (tmp_path / "plain").write_text("")
    finally:
        os.umask(umask)
    assert os.stat(tmp_path / "r.h5").st_mode & 0o777 == os.stat(tmp_path / "plain").st_mode & 0o777 == 0o644
