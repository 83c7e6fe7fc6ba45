"""A run's files and what they hold: `RunResult` (the results file) and `Progress` (the
checkpoint's record), each with one writer and one reader.

A run's files live in `<results>/<scale>/<task>/`: `<run id>.h5` (its results),
`<run id>.partial.h5` (its progress while it trains), `<run id>.best.weights.h5` and
`initial.weights.h5` (every configuration of a task starts from the same weights). Both
records are HDF5 files written atomically (`layer_rotation_tools.storage`): arrays as
datasets, the rest as JSON attributes. Both hold each monitor's `Records` in one layout
(`Records.to_h5`, its names prefixed by the quantity: `distances_steps`, `rates_steps`).
Results files and checkpoints written before that layout (the curves as `distances`,
`curve_epochs`, `curve_steps`, the rates as `rates`, `rate_steps`; a checkpoint's monitors
sharing one `layer_names`) load unchanged (`_run_records`, `read_progress`), and a results file's
`initial_features`, which nothing drew, is ignored.
"""

import dataclasses
import os
from dataclasses import dataclass, field

import numpy as np

from layer_rotation_tools.records import Records
from layer_rotation_tools.storage import ResultsFileError, read_h5, write_h5_atomic

#: What Keras logs each epoch, in its order.
LOGGED_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
#: The per-epoch training history: Keras' logs, the rate, and the epoch's wall-clock
#: seconds (training and validation; files written before it was kept read nan).
HISTORY_KEYS = (*LOGGED_KEYS, "learning_rate", "epoch_seconds")
#: Arrays only some runs record (second moments: Adam; batch accuracy: per-batch runs;
#: feedback silhouette: the feedback study; features: tasks that draw first-layer features;
#: final kernel distances: files written since they were kept).
OPTIONAL_ARRAYS = ("second_moment_epochs", "second_moments", "batch_accuracy", "feedback_silhouette", "features",
                   "final_kernel_distances")


def run_paths(results_dir, scale, config):
    """`{folder, result, progress, best, initial}`: the paths of `config`'s files."""
    folder = os.path.join(results_dir, scale, config.task)
    return {
        "folder": folder,
        "result": os.path.join(folder, f"{config.run_id}.h5"),
        "progress": os.path.join(folder, f"{config.run_id}.partial.h5"),
        "best": os.path.join(folder, f"{config.run_id}.best.weights.h5"),
        "initial": os.path.join(folder, "initial.weights.h5" if not config.weights_seed
                                else f"initial_seed{config.weights_seed}.weights.h5"),
    }


@dataclass(frozen=True)
class RunResult:
    """What a finished run recorded.

    `test_accuracy` is a fraction; `history[key]` has one value per epoch run (keys
    HISTORY_KEYS); `curves` are `LayerRotationCurves`' `Records` (`curves.values[i, k]`:
    kernel k's cosine distance from its initial value at record i, taken at
    `curves.epochs[i]` and step `curves.steps[i]`; `curves.layer_names`: one label per
    kernel); `rates`, where recorded, are `LayerRotationRates`' (the rotation of each
    kernel at each step); `kernel_layer_names` has one name per layer that owns a kernel
    (`layer_rotation_tools.kernel_layer_names`). The optional arrays are None where not
    recorded. `wall_seconds` is the wall time of the session that finished the run (start-up
    and test included): for a run resumed after an interruption, its earlier sessions are
    not in it, and `history["epoch_seconds"]` (every epoch of every session) is the run's
    training time.
    """

    run_id: str
    config: dict
    scale: str
    test_accuracy: float
    test_loss: float
    epochs_run: int
    stop_reason: str | None
    history: dict
    curves: Records
    kernel_layer_names: list
    initial_kernel_norms: list
    wall_seconds: float
    backend: str
    keras_version: str
    # accuracy on the whole training set after training, in inference mode (None: files
    # written before it was measured)
    train_accuracy: float | None = None
    # the device that trained it ("cpu", or the accelerator's name) and its peak memory in
    # MiB (None: on the CPU, or files written before they were kept)
    device: str | None = None
    peak_device_memory_mib: float | None = None
    rates: Records | None = None
    second_moment_epochs: np.ndarray | None = None
    second_moments: np.ndarray | None = None
    batch_accuracy: np.ndarray | None = None
    feedback_silhouette: np.ndarray | None = None
    features: np.ndarray | None = None
    # ||w_l - w_l(0)||_2 of each kernel (in `curves.layer_names` order) at the tested weights: the
    # "distance from initialization" of Jiang et al. (ICLR 2020), a rival of layer rotation
    final_kernel_distances: np.ndarray | None = None

    @property
    def validation(self):
        """(epochs, accuracies) of the epochs the validation split was evaluated after
        (from 1): every epoch, or every `validation_freq` (the history holds nan between)."""
        values = np.asarray(self.history["val_accuracy"])
        evaluated = np.flatnonzero(np.isfinite(values))
        return evaluated + 1, values[evaluated]


_MONITORS = ("curves", "rates")


def _put_records(arrays, attrs, records):
    """Add a monitor's records to a run's file's arrays and attributes: `Records.to_h5`,
    prefixed by their quantity."""
    records_arrays, records_attrs = records.to_h5(prefix=f"{records.quantity}_")
    arrays.update(records_arrays)
    attrs.update(records_attrs)


def _run_records(arrays, attrs):
    """A results file's `(curves, rates)` (rates None where not recorded). A file written
    before `Records`' layout holds the curves as `distances`, `curve_epochs`, `curve_steps`
    and the rates as `rates`, `rate_steps`, with one `layer_names` and no variable paths;
    its rates' epochs were not kept: NaN."""
    if "curve_steps" in arrays:
        names = attrs["layer_names"]
        curves = Records("distances", arrays["distances"], arrays["curve_epochs"], arrays["curve_steps"], names)
        if "rate_steps" not in arrays:
            return curves, None
        steps = arrays["rate_steps"]
        return curves, Records("rates", arrays["rates"], np.full(len(steps), np.nan), steps, names)
    rates = Records.from_h5(arrays, attrs, "rates", prefix="rates_") if "rates_quantity" in attrs else None
    return Records.from_h5(arrays, attrs, "distances", prefix="distances_"), rates


def write_result(path, result):
    """Write `result` to `path` atomically."""
    arrays = {f"history_{k}": np.asarray(v, float) for k, v in result.history.items()}
    attrs = {}
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        if f.name in _MONITORS:
            if value is not None:
                _put_records(arrays, attrs, value)
        elif f.name in OPTIONAL_ARRAYS:
            if value is not None:
                arrays[f.name] = value
        elif f.name != "history":
            attrs[f.name] = value
    write_h5_atomic(path, arrays, attrs)


def read_result(path):
    """The `RunResult` in `path`. FileNotFoundError when there is none; ResultsFileError,
    naming the file, when it cannot be read or lacks a field."""
    arrays, attrs = read_h5(path)
    names = {f.name for f in dataclasses.fields(RunResult)} - set(_MONITORS)
    try:
        curves, rates = _run_records(arrays, attrs)
        return RunResult(
            **{k: v for k, v in attrs.items() if k in names},
            history=_history(arrays),
            curves=curves,
            rates=rates,
            **{k: arrays[k] for k in OPTIONAL_ARRAYS if k in arrays},
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ResultsFileError(f"Results file {os.fspath(path)!r} lacks {error}: it was not written by a run of "
                               "this toolkit. Delete it to recompute it.") from None


def _history(arrays):
    """The history arrays of a file, nan for keys it predates (`epoch_seconds`)."""
    epochs = len(arrays["history_loss"])
    return {k: arrays[f"history_{k}"] if f"history_{k}" in arrays else np.full(epochs, np.nan) for k in HISTORY_KEYS}


def finished_result(results_dir, scale, config):
    """The `RunResult` of `config` where a readable results file holds what it records,
    else None. A corrupt file is moved aside (kept as `.corrupt`) so that the run is done
    again; one without the rotation rates that `config.record_rates` asks for (the run id
    is the same with or without them, e.g. an adaptive run that another run will replay)
    is done again, with them."""
    path = run_paths(results_dir, scale, config)["result"]
    if not os.path.exists(path):
        return None
    try:
        result = read_result(path)
    except ResultsFileError:
        os.replace(path, path + ".corrupt")
        return None
    return None if config.record_rates and result.rates is None else result


def is_finished(results_dir, scale, config):
    """Whether `config` has a finished run (`finished_result`)."""
    return finished_result(results_dir, scale, config) is not None


@dataclass
class Progress:
    """A training run's state after `epochs_done` epochs, beside the model file that holds
    its weights and optimizer state: its history, why it stopped (None while it goes on),
    each monitor's `Records` (`{quantity: records}`) and the extra records (`{name: [value
    per record]}`)."""

    epochs_done: int
    model_file: str
    stopped: str | None
    history: dict
    monitors: dict
    extra: dict = field(default_factory=dict)


def write_progress(path, progress):
    """Write `progress` to `path` atomically."""
    arrays = {f"history_{k}": np.asarray(v, float) for k, v in progress.history.items()}
    attrs = {"epochs_done": progress.epochs_done, "model_file": progress.model_file, "stopped": progress.stopped}
    for records in progress.monitors.values():
        _put_records(arrays, attrs, records)
    arrays.update({k: np.asarray(v, float) for k, v in progress.extra.items()})
    write_h5_atomic(path, arrays, attrs)


def read_progress(path, quantities, extra_names):
    """The `Progress` in `path`, with the records of the monitors of `quantities` and the
    extra records `extra_names` (empty where the file has none)."""
    arrays, attrs = read_h5(path)
    if "layer_names" in attrs:
        # A checkpoint written before `Records`' layout: its monitors shared one
        # `layer_names` (one label per kernel) and named no quantity.
        attrs = dict(attrs)
        names = attrs.pop("layer_names")
        for q in quantities:
            attrs.setdefault(f"{q}_layer_names", names)
            attrs.setdefault(f"{q}_quantity", q)
    try:
        return Progress(
            epochs_done=int(attrs["epochs_done"]), model_file=attrs["model_file"], stopped=attrs["stopped"],
            history={k: list(v) for k, v in _history(arrays).items()},
            monitors={q: Records.from_h5(arrays, attrs, q, prefix=f"{q}_") for q in quantities},
            extra={k: [np.asarray(v) for v in arrays.get(k, [])] for k in extra_names},
        )
    except KeyError as error:
        raise ResultsFileError(f"Checkpoint {os.fspath(path)!r} lacks {error}.") from None


class NoResultsError(FileNotFoundError):
    """A report asked of a folder that holds none of its runs' results files."""


class Results:
    """Reads (and caches) the results files of one results folder: each task's runs at
    `scale`, or at the scale `task_scales` names for it (a figure or table across
    networks whose tasks fit at different scales)."""

    def __init__(self, results_dir="results", scale="full", task_scales=None):
        self.results_dir, self.scale, self._cache = results_dir, scale, {}
        self.task_scales = dict(task_scales or {})

    def scale_of(self, task):
        """The scale whose results this reads for `task`."""
        return self.task_scales.get(task, self.scale)

    def label(self, task):
        """`task`, with its scale on a second line where that is not this reader's own (a
        figure's legend or panel title)."""
        scale = self.scale_of(task)
        return task if scale == self.scale else f"{task}\n({scale})"

    def _path(self, config):
        return run_paths(self.results_dir, self.scale_of(config.task), config)["result"]

    def get(self, config):
        """The run's `RunResult`, or None when it has no results file."""
        path = self._path(config)
        if path not in self._cache:
            self._cache[path] = read_result(path) if os.path.exists(path) else None
        return self._cache[path]

    def require_any(self, configs, out):
        """Refuse (NoResultsError, saying where it looked and the fix) a report on `configs`
        from a folder that holds none of their results files: drawn, it would overwrite what
        `out` holds with "not run" panels."""
        if any(self.get(config) is not None for config in configs):
            return
        folders = sorted({os.path.dirname(self._path(c)) for c in configs})
        raise NoResultsError(
            f"No results file at scale {self.scale!r} in {', '.join(folders)}: nothing to report, and {out} is left "
            "as it is. Run the study first (without --report-only), or point --results at the folder that holds "
            f"{self.scale}/<task>/ (the committed ones: --results notebooks/results)."
        )

    def accuracy(self, config):
        """Test accuracy in percent, or None."""
        result = self.get(config)
        return None if result is None else 100.0 * result.test_accuracy

    def validation_accuracy(self, config):
        """The best validation accuracy over the epochs evaluated (every epoch, or every
        `validation_freq`: the others hold nan), in percent; None without results or
        without an evaluated epoch (a run stopped before its first validation)."""
        result = self.get(config)
        validated = () if result is None else result.validation[1]
        return 100.0 * float(np.max(validated)) if len(validated) else None


def tasks_at_scales(names, scales):
    """`(tasks, task_scales)` from names given as "task" or "task@scale" (a task read at a
    scale of its own, e.g. "C100-resnet-fit@cpu_fit_validated_w2_rule_off"); a scale not
    in `scales` is a ValueError naming it and the known ones."""
    tasks, task_scales = [], {}
    for name in names:
        task, _, scale = name.partition("@")
        if scale:
            if scale not in scales:
                raise ValueError(f"{name!r}: unknown scale {scale!r}; known: {list(scales)}.")
            task_scales[task] = scale
        tasks.append(task)
    return tasks, task_scales
