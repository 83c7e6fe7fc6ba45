"""The shared assertion of the monitors' tests: every record's step is the optimizer's
`iterations` when the record was taken, as a user reads it from a callback."""

import keras
import numpy as np


class IterationsSeen(keras.callbacks.Callback):
    """The optimizer's `iterations` after each batch and at each epoch end, by the position
    on the monitors' x axis: batch b (1-based) of epoch e at e + b / batches, the end of
    epoch e at e + 1 (on data of unknown length, batches are placed when the epoch ends).

    Pass the same instance to every fit a monitor records. Before a fit whose records
    continue earlier ones, set `epoch_offset` (the epochs of earlier fits the monitor
    counts) and, after a recompile, `step_offset` (the steps of the optimizers before)."""

    def __init__(self):
        super().__init__()
        self.epoch_offset, self.step_offset, self.at = 0, 0, {}

    def _iterations(self):
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) + self.step_offset

    def _record(self, position, count):
        self.at[round(self._epoch + position, 9)] = count

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._counts, self._batches = epoch + self.epoch_offset, [], 0

    def on_train_batch_end(self, batch, logs=None):
        # One call per `steps_per_execution` batches (Keras numbers the call by its first
        # batch in 3.10, by its last in 3.15: counted here, not read from `batch`).
        steps = self.params.get("steps")
        self._batches += getattr(self.model, "steps_per_execution", 1) or 1
        if steps:
            self._record(min(self._batches, steps) / steps, self._iterations())
        else:  # placed at the epoch's end, when the number of batches is known
            self._counts.append(self._iterations())

    def on_epoch_end(self, epoch, logs=None):
        for b, count in enumerate(self._counts, start=1):
            self._record(b / len(self._counts), count)
        self._record(1.0, self._iterations())


def assert_steps_are_iterations(monitor, seen):
    """`monitor.steps` equals the iterations `seen` (an `IterationsSeen` of the same fits) at
    each record's position, and the steps only grow."""
    missing = [float(e) for e in monitor.epochs if round(float(e), 9) not in seen.at]
    assert not missing, f"records at {missing}, where no batch or epoch ended"
    want = [seen.at[round(float(e), 9)] for e in monitor.epochs]
    np.testing.assert_array_equal(monitor.steps, want)
    assert np.all(np.diff(monitor.steps) > 0), f"steps not strictly increasing: {monitor.steps.tolist()}"
