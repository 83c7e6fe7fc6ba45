"""A run's files and what they hold: `RunResult` (the results file) and `Progress` (the
checkpoint's record), each with one writer and one reader.

A run's files live in `<results>/<scale>/<task>/`: `<run id>.h5` (its results),
`<run id>.partial.h5` (its progress while it trains), `<run id>.best.weights.h5` and
`initial.weights.h5` (every configuration of a task starts from the same weights). Both
records are HDF5 files written atomically (`layer_rotation_tools.storage`): arrays as
datasets, the rest as JSON attributes. The layout is the one the runner has always
written, so results files from before this module load unchanged (their
`initial_features`, which nothing drew, is ignored).
"""

import dataclasses
import os
from dataclasses import dataclass, field

import numpy as np

from layer_rotation_tools.storage import ResultsFileError, read_h5, write_h5_atomic

#: What Keras logs each epoch, in its order.
LOGGED_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
#: The per-epoch training history: Keras' logs, the rate, and the epoch's wall-clock
#: seconds (training and validation; files written before it was kept read nan).
HISTORY_KEYS = (*LOGGED_KEYS, "learning_rate", "epoch_seconds")
#: Arrays only some runs record (second moments: Adam; batch accuracy: per-batch runs;
#: feedback silhouette: the feedback study; features: tasks that draw first-layer features;
#: final kernel distances: files written since they were kept).
OPTIONAL_ARRAYS = ("rates", "rate_steps", "second_moment_epochs", "second_moments", "batch_accuracy",
                   "feedback_silhouette", "features", "final_kernel_distances")


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
    HISTORY_KEYS); `distances[i, l]` is kernel layer l's cosine distance from its initial
    value at record i, taken at `curve_epochs[i]` (fractional for batch records) and
    optimizer step `curve_steps[i]`; `rates[i, l]` (with `rate_steps`), where recorded, is
    the rotation of layer l at that step. The optional arrays are None where not recorded.
    """

    run_id: str
    config: dict
    scale: str
    test_accuracy: float
    test_loss: float
    epochs_run: int
    stop_reason: str | None
    history: dict
    distances: np.ndarray
    curve_epochs: np.ndarray
    curve_steps: np.ndarray
    layer_names: list
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
    rates: np.ndarray | None = None
    rate_steps: np.ndarray | None = None
    second_moment_epochs: np.ndarray | None = None
    second_moments: np.ndarray | None = None
    batch_accuracy: np.ndarray | None = None
    feedback_silhouette: np.ndarray | None = None
    features: np.ndarray | None = None
    # ||w_l - w_l(0)||_2 of each kernel (in `layer_names` order) at the tested weights: the
    # "distance from initialization" of Jiang et al. (ICLR 2020), a rival of layer rotation
    final_kernel_distances: np.ndarray | None = None

    @property
    def validation(self):
        """(epochs, accuracies) of the epochs the validation split was evaluated after
        (from 1): every epoch, or every `validation_freq` (the history holds nan between)."""
        values = np.asarray(self.history["val_accuracy"])
        evaluated = np.flatnonzero(np.isfinite(values))
        return evaluated + 1, values[evaluated]


_RESULT_ARRAYS = ("distances", "curve_epochs", "curve_steps", *OPTIONAL_ARRAYS)


def write_result(path, result):
    """Write `result` to `path` atomically."""
    arrays = {f"history_{k}": np.asarray(v, float) for k, v in result.history.items()}
    attrs = {}
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        if f.name in _RESULT_ARRAYS:
            if value is not None:
                arrays[f.name] = value
        elif f.name != "history":
            attrs[f.name] = value
    write_h5_atomic(path, arrays, attrs)


def read_result(path):
    """The `RunResult` in `path`. FileNotFoundError when there is none; ResultsFileError,
    naming the file, when it cannot be read or lacks a field."""
    arrays, attrs = read_h5(path)
    names = {f.name for f in dataclasses.fields(RunResult)}
    try:
        return RunResult(
            **{k: v for k, v in attrs.items() if k in names},
            history=_history(arrays),
            **{k: arrays[k] for k in _RESULT_ARRAYS if k in arrays},
        )
    except (KeyError, TypeError) as error:
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
    each monitor's records (`{quantity: {"layer_names", "values", "epochs", "steps",
    "variable_paths"}}`) and the extra records (`{name: [value per record]}`)."""

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
    for quantity, records in progress.monitors.items():
        arrays.update({f"{quantity}_{quantity}": records["values"], f"{quantity}_epochs": records["epochs"],
                       f"{quantity}_steps": records["steps"]})
        attrs["layer_names"] = records["layer_names"]
        attrs[f"{quantity}_variable_paths"] = records["variable_paths"]
    arrays.update({k: np.asarray(v, float) for k, v in progress.extra.items()})
    write_h5_atomic(path, arrays, attrs)


def read_progress(path, quantities, extra_names):
    """The `Progress` in `path`, with the records of the monitors of `quantities` and the
    extra records `extra_names` (empty where the file has none)."""
    arrays, attrs = read_h5(path)
    try:
        monitors = {q: {"layer_names": attrs["layer_names"], "values": arrays[f"{q}_{q}"],
                        "epochs": arrays[f"{q}_epochs"], "steps": arrays[f"{q}_steps"],
                        "variable_paths": attrs.get(f"{q}_variable_paths")} for q in quantities}
        return Progress(
            epochs_done=int(attrs["epochs_done"]), model_file=attrs["model_file"], stopped=attrs["stopped"],
            history={k: list(v) for k, v in _history(arrays).items()}, monitors=monitors,
            extra={k: [np.asarray(v) for v in arrays.get(k, [])] for k in extra_names},
        )
    except KeyError as error:
        raise ResultsFileError(f"Checkpoint {os.fspath(path)!r} lacks {error}.") from None


class NoResultsError(FileNotFoundError):
    """A report asked of a folder that holds none of its runs' results files."""


class Results:
    """Reads (and caches) the results files of one results folder and scale."""

    def __init__(self, results_dir="results", scale="full"):
        self.results_dir, self.scale, self._cache = results_dir, scale, {}

    def get(self, config):
        """The run's `RunResult`, or None when it has no results file."""
        path = run_paths(self.results_dir, self.scale, config)["result"]
        if path not in self._cache:
            self._cache[path] = read_result(path) if os.path.exists(path) else None
        return self._cache[path]

    def require_any(self, configs, out):
        """Refuse (NoResultsError, saying where it looked and the fix) a report on `configs`
        from a folder that holds none of their results files: drawn, it would overwrite what
        `out` holds with "not run" panels."""
        if any(self.get(config) is not None for config in configs):
            return
        folders = sorted({os.path.dirname(run_paths(self.results_dir, self.scale, c)["result"]) for c in configs})
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
