"""The papers' figures, drawn from saved results files only (their Table 1: `table1.py`).

Each figure function reads `results/<scale>/<task>/<run id>.h5` through `Results`; a
run that has no results yet leaves its panel marked "not run" (so a partial study still
draws). Figure numbers refer to the extended paper (arXiv:1806.01603v4) unless noted.
"""

import math
import os
from dataclasses import dataclass

import numpy as np

from experiments.recipes import (
    ALPHAS,
    INIT_SCALES,
    MNIST_RHOS,
    OPTIMIZERS,
    PLATEAU_ALPHAS,
    PLATEAU_RHOS,
    PAPER_TASKS,
    RHO_GRID,
    SGD_GRID,
    TASKS,
    RunConfig,
    known_tasks,
    power_of_3,
    with_layca,
)
from experiments.drawing import curves_grid, missing, new_figure, save_figure
from experiments.results import Results
from experiments.studies import FIRST_THREE, study_configs, table1_layca, trained_layer_runs
from layer_rotation_tools import alpha_profile, plot_layer_rotation_curves
from layer_rotation_tools.plotting import layer_colors

# -- the figures -----------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A figure command: how to draw it, and its number in each paper (the extended arXiv
    version, "Layer rotation: a surprisingly powerful indicator of generalization in deep
    networks?", and the ICLR version, "On layer-level control of DNN training..."; None
    where a paper lacks it)."""

    name: str
    draw: object  # draw(results, out, tasks) -> the path written; draw(results, out) when it draws no task
    tasks: tuple = ()  # the tasks it draws unless told others, a row, column or line each; (): none
    one_task: bool = False  # it draws exactly one task
    extended: str = None
    iclr: str = None

    def render(self, results, out, tasks=None):
        """Draw into `out` for `tasks` (None: `self.tasks`), a variant of a paper task as
        well as the paper task itself (e.g. C10-CNN1-fit, drawn from its own results)."""
        if tasks is None:
            tasks = self.tasks
        elif not self.tasks:
            raise ValueError(f"Figure {self.name!r} draws no task, so it takes none; received {list(tasks)}: "
                             "drop --tasks.")
        tasks = known_tasks(tasks)
        if self.one_task and len(tasks) != 1:
            raise ValueError(f"Figure {self.name!r} draws one task; received {list(tasks)}: give one, e.g. "
                             f"--tasks {self.tasks[0]}.")
        return self.draw(results, out, tasks) if self.tasks else self.draw(results, out)

    @property
    def numbers(self):
        """'extended Fig. 1, ICLR Fig. 2'."""
        return ", ".join(f"{paper} Fig. {n}" for paper, n in (("extended", self.extended), ("ICLR", self.iclr)) if n)


#: Every figure command, by name, in the order they are registered (`figure`).
FIGURES = {}


def figure(name, tasks=(), one_task=False, extended=None, iclr=None):
    """Register the decorated function as figure command `name` (`Figure`)."""

    def register(draw):
        FIGURES[name] = Figure(name, draw, tuple(tasks), one_task, extended, iclr)
        return draw

    return register


@figure("rotation_grid", PAPER_TASKS, extended="1", iclr="2")
def rotation_grid(results, out, tasks):
    """Figure 1: layer rotation curves of alpha = 0.6, -0.6, rho(0) = 3^-5, 3^-4 and the
    best configuration, per task, with test accuracy and difference to the best."""
    return curves_grid(results, [(results.label(task), list(table1_layca(task).items())) for task in tasks], out)


@figure("sgd_curves", PAPER_TASKS, extended="2", iclr="4")
def sgd_curves(results, out, tasks):
    """Figure 2: SGD over its learning-rate grid, per task."""
    grid = [(results.label(task),
             [(f"lr={power_of_3(lr)}", RunConfig(task, "sgd", learning_rate=lr)) for lr in SGD_GRID])
            for task in tasks]
    return curves_grid(results, grid, out)


@figure("sgd_first_epoch", PAPER_TASKS, extended="10")
def sgd_first_epoch(results, out, tasks):
    """Extended Figure 10: SGD at 3^0 in its first epoch, per task: layer rotation curves
    at every iteration (top) and each batch's training accuracy (bottom), where updates
    rotate layers far without improving training accuracy."""
    figure, axes = new_figure(2, len(tasks))
    highest = 0.0
    for column, task in enumerate(tasks):
        top, bottom = axes[0, column], axes[1, column]
        result = results.get(study_configs("sgd_first_epoch", [task])[0])
        if result is None:
            missing(top, task)
            missing(bottom, task)
            continue
        plot_layer_rotation_curves(result.curves.values, ax=top, epochs=result.curves.steps, title=task)
        top.set_xlabel("")
        top.set_ylabel("Cosine distance" if column == 0 else "")
        iterations = np.arange(1, len(result.batch_accuracy) + 1)
        bottom.plot(iterations, result.batch_accuracy, marker="." if len(iterations) < 30 else None)
        bottom.set_xticks([0, len(iterations)])
        bottom.set_xlabel("Iteration")
        bottom.set_ylabel("Training acc" if column == 0 else "")
        highest = max(highest, float(np.max(result.batch_accuracy)))
    for bottom in axes[1]:  # one accuracy scale for every task, as the authors' figure
        bottom.set_ylim(0, 1.05 * highest or 1)
    return save_figure(figure, out)


@figure("weight_decay_curves", PAPER_TASKS, extended="3")
def weight_decay_curves(results, out, tasks):
    """Figure 3: SGD with weight decay (L2), per task."""
    return curves_grid(results, [("SGD+L2", [(t, RunConfig(t, "sgd_weight_decay")) for t in tasks])], out)


@figure("adaptive_curves", PAPER_TASKS, extended="6", iclr="5")
def adaptive_curves(results, out, tasks):
    """Figure 6: the adaptive method of each task without (top) and with (bottom) Layca."""
    top = [(t, RunConfig(t, TASKS[t].adaptive)) for t in tasks]
    bottom = [(t, RunConfig(t, with_layca(TASKS[t].adaptive))) for t in tasks]
    return curves_grid(results, [("adaptive", top), ("+Layca", bottom)], out)


@figure("adaptive_equivalent_curves", PAPER_TASKS, iclr="6")
def adaptive_equivalent_curves(results, out, tasks):
    """ICLR Figure 6: training (dotted) and held-out (full) accuracy per epoch of each
    task's adaptive method and its non-adaptive equivalent, both with Layca; the papers
    find the curves indistinguishable. The held-out curve is the 10% validation split
    (the runs evaluate the test set once, at the end), whose final value is in the legend
    beside the test accuracy."""
    figure, axes = new_figure(1, len(tasks), size=(3.0, 2.6))
    for ax, task in zip(axes[0], tasks):
        ax.set_title(results.label(task), fontsize=9)
        drawn = False
        for config, color in zip(study_configs("adaptive_equivalent", [task]), ("tab:red", "tab:blue")):
            result = results.get(config)
            if result is None:
                continue
            epochs = np.arange(1, len(result.history["accuracy"]) + 1)
            name = f"{config.spec.label} ({100 * result.test_accuracy:.1f}% test)"
            ax.plot(epochs, result.history["accuracy"], ":", color=color)
            ax.plot(*result.validation, "-", marker=".", markersize=3, color=color, label=name)
            drawn = True
        if not drawn:
            missing(ax, task)
            continue
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("Epoch")
        ax.legend(fontsize=6, loc="lower right")
    axes[0, 0].set_ylabel("Accuracy")
    return save_figure(figure, out)


@figure("init_scale_consistency", ("C10-CNN1",), one_task=True, iclr="7")
def init_scale_consistency(results, out, tasks):
    """ICLR Figure 7: training (dotted) and test (full) accuracy against the initial rate,
    one line per factor f rescaling every kernel's initial weights, for Layca (left),
    block-normalised SGD (centre) and SGD (right)."""
    figure, axes = new_figure(1, 3, size=(3.2, 2.6))
    configs = study_configs("init_scale", tasks)
    colors = dict(zip(INIT_SCALES, ("tab:green", "tab:blue", "tab:red")))
    for ax, optimizer in zip(axes[0], ("layca", "normalized_sgd", "sgd")):
        drawn = False
        for f in INIT_SCALES:
            points = [(c.learning_rate, results.get(c)) for c in configs if c.optimizer == optimizer and c.init_scale == f]
            points = [(rate, result) for rate, result in points if result is not None]
            if not points:
                continue
            exponents = [math.log(rate, 3) for rate, _ in points]
            ax.plot(exponents, [r.history["accuracy"][-1] for _, r in points], ":", color=colors[f])
            ax.plot(exponents, [r.test_accuracy for _, r in points], "-", marker=".", color=colors[f], label=f"f={f:g}")
            drawn = True
        name = OPTIMIZERS[optimizer].label
        if not drawn:
            missing(ax, name)
            continue
        ax.set_title(name, fontsize=9)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("log3 of the initial rate")
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("Accuracy")
    return save_figure(figure, out)


@figure("lars_curves", FIRST_THREE, extended="12", iclr="9")
def lars_curves(results, out, tasks):
    """Figure 12: LARS at alpha = 0, rho(0) = 3^-3."""
    return curves_grid(results, [("LARS", [(t, RunConfig(t, "lars")) for t in tasks])], out)


@figure("accuracy_vs_alpha_rho", FIRST_THREE, extended="9")
def accuracy_vs_alpha_rho(results, out, tasks):
    """Figure 9 (extended): test accuracy against alpha (rho(0) = 3^-3; only where the final
    training accuracy exceeds 0.9, as the authors filtered) and against rho(0) (alpha = 0,
    3^-7 .. 3^0), a line per task of the first three ("Study of the relation between layer
    rotation and generalization.ipynb")."""
    figure, axes = new_figure(1, 2, size=(4.2, 2.8))
    rhos = [r for r in RHO_GRID if r <= 1.0]
    for ax, label, settings in (
        (axes[0, 0], "alpha", [(a, {"alpha": a}) for a in ALPHAS]),
        (axes[0, 1], "log3 rho(0)", [(round(math.log(r, 3)), {"learning_rate": r}) for r in rhos]),
    ):
        drawn = False
        for index, task in enumerate(tasks):
            points = []
            for x, options in settings:
                result = results.get(RunConfig(task, "layca", **options))
                if result is None or ("alpha" in options and not result.history["accuracy"][-1] > 0.9):
                    continue
                points.append((x, 100.0 * result.test_accuracy))
            if points:
                ax.plot(*zip(*points), f"C{index}-", marker=".", label=results.label(task))
                drawn = True
        if not drawn:
            missing(ax, label)
            continue
        ax.set_xlabel(label)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("test accuracy (%)")
    return save_figure(figure, out)


@figure("loss_plateaus", FIRST_THREE, extended="11", iclr="3 and 10")
def loss_plateaus(results, out, tasks):
    """Figures 11 (extended) / 3 and 10 (ICLR): training loss per epoch of Layca for the
    first three tasks (rows), at rho(0) = 3^-3 with alpha in 0 .. -0.6 and 0 .. 0.6, and at
    alpha = 0 with rho(0) from 3^-3 to 3^-4 (columns); linear axis, as the authors ("Study
    of the relation between layer rotation and training speed.ipynb")."""
    columns = (
        ("alpha <= 0", [(f"a={-a + 0.0:g}", {"alpha": -a}) for a in PLATEAU_ALPHAS]),
        ("alpha >= 0", [(f"a={a:g}", {"alpha": a}) for a in PLATEAU_ALPHAS]),
        ("rho(0)", [(f"r={power_of_3(r)}", {"learning_rate": r}) for r in PLATEAU_RHOS]),
    )
    figure, axes = new_figure(len(tasks), len(columns), size=(3.0, 2.2))
    for row, task in enumerate(tasks):
        for column, (title, settings) in enumerate(columns):
            ax = axes[row, column]
            drawn = False
            for (label, options), color in zip(settings, layer_colors(len(settings))):
                result = results.get(RunConfig(task, "layca", **options))
                if result is not None:
                    loss = result.history["loss"]
                    ax.plot(np.arange(1, len(loss) + 1), loss, color=color, label=label, linewidth=1)
                    drawn = True
            if not drawn:
                missing(ax, f"{results.label(task)}, {title}")
                continue
            ax.set_title(f"{results.label(task)}, {title}", fontsize=8)
            ax.legend(fontsize=5, ncol=2)
        axes[row, 0].set_ylabel("Training loss")
    return save_figure(figure, out)


@figure("warmup", ("C10-resnet",), one_task=True, extended="4")
def warmup(results, out, tasks, first_epochs=25):
    """Figure 4: rotation curves and training accuracy of SGD + L2 (3^-1) with 0/5/10/15
    warmup epochs and of Layca without warmup, over the first 25 epochs."""
    configs = [(f"{'SGD+L2' if c.spec.weight_decay else 'Layca'}, "
                + (f"warmup {c.warmup_epochs}" if c.warmup_epochs else "no warmup"), c)
               for c in study_configs("warmup", tasks)]
    figure, axes = new_figure(2, len(configs))
    for c, (label, config) in enumerate(configs):
        result = results.get(config)
        if result is None:
            missing(axes[0, c], label)
            missing(axes[1, c], label)
            continue
        keep = result.curves.epochs <= first_epochs
        plot_layer_rotation_curves(result.curves.values[keep], ax=axes[0, c], epochs=result.curves.epochs[keep],
                                   title=f"{label}\neta={100 * result.test_accuracy:.2f}%")
        accuracy = result.history["accuracy"][:first_epochs]
        axes[1, c].plot(np.arange(1, len(accuracy) + 1), accuracy)
        axes[1, c].set_ylim(0, 1)
        axes[1, c].set_xlabel("Epoch")
        axes[1, c].set_ylabel("train accuracy")
    return save_figure(figure, out)


@figure("second_moments", ("C10-CNN1",), one_task=True, extended="5", iclr="11")
def second_moments(results, out, tasks):
    """ICLR Figure 11 (extended Figure 5): 10th / 50th / 90th percentiles of Adam's second-moment estimates per
    layer at the end of epochs 1, 10 and 50 of C10-CNN1."""
    (config,) = study_configs("second_moments", tasks)
    result = results.get(config)
    figure, axes = new_figure(1, 3, size=(3.2, 2.6))
    if result is None or result.second_moments is None:
        for ax in axes[0]:
            missing(ax, config.run_id)
        return save_figure(figure, out)
    moments, epochs = result.second_moments, result.second_moment_epochs
    for ax, epoch, values in zip(axes[0], epochs, moments):
        layers = np.arange(len(values))
        ax.errorbar(layers, values[:, 1], yerr=[values[:, 1] - values[:, 0], values[:, 2] - values[:, 1]], fmt="o",
                    markersize=3)
        ax.set_yscale("log")
        ax.set_title(f"epoch {int(epoch)}", fontsize=9)
        ax.set_xlabel("layer index")
    for ax in axes[0][len(moments):]:
        ax.axis("off")
    return save_figure(figure, out)


@figure("adapt_copy_curves", PAPER_TASKS, extended="7")
def adapt_copy_curves(results, out, tasks):
    """Figure 7: training curves of the adaptive method, SGD + L2, and SGD(-AMom)+Layca
    replaying the adaptive method's layer rotation rates."""
    figure, axes = new_figure(1, len(tasks))
    for ax, task in zip(axes[0], tasks):
        configs = study_configs("adapt_copy", [task])
        drawn = 0
        for config in configs:
            result = results.get(config)
            if result is not None:
                accuracy = result.history["accuracy"]
                ax.plot(np.arange(1, len(accuracy) + 1), accuracy, label=config.optimizer)
                drawn += 1
        if not drawn:
            missing(ax, task)
            continue
        ax.set_title(results.label(task), fontsize=9)
        ax.set_xlabel("Epoch")
        ax.set_ylabel("train accuracy")
        ax.legend(fontsize=6)
    return save_figure(figure, out)


@figure("mnist_features", ("MNIST-MLP1",), one_task=True, extended="8")
def mnist_features(results, out, tasks):
    """Figure 8 (extended): the input weights of first-layer neurons 5 to 9 (columns) after
    training with Layca at rho(0) = 3^-2, 3^-2.5, 3^-3, 3^-4 (rows), viridis, with each
    run's final training and test accuracy and the hidden layer's rotation at the right
    (as "MNIST 1st layer feature visualization.ipynb")."""
    (task,) = tasks
    configs = [RunConfig(task, "layca", learning_rate=r) for r in MNIST_RHOS]
    count = TASKS[task].features
    figure, axes = new_figure(len(configs), count + 1, size=(1.5, 1.5))
    for row, config in enumerate(configs):
        result = results.get(config)
        label = f"rho(0)={power_of_3(config.learning_rate)}"
        text_ax = axes[row, count]
        text_ax.axis("off")
        if result is None:
            for ax in axes[row, :count]:
                missing(ax, label)
            continue
        features = result.features
        side = int(round(math.sqrt(features.shape[1])))
        for column in range(count):
            ax = axes[row, column]
            ax.imshow(features[column].reshape(side, side), cmap="viridis")
            ax.set_xticks([])
            ax.set_yticks([])
        text_ax.text(0.0, 0.5, f"{label}\nTrain: {100 * result.history['accuracy'][-1]:.1f}%\n"
                     f"Test: {100 * result.test_accuracy:.2f}%\nd={result.curves.values[-1, 0]:.2f}",
                     va="center", fontsize=7, transform=text_ax.transAxes)
    return save_figure(figure, out)


@figure("mnist_layers", ("MNIST-MLP11",), iclr="1")
def mnist_layers(results, out, tasks):
    """Figure 1 of the ICLR version: test accuracy against the index of the only trained
    layer of the 11-layer MLP, mean and std over the repetitions found."""
    return _layers_figure(results, out, tasks)


@figure("mnist_layers_init", ("MNIST-MLP11", "MNIST-MLP11-orthogonal"), iclr="8 left")
def mnist_layers_init(results, out, tasks):
    """Figure 8, left, of the ICLR version: the 11-layer MLP study from he_normal and from
    orthogonal initial kernels (MNIST-MLP11-orthogonal), side by side."""
    return _layers_figure(results, out, tasks)


def _layers_figure(results, out, tasks):
    """Mean and std of the test accuracy per trained layer, a line per task (named when
    there are several)."""
    figure, axes = new_figure(1, 1, size=(4, 3))
    ax = axes[0, 0]
    drawn = False
    for task in tasks:
        means, stds, layers = [], [], []
        for layer, configs in trained_layer_runs(task, results.scale_of(task)).items():
            accuracies = [a for a in map(results.accuracy, configs) if a is not None]
            if accuracies:
                layers.append(layer + 1)
                means.append(np.mean(accuracies))
                stds.append(np.std(accuracies))
        if layers:
            ax.errorbar(layers, means, yerr=stds, marker="o", capsize=3, label=results.label(task))
            drawn = True
    if not drawn:
        missing(ax, ", ".join(tasks))
        return save_figure(figure, out)
    if len(tasks) > 1:
        ax.legend(fontsize=8)
    ax.set_xlabel("index of the trained layer")
    ax.set_ylabel("test accuracy (%)")
    return save_figure(figure, out)


@figure("mnist_feedback_silhouette", ("MNIST-MLP11",), one_task=True, iclr="8 right")
def mnist_feedback_silhouette(results, out, tasks):
    """Figure 8, right, of the ICLR version: the silhouette score, with respect to the
    classes, of the first layer's feedback (the gradient of each example's loss with
    respect to its output) while only that layer trains; one line per repetition."""
    figure, axes = new_figure(1, 1, size=(4, 3))
    ax = axes[0, 0]
    drawn = False
    (task,) = tasks
    for config in study_configs("mnist_feedback", tasks, results.scale_of(tasks[0])):
        result = results.get(config)
        if result is not None:
            scores = result.feedback_silhouette
            ax.plot(np.arange(len(scores)), scores, color="tab:blue", alpha=0.6)
            drawn = True
    if not drawn:
        missing(ax, task)
        return save_figure(figure, out)
    ax.set_xlabel("Epoch")
    ax.set_ylabel("silhouette of the feedback")
    return save_figure(figure, out)


@figure("alpha_profile", extended="13", iclr="12")
def alpha_profile_figure(results, out, num_layers=25):
    """Figure 13: the layer-wise multipliers of the alpha profile, against l / L."""
    figure, axes = new_figure(1, 2, size=(3.4, 2.6))
    x = np.arange(num_layers) / num_layers
    for ax, alphas, title in ((axes[0, 0], [a for a in ALPHAS if a < 0], "alpha < 0: first layers faster"),
                              (axes[0, 1], [a for a in ALPHAS if a > 0], "alpha > 0: last layers faster")):
        for alpha, color in zip(sorted(alphas, key=abs), layer_colors(len(alphas))):
            ax.plot(x, alpha_profile(num_layers, alpha), color=color, label=f"|alpha|={abs(alpha)}")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("l / L")
        ax.set_ylabel("multiplier")
        ax.legend(fontsize=5)
    return save_figure(figure, out)


def draw(names, results_dir="results", scale="full", out_dir="figures", tasks=None, task_scales=None):
    """Draw the figures `names` (a name, a list of names, or "all") into
    `out_dir/<scale>/<name>.png`, each for `tasks` (None: its own `Figure.tasks`; with
    "all", only the figures that draw tasks take them), each task's runs read at `scale`
    or at its scale in `task_scales`; returns the paths."""
    names = [names] if isinstance(names, str) else list(names)
    if names == ["all"]:
        names = [n for n, f in FIGURES.items() if tasks is None or f.tasks]
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ValueError(f"Unknown figure {unknown[0]!r}; known: {sorted(FIGURES)} or 'all'.")
    results = Results(results_dir, scale, task_scales)
    return [FIGURES[n].render(results, os.path.join(out_dir, scale, f"{n}.png"), tasks) for n in names]
