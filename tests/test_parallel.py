"""A study on the cores of one machine (`python -m experiments study ... --jobs N`): one
pinned, single-threaded process per shard, with the results of one process."""

import ctypes.util
import glob
import os

import numpy as np
import pytest

from experiments.__main__ import main
from experiments.parallel import shard_environment
from experiments.results import read_result


def test_a_shards_frameworks_run_on_one_thread_and_keep_the_users_xla_flags():
    environment = shard_environment({"XLA_FLAGS": "--xla_dump_to=/tmp/dump", "PATH": "/bin"})
    assert environment["XLA_FLAGS"] == "--xla_dump_to=/tmp/dump --xla_cpu_multi_thread_eigen=false"
    assert environment["OMP_NUM_THREADS"] == environment["TF_NUM_INTRAOP_THREADS"] == "1"
    assert environment["PATH"] == "/bin"


def test_a_shard_preloads_tcmalloc_where_installed_and_keeps_the_users_own_preload():
    installed = ctypes.util.find_library("tcmalloc_minimal")
    assert shard_environment({}).get("LD_PRELOAD") == installed
    assert shard_environment({"LD_PRELOAD": "/opt/mine.so"})["LD_PRELOAD"] == "/opt/mine.so"


@pytest.mark.parametrize("arguments, message", [
    (["--shard", "1/2", "--jobs", "2"], "--jobs splits the whole study into shards on this machine; leave out --shard"),
    (["--jobs", "0"], "--jobs must be at least 1; received 0."),
    (["--ray", "--jobs", "2"], "--ray runs the whole study on the Ray cluster; leave out --shard and --jobs."),
])
def test_jobs_that_cannot_be_honoured_are_refused(tmp_path, capsys, arguments, message):
    assert main(["study", "adaptive", "--tasks", "C10-CNN1", "--scale", "smoke", "--results", str(tmp_path),
                 *arguments]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_a_study_on_two_pinned_processes_ends_with_the_results_of_one_process(tmp_path, smoke_data):
    """The adaptive study's two runs (RMSprop alone and with Layca) on C10-CNN1, by two
    shard processes and by this one: the same results, up to float rounding."""
    common = ["study", "adaptive", "--tasks", "C10-CNN1", "--scale", "smoke", "--data-dir", smoke_data]
    assert main([*common, "--results", str(tmp_path / "two"), "--jobs", "2"]) == 0
    assert main([*common, "--results", str(tmp_path / "one"), "--jobs", "1"]) == 0
    one = sorted(glob.glob(str(tmp_path / "one" / "smoke" / "C10-CNN1" / "*__*.h5")))
    assert len(one) == 2
    for path in one:
        alone, sharded = read_result(path), read_result(path.replace(os.sep + "one" + os.sep, os.sep + "two" + os.sep))
        assert sharded.test_accuracy == pytest.approx(alone.test_accuracy, abs=1e-6)
        np.testing.assert_allclose(sharded.history["loss"], alone.history["loss"], rtol=1e-4)
        np.testing.assert_allclose(sharded.curves.values, alone.curves.values, rtol=1e-4, atol=1e-7)
        np.testing.assert_array_equal(sharded.curves.steps, alone.curves.steps)
