"""Reliability: half-precision and tiny kernels, and a whole study killed then resumed.

(NaN/Inf gradients, zero-norm kernels, bad alpha, unknown layer names, bad inner
optimizers, truncated results and missing or malformed datasets are tested beside their
features: test_layca.py, test_kernels.py, test_storage.py, test_experiments_*.py.)
"""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from experiments.recipes import RunConfig
from experiments.results import read_result, run_paths
from experiments.sharding import run_study
from experiments.studies import study_configs
from layer_rotation_tools import Layca, LayerRotationRates
from tests import references
from tests.iterations import IterationsSeen, assert_steps_are_iterations

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _mlp():
    return keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(16, use_bias=False, name="hidden"),
        keras.layers.ReLU(),
        keras.layers.Dense(3, activation="softmax", use_bias=False, name="out"),
    ])


def _data(n=32):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 6)).astype("float32"), keras.utils.to_categorical(rng.integers(0, 3, n), 3)


@pytest.mark.parametrize("policy, rel", [("bfloat16", 5e-2), ("float16", 5e-3), ("mixed_bfloat16", 1e-3)])
def test_half_precision_kernels_rotate_by_rho_and_stay_finite(policy, rel):
    keras.config.set_dtype_policy(policy)
    model = _mlp()
    model.compile(Layca("sgd", learning_rate=0.1), "categorical_crossentropy")
    kernels = [v for v in model.trainable_variables if v.path.endswith("kernel")]
    expected_dtype = "float32" if policy.startswith("mixed") else policy
    assert all(k.dtype == expected_dtype for k in kernels)
    before = [np.asarray(k, dtype=np.float64) for k in kernels]
    x, y = _data()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    for k, b in zip(kernels, before):
        after = np.asarray(k, dtype=np.float64)
        assert np.all(np.isfinite(after))
        assert references.tan_angle(b, after) == pytest.approx(0.1, rel=rel)
        assert np.linalg.norm(after) == pytest.approx(np.linalg.norm(b), rel=rel)


def test_loss_scaled_float16_training_rotates_by_rho():
    keras.config.set_dtype_policy("mixed_float16")
    model = _mlp()
    model.compile(Layca("adam", learning_rate=0.05), "categorical_crossentropy")  # auto-wrapped in LossScaleOptimizer
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    rates, seen = LayerRotationRates(), IterationsSeen()
    x, y = _data()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[rates, seen])
    assert_steps_are_iterations(rates, seen)
    applied = ~np.all(rates.rates == 0, axis=1)
    np.testing.assert_allclose(rates.rates[applied], 0.05, rtol=1e-3)


@pytest.mark.parametrize("inner", ["sgd", "adam", "rmsprop"])
@pytest.mark.parametrize("scale", [1e-30, 1e-20, 1e-6])
def test_a_kernel_of_tiny_norm_rotates_by_rho_with_the_default_epsilon(scale, inner):
    """The authors' epsilon applies to the inner optimizer's step, whose size does not follow
    the kernel's norm: a hidden kernel scaled to 1e-30 gets steps of ordinary size."""
    model = _mlp()
    hidden = model.get_layer("hidden")
    hidden.kernel.assign(hidden.kernel * scale)
    norm = np.linalg.norm(np.asarray(hidden.kernel, np.float64))
    model.compile(Layca(inner, learning_rate=0.1), "categorical_crossentropy")
    rates, seen = LayerRotationRates(), IterationsSeen()
    x, y = _data()
    model.fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=[rates, seen])
    assert_steps_are_iterations(rates, seen)
    assert rates.layer_names[0] == "hidden"
    np.testing.assert_allclose(rates.rates[:, 0], 0.1, rtol=1e-3)
    assert np.linalg.norm(np.asarray(hidden.kernel, np.float64)) == pytest.approx(norm, rel=1e-5)


_STUDY_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {root!r})
    from experiments import runner, sharding
    original = runner._Checkpoint.on_epoch_end
    calls = []
    def killing(self, epoch, logs=None):
        original(self, epoch, logs)
        calls.append(1)
        if len(calls) == {kill_at}:
            os.kill(os.getpid(), signal.SIGKILL)
    runner._Checkpoint.on_epoch_end = killing
    sharding.run_study("sgd", ["C10-CNN1"], "smoke", {data!r}, {results!r}, printer=lambda line: None)
    """
)


@pytest.mark.slow
def test_a_killed_study_resumes_and_ends_with_the_results_of_an_uninterrupted_one(tmp_path, smoke_data, smoke_results):
    straight_dir, done = smoke_results  # the smoke studies ran the same study uninterrupted
    straight = done["sgd"]
    # Killed after the 8th epoch checkpoint: two runs finished, the third after its 2nd epoch.
    script = _STUDY_KILLER.format(root=ROOT, kill_at=8, data=smoke_data, results=str(tmp_path / "killed"))
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert process.returncode == -9, process.stderr[-2000:]
    printed = []
    resumed = run_study("sgd", ["C10-CNN1"], "smoke", smoke_data, str(tmp_path / "killed"), printer=printed.append)
    assert sum("finished earlier, skipped" in line for line in printed) == 2
    assert any("resuming after epoch 2" in line for line in printed)
    assert list(resumed) == list(straight)
    for config in study_configs("sgd", ["C10-CNN1"], "smoke"):
        ours = read_result(run_paths(str(tmp_path / "killed"), "smoke", config)["result"])
        theirs = read_result(run_paths(straight_dir, "smoke", config)["result"])
        np.testing.assert_allclose(ours.curves.values, theirs.curves.values, rtol=1e-5, atol=1e-7)
        for key in ("loss", "accuracy"):
            np.testing.assert_allclose(ours.history[key], theirs.history[key], rtol=1e-5, atol=1e-7)
        assert resumed[config.run_id].test_accuracy == straight[config.run_id].test_accuracy
    assert RunConfig("C10-CNN1", "sgd", learning_rate=3.0**-4).run_id in resumed
