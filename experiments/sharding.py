"""A study's runs launched in one process: its share of a study (`--shard i/n`, a SLURM
job array's task), run after run, finished runs read and skipped, a progress line per
run. `parallel` runs the shares of one machine at once, `ray_runner` a study's runs as
Ray tasks."""

import time

from experiments.results import finished_result
from experiments.runner import Run
from experiments.studies import study_configs


def parse_shard(text):
    """'i/n' -> (i, n), 1 <= i <= n."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like i/n (e.g. 2/4); received {text!r}.") from None
    if not 1 <= index <= count:
        raise ValueError(f"--shard {text!r}: need 1 <= i <= n.")
    return index, count


def shard_from_environment(environ):
    """'i/n' for the SLURM job-array task running this process (SLURM_ARRAY_TASK_ID among
    SLURM_ARRAY_TASK_COUNT tasks numbered from SLURM_ARRAY_TASK_MIN), or '1/1' outside a
    job array."""
    if "SLURM_ARRAY_TASK_ID" not in environ:
        return "1/1"
    try:
        task, count = int(environ["SLURM_ARRAY_TASK_ID"]), int(environ["SLURM_ARRAY_TASK_COUNT"])
        first = int(environ.get("SLURM_ARRAY_TASK_MIN", 0))
    except (KeyError, ValueError):
        raise ValueError(
            "SLURM_ARRAY_TASK_ID is set, but SLURM_ARRAY_TASK_COUNT / SLURM_ARRAY_TASK_MIN are missing or not "
            "integers: run inside an sbatch --array job, or pass --shard i/n."
        ) from None
    if not (first <= task < first + count):
        raise ValueError(
            f"SLURM_ARRAY_TASK_ID={task} is outside the job array's {count} tasks from {first}: the array must be "
            "contiguous (e.g. --array=0-3), or pass --shard i/n."
        )
    return f"{task - first + 1}/{count}"


def run_groups(configs):
    """`{key: [config, ...]}` in run order: the runs that must run in one process, one
    after the other (a run that replays another's rates with its source, keyed by the
    source's run id)."""
    groups = {}
    for config in configs:
        groups.setdefault(config.copy_from or config.run_id, []).append(config)
    return groups


def shard(configs, index, count):
    """The configurations of shard `index` of `count`: `run_groups` dealt round-robin."""
    ordered = list(run_groups(configs).values())
    return [config for group in ordered[index - 1 :: count] for config in group]


def run_study(name, tasks=None, scale="full", data_dir=None, results_dir="results", shard_spec="1/1", printer=print,
              seeds=None):
    """Run (or skip, when finished) every configuration of this shard of the study, once
    per seed of `seeds` (`study_configs`). Returns `{run_id: RunResult}` of the shard's runs."""
    index, count = parse_shard(shard_spec)
    configs = shard(study_configs(name, tasks, scale, seeds), index, count)
    results, started = {}, time.time()
    for number, config in enumerate(configs, start=1):
        prefix = f"[{name} {number}/{len(configs)}, shard {index}/{count}]"
        result = finished_result(results_dir, scale, config)  # read once
        if result is not None:
            printer(f"{prefix} {config.run_id}: finished earlier, skipped")
        else:
            printer(f"{prefix} {config.run_id}: running ({time.time() - started:.0f}s elapsed)")
            result = Run(config, scale, data_dir, results_dir, printer).execute()
        results[config.run_id] = result
    printer(f"[{name}] shard {index}/{count}: {len(configs)} runs done in {time.time() - started:.0f}s")
    return results
