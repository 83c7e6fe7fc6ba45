"""Demo: train one small CNN with SGD+Layca and with plain SGD, record layer rotation
curves, write the figure, print test accuracies and final rotations.

Data: the 1,797 handwritten digits (8x8) that scikit-learn ships, so it runs offline.
Both runs start from the same initial weights, as in the papers' protocol.

    python -m layer_rotation_tools.demo --out demo_output
"""

import argparse
import os

import keras
import numpy as np

from layer_rotation_tools import Layca, LayerRotationCurves, backend


def load_digits_split(seed=0, test_fraction=0.2):
    """Digits as (x_train, y_train, x_test, y_test): float32 images standardised by the
    training set's global mean and std (as the experiments: docs/faithfulness.md), one-hot labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("The demo reads scikit-learn's bundled digits: pip install scikit-learn") from None
    digits = load_digits()
    x = digits.images.astype("float32")[..., None]
    y = keras.utils.to_categorical(digits.target, 10)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    mean, std = x[train].mean(), x[train].std()
    return (x[train] - mean) / std, y[train], (x[test] - mean) / std, y[test]


def build_cnn():
    """Conv-ReLU-BN blocks without biases or BN scale/centre, as the papers' networks."""

    def block(filters, name):
        return [
            keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer="he_uniform", name=name),
            keras.layers.ReLU(),
            keras.layers.BatchNormalization(center=False, scale=False),
        ]

    return keras.Sequential(
        [keras.Input((8, 8, 1))]
        + block(16, "conv1")
        + block(16, "conv2")
        + [keras.layers.MaxPooling2D()]
        + block(32, "conv3")
        + block(32, "conv4")
        + [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, activation="softmax", use_bias=False, name="dense")],
        name="digits_cnn",
    )


def drop_schedule(initial, epochs):
    """x0.2 at 80% of training, like the papers' step schedules."""
    return lambda epoch, lr: initial * (0.2 if epoch >= int(0.8 * epochs) else 1.0)


def train(optimizer, initial_rate, initial_weights, data, epochs, seed=0):
    x_train, y_train, x_test, y_test = data
    keras.utils.set_random_seed(seed)
    model = build_cnn()
    model.set_weights(initial_weights)
    model.compile(optimizer, "categorical_crossentropy", metrics=["accuracy"])
    curves = LayerRotationCurves()
    scheduler = keras.callbacks.LearningRateScheduler(drop_schedule(initial_rate, epochs))
    model.fit(x_train, y_train, batch_size=128, epochs=epochs, verbose=0, callbacks=[curves, scheduler])
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return accuracy, curves


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo_output", help="folder for the figure and curves (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1; received {args.epochs}")
    backend.enable_float64()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = load_digits_split()
    keras.utils.set_random_seed(0)
    initial_weights = build_cnn().get_weights()
    runs = {
        "SGD + Layca (rho(0) = 3^-3)": (Layca("sgd", learning_rate=3.0**-3), 3.0**-3),
        "SGD (lr = 3^-1)": (keras.optimizers.SGD(3.0**-1), 3.0**-1),
    }
    os.makedirs(args.out, exist_ok=True)
    figure, axes = plt.subplots(1, len(runs), figsize=(8, 3), sharey=True)
    for ax, (name, (optimizer, rate)) in zip(axes, runs.items()):
        print(f"{name}: training {args.epochs} epochs on {len(data[0])} digits...", flush=True)
        accuracy, curves = train(optimizer, rate, initial_weights, data, args.epochs)
        slug = name.split(" (")[0].replace(" + ", "_").replace(" ", "_").lower()
        curves.save(os.path.join(args.out, f"curves_{slug}.h5"))
        curves.plot(ax=ax, title=f"{name}\ntest accuracy {100 * accuracy:.2f}%")
        final = ", ".join(f"{n}: {d:.3f}" for n, d in zip(curves.layer_names, curves.distances[-1]))
        print(f"{name}: test accuracy {100 * accuracy:.2f}%")
        print(f"  final layer rotation (cosine distance from init) per layer: {final}")
    figure.tight_layout()
    path = os.path.join(args.out, "layer_rotation_curves.png")
    figure.savefig(path, dpi=120)
    print(f"figure written to {path}")
    return path


if __name__ == "__main__":
    main()
