"""A real study epoch per step over the bare training step of the same model and batch
(issue 34's goal: within 1.2), on the backend `KERAS_BACKEND` names.

    KERAS_BACKEND=tensorflow|jax|torch python benchmarks/study_epoch.py [--steps 351] [--repeats 2]

The study epoch is the experiments' own: `experiments.runner.Run` on C10-CNN1 at the
`cpu_all` scale (widths / 8, SGD+Layca at 3^-3, the monitors, the per-epoch validation
on a tenth of the data, the epoch's checkpoint), on CIFAR-10-shaped noise written in the
official format with `--steps` batches of 128 an epoch (351: the real training set). One
epoch's cost is the wall time of a run of two epochs less that of a run of one (each a
fresh run, so start-up, compilation and the final test cancel out). The bare step is
`model.train_on_batch` on one batch of the same model with the same optimizer. The two
alternate within each repeat; the median of the per-repeat ratios is printed.
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import layer_rotation_tools  # noqa: E402,F401  (Keras imported with TensorFlow's start-up lines held)
import keras  # noqa: E402
import numpy as np  # noqa: E402

from experiments import fake_data  # noqa: E402
from experiments.recipes import RunConfig  # noqa: E402
from experiments.runner import Run, load_splits, make_optimizer  # noqa: E402
from experiments.models import build_model  # noqa: E402
from layer_rotation_tools import backend  # noqa: E402

SCALE = "cpu_all"


def study_run_seconds(config, data_dir, results_dir):
    """Wall time of a whole fresh run of `config` (its checkpoint and results removed after)."""
    started = time.perf_counter()
    Run(config, SCALE, data_dir, results_dir, printer=lambda line: None).execute()
    seconds = time.perf_counter() - started
    for name in os.listdir(os.path.join(results_dir, SCALE, config.task)):
        if name.startswith(config.run_id):
            os.remove(os.path.join(results_dir, SCALE, config.task, name))
    return seconds


def bare_step_seconds(config, splits, steps):
    """Median seconds of `model.train_on_batch` on one batch of 128, same model and optimizer."""
    keras.utils.set_random_seed(0)
    model = build_model("c10_cnn1", splits.x_train.shape[1:], splits.num_classes, 1 / 8)
    model.compile(make_optimizer(config, model, config.learning_rate), "categorical_crossentropy",
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    x, y = splits.x_train[:128], splits.y_train[:128]
    for _ in range(3):  # trace, compile, build
        model.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=351, help="batches of 128 per epoch (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--bare-steps", type=int, default=20, help="bare steps timed per repeat")
    args = parser.parse_args(argv)
    backend.enable_float64()
    with tempfile.TemporaryDirectory() as folder:
        # Training and validation parts: 90% / 10% of the training images, as the runs split them.
        fake_data.write_cifar10(folder, n_train=int(np.ceil(args.steps * 128 / 0.9)), n_test=1000)
        results = os.path.join(folder, "results")
        splits = load_splits("cifar10", folder, SCALE)
        one, two = (RunConfig("C10-CNN1", "layca", 3.0**-3, only_epochs=n) for n in (1, 2))
        rows = []
        for _ in range(args.repeats):
            bare = bare_step_seconds(one, splits, args.bare_steps)
            epoch = study_run_seconds(two, folder, results) - study_run_seconds(one, folder, results)
            rows.append((bare, epoch / len(splits.x_train) * 128))
    bare, study = np.median(rows, axis=0)
    ratio = float(np.median([s / b for b, s in rows]))
    print(f"backend {keras.backend.backend()}, C10-CNN1 / 8, {len(splits.x_train)} training images "
          f"({args.steps} steps an epoch), {len(splits.x_val)} validation images, threads as started")
    print(f"{'bare step s':>12} {'study epoch s/step':>19} {'ratio':>7}")
    print(f"{bare:12.4f} {study:19.4f} {ratio:7.3f}")
    return bare, study, ratio


if __name__ == "__main__":
    main()
