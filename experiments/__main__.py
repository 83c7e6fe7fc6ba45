"""Command line of the experiments.

    python -m experiments list
    python -m experiments run --task C10-CNN1 --optimizer layca --alpha -0.4 --data-dir DATA
    python -m experiments study alpha --tasks C10-CNN1 C100-resnet --data-dir DATA   # one process a core
    python -m experiments study alpha --tasks C10-CNN1 C100-resnet --shard 2/4 --data-dir DATA
    python -m experiments reproduce C10-CNN1 --data-dir DATA    # Table 1's column, on the GPUs found
    python -m experiments figure rotation_grid    # or: all; from saved results only
    python -m experiments figure rotation_grid sgd_curves --tasks C10-CNN1-fit --scale cpu_fit
    python -m experiments table                   # our results beside the published ones
    python -m experiments fake-data DATA          # small datasets in the official formats

`--scale smoke` runs the same code on a sliver of the data with narrow networks and 3
epochs: every study finishes in seconds to minutes on a CPU.
"""

import argparse
import os
import sys

from experiments.recipes import SCALES


def _common(parser):
    parser.add_argument("--scale", choices=tuple(SCALES), default="full", help="default: %(default)s")
    parser.add_argument(
        "--data-dir", default=None,
        help="folder holding the datasets in their official formats, or a class-folder dataset "
             "(train/<class>/*, test/<class>/*) as a folder or .tar.gz",
    )
    parser.add_argument("--results", default="results", help="results folder (default: %(default)s)")
    parser.add_argument("--cache-dir", default=None,
                        help="where the decoded images are cached when the data's folder cannot be written (default: "
                             "$EXPERIMENTS_CACHE_DIR, else ~/.cache/layer-rotation-tools)")


def _placement(parser):
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="run each configuration from these seeds of its initial weights and batch order, on the "
                             "same data (default: 0 alone; results of seed s > 0 are named __init-seed<s>)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="shards run at once on this machine (default: on the CPU one per usable core, each pinned "
                             "to its core with single-threaded frameworks, 1 running in this process; on GPUs as many "
                             "as --runs-per-gpu, memory and cores allow); at most one per run")
    parser.add_argument("--runs-per-gpu", type=int, default=None,
                        help="shards that share one GPU (default: experiments.placement.RUNS_PER_GPU, fewer where the "
                             "GPU's memory or the cores do not allow it)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="stop the shards after this many minutes (finished runs and checkpoints are kept; the "
                             "same command resumes)")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list tasks and studies")

    run = commands.add_parser("run", help="run one configuration")
    run.add_argument("--task", required=True)
    run.add_argument("--optimizer", default="layca")
    run.add_argument("--lr", type=float, default=None, help="initial rate (default: the papers' best)")
    run.add_argument("--alpha", type=float, default=0.0)
    run.add_argument("--warmup", type=int, default=0, help="warmup epochs")
    run.add_argument("--copy-from", default=None, help="run id whose recorded rates to replay")
    run.add_argument("--record-rates", action="store_true", help="record per-step rotation rates")
    run.add_argument("--seed", type=int, default=0, help="the seed of the data split, initial weights and batches")
    run.add_argument("--init-seed", type=int, default=None,
                     help="another seed for the initial weights and batch order alone, on the data of --seed")
    _common(run)

    study = commands.add_parser("study", help="run a whole study (skips finished runs)")
    study.add_argument("name")
    study.add_argument("--tasks", nargs="*", default=None, help="default: the study's tasks")
    study.add_argument("--shard", default=None,
                       help="i/n: run the i-th of n shares of the study (default: the SLURM job array's share, else 1/1)")
    study.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                       help="run the study's runs as Ray tasks: on a local Ray instance, or on the cluster at ADDRESS")
    study.add_argument("--ray-cpus", type=float, default=1.0, help="CPUs each Ray task asks for (default: %(default)s)")
    _placement(study)
    _common(study)

    reproduce = commands.add_parser("reproduce", help="run a task's Table 1 column and print it beside the published one")
    reproduce.add_argument("task", help="a paper task (C10-CNN1, C100-resnet, tiny-CNN, C10-CNN2, C100-WRN) or a variant")
    reproduce.add_argument("--report-only", action="store_true", help="print the column from the results saved so far")
    reproduce.add_argument("--out", default=None,
                           help="also write the column and the runs' rotation curves to this folder "
                                "(reproduce_<scale>_<task>.md and _curves.png)")
    _placement(reproduce)
    _common(reproduce)

    figure = commands.add_parser("figure", help="draw a figure of the papers from saved results")
    figure.add_argument("names", nargs="+", metavar="name", help="figure names (see list) or 'all'")
    figure.add_argument("--tasks", nargs="+", default=None,
                        help="the tasks to draw, e.g. a variant of a paper task such as C10-CNN1-fit, each at "
                             "--scale or at its own as TASK@SCALE (default: each figure's own)")
    figure.add_argument("--out", default="figures", help="output folder (default: %(default)s)")
    _common(figure)

    table = commands.add_parser("table", help="print our test accuracies beside the published ones")
    table.add_argument("--tasks", nargs="+", default=None,
                       help="the tasks (columns), e.g. C10-CNN1-fit beside C10-CNN1's published numbers, each at "
                            "--scale or at its own as TASK@SCALE (default: the papers' five)")
    _common(table)

    fake = commands.add_parser("fake-data", help="write small datasets in the official formats")
    fake.add_argument("directory")

    args = parser.parse_args(argv)
    if getattr(args, "cache_dir", None):
        from experiments.image_folders import CACHE_VARIABLE

        os.environ[CACHE_VARIABLE] = args.cache_dir  # the shards this process starts inherit it
    from experiments.recipes import TASKS, RunConfig
    from experiments.studies import STUDIES, study_configs

    try:
        if args.command == "list":
            for task in TASKS.values():
                print(f"task {task.name}: {task.model} on {task.dataset}, {task.schedule.epochs} epochs")
            for name, spec in STUDIES.items():
                print(f"study {name}: {spec.description}; {len(study_configs(name))} runs on {', '.join(spec.tasks)}")
            from experiments.figures import FIGURES

            for name, figure in FIGURES.items():
                print(f"figure {name} ({figure.numbers}): {figure.draw.__doc__.splitlines()[0]}")
        elif args.command == "run":
            from experiments.runner import run_one

            config = RunConfig(task=args.task, optimizer=args.optimizer, learning_rate=args.lr, alpha=args.alpha,
                               warmup_epochs=args.warmup, copy_from=args.copy_from, record_rates=args.record_rates,
                               seed=args.seed, init_seed=args.init_seed)
            run_one(config, args.scale, args.data_dir, args.results)
        elif args.command == "study":
            if args.ray is not None:
                if args.shard or args.jobs is not None:
                    raise ValueError("--ray runs the whole study on the Ray cluster; leave out --shard and --jobs.")
                from experiments.ray_runner import StudyFailed, run_study_on_ray

                try:
                    run_study_on_ray(args.name, args.tasks, args.scale, args.data_dir, args.results,
                                     address=args.ray or None, cpus=args.ray_cpus, seeds=args.seeds)
                except StudyFailed as error:
                    print(f"error: {error}", file=sys.stderr)
                    return 2
            elif args.shard or "SLURM_ARRAY_TASK_ID" in os.environ:
                if args.jobs is not None:
                    raise ValueError("--jobs splits the whole study into shards on this machine; leave out --shard "
                                     "(or run outside a SLURM job array).")
                from experiments.sharding import run_study, shard_from_environment

                run_study(args.name, args.tasks, args.scale, args.data_dir, args.results,
                          args.shard or shard_from_environment(os.environ), seeds=args.seeds)
            else:
                from experiments.parallel import launch

                return launch(args.name, args.tasks, args.scale, args.data_dir, args.results, args.jobs,
                              args.runs_per_gpu, args.minutes, seeds=args.seeds)
        elif args.command == "reproduce":
            from experiments.parallel import launch
            from experiments.reproduce import column_report, write_report

            code = 0
            if not args.report_only:
                code = launch("table1", [args.task], args.scale, args.data_dir, args.results, args.jobs,
                              args.runs_per_gpu, args.minutes, seeds=args.seeds)
            print(column_report(args.results, args.scale, args.task))
            if args.out:
                for path in write_report(args.results, args.scale, args.task, args.out):
                    print(f"written to {path}")
            return code
        elif args.command == "figure":
            from experiments.figures import draw
            from experiments.results import tasks_at_scales

            tasks, task_scales = tasks_at_scales(args.tasks, SCALES) if args.tasks else (None, None)
            for path in draw(args.names, args.results, args.scale, args.out, tasks, task_scales):
                print(f"figure written to {path}")
        elif args.command == "table":
            from experiments.results import Results, tasks_at_scales
            from experiments.table1 import results_table

            tasks, task_scales = tasks_at_scales(args.tasks, SCALES) if args.tasks else (None, None)
            print(results_table(Results(args.results, args.scale, task_scales), *([tasks] if tasks else [])))
        else:
            from experiments.fake_data import write_all

            print(f"small datasets written to {write_all(args.directory)}")
    except (ValueError, FileNotFoundError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
