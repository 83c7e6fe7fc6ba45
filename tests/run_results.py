"""Results files written without training, for tests of what reads them."""

import os
import shutil

import numpy as np

from experiments.results import HISTORY_KEYS, RunResult, run_paths, write_result
from layer_rotation_tools.records import Records


def made_curves(distances, epochs, steps):
    """`LayerRotationCurves`' `Records` of these distances (records x layers), the layers
    labelled `layer0`, `layer1`, ..."""
    distances = np.asarray(distances, float)
    names = [f"layer{i}" for i in range(distances.shape[1])]
    return Records("distances", distances, np.asarray(epochs, float), np.asarray(steps), names,
                   [f"model/{name}/kernel" for name in names])


def made_result(config, test_accuracy=0.5, val_accuracy=(0.5,), layers=2, **changes):
    """A complete `RunResult` of `config`, one epoch per validation accuracy given."""
    epochs = len(val_accuracy)
    history = {key: np.linspace(1.0, 0.5, epochs) for key in HISTORY_KEYS}
    history["val_accuracy"] = np.asarray(val_accuracy, float)
    values = dict(
        run_id=config.run_id, config=config.to_dict(), scale="full", test_accuracy=test_accuracy, test_loss=1.0,
        epochs_run=epochs, stop_reason=None, history=history,
        curves=made_curves(np.linspace(0.1, 0.9, epochs * layers).reshape(epochs, layers),
                           np.arange(1.0, epochs + 1), np.arange(1, epochs + 1) * 10),
        kernel_layer_names=[f"layer{i}" for i in range(layers)],
        initial_kernel_norms=[1.0] * layers, wall_seconds=1.0, backend="tensorflow", keras_version="3.15.1",
    )
    return RunResult(**{**values, **changes})


def write_made_result(results_dir, scale, config, **fields):
    """`made_result(config, **fields)` written where the runner would write `config`'s results."""
    result = made_result(config, **fields)
    write_result(run_paths(results_dir, scale, config)["result"], result)
    return result


def copy_run(from_dir, to_dir, scale, config):
    """`config`'s results file and its task's initial weights, copied from one results
    folder to another (e.g. a run of the smoke studies, for a test to read or redo)."""
    source, target = run_paths(from_dir, scale, config), run_paths(to_dir, scale, config)
    os.makedirs(target["folder"], exist_ok=True)
    for key in ("result", "initial"):
        shutil.copy(source[key], target[key])
