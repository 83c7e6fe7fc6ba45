"""Keras callbacks that monitor and replay layer rotation.

- `LayerRotationCurves`: cosine distance of every kernel from its initial value
  (Section 3.1 of arXiv:1806.01603), every epoch and optionally every N batches.
- `LayerRotationRates`: per-step rotation rate, tan of the angle between a kernel
  before and after a step (the quantity Layca controls, Section 3.2).
- `ReplayRotationRates`: feeds a recorded per-step, per-layer rate table to Layca's
  multipliers (the "SGD-Layca-AdaptCopy" procedure of Section 5.4).

Measurements run on the device in one compiled function per record over variables
holding the reference kernels; one small vector comes back to the host per record.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from layer_rotation_tools.kernels import DEFAULT_KERNEL_NAMES, kernel_labels, kernel_variables
from layer_rotation_tools.layca import Layca
from layer_rotation_tools.plotting import plot_layer_rotation_curves
from layer_rotation_tools.storage import read_h5, write_h5_atomic
from layer_rotation_tools.transforms import cosine_distance, rotation_rate


class _KernelMonitor(keras.callbacks.Callback):
    """Records one value per kernel layer, per epoch and/or every N batches."""

    #: Name of the recorded quantity (the HDF5 dataset and TensorBoard prefix).
    quantity = None
    #: Whether to record at the end of every epoch.
    record_epoch_end = True

    def __init__(self, batch_frequency=None, kernel_names=None, log_dir=None):
        super().__init__()
        if batch_frequency is not None and (
            not isinstance(batch_frequency, int) or isinstance(batch_frequency, bool) or batch_frequency < 1
        ):
            raise ValueError(
                f"batch_frequency must be a positive integer or None; received batch_frequency={batch_frequency!r}."
            )
        if log_dir is not None:
            try:
                import tensorboard  # noqa: F401
            except ImportError:
                raise ImportError(
                    f"log_dir={log_dir!r} writes TensorBoard summaries, which need the tensorboard "
                    "package: pip install tensorboard (or layer-rotation-tools[tensorboard])."
                ) from None
        self.batch_frequency = batch_frequency
        self.kernel_names = tuple(kernel_names) if kernel_names is not None else DEFAULT_KERNEL_NAMES
        self.log_dir = log_dir
        self.layer_names = []
        self._values, self._epochs, self._steps = [], [], []
        self._kernels = None
        self._references = None
        self._pending_references = None
        self._writer = None

    @property
    def epochs(self):
        """x position of each record, in epochs (epoch e ends at e + 1)."""
        return np.asarray(self._epochs, dtype=float)

    @property
    def steps(self):
        """The optimizer's iteration count at each record."""
        return np.asarray(self._steps, dtype=np.int64)

    def _values_array(self):
        return np.asarray(self._values, dtype=float).reshape(len(self._values), len(self.layer_names))

    def on_train_begin(self, logs=None):
        kernels = kernel_variables(self.model, self.kernel_names)
        if not kernels:
            raise ValueError(
                f"Model {self.model.name!r} has no trainable kernel matching {list(self.kernel_names)}; "
                "nothing to monitor."
            )
        if self._kernels is not None and [id(k) for k in kernels] == [id(k) for k in self._kernels]:
            return  # A further fit() on the same model: keep the references.
        self._kernels = kernels
        labels = kernel_labels(kernels)
        if self._values and labels != self.layer_names:
            raise ValueError(f"Restored records are for layers {self.layer_names}, the model has {labels}.")
        self.layer_names = labels
        references = self._pending_references or [k.value for k in kernels]
        if len(references) != len(kernels):
            raise ValueError(f"Expected {len(kernels)} reference kernels ({labels}); received {len(references)}.")
        with tf.init_scope():
            self._references = [tf.Variable(tf.identity(r), trainable=False) for r in references]
        self._pending_references = None
        # A concrete function: calling it skips tf.function's argument matching (a
        # tenth of a millisecond, which counts when measuring every batch).
        self._measure_fn = tf.function(self._measure).get_concrete_function()

    def set_reference_kernels(self, values):
        """Measure from these kernels (e.g. saved initial weights, when a run resumes)
        instead of the model's kernels at the start of training. Call before `fit`."""
        self._pending_references = [np.asarray(v) for v in values]
        self._kernels = None

    def records(self):
        """The records as arrays: `{quantity: values, "epochs": ..., "steps": ...}`."""
        return {self.quantity: self._values_array(), "epochs": self.epochs, "steps": self.steps}

    def restore_records(self, layer_names, values, epochs, steps):
        """Continue from earlier records (a resumed run); values is records x layers."""
        self.layer_names = list(layer_names)
        self._values = [np.asarray(v, dtype=float) for v in values]
        self._epochs = [float(e) for e in epochs]
        self._steps = [int(s) for s in steps]

    def on_train_batch_end(self, batch, logs=None):
        if self.batch_frequency and (batch + 1) % self.batch_frequency == 0:
            steps = self.params.get("steps")
            position = self._current_epoch + ((batch + 1) / steps if steps else 0.0)
            self._record(position)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.record_epoch_end:
            self._record(epoch + 1.0)

    def _record(self, epoch_position):
        step = int(self.model.optimizer.iterations.numpy())
        if self._steps and self._steps[-1] == step:
            return  # Already recorded at this step (last batch of the epoch).
        values = self._measure_fn().numpy()
        self._values.append(values)
        self._epochs.append(float(epoch_position))
        self._steps.append(step)
        if self.log_dir is not None:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(self.log_dir)
            with self._writer.as_default(step=step):
                for name, value in zip(self.layer_names, values):
                    tf.summary.scalar(f"{self.quantity}/{name}", float(value))
            self._writer.flush()

    def save(self, path):
        """Write the records to an HDF5 file, atomically."""
        write_h5_atomic(path, self.records(), {"layer_names": list(self.layer_names), "quantity": self.quantity})

    @classmethod
    def load(cls, path):
        """A callback holding the records saved at `path` (for plotting or analysis)."""
        arrays, attrs = read_h5(path)
        if attrs.get("quantity") != cls.quantity:
            raise ValueError(f"{path!r} holds {attrs.get('quantity')!r} records, not {cls.quantity!r}.")
        monitor = cls()
        monitor.restore_records(attrs["layer_names"], arrays[cls.quantity], arrays["epochs"], arrays["steps"])
        return monitor


class LayerRotationCurves(_KernelMonitor):
    """Record every kernel layer's cosine distance from its initial value.

    Layer rotation of layer l at step t (Section 3.1 of arXiv:1806.01603):

        d_l(t) = 1 - w_l(t) . w_l(0) / (||w_l(t)|| ||w_l(0)||)   (flattened kernels)

    The initial kernels are copied to device variables when training starts (a
    further `fit` on the same model keeps them). Records are taken at the end of every
    epoch and, with `batch_frequency=N`, after every N-th batch of each epoch.

    Args:
        batch_frequency: also record every this many batches; None for epochs only.
        kernel_names: regular expressions selecting kernels by `variable.path`.
        log_dir: if given, also write the values to TensorBoard there.

    Attributes:
        layer_names: one label per kernel, forward order.
        distances: numpy array (records x layers).
        epochs: x position of each record, in epochs.
        steps: optimizer iteration at each record.
    """

    quantity = "distances"

    @property
    def distances(self):
        return self._values_array()

    def _measure(self):
        return ops.stack([cosine_distance(r, k) for r, k in zip(self._references, self._kernels)])

    def plot(self, ax=None, title=None):
        """Plot the curves in the papers' style; returns the Axes."""
        return plot_layer_rotation_curves(self.distances, ax=ax, epochs=self.epochs, title=title)


class LayerRotationRates(_KernelMonitor):
    """Record each kernel layer's rotation rate: tan of the angle between its values at
    consecutive records (every `batch_frequency` batches, every step by default).

        rate_l(t) = tan(angle(w_l(t-1), w_l(t))) = sqrt(1 / (1 - d)^2 - 1),
        d = cosine distance between w_l(t-1) and w_l(t)

    With Layca and `batch_frequency=1`, rate_l(t) == rho_l(t) (Section 3.2).

    Attributes:
        layer_names, rates (numpy array, records x layers), epochs, steps.
    """

    quantity = "rates"
    record_epoch_end = False

    def __init__(self, batch_frequency=1, kernel_names=None, log_dir=None):
        super().__init__(batch_frequency=batch_frequency, kernel_names=kernel_names, log_dir=log_dir)

    @property
    def rates(self):
        return self._values_array()

    def _measure(self):
        rates = [rotation_rate(r, k) for r, k in zip(self._references, self._kernels)]
        with tf.control_dependencies(rates):
            for reference, kernel in zip(self._references, self._kernels):
                reference.assign(kernel)
        return ops.stack(rates)


class ReplayRotationRates(keras.callbacks.Callback):
    """Make Layca rotate each layer at a recorded per-step rate (Section 5.4 of
    arXiv:1806.01603: "SGD-Layca-AdaptCopy").

    Before optimizer step t, sets layer l's multiplier to `rates[t, l]`; give Layca
    `learning_rate=1.0` so that rho_l(t) == rates[t, l]. Steps past the table keep its
    last row.

    Args:
        rates: array (steps x layers), e.g. `LayerRotationRates(...).rates` recorded
            from another optimizer on the same model.
        layer_names: the layer of each column (kernel_layer_names order).
    """

    def __init__(self, rates, layer_names):
        super().__init__()
        self.rates = np.asarray(rates, dtype=float)
        self.layer_names = list(layer_names)
        if self.rates.ndim != 2 or self.rates.shape[1] != len(self.layer_names) or len(self.rates) == 0:
            raise ValueError(
                f"rates must be a non-empty array (steps x {len(self.layer_names)} layers); "
                f"received shape {self.rates.shape}."
            )

    def on_train_batch_begin(self, batch, logs=None):
        layca = find_layca(self.model.optimizer)
        step = min(int(ops.convert_to_numpy(layca.iterations)), len(self.rates) - 1)
        layca.set_multipliers(dict(zip(self.layer_names, self.rates[step])))


def find_layca(optimizer):
    """The Layca optimizer in `optimizer` or inside its wrappers (LossScaleOptimizer)."""
    while not isinstance(optimizer, Layca):
        if not hasattr(optimizer, "inner_optimizer"):
            raise ValueError(f"The model's optimizer {optimizer!r} is not Layca (nor wraps one).")
        optimizer = optimizer.inner_optimizer
    return optimizer
