"""Keras callbacks that monitor and replay layer rotation.

- `LayerRotationCurves`: cosine distance of every kernel from its initial value
  (Section 3.1 of arXiv:1806.01603), every epoch and optionally every N batches.
- `LayerRotationRates`: per-step rotation rate, tan of the angle between a kernel
  before and after a step (the quantity Layca controls, Section 3.2).
- `ReplayRotationRates`: feeds a recorded per-step, per-layer rate table to Layca's
  multipliers (the "SGD-Layca-AdaptCopy" procedure of Section 5.4).

Measurements run on the device over variables holding the reference kernels: a monitor
that records batches measures with one compiled function (a monitor that records only at
the end of each epoch measures uncompiled: compiling would cost more than it saves); one
small vector comes back to the host per record. Batch records need no batch hook (which
would make Keras wait on every step): the monitor takes Keras' training function's place
(`training_step.TrainFunctionTap`) and measures right after each step (on TensorFlow,
where every step is recorded, inside the compiled step itself), leaving the values on the
device until the end of the epoch. Records are placed in steps and epochs across fits by
a `fit_clock.FitClock` and kept in a `records.RecordTable`.
"""

import functools

import keras
import numpy as np
from keras import ops

from layer_rotation_tools import backend, keras_adapter
from layer_rotation_tools.arguments import real_number, whole_number
from layer_rotation_tools.fit_clock import FitClock
from layer_rotation_tools.kernels import DEFAULT_KERNEL_NAMES, kernel_variables, variable_path
from layer_rotation_tools.layca import find_layca, memory_groups
from layer_rotation_tools.plotting import plot_layer_rotation_curves
from layer_rotation_tools.records import Records, RecordTable
from layer_rotation_tools.tensorboard import ScalarWriter
from layer_rotation_tools.training_step import RECORD, JaxStepState, TrainFunctionTap, build_from_first_batch
from layer_rotation_tools.transforms import cosine_distances, rotation_rates, squared_norms, unit_quantiles


class _KernelMonitor(keras.callbacks.Callback):
    """Records one value per kernel, per epoch and/or every N batches.

    Records form one history across `fit` calls: epochs and steps are counted from the
    first `fit` this callback saw (a later `fit`, with the same optimizer or a fresh
    one, continues them). Each kernel has a column, made the first time the kernel is
    trainable at the start of a `fit`; where a kernel is not trainable (frozen) or not
    in the model, its column holds NaN. With `per_unit_quantiles`, the quantity is
    measured for each output unit's weight vector of each kernel (a Dense column, a
    convolution's output channel, a recurrent kernel's column) and a record keeps, per
    kernel, these quantiles over its units: a summary as small as the layer count, not
    a history of every unit.
    """

    #: Name of the recorded quantity (the HDF5 dataset and TensorBoard prefix).
    quantity = None
    #: Whether to record at the end of every epoch.
    record_epoch_end = True
    #: The dtype the references are kept in (None: each kernel's own).
    reference_dtype = None

    def __init__(self, batch_frequency=None, kernel_names=None, log_dir=None, per_unit_quantiles=None):
        super().__init__()
        self.per_unit_quantiles = _checked_quantiles(per_unit_quantiles)
        frequency = None if batch_frequency is None else whole_number(batch_frequency)
        if batch_frequency is not None and (frequency is None or frequency < 1):
            raise ValueError(
                f"batch_frequency must be a positive integer or None; received batch_frequency={batch_frequency!r}."
            )
        self.batch_frequency = frequency
        self.kernel_names = tuple(kernel_names) if kernel_names is not None else DEFAULT_KERNEL_NAMES
        self.log_dir = log_dir
        self._writer = None if log_dir is None else ScalarWriter(log_dir)
        self._table = RecordTable(self.per_unit_quantiles)
        self._clock = FitClock()
        self._tap = TrainFunctionTap()
        self._owners = {}  # path -> the variable monitored under it
        self._references = {}  # path -> reference variable
        self._kernels = []  # the kernels monitored in the fit under way
        self._paths = []  # their variable paths
        self._measure_fn = None  # the measure of those kernels (compiled where batches are recorded)
        self._pending_references = None  # references given by `set_reference_kernels`, used at the next start
        self._pending_records = []  # (values, iterations, epoch, batches run) of batches, as tensors
        self._unplaced = []  # (row, epoch, batches run) of this epoch's records, data of unknown length
        self._build_pending = False  # the model is built from its first batch (TensorFlow), then the monitor starts
        self._jax_state = None  # JaxStepState of this fit, made at its first record
        self._fit_optimizer = None  # the optimizer of the fit under way

    @property
    def layer_names(self):
        """One label per column (kernel), in the order kernels were first seen."""
        return self._table.layer_names

    @property
    def variable_paths(self):
        """The path of the kernel variable of each column."""
        return self._table.variable_paths

    @property
    def epochs(self):
        """x position of each record, in epochs counted from this callback's first fit:
        epoch e ends at e + 1, and a batch record sits at e + (batches run in epoch e) /
        (batches in epoch e). Where Keras does not know the length of the data (a
        generator, a `tf.data` dataset of unknown cardinality), the batches in an epoch
        are counted as it runs, and its batch records are placed when it ends (until
        then, by the length of the epoch before)."""
        self._read_pending_records()
        return self._table.epochs

    @property
    def steps(self):
        """The training step of each record (the optimizer's `iterations`: with
        `gradient_accumulation_steps`, the steps it applied), counted from this
        callback's first fit."""
        self._read_pending_records()
        return self._table.steps

    def _values_array(self):
        self._read_pending_records()
        return self._table.values()

    def on_train_begin(self, logs=None):
        steps_per_execution = getattr(self.model, "steps_per_execution", 1) or 1
        if self.batch_frequency and self.batch_frequency % steps_per_execution:
            raise ValueError(
                f"{type(self).__name__}(batch_frequency={self.batch_frequency}) cannot record every "
                f"{self.batch_frequency} steps: the model is compiled with steps_per_execution="
                f"{steps_per_execution}, so the kernels can be read only every {steps_per_execution} steps. "
                f"Use a batch_frequency that is a multiple of {steps_per_execution}, or compile with a "
                f"steps_per_execution that divides {self.batch_frequency}."
            )
        self._end_fit()  # a fit that ended by an error never reached on_train_end
        self._clock.begin_fit(self._optimizer_steps())
        self._fit_optimizer = self.model.optimizer
        self._build_pending = not (self._trainable_kernels() or keras_adapter.all_built(self.model))
        if not self._build_pending:
            self._start()
        elif backend.name() != "tensorflow":
            raise self._unbuilt_error()
        self._tap.attach(self.model, self._monitored_train_function)
        self._jax_state = None

    def _trainable_kernels(self):
        return kernel_variables(self.model, self.kernel_names)

    def _monitored_train_function(self, *args):
        """Keras' training function (its arguments and results are the backend's:
        an iterator on TensorFlow, a batch on PyTorch, state and batch on JAX, which
        returns the new state with the logs), with the batch records: taken inside the
        step where every step is recorded on TensorFlow (`_recording_function`), else
        measured right after it (`_measure_after`). On TensorFlow, first builds a model
        that was never called, as Keras does under a strategy, from the shapes of the
        batches (Keras would build it inside the first step), so that the references
        are the kernels' values before that step."""
        if self._build_pending:
            if not self._trainable_kernels() and not build_from_first_batch(self.model, args[0]):
                raise self._unbuilt_error()
            self._build_pending = False
            self._start()
        frequency = self.batch_frequency
        model = keras_adapter.unsynced_model(self)
        recording = self._recording_function() if frequency == 1 else None
        outputs = self._tap.call(model, recording or self._tap.keras_function, args, bool(self.params.get("steps")))
        self._clock.count_batches(getattr(model, "steps_per_execution", 1) or 1)
        if frequency and self._clock.batches % frequency == 0:
            position = (self._clock.epoch, self._clock.batches)
            if recording is not None:
                values, iterations = outputs.pop(RECORD)
                self._pending_records.append((values, iterations, *position))
            else:
                self._measure_after(outputs, position)
        return outputs

    def _measure_after(self, outputs, position):
        """Measure the kernels just after a step, leaving the values on the device. On
        JAX, where Keras holds the model's state outside its variables during `fit`,
        the kernels and the iteration count are read from the state the step returned
        (and `keras_adapter.unsynced_model`, not `self.model`, whose JAX state sync would write the state
        of the step before back into the model)."""
        if backend.name() == "jax":
            if self._jax_state is None:
                self._jax_state = JaxStepState(keras_adapter.unsynced_model(self), self._kernels, type(self).__name__)
            kernels, iterations = self._jax_state.read(outputs)
            references = self._measure_references()
        else:
            references, kernels = self._arguments()
            iterations = ops.copy(self._counter())
        values = self._measure_fn(references, kernels)
        self._after_record(kernels)
        self._pending_records.append((values, iterations, *position))

    def _unbuilt_error(self):
        return ValueError(
            f"{type(self).__name__} needs model {self.model.name!r} built before its first step: call the "
            "model on a batch, or give it an Input, before fit."
        )

    def _recording_function(self):
        """Keras' training function whose step also takes this monitor's record (values
        and the optimizer's iterations) inside the compiled step (`StepWithRecord`), or
        None (then the record is measured after the step, as it is by a second monitor
        on the same fit)."""

        measure = self._measurement()

        def record():
            references, kernels = self._arguments()
            values = measure(references, kernels)
            self._after_record(kernels)
            return values, ops.convert_to_tensor(self._counter())

        key = tuple(id(v) for v in [*self._kernels, *self._reference_variables()])
        return self._tap.recording_function(keras_adapter.unsynced_model(self), record, key)

    def _read_pending_records(self):
        """Bring the batch records left on the device to the host, in order. A batch
        after which the optimizer applied no step since the last record, or since the
        fit began (it accumulates gradients: `gradient_accumulation_steps`), records
        nothing."""
        pending, self._pending_records = self._pending_records, []
        for values, iterations, epoch, batches in pending:
            step = self._clock.step(int(ops.convert_to_numpy(iterations)))
            if step == self._clock.steps_done:
                continue
            length = self.params.get("steps")
            if not length:  # data of unknown length: placed when the epoch ends
                self._unplaced.append((len(self._table), epoch, batches))
                length = self._clock.epoch_length
            self._append(ops.convert_to_numpy(values), step, epoch + (batches / length if length else 0.0))

    def _start(self):
        backend.require_float64(type(self).__name__)
        kernels = self._trainable_kernels()
        if not kernels:
            raise ValueError(
                f"Model {self.model.name!r} has no trainable kernel matching {list(self.kernel_names)}; "
                "nothing to monitor."
            )
        paths = [variable_path(k) for k in kernels]
        self._table.add_columns(paths)
        for path, kernel in zip(paths, kernels):
            owner = self._owners.get(path)
            if owner is not None and owner is not kernel:
                raise ValueError(
                    f"{type(self).__name__} already monitors a kernel at {path!r}, and this model has another "
                    "variable at that path (a new model?). Use a new callback for a new model."
                )
        if self._pending_references is not None:
            if len(self._pending_references) != len(kernels):
                raise ValueError(
                    f"Expected {len(kernels)} reference kernels ({paths}); received {len(self._pending_references)}."
                )
            pending = dict(zip(paths, self._pending_references))
            self._pending_references = None
        else:
            pending = {}
        for path, kernel in zip(paths, kernels):
            if path not in self._references:
                value = pending[path] if path in pending else ops.copy(kernel)
                dtype = self.reference_dtype or kernel.dtype
                self._references[path] = keras.Variable(ops.cast(value, dtype), dtype=dtype, trainable=False,
                                                        name="reference")
            self._owners[path] = kernel
        if [id(k) for k in kernels] != [id(k) for k in self._kernels]:
            self._kernels, self._paths, self._measure_fn = kernels, paths, None
        self._references_set()
        if self._measure_fn is None and not self.batch_frequency:
            # Measured once per epoch: compiling it would cost more than it saves (about
            # 1 s of tracing per fit on TensorFlow).
            self._measure_fn = backend.without_gradients(self._measurement())
        elif self._measure_fn is None:
            self._measure_fn = self._compiled_measure()

    def _compiled_measure(self):
        """The measure compiled for the batch records. On TensorFlow a concrete function:
        calling it skips argument matching (a tenth of a millisecond, which counts when
        measuring every batch)."""
        return backend.compiled(self._measurement(), *self._arguments())

    def _measurement(self):
        """The function of (references, kernels) that takes a record (`_measurement`)."""
        return _measurement(type(self), self.per_unit_quantiles)

    def set_reference_kernels(self, values):
        """Measure from these kernels (e.g. saved initial weights, when a run resumes)
        instead of the model's kernels at the start of training: one value per trainable
        kernel, in `kernel_variables` order. Call before `fit`."""
        self._pending_references = [np.asarray(v) for v in values]
        self._references = {}

    def records(self):
        """What this monitor recorded, as `Records` (the type its file, a run's checkpoint
        and a run's results file hold)."""
        self._read_pending_records()
        return self._table.records(self.quantity)

    def restore_records(self, records):
        """Continue from earlier `Records` of this monitor's quantity (a resumed run)."""
        if records.quantity != self.quantity:
            raise ValueError(f"{type(self).__name__} records {self.quantity!r}; received {records.quantity!r} records.")
        if records.quantiles != self.per_unit_quantiles:
            raise ValueError(
                f"The records hold per_unit_quantiles={records.quantiles}; this {type(self).__name__} records "
                f"per_unit_quantiles={self.per_unit_quantiles}. Continue them with "
                f"{type(self).__name__}(per_unit_quantiles={records.quantiles})."
            )
        self._table = RecordTable.from_records(records)
        self._clock.continue_from(self._table.last_step, self._table.epochs_covered)

    def _counter(self):
        """The optimizer's `iterations` (a variable, or with `gradient_accumulation_steps`
        a tensor computed from one), read in or right after a step off JAX."""
        return keras_adapter.unsynced_model(self).optimizer.iterations

    def _optimizer_steps(self):
        return int(ops.convert_to_numpy(self.model.optimizer.iterations))

    def on_epoch_begin(self, epoch, logs=None):
        self._clock.begin_epoch(epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._read_pending_records()
        self._clock.end_epoch()
        for row, record_epoch, batches in self._unplaced:
            self._table.place(row, record_epoch + batches / self._clock.epoch_length)
        self._unplaced = []
        if self.record_epoch_end:
            self._record(self._clock.epoch + 1.0)

    def on_train_end(self, logs=None):
        self._end_fit()
        self._tap.detach(self.model)

    def _end_fit(self):
        """Close the last fit's count: its records left on the device, and the steps its
        optimizer made (those after the last record too), counted before a next fit,
        which may bring a new optimizer."""
        if self._fit_optimizer is None:
            return
        self._read_pending_records()
        self._clock.end_fit(int(ops.convert_to_numpy(self._fit_optimizer.iterations)))
        self._fit_optimizer = None

    def _record(self, epoch_position):
        self._read_pending_records()
        step = self._clock.step(self._optimizer_steps())
        if self._table.last_step == step and self._table.last_epoch == epoch_position:
            return  # The same record twice: a batch record at the end of an epoch, then the epoch's.
        references, kernels = self._arguments()
        values = ops.convert_to_numpy(self._measure_fn(references, kernels))
        self._after_record(kernels)
        self._append(values, step, epoch_position)

    def _append(self, values, step, epoch_position):
        self._table.append(self._paths, values, step, epoch_position)
        self._clock.recorded(step)
        if self._writer is not None:
            labels = dict(zip(self.variable_paths, self.layer_names))
            labels = [labels[path] for path in self._paths]
            if self.per_unit_quantiles is not None:
                labels = [f"{label}/q{q:g}" for label in labels for q in self.per_unit_quantiles]
            self._writer.write(self.quantity, labels, np.ravel(values), step)

    def _arguments(self):
        """The measure's arguments: references and kernels, as the backend's tensors
        (TensorFlow: the variables themselves; JAX: their current values)."""
        return self._measure_references(), [k.value for k in self._kernels]

    def _reference_variables(self):
        return [self._references[p] for p in self._paths]

    def _reference_values(self):
        return [r.value for r in self._reference_variables()]

    def _measure_references(self):
        """What the measure takes of the references (their values by default)."""
        return self._reference_values()

    def _references_set(self):
        """What a monitor does once the references of a fit are set (nothing by default)."""

    def _after_record(self, kernels):
        """What a monitor does once a record of `kernels` is taken (nothing by default)."""

    def save(self, path):
        """Write the records to an HDF5 file, atomically (`Records.save`)."""
        self.records().save(path)

    @classmethod
    def load(cls, path):
        """A callback holding the records saved at `path` (for plotting or analysis)."""
        records = Records.load(path, cls.quantity)
        monitor = cls(per_unit_quantiles=records.quantiles)
        monitor.restore_records(records)
        return monitor


class LayerRotationCurves(_KernelMonitor):
    """Record every kernel layer's cosine distance from its initial value.

    Layer rotation of layer l at step t (Section 3.1 of arXiv:1806.01603):

        d_l(t) = 1 - w_l(t) . w_l(0) / (||w_l(t)|| ||w_l(0)||)   (flattened kernels)

    The initial kernels are copied to device variables when training starts (a
    further `fit` on the same model keeps them). Records are taken at the end of every
    epoch and, with `batch_frequency=N`, after every N-th batch of each epoch.

    Args:
        batch_frequency: int or None. Also record after every this many batches.
            Defaults to `None` (at the end of each epoch only).
        kernel_names: list of str or None. Regular expressions selecting kernels by
            `variable.path`. Defaults to `None`: `kernels.DEFAULT_KERNEL_NAMES`, as Layca.
        log_dir: str or None. Where to also write the values for TensorBoard.
            Defaults to `None` (not written).
        reference_dtype: str or None. Keep the initial kernels in this floating dtype
            ("bfloat16" or "float16": half the memory of float32 kernels), measuring
            from their rounded values: each element of w_l(0) moves by at most half a
            unit in its last place (2^-9 of itself in bfloat16, 2^-12 in float16, whose
            range ends at 65,504), which changes the distances by about 1e-5 or less
            (measured in `benchmarks/reference_precision.py`). Defaults to `None` (the
            kernel's own dtype, exact).
        per_unit_quantiles: increasing sequence of numbers in [0, 1], or None. Measure
            each output unit's weight vector (w_u: a Dense column, a convolution's output channel)
            from its initial value, d_u(t) = 1 - w_u(t) . w_u(0) / (||w_u(t)|| ||w_u(0)||),
            the rotation that `Layca(per_unit=True)` controls, and record these quantiles
            of each kernel's units (numpy's default, linear interpolation). Defaults to
            `None` (each kernel as one vector, the papers' measure).

    Attributes:
        layer_names: one label per kernel, forward order.
        distances: numpy array (records x layers), or with `per_unit_quantiles`
            (records x layers x quantiles).
        epochs: x position of each record, in epochs.
        steps: optimizer iteration at each record.

    Example:

    ```python
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16), keras.layers.Dense(3)])
    model.compile(optimizer=Layca(), loss="sparse_categorical_crossentropy")
    curves = LayerRotationCurves(batch_frequency=2)
    model.fit(np.random.rand(64, 8), np.random.randint(0, 3, 64), batch_size=16, epochs=2,
              callbacks=[curves], verbose=0)
    curves.distances.shape  # (4, 2): records (batches 2 and 4 of each epoch) x layers
    curves.plot()
    units = LayerRotationCurves(per_unit_quantiles=(0.1, 0.5, 0.9))
    model.fit(np.random.rand(64, 8), np.random.randint(0, 3, 64), batch_size=16, epochs=2,
              callbacks=[units], verbose=0)
    units.distances.shape  # (2, 2, 3): records x layers x quantiles of each layer's units
    ```
    """

    quantity = "distances"

    def __init__(self, batch_frequency=None, kernel_names=None, log_dir=None, reference_dtype=None,
                 per_unit_quantiles=None):
        super().__init__(batch_frequency=batch_frequency, kernel_names=kernel_names, log_dir=log_dir,
                         per_unit_quantiles=per_unit_quantiles)
        self.reference_dtype = _checked_reference_dtype(reference_dtype)
        self._reference_norms = None  # a variable holding the references' squared norms, made at the first start

    @property
    def distances(self):
        return self._values_array()

    def _references_set(self):
        # The references do not change during training: their squared norms (per kernel,
        # or per unit) once per fit, in float64, held by a variable (a step that takes the
        # record reads its value).
        norms = squared_norms(self._reference_values(), per_unit=self.per_unit_quantiles is not None)
        if self._reference_norms is None or tuple(self._reference_norms.shape) != tuple(norms.shape):
            self._reference_norms = keras.Variable(norms, trainable=False, name="reference_squared_norms")
        else:
            self._reference_norms.assign(norms)

    def _measure_references(self):
        return self._reference_values(), self._reference_norms.value

    @staticmethod
    def _measure(references, kernels, per_unit):
        values, squared_norms = references
        return cosine_distances(values, kernels, squared_norms, per_unit)

    def plot(self, ax=None, title=None):
        """Plot the curves in the papers' style (with `per_unit_quantiles`, each layer's
        middle quantile as its line, in a band from its lowest to its highest); returns
        the Axes."""
        return plot_layer_rotation_curves(self.distances, ax=ax, epochs=self.epochs, title=title)


@functools.cache
def _measurement(monitor_type, quantiles):
    """The measure of a monitor type: its quantity per kernel, or with `quantiles` these
    quantiles of each kernel's units. One function per type and quantiles, so that
    monitors alike share JAX's compilations."""
    measure = monitor_type._measure

    def per_kernel(references, kernels):
        return measure(references, kernels, per_unit=False)

    def per_unit(references, kernels):
        return unit_quantiles(measure(references, kernels, per_unit=True), kernels, quantiles)

    return per_kernel if quantiles is None else per_unit


def _checked_quantiles(quantiles):
    """`quantiles` as a tuple of floats, where it is None or a non-empty sequence of
    numbers in [0, 1] in increasing order; else a clear error."""
    if quantiles is None:
        return None
    values = [real_number(q) for q in np.atleast_1d(np.asarray(quantiles, dtype=object))]
    if (not values or any(v is None or not 0.0 <= v <= 1.0 for v in values)
            or any(a >= b for a, b in zip(values, values[1:]))):
        raise ValueError(
            f"per_unit_quantiles={quantiles!r}: pass numbers in [0, 1] in increasing order (e.g. (0.1, 0.5, 0.9): each "
            "layer's units at their 10th percentile, median and 90th percentile), or None to measure each "
            "kernel as one vector."
        )
    return tuple(values)


def _checked_reference_dtype(dtype):
    """`dtype` standardised, where it is None or a floating dtype; else a clear error."""
    if dtype is None:
        return None
    try:
        standard = keras.backend.standardize_dtype(dtype)
    except ValueError:
        standard = None
    if standard not in ("bfloat16", "float16", "float32", "float64"):
        raise ValueError(
            f"reference_dtype={dtype!r} is not a floating dtype; pass 'bfloat16' or 'float16' (half the "
            "memory of float32 references), 'float32', or None (the kernel's own dtype)."
        )
    return standard


class LayerRotationRates(_KernelMonitor):
    """Record each kernel layer's rotation rate: tan of the angle between its values at
    consecutive records (every `batch_frequency` batches, every step by default).

        rate_l(t) = tan(angle(w_l(t-1), w_l(t))) = sqrt(1 / (1 - d)^2 - 1),
        d = cosine distance between w_l(t-1) and w_l(t)

    With Layca and `batch_frequency=1`, rate_l(t) == rho_l(t) (Section 3.2).

    Args:
        batch_frequency: int. Record after every this many batches, the rate over
            them. Defaults to `1` (every step).
        kernel_names: list of str or None. Regular expressions selecting kernels by
            `variable.path`. Defaults to `None`: `kernels.DEFAULT_KERNEL_NAMES`, as Layca.
        log_dir: str or None. Where to also write the values for TensorBoard.
            Defaults to `None` (not written).
        per_unit_quantiles: increasing sequence of numbers in [0, 1], or None. Measure
            each output unit's rate, tan(angle(w_u(t-1), w_u(t))) for its weight vector w_u (with
            `Layca(per_unit=True)`, rho_l for every unit), and record these quantiles of
            each kernel's units. Defaults to `None` (each kernel as one vector).

    Attributes:
        layer_names: one label per kernel, forward order.
        rates: numpy array (records x layers), or with `per_unit_quantiles`
            (records x layers x quantiles).
        epochs: x position of each record, in epochs.
        steps: optimizer iteration at each record.

    Example:

    ```python
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16), keras.layers.Dense(3)])
    model.compile(optimizer=Layca(learning_rate=0.05), loss="sparse_categorical_crossentropy")
    rates = LayerRotationRates()
    model.fit(np.random.rand(64, 8), np.random.randint(0, 3, 64), batch_size=16, epochs=1,
              callbacks=[rates], verbose=0)
    rates.rates  # (4, 2), every value 0.05: Layca rotates by arctan(rho) per step
    ```
    """

    quantity = "rates"
    record_epoch_end = False

    def __init__(self, batch_frequency=1, kernel_names=None, log_dir=None, per_unit_quantiles=None):
        super().__init__(batch_frequency=batch_frequency, kernel_names=kernel_names, log_dir=log_dir,
                         per_unit_quantiles=per_unit_quantiles)

    @property
    def rates(self):
        return self._values_array()

    @staticmethod
    def _measure(references, kernels, per_unit):
        return rotation_rates(references, kernels, per_unit)

    def _compiled_measure(self):
        """Compiled for a group of kernels at a time (`layca.memory_groups`, as Layca steps
        them) where the kernels exceed one group: one compiled measure of every kernel
        held all their changes at once (on JAX 1.2 kernels' bytes over the references'
        copy, a group at a time 0.3: `benchmarks/kernel_memory.py`). A model within one
        group (`layca.memory_groups`: 16 MiB) is measured in one call, as before."""
        groups = memory_groups(self._kernels)
        if len(groups) == 1:
            return super()._compiled_measure()
        references, kernels = self._arguments()
        measure = self._measurement()
        parts = [(group, backend.compiled(measure, [references[i] for i in group], [kernels[i] for i in group]))
                 for group in groups]

        def grouped(references, kernels):
            return ops.concatenate([compiled([references[i] for i in group], [kernels[i] for i in group])
                                    for group, compiled in parts])

        return grouped

    def _after_record(self, kernels):
        for path, kernel in zip(self._paths, kernels):
            # A copy: on JAX the kernel's buffer is donated to the next training step.
            self._references[path].assign(ops.copy(kernel))


class ReplayRotationRates(keras.callbacks.Callback):
    """Make Layca rotate each kernel at a recorded per-step rate (Section 5.4 of
    arXiv:1806.01603: "SGD-Layca-AdaptCopy").

    Before optimizer step t + 1 (Layca's `iterations` == t), sets each kernel's multiplier
    to the rate recorded at step t + 1; give Layca `learning_rate=1.0` so that
    rho_l(t) == that rate. Steps past the table keep its last row.

    Args:
        rates: `Records` or array-like, required. What `LayerRotationRates` recorded on
            another optimizer and the same model: its `records()`, `Records.load` of its
            file, or a run's `RunResult.rates`; one column per kernel, named by its label
            (`lstm_cell/kernel` and `lstm_cell/recurrent_kernel` where a layer has several
            kernels: each replays its own rate), and every step from the first
            (`batch_frequency=1`). Or an array (steps x columns) of the rates of steps 1,
            2, ..., with `layer_names`.
        layer_names: list of str or None. With an array, what each column rotates, as
            `Layca(multipliers=...)` takes it (layer names, or kernel labels). A name given
            twice is refused: its columns would collapse into one factor. Defaults to
            `None` (the `Records`' own labels; required with an array).

    Example:

    ```python
    x, y = np.random.rand(64, 8), np.random.randint(0, 3, 64)
    def make_model():
        keras.utils.set_random_seed(0)
        return keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, name="hidden"),
                                 keras.layers.Dense(3, name="out")])
    adam = make_model()
    adam.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    recorded = LayerRotationRates()
    adam.fit(x, y, batch_size=16, epochs=1, callbacks=[recorded], verbose=0)
    copy = make_model()  # the same initial weights
    copy.compile(optimizer=Layca(learning_rate=1.0), loss="sparse_categorical_crossentropy")
    replayed = LayerRotationRates()
    copy.fit(x, y, batch_size=16, epochs=1, verbose=0,
             callbacks=[ReplayRotationRates(recorded.records()), replayed])
    replayed.rates  # recorded.rates: each layer rotates at Adam's rate of each step
    ```
    """

    def __init__(self, rates, layer_names=None):
        super().__init__()
        if isinstance(rates, Records):
            layer_names = self._checked_records(rates, layer_names)
            rates = rates.values
        elif layer_names is None:
            raise ValueError("layer_names is required with a rate table given as an array: name each column's "
                             "kernel, or pass the recorder's Records (LayerRotationRates().records()).")
        self.rates = np.asarray(rates, dtype=float)
        self.layer_names = list(layer_names)
        if self.rates.ndim != 2 or self.rates.shape[1] != len(self.layer_names) or len(self.rates) == 0:
            raise ValueError(
                f"rates must be a non-empty array (steps x {len(self.layer_names)} layers); "
                f"received shape {self.rates.shape}."
            )
        repeated = sorted({name for name in self.layer_names if self.layer_names.count(name) > 1})
        if repeated:
            raise ValueError(
                f"layer_names names {repeated} more than once: their columns would set one factor, the last one. "
                "Name each column's kernel: pass the recorder's Records (LayerRotationRates().records(), one "
                "label per kernel, e.g. 'lstm_cell/kernel' and 'lstm_cell/recurrent_kernel')."
            )

    @staticmethod
    def _checked_records(records, layer_names):
        """The records' labels, once they are rates of every step from the first."""
        if records.quantity != "rates":
            raise ValueError(f"ReplayRotationRates replays rotation rates; received {records.quantity!r} records "
                             "(record them with LayerRotationRates).")
        if records.quantiles is not None:
            raise ValueError(
                f"These rates are quantiles {records.quantiles} of each layer's units: Layca's multipliers set one "
                "rate per kernel. Record the rates to replay with LayerRotationRates() (per_unit_quantiles=None)."
            )
        if layer_names is not None:
            raise ValueError("layer_names comes with the Records (their layer_names); pass one or the other.")
        steps = np.asarray(records.steps, dtype=np.int64)
        if not np.array_equal(steps, np.arange(1, len(steps) + 1)):
            raise ValueError(
                f"The rates were recorded at steps {steps[:4].tolist()}...: the replay needs the rate of every "
                "step from the first. Record them with LayerRotationRates() (batch_frequency=1) from the start of "
                "training."
            )
        return records.layer_names

    def on_train_begin(self, logs=None):
        steps_per_execution = getattr(self.model, "steps_per_execution", 1) or 1
        if steps_per_execution != 1:
            raise ValueError(
                f"ReplayRotationRates sets each step's rates before that step, but the model is compiled with "
                f"steps_per_execution={steps_per_execution}, so Keras calls batch hooks only every "
                f"{steps_per_execution} steps. Compile with steps_per_execution=1."
            )

    def on_train_batch_begin(self, batch, logs=None):
        layca = find_layca(self.model.optimizer)
        step = min(int(ops.convert_to_numpy(layca.iterations)), len(self.rates) - 1)
        layca.set_multipliers(dict(zip(self.layer_names, self.rates[step])))
