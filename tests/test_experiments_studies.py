"""Every study end to end at smoke scale; sharding; the command line."""

import os

import pytest

from experiments.__main__ import main
from experiments.recipes import RHO_GRID, SCALES, RunConfig
from experiments.results import read_result, run_paths
from experiments.sharding import parse_shard, run_study, shard, shard_from_environment
from experiments.studies import STUDIES, one_per_run, study_configs
from tests.conftest import STUDY_TASKS

pytestmark = pytest.mark.slow  # trains models or runs studies; `pytest -m "not slow"` skips it


def test_every_study_has_a_test_task():
    assert set(STUDY_TASKS) == set(STUDIES)


@pytest.mark.parametrize("name", sorted(STUDY_TASKS))
def test_study_runs_end_to_end_at_smoke_scale_and_a_restart_skips_it(name, smoke_results, smoke_data):
    results_dir, done = smoke_results
    task = STUDY_TASKS[name]
    configs = study_configs(name, [task], "smoke")
    assert list(done[name]) == [c.run_id for c in configs]
    for config in configs:
        result = read_result(run_paths(results_dir, "smoke", config)["result"])
        assert result.run_id == config.run_id and result.curves.values.shape[0] >= 1
    printed = []
    run_study(name, [task], "smoke", smoke_data, results_dir, printer=printed.append)
    assert sum("finished earlier, skipped" in line for line in printed) == len(configs)


def test_grids_follow_the_papers():
    assert [c.learning_rate for c in study_configs("rho", ["C10-CNN1"])] == list(RHO_GRID)
    assert [c.learning_rate for c in study_configs("rho", ["C10-CNN1"], "cpu")] == list(RHO_GRID)
    assert len(study_configs("alpha", ["C10-CNN1"])) == 13 and len(study_configs("alpha", ["C100-WRN"])) == 3
    # A variant of a paper task (a subset of its training set) is explored over its grids.
    assert [c.learning_rate for c in study_configs("rho", ["C10-CNN1-fit"], "cpu_fit")] == list(RHO_GRID)
    assert len(study_configs("alpha", ["C10-CNN1-fit"], "cpu_fit")) == 13
    assert [c.optimizer for c in study_configs("adaptive", ["tiny-CNN"])] == ["adagrad", "adagrad_layca"]
    assert [c.optimizer for c in study_configs("adapt_copy", ["C100-WRN"])] == [
        "adam_weight_decay", "sgd_amom_layca_copy", "sgd_weight_decay",
    ]
    warmup = study_configs("warmup")
    assert [c.warmup_epochs for c in warmup] == [0, 5, 10, 15, 0] and warmup[-1].optimizer == "layca"
    assert study_configs("sgd", ["C100-WRN"])[0].schedule.epochs == 250
    assert RunConfig("C100-WRN", "sgd_weight_decay").schedule.drops == (60, 120, 160)
    assert RunConfig("C10-CNN2", "sgd_weight_decay").learning_rate == 0.5


def test_shards_partition_a_study_and_keep_copies_with_their_source():
    configs = study_configs("adapt_copy")
    parts = [shard(configs, i, 4) for i in range(1, 5)]
    assert sorted(c.run_id for part in parts for c in part) == sorted(c.run_id for c in configs)
    for part in parts:
        ids = {c.run_id for c in part}
        assert all(c.copy_from in ids for c in part if c.copy_from)


@pytest.mark.parametrize("text", ["3", "0/2", "3/2", "a/b"])
def test_bad_shards_are_clear_errors(text):
    with pytest.raises(ValueError, match="shard"):
        parse_shard(text)


def test_command_line(tmp_path, smoke_data, capsys):
    assert main(["list"]) == 0
    assert "study alpha" in capsys.readouterr().out
    args = ["--scale", "smoke", "--data-dir", smoke_data, "--results", str(tmp_path)]
    assert main(["run", "--task", "C10-CNN1", "--optimizer", "sgd", "--lr", "0.1", *args]) == 0
    assert os.path.exists(run_paths(str(tmp_path), "smoke", RunConfig("C10-CNN1", "sgd", 0.1))["result"])
    assert main(["study", "lars", "--tasks", "C10-CNN1", "--shard", "1/1", *args]) == 0
    assert main(["run", "--task", "nope", *args]) == 2
    assert "Unknown task 'nope'" in capsys.readouterr().err
    assert main(["study", "alpha", "--shard", "5/2", *args]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["run", "--task", "C10-CNN1", "--scale", "smoke", "--data-dir", str(empty), "--results", str(tmp_path)]) == 2
    assert "cifar-10-batches-py/" in capsys.readouterr().err


def test_a_slurm_job_array_gives_each_task_its_share():
    assert shard_from_environment({}) == "1/1"
    array = {"SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0"}
    assert [shard_from_environment({**array, "SLURM_ARRAY_TASK_ID": str(i)}) for i in range(4)] == ["1/4", "2/4", "3/4", "4/4"]
    assert shard_from_environment({"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "5"}) == "3/3"
    with pytest.raises(ValueError, match="outside the job array"):
        shard_from_environment({**array, "SLURM_ARRAY_TASK_ID": "9"})
    with pytest.raises(ValueError, match="SLURM_ARRAY_TASK_COUNT"):
        shard_from_environment({"SLURM_ARRAY_TASK_ID": "1"})


def test_the_command_line_takes_its_share_from_the_slurm_job_array(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "0")
    # The lars study has one run on C10-CNN1: the second of two shares is empty.
    assert main(["study", "lars", "--tasks", "C10-CNN1", "--scale", "smoke", "--results", str(tmp_path)]) == 0
    assert "[lars] shard 2/2: 0 runs done" in capsys.readouterr().out


def test_the_smoke_scale_sweeps_each_grid_from_its_first_to_its_last_value():
    assert [c.learning_rate for c in study_configs("rho", ["C10-CNN1"], "smoke")] == [RHO_GRID[0], 3.0**-3, RHO_GRID[-1]]
    assert [c.alpha for c in study_configs("alpha", ["C10-CNN1"], "smoke")] == [-0.8, 0.0, 0.8]
    assert [c.trained_layer for c in study_configs("mnist_layers", ["MNIST-MLP11"], "smoke")] == [0, 4, 9] * 2
    # ResNet-110's 200 epochs: warmups of 10 and 15 both last one of the smoke scale's 3 (one
    # runs); at the cpu scale's 20, warmups of 5, 10 and 15 last 1, 1 and 2 (5 and 15 run).
    assert [c.warmup_epochs for c in study_configs("warmup", None, "smoke")] == [0, 10, 0]
    assert [c.warmup_epochs for c in study_configs("warmup", None, "cpu")] == [0, 5, 15, 0]
    # Crossed grids keep their ends: factors f 0.1 and 10, the first and last rates, for each of 3 optimizers.
    crossed = study_configs("init_scale", ["C10-CNN1"], "smoke")
    assert sorted({(c.init_scale, c.learning_rate) for c in crossed}) == [(0.1, 3.0**-5), (0.1, 3.0**-1), (10.0, 3.0**-5),
                                                                          (10.0, 3.0**-1)]
    assert len(crossed) == 12 and len(study_configs("init_scale")) == 45
    assert SCALES["smoke"].sweep((1, 2)) == (1, 2) and SCALES["full"].sweep(range(7)) == tuple(range(7))


def test_a_variant_of_a_paper_task_keeps_its_schedule_exceptions():
    from dataclasses import replace as replaced

    from experiments.recipes import TASKS, RunConfig

    TASKS["C10-CNN2-variant"] = replaced(TASKS["C10-CNN2"], name="C10-CNN2-variant", variant_of="C10-CNN2")
    try:
        assert RunConfig("C10-CNN2-variant", "sgd_weight_decay").schedule == RunConfig("C10-CNN2", "sgd_weight_decay").schedule
        assert RunConfig("C10-CNN2-variant", "sgd_weight_decay").schedule.factor == 0.5
    finally:
        del TASKS["C10-CNN2-variant"]


def test_a_run_two_studies_share_records_the_rates_either_of_them_asks_for():
    """The seeds study reports RMSprop without its rates; adapt_copy replays them from the
    same run id: together they are one run, which records them (CI's smoke fixture once ran
    the seeds study's copy first, and the replay refused it)."""
    adaptive = [config for name in ("seeds", "adapt_copy") for config in study_configs(name, ["C10-CNN1"], "smoke")
                if config.optimizer == "rmsprop"]
    assert len(adaptive) == 2 and [c.record_rates for c in adaptive] == [False, True]
    runs = one_per_run(study_configs("seeds", ["C10-CNN1"], "smoke") + study_configs("adapt_copy", ["C10-CNN1"], "smoke"))
    assert runs[adaptive[0].run_id].record_rates
    assert list(runs)[:13] == [c.run_id for c in study_configs("seeds", ["C10-CNN1"], "smoke")]  # order kept
    assert not one_per_run([adaptive[0]])[adaptive[0].run_id].record_rates  # a lone run keeps its setting
