"""Where a study's shards run (`experiments.placement`), from device lists given to it: one
pinned single-threaded shard per core without a GPU; several shards per GPU, each with
its memory bounded and its share of the cores, with one."""

import json
import subprocess

import pytest

from experiments.parallel import shard_environment
from experiments.placement import (
    GPU_MEMORY_FRACTION,
    RUNS_PER_GPU,
    Gpu,
    configured_backend,
    find_gpus,
    parse_gpu_list,
    plan,
)

H200 = Gpu("0", "NVIDIA H200", 143771)
SMALL = Gpu("1", "small", 10000)


def test_without_a_gpu_a_study_runs_one_single_threaded_shard_per_core_at_most_one_per_run():
    placements = plan([], [0, 1], 9, "tensorflow")
    assert [p.cores for p in placements] == [(0,), (1,)]
    assert all(p.gpu is None and p.environment["OMP_NUM_THREADS"] == "1" for p in placements)
    assert len(plan([], [0, 1, 2, 3], 3, "jax")) == 3
    assert len(plan([], [0, 1, 2, 3], 9, "jax", jobs=2)) == 2
    assert "XLA_PYTHON_CLIENT_PREALLOCATE" not in plan([], [0], 1, "jax")[0].environment


def test_on_one_gpu_shards_share_it_and_split_the_cores_and_the_memory():
    placements = plan([H200], list(range(16)), 9, "jax")
    assert len(placements) == RUNS_PER_GPU
    assert [p.cores for p in placements] == [tuple(range(4 * i, 4 * i + 4)) for i in range(4)]
    fraction = f"{0.9 / RUNS_PER_GPU:.3f}"
    for placement in placements:
        environment = placement.environment
        assert environment["CUDA_VISIBLE_DEVICES"] == "0"
        assert environment["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
        assert environment["XLA_PYTHON_CLIENT_MEM_FRACTION"] == environment[GPU_MEMORY_FRACTION] == fraction
        assert environment["OMP_NUM_THREADS"] == environment["TF_NUM_INTRAOP_THREADS"] == "4"
    assert "GPU 0 (NVIDIA H200, 0.225 of its memory), cores 0-3" in placements[0].describe()


def test_shards_are_dealt_across_gpus_and_bounded_by_memory_cores_and_runs():
    placements = plan([H200, SMALL], list(range(8)), 3, "torch", run_memory_mib=4096)
    assert [p.gpu.index for p in placements] == ["0", "1", "0"]  # every GPU used before any takes a second shard
    assert placements[1].environment[GPU_MEMORY_FRACTION] == "0.450"  # 10000 MiB * 0.9 holds two 4096 MiB runs
    assert placements[0].environment["PYTORCH_CUDA_ALLOC_CONF"] == "expandable_segments:True"
    assert len(plan([H200, SMALL], list(range(8)), 20, "torch", run_memory_mib=4096)) == 4 + 2
    assert len(plan([H200], [0, 1], 9, "jax")) == 2  # a core each at least
    assert len(plan([H200], list(range(16)), 9, "jax", runs_per_gpu=2)) == 2
    assert plan([H200], list(range(16)), 9, "tensorflow")[0].environment["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"


@pytest.mark.parametrize("arguments, message", [
    (dict(gpus=[Gpu("0", "tiny", 1000)], runs=2), "GPU 0 (tiny) has 1000 MiB, less than the 8192 MiB a run needs"),
    (dict(gpus=[], runs=0), "A study of 0 runs has nothing to place."),
    (dict(gpus=[H200], runs=2, runs_per_gpu=0), "--runs-per-gpu must be at least 1; received 0."),
    (dict(gpus=[], runs=2, jobs=0), "--jobs must be at least 1; received 0."),
])
def test_placements_that_cannot_be_made_are_refused_with_the_fix(arguments, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan(cores=[0, 1], backend="jax", **arguments)


def _smi(stdout, returncode=0):
    def run(command, **kwargs):
        assert command[0] == "nvidia-smi"
        return subprocess.CompletedProcess(command, returncode, stdout, "")
    return run


def test_the_gpus_found_are_those_nvidia_smi_lists_and_cuda_visible_devices_keeps():
    listed = "0, NVIDIA H200, 143771\n1, NVIDIA H200, 143771\n"
    assert parse_gpu_list(listed) == [H200, Gpu("1", "NVIDIA H200", 143771)]
    assert [g.index for g in find_gpus({}, _smi(listed))] == ["0", "1"]
    assert [g.index for g in find_gpus({"CUDA_VISIBLE_DEVICES": "1"}, _smi(listed))] == ["1"]
    assert find_gpus({"CUDA_VISIBLE_DEVICES": "-1"}, _smi(listed)) == []
    assert find_gpus({"CUDA_VISIBLE_DEVICES": ""}, _smi(listed)) == []
    assert find_gpus({}, _smi("", returncode=9)) == []  # a driver that fails: no GPU

    def missing(command, **kwargs):
        raise FileNotFoundError(command[0])
    assert find_gpus({}, missing) == []
    with pytest.raises(ValueError, match="Unexpected line from nvidia-smi"):
        parse_gpu_list("0, H200\n")


def test_the_backend_is_read_as_keras_reads_it_without_importing_keras(tmp_path):
    assert configured_backend({"KERAS_BACKEND": "torch"}) == "torch"
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax"}))
    assert configured_backend({"KERAS_HOME": str(tmp_path)}) == "jax"
    assert configured_backend({"KERAS_HOME": str(tmp_path / "none")}) == "tensorflow"


def test_a_gpu_shard_keeps_xlas_cpu_pool_and_takes_its_placements_variables():
    placement = plan([H200], list(range(16)), 4, "jax")[0]
    environment = shard_environment({"XLA_FLAGS": "--xla_dump_to=/tmp/d"}, placement)
    assert environment["XLA_FLAGS"] == "--xla_dump_to=/tmp/d"
    assert environment["CUDA_VISIBLE_DEVICES"] == "0" and environment["OMP_NUM_THREADS"] == "4"
