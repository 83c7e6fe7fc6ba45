"""The papers' claims on a paper task with real data: C10-CNN1 on the real CIFAR-10 images.

Runs the `real_cifar10` study (resumably, like every study) on the CIFAR-10 images in
the class-folder layout (`--data-dir`: the folder holding `cifar10-jpeg.tar.gz`, the
archive itself, or its unpacked folder), then writes `real_cifar10_<scale>.md` (a table,
and the papers' claims checked one by one against it), `real_cifar10_<scale>_curves.png`,
`real_cifar10_<scale>_rotation.png` and the papers' figures these runs feed
(`real_cifar10_<scale>_<figure>.png`, `PAPER_FIGURES`) into `--out`. The report also takes
in every finished run of the papers' grids on the task (`GRID_STUDIES`, run with
`python -m experiments study <name> --tasks <task> --scale <scale>`). A report that finds
no results file at all refuses to overwrite them.

At `--scale cpu` (the default) the task is `C10-CNN1-subset`: C10-CNN1 with every width
divided by 8, 500 training images per class (5,000; the 5,000-image validation split and
the 10,000 test images are kept) and 20 epochs, which fits a 2-core CPU (about 2 hours).
At `--scale cpu_all` it is C10-CNN1 with every width divided by 8 and every training image
(45,000), 25 epochs (hours per run on one core). Neither fits its training set, so neither
report gives a verdict. At `--scale cpu_fit` it is `C10-CNN1-fit`: widths divided by 8, 200
training images per class (2,000), 200 epochs, the scale at which the runs reach the papers'
regime of about 100% training accuracy (`docs/regime.md`; about 10 minutes a run on one
core). At `--scale full` it is the papers' task, on a GPU. `--task` judges another task at
the scale (issue 43: `C10-CNN2-fit`, or `C100-resnet-fit` with the real CIFAR-100 as
`--data-dir`), into `real_cifar10_<scale>_<task>.md` and its figures.

    python -m experiments.real_cifar10 --data-dir ../shared/data/cifar10-jpeg
    python -m experiments.real_cifar10 --data-dir ../shared/data/cifar10-jpeg --report-only
"""

import argparse
import os

import numpy as np

from experiments import claims, seed_verdicts
from experiments.claims import percent, rotations_text, rows
from experiments.drawing import curves_grid, new_figure, save_figure
from experiments.figures import FIGURES
from experiments.recipes import ALPHAS, RHO_GRID, SCALES, TASKS, RunConfig
from experiments.results import NoResultsError, Results
from experiments.studies import STUDIES, checked_seeds, study_configs

STUDY = "real_cifar10"
DEFAULT_TASKS = {"cpu": "C10-CNN1-subset", "cpu_all": "C10-CNN1", "cpu_fit": "C10-CNN1-fit", "cpu_papers": "C10-CNN1",
                 "cpu_papers_w4": "C10-CNN1", "full": "C10-CNN1",
                 "smoke": "C10-CNN1-subset"}
#: What the report says of each dataset it reads (the class-folder JPEGs of `../shared/data`).
DATA_NOTES = {"cifar10": "real CIFAR-10 (JPEG re-encoded)", "cifar100": "real CIFAR-100 (JPEG re-encoded)"}
#: Studies whose finished runs of the report's task join its table, claims and figures
#: beside the study's own: the papers' full grids and the runs their figures need.
GRID_STUDIES = ("rho", "alpha", "rho_fine", "second_moments", "sgd_first_epoch", "adapt_copy", "adaptive_equivalent")
#: The papers' figures these runs feed, drawn for the report's task (`experiments.figures`).
PAPER_FIGURES = ("rotation_grid", "accuracy_vs_alpha_rho", "sgd_curves", "sgd_first_epoch", "weight_decay_curves",
                 "adaptive_curves", "adaptive_equivalent_curves", "adapt_copy_curves", "lars_curves", "loss_plateaus",
                 "second_moments")


def report_configs(results, task, scale):
    """The report's runs: the study's (run or not), then every finished run of
    `GRID_STUDIES` on `task` that the study lacks (of the studies the papers ran on its
    paper task: `second_moments` is C10-CNN1's alone), and every finished run of Layca's
    full alpha and rho(0) grids (`ALPHAS`, `RHO_GRID`), which a task's own studies run
    in part (C10-CNN2's alpha study is -0.6, 0 and +0.6; its +-0.2 and +-0.4 runs join
    here)."""
    configs = {config.run_id: config for config in study_configs(STUDY, [task], scale)}
    grids = [config for name in GRID_STUDIES if TASKS[task].paper_task in STUDIES[name].tasks
             for config in study_configs(name, [task], scale)]
    grids += [RunConfig(task, "layca", alpha=a) for a in ALPHAS]
    grids += [RunConfig(task, "layca", learning_rate=r) for r in RHO_GRID]
    for config in grids:
        if config.run_id not in configs and results.get(config) is not None:
            configs[config.run_id] = config
    return list(configs.values())


def report_prefix(out, scale, task):
    """`out/real_cifar10_<scale>` for the scale's own task (`DEFAULT_TASKS`), and
    `out/real_cifar10_<scale>_<task>` for another task at that scale (issue 43: C10-CNN2-fit
    and C100-resnet-fit beside C10-CNN1-fit), so that no report overwrites another's."""
    name = f"{STUDY}_{scale}" if task == DEFAULT_TASKS.get(scale) else f"{STUDY}_{scale}_{task}"
    return os.path.join(out, name)


def table(table_rows, scale_note, data_note=DATA_NOTES["cifar10"]):
    lines = [f"Data: {data_note}; {scale_note}.", "",
             "| run | test accuracy | validation accuracy, last evaluated | training accuracy: whole training set "
             "(last epoch's running mean) | final rotation: first / middle / last kernel layer | epochs | stopped |",
             "|---|---|---|---|---|---|---|"]
    for row in table_rows:
        if row.test is None:
            lines.append(f"| {row.name} | not run | | | | | |")
        else:
            training = "not measured" if row.training is None else percent(row.training)
            lines.append(f"| {row.name} | {percent(row.test)} | {percent(row.validation) or 'not evaluated'} | "
                         f"{training} ({percent(row.running)}) | {rotations_text(row.rotation)} | "
                         f"{row.epochs} | {row.stopped or 'schedule ended'} |")
    return "\n".join(lines)


def curves_figure(results, configs, out):
    """The study's curves: Layca's rates, then its alphas and the adaptive runs, then SGD's grid."""
    by_kind = {"layca": [], "sgd": [], "other": []}
    for config in configs:
        by_kind[_kind(config)].append((config.label, config))
    by_kind["layca"].sort(key=lambda cell: (cell[1].alpha != 0, cell[1].learning_rate, cell[1].alpha))
    by_kind["sgd"].sort(key=lambda cell: cell[1].learning_rate)
    grid = [("", by_kind["layca"][:4]), ("", by_kind["layca"][4:] + by_kind["other"]), ("", by_kind["sgd"])]
    return curves_grid(results, [row for row in grid if row[1]], out)


def _kind(config):
    """'layca' (SGD+Layca), 'sgd' or 'other': how the figures group the runs."""
    return config.optimizer if config.optimizer in ("layca", "sgd") else "other"


def rotation_figure(table_rows, out):
    """Claim 2 as a picture: each finished run's test accuracy against the mean (left) and
    the spread, max - min (right), of the final rotation of its first, middle and last
    kernel layers; SGD+Layca, SGD and the other optimizers in three colours, runs out of
    the papers' scope (`Row.out_of_scope`) as hollow markers."""
    figure, axes = new_figure(1, 2, size=(3.6, 3.0))
    kinds = (("SGD+Layca", "C0", "layca"), ("SGD", "C1", "sgd"), ("other", "C2", "other"))
    finished = [row for row in table_rows if row.test is not None]
    for ax, (xlabel, value) in zip(axes[0], (("mean final rotation", np.mean), ("spread of final rotation", np.ptp))):
        for name, color, kind in kinds:
            for scope, face in (("in scope", color), ("out of scope", "none")):
                runs = [row for row in finished
                        if _kind(row.config) == kind and bool(row.out_of_scope) == (scope == "out of scope")]
                if runs:
                    ax.scatter([value(row.rotation) for row in runs], [100 * row.test for row in runs],
                               edgecolors=color, facecolors=face, label=f"{name}, {scope}", s=22)
        ax.set_xlabel(xlabel)
        ax.set_xlim(0, 1.05)
    axes[0, 0].set_ylabel("test accuracy (%)")
    axes[0, 0].legend(fontsize=6, loc="best")
    return save_figure(figure, out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True,
                        help="CIFAR-10 in the class-folder layout: a folder holding the .tar.gz, the archive, or its unpacked folder")
    parser.add_argument("--results", default="results")
    parser.add_argument("--out", default=os.path.join("notebooks", "figures"))
    parser.add_argument("--scale", choices=tuple(SCALES), default="cpu")
    parser.add_argument("--task", default=None, help="default, by scale: " + ", ".join(
        f"{task} ({scale})" for scale, task in DEFAULT_TASKS.items()))
    parser.add_argument("--report-only", action="store_true", help="write the table and figure from the runs saved so far")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="seeds whose runs of the `seeds` study the report aggregates beside the random-label "
                             "control (experiments/seed_verdicts.py; run them with `python -m experiments study seeds "
                             "--seeds ...`); default: 0 alone, no such section")
    args = parser.parse_args(argv)

    task = args.task or DEFAULT_TASKS.get(args.scale)
    if task is None:
        parser.error(f"--scale {args.scale} has no default task: pass --task (e.g. C100-resnet-fit).")
    if not args.report_only:
        from experiments.sharding import run_study  # training, imported only to train

        run_study(STUDY, [task], args.scale, args.data_dir, args.results)
    results = Results(args.results, args.scale)
    configs = report_configs(results, task, args.scale)
    scale = SCALES[args.scale]
    per_class = TASKS[task].train_per_class
    scale_note = (
        f"task {task}, scale '{args.scale}': widths x{scale.width:g}, "
        f"{f'{per_class} training images per class' if per_class else 'all training images'}, "
        f"{scale.epochs or 'the recipe’s'} epochs"
    )
    try:
        results.require_any(configs, args.out)
    except NoResultsError as error:
        raise SystemExit(str(error)) from None  # the command line's refusal, without a traceback
    table_rows = rows(results, configs)
    text = table(table_rows, scale_note, DATA_NOTES[TASKS[task].dataset]) + "\n\n" + claims.report(table_rows)
    os.makedirs(args.out, exist_ok=True)
    prefix = report_prefix(args.out, args.scale, task)
    paths = [curves_figure(results, study_configs(STUDY, [task], args.scale), f"{prefix}_curves.png"),
             rotation_figure(table_rows, f"{prefix}_rotation.png")]
    seeds = checked_seeds(args.seeds)
    if len(seeds) > 1:
        text += "\n\n" + seed_verdicts.section(results, task, seeds)
        paths.append(seed_verdicts.seeds_figure(results, task, seeds, f"{prefix}_seeds.png"))
        if any(results.get(permuted) is not None for _, permuted in seed_verdicts.control_pairs(task)):
            paths.append(seed_verdicts.control_figure(results, task, f"{prefix}_control.png"))
    # The papers' figures illustrate their statements: drawn where some run is in their scope.
    if any(row.test is not None and not row.out_of_scope for row in table_rows):
        paths += [FIGURES[name].render(results, f"{prefix}_{name}.png", (task,)) for name in PAPER_FIGURES
                  if TASKS[task].paper_task in FIGURES[name].tasks]  # the figures the papers draw for its task
    with open(f"{prefix}.md", "w") as f:
        f.write(text + "\n")
    print(text)
    print("figures written to " + ", ".join(paths))
    return text


if __name__ == "__main__":
    main()
