"""Batches per second of the experiments' augmented input pipeline (`EpochBatches`): made
alone, and taken by `model.fit` in the training process and from Keras' `PyDataset`
workers.

    KERAS_BACKEND=tensorflow|jax|torch python benchmarks/input_pipeline.py [--batches 200] [--repeats 5]

The data are C10-CNN2's: 45,000 standardised 32 x 32 x 3 images, batches of 128 with the
authors' shifts and flips (`augment=True`), beside the same batches without augmentation
(C10-CNN1). Two measures, alternating within every repeat (median of the repeats):

- made: `batches[i]` called in a loop, nothing else: what the training process spends
  on its input per step;
- fit: `model.fit` over the batches with a model that does almost nothing (global average
  pooling and a dense layer), so that the time is the pipeline's and Keras' handling of a
  `PyDataset` on this backend: the batches made in the training process (as the
  experiments take them), and made ahead by `--workers` threads of Keras' `PyDataset`
  (`workers=N`). One epoch per fit, where the workers' batches are the same ones (over
  several epochs they restart at index 0 every epoch: `EpochBatches`' docstring).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from experiments.data import EpochBatches  # noqa: E402


def data(n=45_000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 32, 32, 3)).astype(np.float32)
    return x, np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]


def batches_made_per_second(batches, count):
    batches[0]  # the epoch's permutation and augmentation are drawn once, at its first batch
    start = time.perf_counter()
    for index in range(1, count + 1):
        batches[index]
    return count / (time.perf_counter() - start)


class WorkerBatches(EpochBatches):
    """`EpochBatches` made ahead by `workers` threads of Keras' `PyDataset`."""

    def __init__(self, *args, workers):
        super().__init__(*args)
        keras.utils.PyDataset.__init__(self, workers=workers)


def fit_batches_per_second(model, batches, count):
    start = time.perf_counter()
    model.fit(batches, epochs=1, steps_per_epoch=count, shuffle=False, verbose=0)
    return count / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=200, help="batches per timed block")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="PyDataset worker threads (default: %(default)s)")
    args = parser.parse_args(argv)
    x, y = data()
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.GlobalAveragePooling2D()(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(0.01), "categorical_crossentropy")
    model.fit(EpochBatches(x, y, 128, 0, 0, 1), epochs=1, steps_per_epoch=4, shuffle=False, verbose=0)  # compile
    variants = {"augmented (C10-CNN2)": True, "plain (C10-CNN1)": False}
    made, fitted, workers = ({name: [] for name in variants} for _ in range(3))
    for repeat in range(args.repeats):
        for name, augment in variants.items():
            settings = (x, y, 128, repeat, 0, 1, augment)
            made[name].append(batches_made_per_second(EpochBatches(*settings), args.batches))
            fitted[name].append(fit_batches_per_second(model, EpochBatches(*settings), args.batches))
            workers[name].append(fit_batches_per_second(model, WorkerBatches(*settings, workers=args.workers),
                                                        args.batches))
    print(f"backend: {keras.backend.backend()}, {os.cpu_count()} CPUs, batches of 128 images of 32x32x3 from 45,000")
    print(f"{'batches':22} {'made/s':>8} {'ms each':>8} {'fit batches/s':>14} "
          f"{f'with {args.workers} workers':>16} {'ratio':>6}")
    for name in variants:
        rate, fit, ahead = (float(np.median(m[name])) for m in (made, fitted, workers))
        print(f"{name:22} {rate:>8.1f} {1000 / rate:>8.2f} {fit:>14.1f} {ahead:>16.1f} {ahead / fit:>6.2f}")


if __name__ == "__main__":
    main()
