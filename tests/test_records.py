"""The monitors' records on their own: the table's columns and NaN gaps, restored
records, `Records`' files."""

import numpy as np
import pytest

from layer_rotation_tools.records import Records, RecordTable

PATHS = ["sequential/conv1/kernel", "sequential/dense/kernel"]


def test_a_kernel_seen_later_gets_a_column_and_earlier_rows_read_nan():
    table = RecordTable()
    table.add_columns(PATHS[:1])
    table.append(PATHS[:1], [0.25], step=2, epoch=1.0)
    table.add_columns(PATHS)
    table.append(PATHS, [0.5, 0.125], step=4, epoch=2.0)
    table.append(PATHS[1:], [0.75], step=6, epoch=3.0)  # conv1 frozen at that record
    np.testing.assert_array_equal(table.values(), [[0.25, np.nan], [0.5, 0.125], [np.nan, 0.75]])
    assert table.layer_names == ["conv1", "dense"] and table.variable_paths == PATHS
    np.testing.assert_array_equal(table.steps, [2, 4, 6])
    assert (table.last_step, table.last_epoch, table.epochs_covered, len(table)) == (6, 3.0, 3, 3)


def test_a_record_placed_later_moves_only_its_epoch():
    table = RecordTable()
    table.add_columns(PATHS)
    table.append(PATHS, [0.1, 0.2], step=3, epoch=0.0)
    table.place(0, 0.75)
    np.testing.assert_array_equal(table.epochs, [0.75])
    assert table.epochs_covered == 1


def test_records_saved_by_label_take_the_paths_of_the_kernels_so_labelled():
    table = RecordTable.from_records(Records("distances", [[0.1, np.nan]], [1.0], [5], ["dense", "conv1"]))
    assert table.layer_names == ["dense", "conv1"]
    table.add_columns(PATHS)
    assert table.variable_paths == ["sequential/dense/kernel", "sequential/conv1/kernel"]
    table.append(PATHS, [0.3, 0.4], step=10, epoch=2.0)
    np.testing.assert_array_equal(table.values(), [[0.1, np.nan], [0.4, 0.3]])


def test_a_restored_label_no_kernel_has_is_a_clear_error():
    table = RecordTable.from_records(Records("distances", [[0.1]], [1.0], [5], ["conv9"]))
    with pytest.raises(ValueError, match=r"columns \['conv9'\].*\['conv1', 'dense'\].*\['conv9'\] are not among them"):
        table.add_columns(PATHS)


def test_a_saved_table_loads_equal_and_refuses_another_quantity(tmp_path):
    table = RecordTable()
    table.add_columns(PATHS)
    table.append(PATHS, [0.1, 0.2], step=3, epoch=0.5)
    table.append(PATHS[:1], [0.3], step=6, epoch=1.0)
    table.records("distances").save(tmp_path / "records.h5")
    back = RecordTable.from_records(Records.load(tmp_path / "records.h5", "distances"))
    np.testing.assert_array_equal(back.values(), table.values())
    np.testing.assert_array_equal(back.epochs, table.epochs)
    np.testing.assert_array_equal(back.steps, table.steps)
    assert back.variable_paths == PATHS and back.layer_names == ["conv1", "dense"]
    with pytest.raises(ValueError, match=r"records\.h5.*holds 'distances' records, not 'rates'"):
        Records.load(tmp_path / "records.h5", "rates")


def test_records_keep_one_layout_under_any_prefix():
    """The layout of a monitor's own file (no prefix) and of a run's files (the quantity
    as prefix) is one: the same names, prefixed."""
    records = Records("rates", np.array([[0.1, 0.2]]), np.array([0.5]), np.array([1]), ["conv1", "dense"], PATHS)
    plain, prefixed = records.to_h5(), records.to_h5(prefix="rates_")
    for alone, with_prefix in zip(plain, prefixed):
        assert {f"rates_{name}" for name in alone} == set(with_prefix)
    back = Records.from_h5(*prefixed, "rates", prefix="rates_")
    assert (back.quantity, back.layer_names, back.variable_paths) == ("rates", ["conv1", "dense"], PATHS)
    np.testing.assert_array_equal(back.values, records.values)
