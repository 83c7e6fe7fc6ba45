"""The `Example:` blocks of the public classes' docstrings run as written, and do what
their comments say."""

import re

import keras
import numpy as np
import pytest

import layer_rotation_tools
from layer_rotation_tools import Layca, LayerRotationCurves, LayerRotationRates, ReplayRotationRates


def run_example(cls):
    """Execute the class docstring's ```python block; returns its namespace."""
    blocks = re.findall(r"```python\n(.*?)```", cls.__doc__, re.S)
    assert len(blocks) == 1, f"{cls.__name__} has {len(blocks)} examples"
    code = "\n".join(line[4:] for line in blocks[0].splitlines())  # the docstring's indentation
    namespace = {"keras": keras, "np": np, **{name: getattr(layer_rotation_tools, name) for name in layer_rotation_tools.__all__}}
    exec(compile(code, f"<{cls.__name__} example>", "exec"), namespace)
    return namespace


def test_layca_example_rotates_with_the_alpha_profile():
    layca = run_example(Layca)["layca"]
    assert layca.multiplier_values() == pytest.approx({"hidden": 0.8**5, "out": 1.0})
    assert int(layca.iterations) == 2


def test_curves_example_records_every_second_batch_and_the_quantiles_of_each_layers_units():
    namespace = run_example(LayerRotationCurves)
    curves, units = namespace["curves"], namespace["units"]
    assert curves.distances.shape == (4, 2) and np.all(curves.distances > 0)
    np.testing.assert_allclose(curves.epochs, [0.5, 1.0, 1.5, 2.0])
    assert units.distances.shape == (2, 2, 3) and np.all(np.diff(units.distances, axis=-1) >= 0)


def test_rates_example_measures_rho_at_every_step():
    rates = run_example(LayerRotationRates)["rates"]
    assert rates.rates.shape == (4, 2)
    np.testing.assert_allclose(rates.rates, 0.05, rtol=1e-4)


def test_replay_example_rotates_each_layer_as_the_recorded_optimizer():
    namespace = run_example(ReplayRotationRates)
    recorded, replayed = namespace["recorded"], namespace["replayed"]
    assert recorded.rates.shape == (4, 2) and np.all(recorded.rates > 0)
    np.testing.assert_allclose(replayed.rates, recorded.rates, rtol=1e-4)
