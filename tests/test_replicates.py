"""A study's --seeds: each configuration once per seed of its initial weights and batch
order, on the same data, resumable seed by seed; and the aggregate over the results files."""

import math

import numpy as np
import pytest

from experiments.__main__ import main
from experiments.recipes import RunConfig
from experiments.replicates import Comparison, Spread, replicates, spread
from experiments.results import Results, read_result, run_paths
from experiments.studies import study_configs
from tests.run_results import write_made_result


def test_seeds_repeat_each_configuration_with_its_own_weights_and_batches_on_the_same_data():
    configs = study_configs("adapt_copy", ["C10-CNN1"], "smoke", seeds=[0, 2])
    assert len(configs) == 6
    copy = configs[4]
    assert copy.run_id.endswith("__init-seed2") and copy.copy_from == configs[3].run_id  # replays its own seed's source
    assert copy.seed == 0 and copy.weights_seed == 2  # the data split of seed 0, the weights of seed 2
    assert run_paths("r", "smoke", copy)["initial"].endswith("initial_seed2.weights.h5")
    assert replicates(configs[0], [0, 2]) == [configs[0], configs[3]]
    for bad in ([], [1, 1], [-1], [True]):
        with pytest.raises(ValueError, match="--seeds takes distinct whole numbers >= 0"):
            study_configs("lars", ["C10-CNN1"], "smoke", seeds=bad)


def test_a_study_with_more_seeds_runs_only_the_new_ones_and_the_aggregate_is_numpys(tmp_path, smoke_data, capsys):
    common = ["study", "lars", "--tasks", "C10-CNN1", "--scale", "smoke", "--data-dir", smoke_data,
              "--results", str(tmp_path), "--jobs", "1"]
    assert main([*common, "--seeds", "0"]) == 0
    first = read_result(run_paths(str(tmp_path), "smoke", RunConfig("C10-CNN1", "lars"))["result"])
    capsys.readouterr()
    assert main([*common, "--seeds", "0", "1"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("finished earlier, skipped") == 1 and printed.count(": running") == 1
    runs = [read_result(run_paths(str(tmp_path), "smoke", c)["result"])
            for c in replicates(RunConfig("C10-CNN1", "lars"), [0, 1])]
    assert runs[0].test_loss == first.test_loss  # seed 0's file was not written again
    assert not np.array_equal(runs[0].curves.values, runs[1].curves.values)  # other weights, other batches
    found = spread(Results(str(tmp_path), "smoke"), RunConfig("C10-CNN1", "lars"), [0, 1, 2],
                   quantity=lambda result: result.test_loss)
    losses = [run.test_loss for run in runs]
    assert found.count == 2 and math.isnan(found.values[2])
    assert found.mean == pytest.approx(np.mean(losses)) and found.std == pytest.approx(np.std(losses, ddof=1))


def test_a_difference_exceeds_the_seed_spread_only_where_the_runs_do_not_overlap(tmp_path):
    high = Spread((0, 1, 2), (38.0, 38.5, 39.0))
    assert Comparison(high, Spread((0, 1, 2), (36.0, 37.0, 37.5))).separated
    overlapping = Comparison(high, Spread((0, 1, 2), (36.0, 37.0, 38.2)))
    assert not overlapping.separated and overlapping.difference == pytest.approx(38.5 - 37.0666667)
    assert "within the seed spread" in overlapping.describe()
    assert not Comparison(high, Spread((0,), (30.0,))).separated  # one run has no spread
    assert high.describe() == "38.50 +- 0.50 (38.00, 38.50, 39.00)"
    for seed, accuracy in ((0, 0.40), (1, 0.38)):
        write_made_result(str(tmp_path), "cpu_fit", RunConfig("C10-CNN1-fit", "layca").with_init_seed(seed),
                          test_accuracy=accuracy)
    read = spread(Results(str(tmp_path), "cpu_fit"), RunConfig("C10-CNN1-fit", "layca"), [0, 1])
    assert read.values == pytest.approx((40.0, 38.0))
