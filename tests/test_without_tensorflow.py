"""The experiments and the demo on a machine with JAX or PyTorch but no TensorFlow (the GPU
machines of issue 11): run in a fresh interpreter where `import tensorflow` fails."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from experiments import fake_data
from experiments.results import read_result

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKENDS = [name for name in ("jax", "torch") if importlib.util.find_spec(name)]  # those installed
# Each test picks its interpreter's backend itself, and trains (the fast tier skips it).
pytestmark = [pytest.mark.own_interpreter, pytest.mark.slow]


def _without_tensorflow(backend, code, cwd):
    """Run `code` on `backend` in a fresh interpreter in which TensorFlow cannot be imported;
    returns what it printed last (a JSON line)."""
    program = "import sys; sys.modules['tensorflow'] = None\n" + code + (
        "\nprint(__import__('json').dumps({'tensorflow_imported': sys.modules.get('tensorflow') is not None}))"
    )
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=ROOT, MPLBACKEND="Agg")
    env.pop("JAX_ENABLE_X64", None)  # the programs enable float64 themselves
    done = subprocess.run([sys.executable, "-c", program], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_augmented_smoke_run_and_its_figure_need_no_tensorflow(backend, tmp_path):
    fake_data.write_cifar10(str(tmp_path / "data"))
    code = (
        "from experiments.__main__ import main\n"
        "main(['run', '--task', 'C10-CNN2', '--optimizer', 'layca', '--scale', 'smoke', '--data-dir', 'data', "
        "'--results', 'results'])\n"
        "main(['figure', 'rotation_grid', '--scale', 'smoke', '--results', 'results', '--out', 'figures'])\n"
    )
    assert _without_tensorflow(backend, code, tmp_path) == {"tensorflow_imported": False}
    result = read_result(tmp_path / "results" / "smoke" / "C10-CNN2" / "C10-CNN2__layca__lr0.037037.h5")
    assert result.epochs_run == 3 and 0 <= result.test_accuracy <= 1
    # Layca at 3^-3 rotates every kernel by arctan(1/27) per step (a cosine distance of 6.9e-4
    # after one step); the curves record it once per epoch.
    assert result.curves.values.shape[0] == 3 and np.all(np.isfinite(result.curves.values))
    assert np.all(result.curves.values[0] == pytest.approx(1 - np.cos(np.arctan(1 / 27)), rel=1e-3))
    assert os.listdir(tmp_path / "figures" / "smoke")


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_demo_needs_no_tensorflow(backend, tmp_path):
    code = "from layer_rotation_tools import demo\ndemo.main(['--epochs', '2'])\n"
    assert _without_tensorflow(backend, code, tmp_path) == {"tensorflow_imported": False}
    assert os.path.exists(tmp_path / "demo_output" / "layer_rotation_curves.png")
