"""Proof on real data: the papers' two MNIST toy studies on the official MNIST test set.

The 10,000 real digits of `t10k-*` are split with a fixed seed into 8,000 training and
2,000 held-out digits (`mnist_t10k`). Runs (resumably, like every study):

- `mnist_features` on MNIST-MLP1-t10k: the 1-hidden-layer MLP (784 ReLU units), Layca at
  rho(0) = 3^-2, 3^-2.5, 3^-3, 3^-4 with the authors' schedules (100 epochs, /5 at epoch 90
  or 95; `recipes.RATE_SCHEDULES`) and SGD over 3^-4 .. 3^0 (50 epochs, x0.2 at 40);
- `mnist_layers` on MNIST-MLP11-t10k: the 11-layer MLP on 10 digits per class, each hidden
  layer trained alone (Layca, 3^-4) until 100% training accuracy, over several seeds;

then writes `real_mnist.md` (test accuracy and final rotation of every layer, per run;
accuracy per trained layer) and three figures into `--out`.

    python -m experiments.real_mnist --data-dir ../shared/data/mnist-t10k
    python -m experiments.real_mnist --data-dir ../shared/data/mnist-t10k --report-only   # from saved runs
"""

import argparse
import os

import numpy as np

from experiments.drawing import curves_grid
from experiments.figures import mnist_features, mnist_layers
from experiments.results import NoResultsError, Results
from experiments.studies import study_configs, trained_layer_runs

FEATURES_TASK, LAYERS_TASK = "MNIST-MLP1-t10k", "MNIST-MLP11-t10k"


def _training(result):
    """The accuracy on the whole training set after training, as the table shows it."""
    return "not measured" if result.train_accuracy is None else f"{100 * result.train_accuracy:.2f}%"


def table(results, scale):
    """Markdown: every mnist_features run, then mean/std accuracy per trained layer, each
    with the accuracy on the whole training set after training (the papers' scope: runs
    that fit their training set)."""
    lines = ["| run (1-hidden-layer MLP) | test accuracy | training accuracy, whole training set "
             "| final rotation: hidden layer | final rotation: classifier |",
             "|---|---|---|---|---|"]
    for config in study_configs("mnist_features", [FEATURES_TASK], scale):
        result = results.get(config)
        if result is None:
            lines.append(f"| {config.label} | not run | | | |")
            continue
        hidden, classifier = result.curves.values[-1]
        lines.append(f"| {config.label} | {100 * result.test_accuracy:.2f}% | {_training(result)} | "
                     f"{hidden:.3f} | {classifier:.3f} |")
    lines += ["", "| trained layer (11-layer MLP, 10 digits per class) | test accuracy, mean ± std "
              "| training accuracy, whole training set: lowest | seeds |", "|---|---|---|---|"]
    for layer, configs in trained_layer_runs(LAYERS_TASK, scale).items():
        runs = [r for r in map(results.get, configs) if r is not None]
        if runs:
            accuracies = [100 * r.test_accuracy for r in runs]
            measured = [r.train_accuracy for r in runs if r.train_accuracy is not None]
            lowest = f"{100 * min(measured):.2f}%" if len(measured) == len(runs) else "not measured"
            lines.append(f"| {layer + 1} | {np.mean(accuracies):.2f}% ± {np.std(accuracies):.2f} | {lowest} | "
                         f"{len(runs)} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="folder with t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz")
    parser.add_argument("--results", default="results")
    parser.add_argument("--out", default=os.path.join("notebooks", "figures"))
    parser.add_argument("--scale", choices=("full", "smoke"), default="full")
    parser.add_argument("--report-only", action="store_true", help="draw the table and figures from the runs saved so far")
    args = parser.parse_args(argv)

    if not args.report_only:
        from experiments.sharding import run_study  # training, imported only to train

        run_study("mnist_features", [FEATURES_TASK], args.scale, args.data_dir, args.results)
        run_study("mnist_layers", [LAYERS_TASK], args.scale, args.data_dir, args.results)
    results = Results(args.results, args.scale)
    configs = study_configs("mnist_features", [FEATURES_TASK], args.scale)
    try:
        results.require_any(configs + study_configs("mnist_layers", [LAYERS_TASK], args.scale), args.out)
    except NoResultsError as error:
        raise SystemExit(str(error)) from None  # the command line's refusal, without a traceback
    grid = [("", [(c.label, c) for c in configs if c.optimizer == "layca"]),
            ("", [(c.label, c) for c in configs if c.optimizer == "sgd"])]
    os.makedirs(args.out, exist_ok=True)
    paths = [
        curves_grid(results, grid, os.path.join(args.out, "real_mnist_curves.png")),
        mnist_features(results, os.path.join(args.out, "real_mnist_features.png"), (FEATURES_TASK,)),
        mnist_layers(results, os.path.join(args.out, "real_mnist_layers.png"), (LAYERS_TASK,)),
    ]
    text = table(results, args.scale)
    with open(os.path.join(args.out, "real_mnist.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    for path in paths:
        print(f"figure written to {path}")
    return text


if __name__ == "__main__":
    main()
