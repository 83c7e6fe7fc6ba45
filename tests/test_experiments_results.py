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
from tests.run_results import made_result, write_made_result

CONFIG = RunConfig("C10-CNN1", "layca", record_rates=True)


def _result(**changes):
    rng = np.random.default_rng(0)
    return made_result(CONFIG, val_accuracy=(0.2, 0.3, 0.4), layers=4,
                       **{"rates": rng.random((6, 4)), "rate_steps": np.arange(1, 7), **changes})


def _assert_equal(a, b):
    for name, value in dataclasses.asdict(a).items():
        other = getattr(b, name)
        if isinstance(value, dict) and name == "history":
            assert list(value) == list(other)
            for key in value:
                np.testing.assert_array_equal(value[key], other[key])
        elif isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, other)
        else:
            assert value == other, name


def test_a_result_round_trips_and_keeps_the_runners_file_layout(tmp_path):
    path = tmp_path / "run.h5"
    result = _result(second_moment_epochs=np.array([1.0]), second_moments=np.ones((1, 4, 3)))
    write_result(path, result)
    _assert_equal(read_result(path), result)
    arrays, attrs = read_h5(path)  # the layout every results file has had
    assert {"history_loss", "history_val_accuracy", "distances", "rates", "second_moments"} <= set(arrays)
    assert attrs["test_accuracy"] == 0.5 and attrs["stop_reason"] is None
    assert "batch_accuracy" not in arrays and read_result(path).batch_accuracy is None


def test_a_results_file_written_before_the_record_type_loads(tmp_path):
    # The runner's former writer: history_* arrays, the curves, optional arrays only where
    # recorded, and `initial_features`, which nothing drew (ignored now).
    result = _result(rates=None, rate_steps=None, features=np.ones((5, 784)))
    arrays = {f"history_{k}": v for k, v in result.history.items()}
    arrays.update(distances=result.distances, curve_epochs=result.curve_epochs, curve_steps=result.curve_steps,
                  features=result.features, initial_features=np.zeros((5, 784)))
    attrs = {f.name: getattr(result, f.name) for f in dataclasses.fields(RunResult)
             if not isinstance(getattr(result, f.name), (np.ndarray, dict, type(None))) or f.name == "config"}
    attrs["stop_reason"] = None
    write_h5_atomic(tmp_path / "old.h5", arrays, attrs)
    _assert_equal(read_result(tmp_path / "old.h5"), result)


def test_a_file_that_is_not_a_run_result_is_a_clear_error(tmp_path):
    write_h5_atomic(tmp_path / "other.h5", {"distances": np.zeros((1, 2))}, {"run_id": "x"})
    with pytest.raises(ResultsFileError, match=r"other\.h5.*lacks.*Delete it to recompute it"):
        read_result(tmp_path / "other.h5")
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        read_result(tmp_path / "missing.h5")


def test_progress_round_trips_with_its_monitors_and_extra_records(tmp_path):
    history = {k: [0.1, 0.2] for k in HISTORY_KEYS}
    monitors = {"distances": {"layer_names": ["a", "b"], "variable_paths": ["m/a/kernel", "m/b/kernel"],
                              "values": np.ones((2, 2)), "epochs": np.array([1.0, 2.0]), "steps": np.array([3, 6])}}
    progress = Progress(2, "run.epoch2.keras", None, history, monitors, {"batch_accuracy": [0.5, 0.25]})
    write_progress(tmp_path / "run.partial.h5", progress)
    back = read_progress(tmp_path / "run.partial.h5", ["distances"], ["batch_accuracy", "second_moments"])
    assert (back.epochs_done, back.model_file, back.stopped, back.history) == (2, "run.epoch2.keras", None, history)
    assert back.monitors["distances"]["layer_names"] == ["a", "b"]
    assert back.monitors["distances"]["variable_paths"] == ["m/a/kernel", "m/b/kernel"]
    np.testing.assert_array_equal(back.monitors["distances"]["steps"], [3, 6])
    np.testing.assert_array_equal(back.extra["batch_accuracy"], [0.5, 0.25])
    assert back.extra["second_moments"] == []


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
