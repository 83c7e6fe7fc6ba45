"""The real-data script runs end to end (at smoke scale, on fake t10k files)."""

import os

import numpy as np
import pytest

from experiments import data, fake_data
from experiments.real_mnist import main
from experiments.results import read_result, run_paths
from experiments.studies import study_configs

pytestmark = pytest.mark.slow  # trains models or runs studies; `pytest -m "not slow"` skips it


def test_t10k_split_is_fixed_and_disjoint(tmp_path):
    fake_data.write_mnist_idx(str(tmp_path), n_train=5, n_test=2100)
    x_train, y_train, x_test, y_test = data.load_raw("mnist_t10k", str(tmp_path))
    assert len(x_train) == 100 and len(x_test) == data.T10K_HELD_OUT
    images = data.read_idx(str(tmp_path / "t10k-images-idx3-ubyte.gz"))
    assert len({x.tobytes() for x in np.concatenate([x_train, x_test])[..., 0]}) == len({x.tobytes() for x in images})
    np.testing.assert_array_equal(data.load_raw("mnist_t10k", str(tmp_path))[0], x_train)


def test_t10k_split_needs_the_t10k_files(tmp_path):
    with pytest.raises(data.DatasetNotFoundError, match="t10k-images-idx3-ubyte"):
        data.load_raw("mnist_t10k", str(tmp_path))


def test_real_mnist_script_writes_table_and_figures(tmp_path, capsys):
    fake_data.write_mnist_idx(str(tmp_path / "data"), n_train=5, n_test=2400)
    out = tmp_path / "out"
    text = main(["--data-dir", str(tmp_path / "data"), "--results", str(tmp_path / "results"), "--out", str(out),
                 "--scale", "smoke"])
    assert "| SGD+Layca rho(0)=3^-3 |" in text and "| SGD lr=3^-2 |" in text and "not run" not in text
    # A row per MLP run of the smoke study; the layer table's header and a row per trained layer.
    features = study_configs("mnist_features", ["MNIST-MLP1-t10k"], "smoke")
    layers = {c.trained_layer for c in study_configs("mnist_layers", ["MNIST-MLP11-t10k"], "smoke")}
    assert text.count("\n| ") == len(features) + 1 + len(layers) and len(layers) >= 3
    # Each run's accuracy on its whole training set, beside its test accuracy.
    layca = next(c for c in features if c.optimizer == "layca" and np.isclose(c.learning_rate, 3.0**-3))
    result = read_result(run_paths(str(tmp_path / "results"), "smoke", layca)["result"])
    assert f"| SGD+Layca rho(0)=3^-3 | {100 * result.test_accuracy:.2f}% | {100 * result.train_accuracy:.2f}% |" in text
    assert sorted(os.listdir(out)) == ["real_mnist.md", "real_mnist_curves.png", "real_mnist_features.png",
                                       "real_mnist_layers.png"]
    assert (out / "real_mnist.md").read_text().strip() == text
    args = ["--data-dir", str(tmp_path / "data"), "--results", str(tmp_path / "results"), "--out", str(out)]
    assert main([*args, "--scale", "smoke", "--report-only"]) == text


def test_a_report_that_finds_no_results_leaves_the_committed_one_alone(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "real_mnist.md").write_text("the committed table")
    args = ["--data-dir", str(tmp_path / "data"), "--results", str(tmp_path / "elsewhere"), "--out", str(out),
            "--report-only"]
    with pytest.raises(SystemExit, match=r"No results file at scale 'full' in .*elsewhere/full/MNIST-MLP1-t10k.*--results"):
        main(args)
    assert sorted(os.listdir(out)) == ["real_mnist.md"] and (out / "real_mnist.md").read_text() == "the committed table"
