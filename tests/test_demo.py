"""The README's demo runs end to end and writes its figure and curves."""

import os

import matplotlib.image
import pytest

from layer_rotation_tools import LayerRotationCurves
from layer_rotation_tools.demo import load_digits_split, main

pytestmark = pytest.mark.slow  # trains models or runs studies; `pytest -m "not slow"` skips it


def test_digits_are_standardised_by_training_statistics():
    x_train, y_train, x_test, _ = load_digits_split()
    assert x_train.shape[1:] == (8, 8, 1) and y_train.shape[1] == 10
    assert len(x_train) + len(x_test) == 1797
    assert abs(float(x_train.mean())) < 1e-5 and abs(float(x_train.std()) - 1) < 1e-4


def test_demo_writes_figure_and_curves(tmp_path, capsys):
    path = main(["--out", str(tmp_path), "--epochs", "2"])
    assert path == os.path.join(str(tmp_path), "layer_rotation_curves.png")
    assert matplotlib.image.imread(path).shape[0] > 100
    printed = capsys.readouterr().out
    assert "SGD + Layca (rho(0) = 3^-3): test accuracy" in printed and "SGD (lr = 3^-1): test accuracy" in printed
    curves = LayerRotationCurves.load(tmp_path / "curves_sgd_layca.h5")
    assert curves.layer_names == ["conv1", "conv2", "conv3", "conv4", "dense"]
    assert curves.distances.shape == (2, 5) and (curves.distances > 0).all()
