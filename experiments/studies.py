"""The papers' studies: each a grid of run configurations per task (`STUDIES`,
`study_configs`). Definitions only: how a study's runs are launched is
`experiments.sharding` (a share of the study in one process), `parallel` (the shares of
one machine) and `ray_runner`, so that reporting reads these definitions without
importing the training."""

from dataclasses import dataclass, replace

from experiments.recipes import (
    ALPHAS,
    COPY_OPTIMIZER,
    INIT_SCALE_RATES,
    INIT_SCALES,
    MNIST_RHOS,
    OPTIMIZERS,
    PAPER_TASKS,
    PLATEAU_RHOS,
    REAL_DATA_RHOS,
    RHO_GRID,
    SCALES,
    SEED_ALPHAS,
    SEED_RHOS,
    SEED_SGD_RATES,
    SHORT_ALPHAS,
    SHORT_RHOS,
    SGD_GRID,
    TASKS,
    WARMUP_EPOCHS,
    RunConfig,
    known_tasks,
    scaled_epochs,
    with_layca,
)

FIRST_THREE = PAPER_TASKS[:3]


def _sweep(values, scale, crossed=False):
    """A grid's values at `scale` (`Scale.sweep`: all but at the smoke scale)."""
    return SCALES[scale].sweep(values, crossed)


def _full_grid(task):
    """Whether the papers explore `task` (or the paper task it is a variant of) over the
    full alpha and rho(0) grids."""
    return TASKS[task].paper_task in FIRST_THREE


def _alpha(task, scale):
    return [RunConfig(task, "layca", alpha=a) for a in _sweep(ALPHAS if _full_grid(task) else SHORT_ALPHAS, scale)]


def _rho(task, scale):
    return [RunConfig(task, "layca", learning_rate=r) for r in _sweep(RHO_GRID if _full_grid(task) else SHORT_RHOS, scale)]


def _rho_fine(task, scale):
    """Layca at rho(0) = 3^-3, 3^-3.2, ..., 3^-4 (the loss-plateau figure, third column)."""
    return [RunConfig(task, "layca", learning_rate=r) for r in _sweep(PLATEAU_RHOS, scale)]


def _sgd(task, scale):
    return [RunConfig(task, "sgd", learning_rate=lr) for lr in _sweep(SGD_GRID, scale)]


def _sgd_weight_decay(task, scale):
    return [RunConfig(task, "sgd_weight_decay")]


def _adaptive_source(task):
    return RunConfig(task, TASKS[task].adaptive, record_rates=True)


def _adaptive(task, scale):
    """The task's adaptive method, alone and with Layca (Figure 6)."""
    adaptive = TASKS[task].adaptive
    return [_adaptive_source(task), RunConfig(task, with_layca(adaptive))]


def _adaptive_equivalent(task, scale):
    """The task's adaptive method and its non-adaptive equivalent (SGD_AMom for Adam, SGD
    otherwise), both with Layca at their best rates (ICLR Figure 6; arXiv:1806.01603,
    Section 5.4 and Supp. B.4 for SGD_AMom)."""
    adaptive = with_layca(TASKS[task].adaptive)
    equivalent = "sgd_amom_layca" if OPTIMIZERS[adaptive].inner == "adam" else "layca"
    return [RunConfig(task, adaptive), RunConfig(task, equivalent)]


def _adapt_copy(task, scale):
    """SGD+Layca (SGD_AMom+Layca for Adam) replaying the adaptive method's per-layer,
    per-step rotation rates, beside the adaptive method and SGD+L2 (Figure 7)."""
    source = _adaptive_source(task)
    copy = RunConfig(task, COPY_OPTIMIZER.get(source.optimizer, "layca_copy"), copy_from=source.run_id)
    return [source, copy, RunConfig(task, "sgd_weight_decay")]


def _warmup(task, scale):
    """SGD + L2 at 3^-1 with 0, 5, 10, 15 warmup epochs, and Layca without warmup (Figure 4;
    the authors' runs are 'SGD_weight_decay', "Learning rate warmup experiment.ipynb").
    Warmups that last the same number of epochs at `scale` train alike: the first runs."""
    by_length = {}
    for w in _sweep(WARMUP_EPOCHS, scale):
        config = RunConfig(task, "sgd_weight_decay", learning_rate=3.0**-1, warmup_epochs=w, record_rates=True)
        by_length.setdefault(scaled_epochs(w, config.schedule, SCALES[scale]), config)
    return [*by_length.values(), RunConfig(task, "layca", record_rates=True)]


def _sgd_first_epoch(task, scale):
    """SGD at 3^0, the first epoch only, curves and training accuracy at every batch
    (extended Figure 10; "Analysis of SGD's learning rate - going further.ipynb")."""
    return [RunConfig(task, "sgd", learning_rate=1.0, only_epochs=1, per_batch=True)]


def _init_scale(task, scale):
    """Layca, block-normalised SGD and SGD over INIT_SCALE_RATES, from the task's initial
    weights multiplied by each f of INIT_SCALES (ICLR Figure 7): Layca's accuracy against
    its rate should not depend on f; the norm of block-normalised SGD's steps does not
    either, but the rotation it causes does."""
    return [
        RunConfig(task, optimizer, learning_rate=rate, init_scale=f)
        for optimizer in ("layca", "normalized_sgd", "sgd")
        for f in _sweep(INIT_SCALES, scale, crossed=True)
        for rate in _sweep(INIT_SCALE_RATES, scale, crossed=True)
    ]


def _lars(task, scale):
    return [RunConfig(task, "lars")]


def _second_moments(task, scale):
    """Adam on C10-CNN1, recording its second-moment percentiles (ICLR Figure 11, extended Figure 5)."""
    return [RunConfig(task, "adam")]


def _mnist_features(task, scale):
    """The 1-hidden-layer MLP on reduced MNIST: Layca at four rates (Figure 8), and SGD
    over its learning-rate grid, from the same initial weights."""
    return [RunConfig(task, "layca", learning_rate=r) for r in _sweep(MNIST_RHOS, scale)] + [
        RunConfig(task, "sgd", learning_rate=lr) for lr in _sweep(SGD_GRID, scale)
    ]


def _mnist_layers(task, scale):
    """The 11-layer MLP, training one hidden layer at a time (Layca at its best rate, 3^-4) until 100%
    training accuracy, repeated with different seeds (data subset and initialisation)."""
    runs = trained_layer_runs(task, scale, _sweep(range(10), scale))
    return [config for by_layer in zip(*runs.values()) for config in by_layer]  # seed by seed


def _mnist_feedback(task, scale):
    """The 11-layer MLP training only its first layer, the silhouette of that layer's
    feedback recorded every epoch (ICLR Figure 8, right)."""
    return [RunConfig(task, "layca", trained_layer=0, record_feedback=True, seed=seed)
            for seed in range(SCALES[scale].repeats)]


def _real_cifar10(task, scale):
    """The claims of Figures 1, 2 and 6 on one task: SGD+Layca over four rho(0) at alpha = 0
    and two alphas at 3^-3, SGD over its grid, and the task's adaptive method with and
    without Layca, from the same initial weights (experiments/real_cifar10.py).

    In the order that tests the central claim soonest, for a study cut short: SGD+Layca at
    3^-3, 3^-2, 3^-4 and SGD at 3^-1, 3^0, 3^-2 first, then the rest."""
    adaptive = TASKS[task].adaptive
    first = [RunConfig(task, "layca"), RunConfig(task, "sgd", learning_rate=3.0**-1),
             RunConfig(task, "layca", learning_rate=3.0**-2), RunConfig(task, "layca", learning_rate=3.0**-4),
             RunConfig(task, "sgd", learning_rate=3.0**0), RunConfig(task, "sgd", learning_rate=3.0**-2)]
    rest = [
        RunConfig(task, with_layca(adaptive)),
        *(RunConfig(task, "layca", alpha=a) for a in (-0.6, 0.6)),
        RunConfig(task, adaptive),
        *(RunConfig(task, "layca", learning_rate=r) for r in REAL_DATA_RHOS),
        *(RunConfig(task, "sgd", learning_rate=lr) for lr in SGD_GRID),
        RunConfig(task, "sgd_weight_decay"), RunConfig(task, "lars"),
    ]
    return first + rest


def table1_layca(task):
    """SGD+Layca's runs of Table 1 and Figure 1 (extended paper), by Figure 1's labels:
    alpha +0.6 and -0.6 at rho(0) 3^-3, rho(0) 3^-5 and 3^-4 at alpha 0, and the best
    (rho(0) 3^-3, alpha 0). The `table1` study, Table 1 and `rotation_grid` read them here."""
    return {"a=0.6": RunConfig(task, "layca", alpha=SHORT_ALPHAS[-1]),
            "a=-0.6": RunConfig(task, "layca", alpha=SHORT_ALPHAS[0]),
            "r=3^-5": RunConfig(task, "layca", learning_rate=SHORT_RHOS[0]),
            "r=3^-4": RunConfig(task, "layca", learning_rate=SHORT_RHOS[1]),
            "best": RunConfig(task, "layca")}


def trained_layer_runs(task, scale, layers=range(10)):
    """The 11-layer MLP trained one hidden layer at a time (Layca at the task's best rate),
    once per seed of `scale.repeats` (data subset and initialisation): `{layer: [config,
    ...]}`. The `mnist_layers` studies, ICLR Figure 1 and the MNIST report read them here."""
    return {layer: [RunConfig(task, "layca", trained_layer=layer, seed=seed) for seed in range(SCALES[scale].repeats)]
            for layer in layers}


def _table1(task, scale):
    """The configurations of the task's column of Table 1 (extended paper): SGD+Layca at
    its best (alpha 0, rho(0) 3^-3), at alpha -0.6 and +0.6, at rho(0) 3^-5 and 3^-4, SGD
    at its best rate, SGD + L2, and the task's adaptive method without and with Layca.
    SGD+Layca's best and SGD's run first, so that a study cut short still compares them.
    The adaptive method records its rotation rates, as wherever it runs (`adapt_copy`
    replays them: one run serves both)."""
    adaptive, layca = TASKS[task].adaptive, table1_layca(task)
    return [
        layca["best"], RunConfig(task, "sgd"), layca["a=-0.6"], layca["a=0.6"], layca["r=3^-5"], layca["r=3^-4"],
        RunConfig(task, "sgd_weight_decay"), _adaptive_source(task), RunConfig(task, with_layca(adaptive)),
    ]


def _seeds(task, scale):
    """The runs whose verdicts issue 44 gives a seed spread (`experiments/seed_verdicts.py`,
    run with `--seeds`): SGD+Layca at rho(0) 3^-3, 3^-4, 3^-5 and alpha -0.4, -0.2, +0.2,
    +0.4, SGD at 3^-1 and 3^0 (its best two rates at cpu_fit), SGD + L2, the task's adaptive
    method with and without Layca, and LARS."""
    adaptive = TASKS[task].adaptive
    return [
        RunConfig(task, "layca"),
        *(RunConfig(task, "layca", learning_rate=r) for r in SEED_RHOS),
        *(RunConfig(task, "layca", alpha=a) for a in SEED_ALPHAS),
        *(RunConfig(task, "sgd", learning_rate=lr) for lr in SEED_SGD_RATES),
        RunConfig(task, "sgd_weight_decay"), RunConfig(task, adaptive), RunConfig(task, with_layca(adaptive)),
        RunConfig(task, "lars"),
    ]


def _random_labels(task, scale):
    """The random-label control (issue 44): SGD+Layca at 3^-3 and SGD at 3^-1 and 3^0 (its
    best rates at cpu_fit) on `task`, whose training labels are permuted once."""
    return [RunConfig(task, "layca"), *(RunConfig(task, "sgd", learning_rate=lr) for lr in SEED_SGD_RATES)]


@dataclass(frozen=True)
class Study:
    configs: object
    tasks: tuple
    description: str


STUDIES = {
    "alpha": Study(_alpha, PAPER_TASKS, "Layca, alpha grid at rho(0) = 3^-3 (Figures 1, 2a, 9)"),
    "rho": Study(_rho, PAPER_TASKS, "Layca, rho(0) grid at alpha = 0 (Figures 1, 2a, 9)"),
    "rho_fine": Study(_rho_fine, FIRST_THREE, "Layca, rho(0) = 3^-3, 3^-3.2, ..., 3^-4 at alpha = 0 (extended Figure 11, ICLR Figures 3 and 10)"),
    "sgd": Study(_sgd, PAPER_TASKS, "SGD over its learning-rate grid 3^-4 .. 3^0 (Figure 2)"),
    "sgd_weight_decay": Study(_sgd_weight_decay, PAPER_TASKS, "SGD + L2 at its best rate (Figure 3)"),
    "adaptive": Study(_adaptive, PAPER_TASKS, "adaptive method with and without Layca (Figure 6)"),
    "adaptive_equivalent": Study(_adaptive_equivalent, PAPER_TASKS,
                                 "adaptive method + Layca vs its non-adaptive equivalent + Layca (ICLR Figure 6)"),
    "adapt_copy": Study(_adapt_copy, PAPER_TASKS, "SGD+Layca copying the adaptive method's rates (Figure 7)"),
    "warmup": Study(_warmup, ("C10-resnet",), "ResNet-110, SGD 3^-1 with warmups vs Layca (Figure 4)"),
    "sgd_first_epoch": Study(_sgd_first_epoch, PAPER_TASKS, "SGD at 3^0, first epoch, every batch recorded (Figure 10)"),
    "init_scale": Study(_init_scale, ("C10-CNN1",),
                        "Layca, block-normalised SGD, SGD from initial weights rescaled by f (ICLR Figure 7)"),
    "lars": Study(_lars, FIRST_THREE, "LARS at alpha = 0, rho(0) = 3^-3 (Figure 12)"),
    "second_moments": Study(_second_moments, ("C10-CNN1",), "Adam's second-moment percentiles per layer (ICLR Figure 11, extended Figure 5)"),
    "mnist_features": Study(_mnist_features, ("MNIST-MLP1",), "1-hidden-layer MLP: Layca rates and SGD grid (Figure 8)"),
    "mnist_layers": Study(_mnist_layers, ("MNIST-MLP11",), "11-layer MLP trained one layer at a time (ICLR Figure 1)"),
    "mnist_layers_orthogonal": Study(_mnist_layers, ("MNIST-MLP11-orthogonal",),
                                     "the 11-layer MLP study from orthogonal initial kernels (ICLR Figure 8, left)"),
    "mnist_feedback": Study(_mnist_feedback, ("MNIST-MLP11",),
                            "first layer of the 11-layer MLP alone: its feedback's silhouette (ICLR Figure 8, right)"),
    "table1": Study(_table1, PAPER_TASKS, "the task's Table 1 column: Layca best, alpha +-0.6, rho(0) 3^-5 and "
                                          "3^-4, SGD, SGD + L2, adaptive +- Layca (Table 1)"),
    "seeds": Study(_seeds, ("C10-CNN1-fit",), "the runs whose verdicts carry a seed spread, to run with --seeds "
                                               "(issue 44)"),
    "random_labels": Study(_random_labels, ("C10-CNN1-fit-random-labels",),
                           "SGD+Layca and SGD on training labels permuted once (the sceptic's control)"),
    "real_cifar10": Study(_real_cifar10, ("C10-CNN1-subset",), "Layca rho/alpha, SGD grid, adaptive +- Layca on one task"),
}


def study_configs(name, tasks=None, scale="full", seeds=None):
    """The study's configurations for `tasks` (its default tasks when None) at `scale`,
    in run order, each setting once; with `seeds`, each configuration once per seed of
    its initial weights and batch order (`RunConfig.with_init_seed`; seed 0 is the
    configuration as the study defines it), seed by seed."""
    if name not in STUDIES:
        raise ValueError(f"Unknown study {name!r}; known: {sorted(STUDIES)}.")
    study = STUDIES[name]
    tasks = known_tasks(tasks) if tasks else study.tasks
    seeds = checked_seeds(seeds)
    return list(one_per_run(config.with_init_seed(seed) if seed else config
                            for seed in seeds for task in tasks for config in study.configs(task, scale)).values())


def one_per_run(configs):
    """`{run_id: config}` in first-seen order: configurations that share a run id are one
    run (the id leaves out what a run records), and it records the rotation rates when any
    of them asks for them: an adaptive run that one study only reports is another study's
    replay source (`_adapt_copy`), and must keep what the replay reads."""
    runs = {}
    for config in configs:
        kept = runs.setdefault(config.run_id, config)
        if config.record_rates and not kept.record_rates:
            runs[config.run_id] = replace(kept, record_rates=True)
    return runs


def checked_seeds(seeds):
    """`seeds` as a tuple of distinct whole numbers >= 0 (None: (0,)), or a ValueError."""
    if seeds is None:
        return (0,)
    seeds = tuple(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds) \
            or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds takes distinct whole numbers >= 0; received {list(seeds)}.")
    return seeds
