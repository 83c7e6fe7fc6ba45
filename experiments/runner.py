"""Run one configuration of a task: train, monitor layer rotation, test, save.

Nothing is lost on failure: after every epoch (every `Task.checkpoint_every` epochs) the
model (with optimizer state) and the run's progress are checkpointed atomically, and a
restarted run resumes at the next epoch with the very batches an uninterrupted run would
have seen (the input pipeline depends only on (seed, epoch)). The final results file is
written atomically, then the checkpoint is removed. Every configuration of a task starts
from the same initial weights of its seed, saved the first time the task's network is
built (docs/faithfulness.md).
"""

import functools
import glob
import os
import time

import keras
import numpy as np

from experiments import data as datasets
from experiments.models import build_model
from experiments.placement import apply_memory_fraction
from experiments.recipes import SCALES, TASKS, scaled_epochs, scaled_schedule, scaled_stopping
from experiments.recording import RECORD_NAMES, BatchAccuracy, FeedbackSilhouette, SecondMoments
from experiments.results import (
    HISTORY_KEYS,
    LOGGED_KEYS,
    Progress,
    RunResult,
    finished_result,
    read_progress,
    read_result,
    run_paths,
    write_progress,
    write_result,
)
from experiments.schedule import StepDecay
from layer_rotation_tools import (
    Layca,
    LayerRotationCurves,
    LayerRotationRates,
    ReplayRotationRates,
    alpha_multipliers,
    kernel_layer_names,
    kernel_layers,
    kernel_variables,
    optimizer_class,
)
from layer_rotation_tools import backend
from layer_rotation_tools.storage import ResultsFileError, atomic_path

#: Epochs (of the full recipe) at which Adam's second-moment percentiles are recorded
#: (ICLR Figure 11, extended Figure 5).
SECOND_MOMENT_EPOCHS = (1, 10, 50)


@functools.lru_cache(maxsize=4)
def load_splits(dataset, data_dir, scale_name, seed=0, per_class=None, permute_labels=None):
    """Standardised splits of a dataset at a scale (cached per process)."""
    raw = _load_raw(dataset, data_dir)
    return datasets.prepare(*raw, limit=SCALES[scale_name].limit, seed=seed, per_class=per_class,
                            permute_labels=permute_labels)


@functools.lru_cache(maxsize=2)
def _load_raw(dataset, data_dir):
    return datasets.load_raw(dataset, data_dir)


def _build(config, splits, scale):
    task = TASKS[config.task]
    return build_model(task.model, splits.x_train.shape[1:], splits.num_classes, scale.width, config.weight_decay,
                       scale.stage_units)


def _initial_weights(model, path):
    """The task's initial weights: saved atomically on first use, then reloaded."""
    if os.path.exists(path):
        model.load_weights(path)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _save_weights_atomic(model, path)


def _train_only(model, index):
    """Freeze every kernel layer but the `index`-th (forward order)."""
    layers = kernel_layers(model)
    if not 0 <= index < len(layers):
        raise ValueError(f"trained_layer={index}: {model.name} has kernel layers 0..{len(layers) - 1}.")
    for i, layer in enumerate(layers):
        layer.trainable = i == index


def _features(model, count):
    """Input weights of first-layer neurons 5, 6, ... (`count` of them), one row each: the
    neurons of Figure 8 ("MNIST 1st layer feature visualization.ipynb", `neuron_indices =
    range(5, 10)`)."""
    kernel = np.asarray(kernel_layers(model)[0].kernel)
    return kernel[:, 5 : 5 + count].T


def make_optimizer(config, model, learning_rate, jit_compile=True):
    """The configuration's optimizer; Layca wraps the inner one (whose own rate is irrelevant),
    its update compiled by XLA on TensorFlow where `jit_compile` (`Scale.layca_jit_compile`)."""
    spec = config.spec
    if not spec.layca:
        return optimizer_class(spec.inner)(learning_rate, **config.inner_options)
    multipliers = alpha_multipliers(model, config.alpha) if config.alpha else None
    return Layca(optimizer_class(spec.inner)(0.01), learning_rate=learning_rate, multipliers=multipliers,
                 lars=spec.lars, jit_compile=jit_compile)


def stop_reason(history, stopping):
    """Why training should stop after the last epoch of `history`, or None: the authors'
    `StoppingCriteria.on_epoch_end` (paper-experiments/get_training_utils.py), where the
    accuracy rule compares Keras' 0-based epoch index with `at_epoch`, and a plateau is
    `plateau_epochs` epochs in a row whose loss equals the previous epoch's (losses as
    float32, Keras 3's logged precision). Beyond the authors' rules, a non-finite loss
    stops the run (it cannot recover; theirs ran on to the end)."""
    loss, accuracy, index = history["loss"][-1], history["accuracy"][-1], len(history["loss"]) - 1
    if not np.isfinite(loss):
        return "train loss is not finite"
    if stopping.at_epoch is not None and index == stopping.at_epoch and accuracy <= stopping.min_accuracy:
        return f"train accuracy {accuracy:.3f} <= {stopping.min_accuracy} at epoch index {index}"
    if stopping.loss_floor is not None and loss <= stopping.loss_floor:
        return f"train loss {loss:.2e} <= {stopping.loss_floor}"
    if stopping.max_accuracy is not None and accuracy >= stopping.max_accuracy:
        return f"train accuracy reached {accuracy:.3f}"
    if stopping.plateau_epochs is not None:
        recent = np.float32(history["loss"][-(stopping.plateau_epochs + 1):])
        if len(recent) == stopping.plateau_epochs + 1 and len(set(recent.tolist())) == 1:
            return f"train loss unchanged for {stopping.plateau_epochs} epochs"
    return None


def is_new_best(values):
    """Whether the last value beats every earlier one strictly: the authors' best-weights
    rule, Keras 2's ModelCheckpoint(monitor="val_acc", save_best_only=True), whose
    comparison is np.greater ("Learning rate gridsearch and training.ipynb")."""
    return values[-1] > max(values[:-1], default=-np.inf)


class _RunProgress(keras.callbacks.Callback):
    """Keeps the run's history across resumptions (each epoch's logs, rate and seconds),
    prints a line per epoch, applies the stopping rules and saves the best-validation
    weights atomically; `checkpoint`, called by `_Checkpoint`, writes the run's state."""

    def __init__(self, run, monitors):
        super().__init__()
        self.run, self.monitors = run, monitors

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        run, history = self.run, self.run.history
        for key in LOGGED_KEYS:
            history[key].append(float(logs.get(key, np.nan)))
        history["learning_rate"].append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))
        history["epoch_seconds"].append(time.time() - self.started)
        run.stopped = stop_reason(history, run.stopping)
        if run.keep_best and is_new_best(history["val_accuracy"]):
            _save_weights_atomic(self.model, run.paths["best"])
        run.printer(
            f"{run.label} epoch {epoch + 1}/{run.epochs}: loss {history['loss'][-1]:.4f} "
            f"acc {history['accuracy'][-1]:.4f} val_acc {history['val_accuracy'][-1]:.4f} "
            f"({history['epoch_seconds'][-1]:.1f}s)" + (f" stop: {run.stopped}" if run.stopped else "")
        )
        if run.stopped:
            self.model.stop_training = True

    def checkpoint(self, epoch):
        self.run.checkpoint(self.model, self.monitors, epoch + 1)


class _Checkpoint(keras.callbacks.Callback):
    """Runs last: the monitors have recorded this epoch when the checkpoint is written.
    Every `every` epochs, and when the run stops early."""

    def __init__(self, progress, every):
        super().__init__()
        self.progress, self.every = progress, every

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0 or self.progress.run.stopped:
            self.progress.checkpoint(epoch)


class Run:
    """One configuration at one scale: its paths, state, and the training loop."""

    def __init__(self, config, scale="full", data_dir=None, results_dir="results", printer=print):
        self.config, self.scale_name, self.printer = config, scale, printer
        self.scale = SCALES[scale]
        self.task = TASKS[config.task]
        self.data_dir, self.results_dir = data_dir, results_dir
        self.paths = run_paths(results_dir, scale, config)
        self.schedule = scaled_schedule(config.schedule, self.scale)
        self.epochs = min(self.schedule.epochs, config.only_epochs or self.schedule.epochs)
        self.stopping = scaled_stopping(self.task.stopping, config.schedule, self.scale)
        self.keep_best = self.task.keep_best
        if self.keep_best and self.scale.validation_freq != 1:
            raise ValueError(
                f"{config.task} keeps its best-validation weights, which needs the validation split evaluated every "
                f"epoch; scale {scale!r} evaluates it every {self.scale.validation_freq} epochs. Use a scale with "
                "validation_freq=1."
            )
        self.label = f"[{scale}] {config.run_id}"
        self.history = {key: [] for key in HISTORY_KEYS}
        self.extra = {name: [] for name in RECORD_NAMES}
        self.stopped = None
        self.epochs_done = 0

    def execute(self):
        """Train (or resume), test, write the results file; returns its `RunResult`."""
        started = time.time()
        backend.enable_float64()  # Layca and the monitors need real float64 (JAX: x64)
        apply_memory_fraction()  # PyTorch on a GPU shared by several shards (experiments.placement)
        splits = load_splits(self.task.dataset, self.data_dir, self.scale_name, self.config.seed, self.task.train_per_class,
                             self.task.permuted_labels)
        steps = datasets.steps_per_epoch(len(splits.x_train), self.task.batch_size, self.task.augment)
        model, initial_kernels = self._initial_model(splits)
        # A metric object, whose variables exist before fit: on TensorFlow, a training step
        # whose first trace makes variables (the "accuracy" string's, the optimizer's) is
        # traced twice (a quarter of a smoke run).
        model.compile(self._optimizer(model, steps), "categorical_crossentropy",
                      metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
        curves = LayerRotationCurves(batch_frequency=1 if self.config.per_batch else None)
        rates = LayerRotationRates() if self.config.record_rates else None
        curves.set_reference_kernels(initial_kernels)
        model = self._resume(model, curves, rates)
        if self.epochs_done < self.epochs and not self.stopped:
            model.optimizer.build(model.trainable_variables)  # before fit's first trace (see compile)
            self._fit(model, splits, steps, curves, rates)
        result = self._tested(model, splits, curves, rates, initial_kernels, started)
        write_result(self.paths["result"], result)
        for path in [self.paths["progress"], self.paths["best"], *self._model_checkpoints()]:
            if os.path.exists(path):
                os.remove(path)
        self.printer(f"{self.label}: test accuracy {100 * result.test_accuracy:.2f}% -> {self.paths['result']}")
        return result

    def _initial_model(self, splits):
        """The task's network from its initial weights, rescaled (`init_scale`) and with
        layers frozen (`trained_layer`) as configured; returns (model, its initial kernels)."""
        keras.utils.set_random_seed(self.config.weights_seed)
        model = _build(self.config, splits, self.scale)
        _initial_weights(model, self.paths["initial"])
        if self.config.init_scale != 1.0:
            for kernel in kernel_variables(model):
                kernel.assign(kernel * self.config.init_scale)
        if self.config.trained_layer is not None:
            _train_only(model, self.config.trained_layer)
        return model, [np.asarray(k) for k in kernel_variables(model)]

    def _tested(self, model, splits, curves, rates, initial_kernels, started):
        """The run's `RunResult`: the best-validation weights (where the task keeps them)
        evaluated on the test set, beside everything recorded."""
        if self.keep_best and os.path.exists(self.paths["best"]):
            model.load_weights(self.paths["best"])
        test_loss, test_accuracy = model.evaluate(splits.x_test, splits.y_test, batch_size=256, verbose=0)
        # The papers' scope: runs that fit their training set (extended paper, Section 4 and
        # Supp. B.3), measured on the whole set, not as Keras' running mean of the last epoch.
        _, train_accuracy = model.evaluate(splits.x_train, splits.y_train, batch_size=256, verbose=0)
        extra = {k: np.asarray(v, float) for k, v in self.extra.items() if len(v)}
        device, peak_memory = backend.accelerator()
        return RunResult(
            run_id=self.config.run_id, config=self.config.to_dict(), scale=self.scale_name,
            test_accuracy=float(test_accuracy), test_loss=float(test_loss),
            epochs_run=len(self.history["loss"]), stop_reason=self.stopped,
            history={k: np.asarray(v, float) for k, v in self.history.items()},
            curves=curves.records(), kernel_layer_names=kernel_layer_names(model),
            initial_kernel_norms=[float(np.linalg.norm(k)) for k in initial_kernels],
            wall_seconds=time.time() - started, backend=keras.backend.backend(), keras_version=keras.__version__,
            train_accuracy=float(train_accuracy), device=device, peak_device_memory_mib=peak_memory,
            rates=None if rates is None else rates.records(),
            features=_features(model, self.task.features) if self.task.features else None,
            final_kernel_distances=np.asarray([np.linalg.norm(np.asarray(k, np.float64) - k0)
                                               for k, k0 in zip(kernel_variables(model), initial_kernels)]),
            **extra,
        )

    def _optimizer(self, model, steps):
        if self.config.copy_from:  # rho_l(t) comes from the replayed table alone
            return make_optimizer(self.config, model, StepDecay(1.0, [], 1.0), self.scale.layca_jit_compile)
        schedule = StepDecay(
            self.config.learning_rate, [d * steps for d in self.schedule.drops], self.schedule.factor,
            warmup_steps=scaled_epochs(self.config.warmup_epochs, self.config.schedule, self.scale) * steps,
        )
        return make_optimizer(self.config, model, schedule, self.scale.layca_jit_compile)

    def _fit(self, model, splits, steps, curves, rates):
        progress = _RunProgress(self, [m for m in (curves, rates) if m is not None])
        callbacks = [progress, curves] + ([rates] if rates is not None else [])
        if self.config.copy_from:
            callbacks.insert(0, ReplayRotationRates(self._copied_rates()))
        moment_epochs = {scaled_epochs(e, self.config.schedule, self.scale) for e in SECOND_MOMENT_EPOCHS}
        callbacks.append(SecondMoments(moment_epochs, self.extra))
        if self.config.record_feedback:
            callbacks.append(FeedbackSilhouette(splits.x_train, splits.y_train, self.extra["feedback_silhouette"]))
        if self.config.per_batch:
            sizes = datasets.batch_sizes(len(splits.x_train), self.task.batch_size, self.task.augment)
            callbacks.append(BatchAccuracy(sizes, self.extra["batch_accuracy"]))
        callbacks.append(_Checkpoint(progress, self.task.checkpoint_every))
        batches = datasets.EpochBatches(
            splits.x_train, splits.y_train, self.task.batch_size, self.config.weights_seed, self.epochs_done, self.epochs,
            self.task.augment,
        )
        model.fit(
            batches, epochs=self.epochs, initial_epoch=self.epochs_done, steps_per_epoch=steps,
            validation_data=(splits.x_val, splits.y_val), validation_freq=self.scale.validation_freq,
            callbacks=callbacks, shuffle=False, verbose=0,
        )

    def _copied_rates(self):
        source = os.path.join(self.paths["folder"], f"{self.config.copy_from}.h5")
        if not os.path.exists(source):
            raise FileNotFoundError(f"{self.config.run_id} replays the rates of {self.config.copy_from}, which has no results yet ({source}).")
        result = read_result(source)
        if result.rates is None:
            raise ValueError(f"{source} recorded no rotation rates (run it with record_rates=True).")
        return result.rates

    # -- checkpoints -------------------------------------------------------------------

    def _model_checkpoints(self):
        return glob.glob(os.path.join(self.paths["folder"], f"{glob.escape(self.config.run_id)}.epoch*.keras"))

    def checkpoint(self, model, monitors, epochs_done):
        """Model file for this epoch, then the progress file naming it, then old model files."""
        model_file = os.path.join(self.paths["folder"], f"{self.config.run_id}.epoch{epochs_done}.keras")
        with atomic_path(model_file, suffix=".keras") as tmp:
            model.save(tmp)
        records = {monitor.quantity: monitor.records() for monitor in monitors}
        write_progress(self.paths["progress"], Progress(epochs_done, os.path.basename(model_file), self.stopped,
                                                        self.history, records, self.extra))
        for old in self._model_checkpoints():
            if old != model_file:
                os.remove(old)

    def _resume(self, model, curves, rates):
        """Load the last checkpoint, if any, into the run's state; returns the model to train."""
        if not os.path.exists(self.paths["progress"]):
            return model
        monitors = [m for m in (curves, rates) if m is not None]
        try:
            progress = read_progress(self.paths["progress"], [m.quantity for m in monitors], RECORD_NAMES)
            model = keras.models.load_model(os.path.join(self.paths["folder"], progress.model_file))
        except (ResultsFileError, OSError, ValueError) as error:
            self.printer(f"{self.label}: checkpoint unusable ({error}); starting over.")
            return model
        self.history = progress.history
        for monitor in monitors:
            monitor.restore_records(progress.monitors[monitor.quantity])
        self.extra = progress.extra
        self.extra["second_moment_epochs"] = [int(e) for e in self.extra["second_moment_epochs"]]
        self.epochs_done, self.stopped = progress.epochs_done, progress.stopped
        self.printer(f"{self.label}: resuming after epoch {self.epochs_done}.")
        return model


def _save_weights_atomic(model, path):
    with atomic_path(path, suffix=".weights.h5") as tmp:
        model.save_weights(tmp)


def run_one(config, scale="full", data_dir=None, results_dir="results", printer=print):
    """Run `config` unless its results exist; returns its `RunResult`."""
    result = finished_result(results_dir, scale, config)
    return result if result is not None else Run(config, scale, data_dir, results_dir, printer).execute()
