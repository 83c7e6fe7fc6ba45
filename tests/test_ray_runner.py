"""A study through Ray on a local instance: the results of the plain runner, a worker
killed mid-run retried to identical results, a second launch that skips what is done."""

import glob
import os
import signal
import threading
import time

import numpy as np
import pytest

from experiments.ray_runner import run_study_on_ray
from experiments.sharding import run_study
from experiments.studies import study_configs
from experiments.results import read_result, run_paths

pytestmark = pytest.mark.slow  # trains models or runs studies; `pytest -m "not slow"` skips it
ray = pytest.importorskip("ray")

STUDY, TASKS = "lars", ["tiny-CNN"]  # one run of the smallest network: each Ray worker trains with one thread


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _results(results_dir):
    out = {}
    for config in study_configs(STUDY, TASKS, "smoke"):
        out[config.run_id] = read_result(run_paths(results_dir, "smoke", config)["result"])
    return out


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for run_id in a:
        ours, theirs = a[run_id], b[run_id]
        assert ours.test_accuracy == theirs.test_accuracy
        np.testing.assert_array_equal(ours.curves.values, theirs.curves.values)
        for key in ("loss", "val_accuracy"):
            np.testing.assert_array_equal(ours.history[key], theirs.history[key])


def _ray_workers():
    """PIDs of the Ray workers running a study's run (their process title names the task)."""
    pids = []
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as f:
                if b"ray::_run" in f.read():
                    pids.append(int(path.split("/")[2]))
        except OSError:
            pass
    return pids


def test_ray_study_equals_the_plain_runner_and_a_second_launch_skips_it(tmp_path, smoke_data, local_ray):
    run_study(STUDY, TASKS, "smoke", smoke_data, str(tmp_path / "plain"), printer=lambda line: None)
    lines = []
    run_study_on_ray(STUDY, TASKS, "smoke", smoke_data, str(tmp_path / "ray"), printer=lines.append, poll_seconds=0.5)
    assert "done 1, running or waiting 0, failed 0" in lines[-1]
    _assert_same(_results(str(tmp_path / "plain")), _results(str(tmp_path / "ray")))
    stamps = {p: os.stat(p).st_mtime_ns for p in glob.glob(str(tmp_path / "ray" / "smoke" / "*" / "*.h5"))}
    lines = []
    assert run_study_on_ray(STUDY, TASKS, "smoke", smoke_data, str(tmp_path / "ray"), printer=lines.append) == {}
    assert "1 of 1 runs finished earlier, 0 to run" in lines[0]
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps


def test_a_worker_killed_mid_run_is_retried_and_ends_with_the_same_results(tmp_path, smoke_data, local_ray):
    run_study(STUDY, TASKS, "smoke", smoke_data, str(tmp_path / "plain"), printer=lambda line: None)
    killed = []

    def kill_after_first_checkpoint():
        deadline = time.time() + 600
        while time.time() < deadline and not killed:
            if glob.glob(str(tmp_path / "ray" / "smoke" / "*" / "*.epoch1.keras")):
                for pid in _ray_workers():
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.02)

    killer = threading.Thread(target=kill_after_first_checkpoint)
    killer.start()
    run_study_on_ray(STUDY, TASKS, "smoke", smoke_data, str(tmp_path / "ray"), printer=lambda line: None,
                     poll_seconds=0.5)
    killer.join()
    assert killed, "no Ray worker was found running the study"
    _assert_same(_results(str(tmp_path / "plain")), _results(str(tmp_path / "ray")))
