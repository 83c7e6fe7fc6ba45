"""Test setup: the Keras backend of KERAS_BACKEND (TensorFlow by default); on TensorFlow two
logical CPU devices (for MirroredStrategy tests) and quiet logs; on JAX, float64 enabled
(`layer_rotation_tools.backend.require_float64`) and XLA's CPU programs compiled without
LLVM's optimisations: the tests' programs are small and run a few times, and compiling
was most of their time (`jax.random.uniform` of a new shape took about 2 s to compile,
0.3 s without; the JAX tier took 150 s, 95 s without, measured on the 2-core machine)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")
if os.environ.get("KERAS_BACKEND") == "jax":
    os.environ.setdefault("JAX_ENABLE_X64", "1")
    os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

import keras  # noqa: E402
import pytest  # noqa: E402
from filelock import FileLock, Timeout  # noqa: E402

BACKEND = keras.backend.backend()
if BACKEND == "tensorflow":
    import tensorflow as tf

    _cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Tests marked `tensorflow` use TensorFlow itself (tf.function, tf.distribute,
    tf.data, TensorBoard): skipped on the other backends.

    Under pytest-xdist (`-n 2 --dist loadgroup`, the README's test command), the Ray tests
    run in one worker (one local Ray instance at a time)."""
    skip = pytest.mark.skip(reason=f"uses TensorFlow itself; the backend is {BACKEND}")
    for item in items:
        if BACKEND != "tensorflow" and "tensorflow" in item.keywords:
            item.add_marker(skip)
        if item.path.name == "test_ray_runner.py":
            item.add_marker(pytest.mark.xdist_group("ray"))


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    # Keras' global state only (layer names, settings): its full garbage collection
    # (free_memory=True) took ~4 s per test in a process grown to several GB, and Python's
    # own collector frees the same cycles as the process goes.
    keras.backend.clear_session(free_memory=False)
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture(params=["whole", "row_chunks"])
def chunking(request, monkeypatch):
    """Where operations run eagerly, dot products (and, on PyTorch, Layca's writes) over
    whole kernels, or a row at a time (`transforms.CHUNK_BYTES` of 1 byte)."""
    if request.param == "row_chunks":
        from layer_rotation_tools import transforms

        monkeypatch.setattr(transforms, "CHUNK_BYTES", 1)


@pytest.fixture(scope="session", autouse=True)
def _jax_compilation_cache(tmp_path_factory):
    """On JAX, one persistent compilation cache for the session's workers: a program that
    one worker compiled (a layer's initialiser, a training step) the other reads instead
    of compiling it again (the JAX tier took 185 s without, 158 s with, measured side by side)."""
    if BACKEND == "jax":
        import jax

        jax.config.update("jax_compilation_cache_dir", str(_shared_folder(tmp_path_factory, "jax_cache")))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


@pytest.fixture(scope="session")
def mirrored_strategy():
    """One MirroredStrategy over the two logical CPUs for the whole session: two strategy
    objects in one process can collide on their collective-op instance keys."""
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    assert len(devices) == 2
    return tf.distribute.MirroredStrategy(devices)


# One task per study keeps the suite short; each study's grid is the full one.
STUDY_TASKS = {
    "alpha": "C10-CNN2",  # the short grid (3 alphas) of the paper's second group of tasks
    "rho": "tiny-CNN",
    "rho_fine": "tiny-CNN",
    "sgd": "C10-CNN1",
    "sgd_weight_decay": "C100-WRN",
    "sgd_first_epoch": "tiny-CNN",
    "adaptive": "C100-resnet",
    "adapt_copy": "C10-CNN1",
    "adaptive_equivalent": "C100-resnet",
    "warmup": "C10-resnet",
    "lars": "C10-CNN1",
    "init_scale": "C10-CNN1",
    "second_moments": "C10-CNN1",
    "mnist_features": "MNIST-MLP1",
    "table1": "C10-CNN1",
    "random_labels": "C10-CNN1-fit-random-labels",
    "seeds": "C10-CNN1",
    "mnist_layers": "MNIST-MLP11",
    "mnist_layers_orthogonal": "MNIST-MLP11-orthogonal",
    "mnist_feedback": "MNIST-MLP11",
    "real_cifar10": "C10-CNN1-subset",
}


def _shared_folder(tmp_path_factory, name):
    """A folder that every pytest-xdist worker of this session sees (each worker's own
    temporary folder when there is one process)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    return root / name


@pytest.fixture(scope="session")
def smoke_data(tmp_path_factory):
    """Every dataset, small, in its official on-disk format; written once per session."""
    from experiments import fake_data

    folder = _shared_folder(tmp_path_factory, "data")
    with FileLock(f"{folder}.lock"):
        if not folder.exists():
            fake_data.write_all(str(folder) + ".partial")
            os.replace(str(folder) + ".partial", folder)
    return str(folder)


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory, smoke_data):
    """Every study run once at smoke scale on its test task: `(results_dir, {study: results})`.

    The workers share the runs: each takes the run groups that no other worker holds
    (a group's lock is held while it runs), then waits for the others' and reads every
    study's results (finished runs are read, not run again)."""
    from experiments.runner import run_one
    from experiments.sharding import run_groups, run_study
    from experiments.studies import one_per_run, study_configs

    results_dir = _shared_folder(tmp_path_factory, "results")
    locks = results_dir / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    # Every study's runs once, in study order (a run two studies share, once), grouped so
    # that a run that replays another's rates runs after it, in the same worker.
    configs = one_per_run(config for name, task in STUDY_TASKS.items() for config in study_configs(name, [task], "smoke"))
    groups = run_groups(configs.values())
    for wait in (False, True):  # first the free groups, then those another worker held
        for key, group in groups.items():
            lock = FileLock(locks / f"{key}.lock", timeout=-1 if wait else 0)
            try:
                with lock:
                    for config in group:
                        run_one(config, "smoke", smoke_data, str(results_dir), printer=lambda line: None)
            except Timeout:
                continue
    done = {name: run_study(name, [task], "smoke", smoke_data, str(results_dir), printer=lambda line: None)
            for name, task in STUDY_TASKS.items()}
    return str(results_dir), done
