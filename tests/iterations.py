"""The shared assertion of the monitors' tests: every record's step is the optimizer's
`iterations` when the record was taken, as a user reads it from a callback."""

import keras
import numpy as np


class IterationsSeen(keras.callbacks.Callback):
    """The optimizer's `iterations` after each batch and at each epoch end, by the position
    on the monitors' x axis: batch b (1-based) of epoch e at e + b / batches, the end of
    epoch e at e + 1 (`epoch_offset`: the epochs of earlier fits the monitor counts)."""

    def __init__(self, epoch_offset=0):
        super().__init__()
        self.epoch_offset, self.at, self._epoch_counts = epoch_offset, {}, []

    def _iterations(self):
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._counts = epoch + self.epoch_offset, []

    def on_train_batch_end(self, batch, logs=None):
        self._counts.append(self._iterations())

    def on_epoch_end(self, epoch, logs=None):
        for b, count in enumerate(self._counts, start=1):
            self.at[round(self._epoch + b / len(self._counts), 9)] = count
        self.at[round(self._epoch + 1.0, 9)] = self._iterations()


def assert_steps_are_iterations(monitor, seen, step_offset=0):
    """`monitor.steps` equals the iterations `seen` (an `IterationsSeen` of the same fits) at
    each record's position, plus `step_offset` (steps of fits before a recompile)."""
    want = [seen.at[round(float(e), 9)] + step_offset for e in monitor.epochs]
    np.testing.assert_array_equal(monitor.steps, want)
    assert np.all(np.diff(monitor.steps) > 0), f"steps not strictly increasing: {monitor.steps.tolist()}"
