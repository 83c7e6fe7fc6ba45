"""A run's results file and checkpoint record: round trips, files from before the record
type, clear errors."""

import dataclasses
import os

import numpy as np
import pytest

from experiments.recipes import RunConfig
from experiments.results import (
    NoResultsError,
    Results,
    HISTORY_KEYS,
    Progress,
    RunResult,
    read_progress,
    read_result,
    run_paths,
    write_progress,
    write_result,
)
from layer_rotation_tools.storage import ResultsFileError, read_h5, write_h5_atomic
from layer_rotation_tools.records import Records
from tests.run_results import made_result, write_made_result

CONFIG = RunConfig("C10-CNN1", "layca", record_rates=True)


def _rates(layers=4, steps=6):
    rng = np.random.default_rng(0)
    names = [f"layer{i}" for i in range(layers)]
    return Records("rates", rng.random((steps, layers)), np.arange(1, steps + 1) / 2, np.arange(1, steps + 1), names,
                   [f"model/{name}/kernel" for name in names])


def _result(**changes):
    return made_result(CONFIG, val_accuracy=(0.2, 0.3, 0.4), layers=4, **{"rates": _rates(), **changes})


def _assert_equal(a, b):
    for name in [f.name for f in dataclasses.fields(a)]:
        value, other = getattr(a, name), getattr(b, name)
        if dataclasses.is_dataclass(value):
            _assert_equal(value, other)
        elif isinstance(value, dict) and name == "history":
            assert list(value) == list(other)
            for key in value:
                np.testing.assert_array_equal(value[key], other[key])
        elif isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, other)
        else:
            assert value == other, name


def test_a_result_round_trips_with_its_monitors_records_in_their_one_layout(tmp_path):
    path = tmp_path / "run.h5"
    result = _result(second_moment_epochs=np.array([1.0]), second_moments=np.ones((1, 4, 3)))
    write_result(path, result)
    _assert_equal(read_result(path), result)
    arrays, attrs = read_h5(path)
    assert {"history_loss", "history_val_accuracy", "second_moments"} <= set(arrays)
    for records in (result.curves, result.rates):  # as Records.to_h5 writes them, prefixed by their quantity
        expected_arrays, expected_attrs = records.to_h5(prefix=f"{records.quantity}_")
        for key, value in expected_arrays.items():
            np.testing.assert_array_equal(arrays[key], value)
        assert {key: attrs[key] for key in expected_attrs} == expected_attrs
    assert attrs["test_accuracy"] == 0.5 and attrs["stop_reason"] is None
    assert "batch_accuracy" not in arrays and read_result(path).batch_accuracy is None


@pytest.mark.parametrize("with_rates", [False, True], ids=["curves", "curves and rates"])
def test_a_results_file_written_before_the_record_type_loads(tmp_path, with_rates):
    # The runner's former writer: history_* arrays, the curves as `distances`, `curve_epochs`,
    # `curve_steps` and the rates as `rates`, `rate_steps` beside one `layer_names` and no
    # variable paths, optional arrays only where recorded, and `initial_features`, which
    # nothing drew (ignored now).
    result = _result(features=np.ones((5, 784)))
    curves, rates = result.curves, result.rates
    arrays = {f"history_{k}": v for k, v in result.history.items()}
    arrays.update(distances=curves.values, curve_epochs=curves.epochs, curve_steps=curves.steps,
                  features=result.features, initial_features=np.zeros((5, 784)))
    if with_rates:
        arrays.update(rates=rates.values, rate_steps=rates.steps)
    attrs = {f.name: getattr(result, f.name) for f in dataclasses.fields(RunResult)
             if not isinstance(getattr(result, f.name), (np.ndarray, dict, type(None), Records)) or f.name == "config"}
    attrs.update(stop_reason=None, layer_names=curves.layer_names)
    write_h5_atomic(tmp_path / "old.h5", arrays, attrs)
    without_paths = dataclasses.replace(curves, variable_paths=None)
    # the rates' epochs were not kept: NaN, never a made-up position
    old_rates = dataclasses.replace(rates, variable_paths=None, epochs=np.full(len(rates.steps), np.nan))
    expected = dataclasses.replace(result, curves=without_paths, rates=old_rates if with_rates else None)
    _assert_equal(read_result(tmp_path / "old.h5"), expected)


def test_a_file_that_is_not_a_run_result_is_a_clear_error(tmp_path):
    write_h5_atomic(tmp_path / "other.h5", {"distances": np.zeros((1, 2))}, {"run_id": "x"})
    with pytest.raises(ResultsFileError, match=r"other\.h5.*lacks.*Delete it to recompute it"):
        read_result(tmp_path / "other.h5")
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        read_result(tmp_path / "missing.h5")


def test_progress_round_trips_with_its_monitors_and_extra_records(tmp_path):
    history = {k: [0.1, 0.2] for k in HISTORY_KEYS}
    curves = Records("distances", np.ones((2, 2)), np.array([1.0, 2.0]), np.array([3, 6]), ["a", "b"],
                     ["m/a/kernel", "m/b/kernel"])
    rates = Records("rates", np.full((6, 3), 0.5), np.arange(1, 7) / 3, np.arange(1, 7), ["a", "b", "c"],
                    ["m/a/kernel", "m/b/kernel", "m/c/kernel"])
    progress = Progress(2, "run.epoch2.keras", None, history, {"distances": curves, "rates": rates},
                        {"batch_accuracy": [0.5, 0.25]})
    write_progress(tmp_path / "run.partial.h5", progress)
    back = read_progress(tmp_path / "run.partial.h5", ["distances", "rates"], ["batch_accuracy", "second_moments"])
    assert (back.epochs_done, back.model_file, back.stopped, back.history) == (2, "run.epoch2.keras", None, history)
    _assert_equal(back.monitors["distances"], curves)
    _assert_equal(back.monitors["rates"], rates)  # each monitor keeps its own labels
    np.testing.assert_array_equal(back.extra["batch_accuracy"], [0.5, 0.25])
    assert back.extra["second_moments"] == []


def test_a_checkpoint_written_before_the_record_type_resumes(tmp_path):
    # The former writer: each monitor's arrays under its quantity, its variable paths, and
    # one `layer_names` that every monitor overwrote (the same labels: one per kernel).
    arrays = {f"history_{k}": np.array([0.1]) for k in HISTORY_KEYS}
    arrays.update(distances_distances=np.full((1, 2), 0.25), distances_epochs=np.array([1.0]),
                  distances_steps=np.array([4]), rates_rates=np.full((4, 2), 0.1), rates_epochs=np.arange(1, 5) / 4,
                  rates_steps=np.arange(1, 5))
    attrs = {"epochs_done": 1, "model_file": "run.epoch1.keras", "stopped": None, "layer_names": ["a", "b"],
             "distances_variable_paths": ["m/a/kernel", "m/b/kernel"], "rates_variable_paths": ["m/a/kernel", "m/b/kernel"]}
    write_h5_atomic(tmp_path / "run.partial.h5", arrays, attrs)
    back = read_progress(tmp_path / "run.partial.h5", ["distances", "rates"], [])
    for quantity, records in back.monitors.items():
        assert (records.quantity, records.layer_names, records.variable_paths) == (
            quantity, ["a", "b"], ["m/a/kernel", "m/b/kernel"])
    np.testing.assert_array_equal(back.monitors["rates"].steps, [1, 2, 3, 4])


def test_run_paths_name_every_file_of_a_run():
    paths = run_paths("results", "smoke", RunConfig("C10-CNN1", "sgd", learning_rate=0.1, seed=2))
    folder = os.path.join("results", "smoke", "C10-CNN1")
    assert paths == {"folder": folder, "result": os.path.join(folder, "C10-CNN1__sgd__lr0.1__seed2.h5"),
                     "progress": os.path.join(folder, "C10-CNN1__sgd__lr0.1__seed2.partial.h5"),
                     "best": os.path.join(folder, "C10-CNN1__sgd__lr0.1__seed2.best.weights.h5"),
                     "initial": os.path.join(folder, "initial_seed2.weights.h5")}


def test_a_report_of_a_folder_without_its_runs_is_refused_by_an_exception_that_says_where(tmp_path):
    configs = [RunConfig("C10-CNN1-fit", "layca"), RunConfig("C10-CNN1-fit", "sgd")]
    results = Results(str(tmp_path), "cpu_fit")
    with pytest.raises(NoResultsError, match=r"scale 'cpu_fit' in .*cpu_fit/C10-CNN1-fit: nothing to report, and out"):
        results.require_any(configs, "out")
    write_made_result(str(tmp_path), "cpu_fit", configs[1])
    Results(str(tmp_path), "cpu_fit").require_any(configs, "out")  # one run is enough to report
