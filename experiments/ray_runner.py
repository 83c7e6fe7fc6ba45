"""A study's runs as Ray tasks, on a local Ray instance or an existing Ray cluster.

Each run is one task that asks Ray for what it needs (a GPU where the cluster has one,
else `cpus` CPUs) and calls the study runner's `run_one`, so it keeps every guarantee of
`python -m experiments study`: finished runs are skipped, results are written atomically,
and a run whose worker dies is retried by Ray (`max_retries`) and resumes from its last
epoch checkpoint, ending with the results of an uninterrupted run. The results folder
must be a filesystem that every worker sees, and every node needs this package
installed (`pip install -e ".[ray]"`). A run that replays another's rotation rates
(`copy_from`) waits for its source.

    python -m experiments study rho --ray                    # a local Ray instance
    python -m experiments study rho --ray 10.0.0.1:6379      # an existing cluster (ray start --head)
"""

import time

from experiments.recipes import RunConfig
from experiments.results import is_finished
from experiments.studies import study_configs


class StudyFailed(RuntimeError):
    """Some runs of a study failed after their retries; the message names them."""


def _run(config, scale, data_dir, results_dir, *sources):
    """One run inside a Ray worker (`sources`: the runs it replays, finished first)."""
    from experiments.runner import run_one

    return run_one(RunConfig(**config), scale, data_dir, results_dir, printer=print)


def run_study_on_ray(name, tasks=None, scale="full", data_dir=None, results_dir="results", address=None,
                     cpus=1, max_retries=3, printer=print, poll_seconds=10.0, seeds=None):
    """Run every configuration of the study (once per seed of `seeds`, `study_configs`)
    not finished yet as a Ray task; print progress
    (runs done / running / failed) as they end. Returns `{run_id: RunResult}` of the runs
    finished here; raises StudyFailed naming the runs that failed after their retries."""
    try:
        import ray
    except ImportError:
        raise ImportError("--ray needs Ray: pip install -e \".[ray]\" (or pip install ray).") from None
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=max_retries)(_run)

    configs = study_configs(name, tasks, scale, seeds)
    todo = [c for c in configs if not is_finished(results_dir, scale, c)]
    printer(f"[{name} on Ray] {len(configs) - len(todo)} of {len(configs)} runs finished earlier, "
            f"{len(todo)} to run ({gpus} GPU / {cpus} CPU each)")
    references = {}
    for config in todo:  # study order puts a replayed run before its copies
        sources = [references[config.copy_from]] if config.copy_from in references else []
        references[config.run_id] = task.remote(config.to_dict(), scale, data_dir, results_dir, *sources)
    pending = {reference: run_id for run_id, reference in references.items()}
    results, failed, started = {}, {}, time.time()
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=poll_seconds)
        if not ready:
            continue
        for reference in ready:
            run_id = pending.pop(reference)
            try:
                results[run_id] = ray.get(reference)
            except (ray.exceptions.RayError, ValueError, FileNotFoundError) as error:
                failed[run_id] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        printer(f"[{name} on Ray] done {len(results)}, running or waiting {len(pending)}, failed {len(failed)} "
                f"({time.time() - started:.0f}s)")
    if failed:
        raise StudyFailed(
            f"{len(failed)} run(s) of {name} failed after {max_retries} retries: "
            + "; ".join(f"{run_id} ({reason})" for run_id, reason in failed.items())
            + ". Launch the study again: finished runs are skipped, interrupted ones resume."
        )
    return results
