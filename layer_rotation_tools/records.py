"""The monitors' record table: one value per kernel per record, kept in numpy.

A table has a column per kernel, keyed by the kernel variable's path (`kernels.
variable_path`) and added the first time the kernel is monitored, and a row per record,
with the record's position in epochs and its training step. A kernel not monitored at a
record (frozen, or not in the model yet) reads NaN in that row. Records restored from a
file written before paths were saved are keyed by layer label until the table meets the
model's kernels (`add_columns`). Nothing here needs Keras or training.
"""

import math

import numpy as np

from layer_rotation_tools.kernels import kernel_labels
from layer_rotation_tools.storage import read_h5, write_h5_atomic


class RecordTable:
    """Rows of `{path: value}` with their epoch positions and steps."""

    def __init__(self):
        self._columns = []  # variable paths (or labels, see _keys_are_labels), in the order first seen
        self._keys_are_labels = False
        self._rows, self._epochs, self._steps = [], [], []

    @property
    def layer_names(self):
        """One label per column, in the order the kernels were first seen."""
        return list(self._columns) if self._keys_are_labels else kernel_labels(self._columns)

    @property
    def variable_paths(self):
        """The variable path of each column."""
        return list(self._columns)

    @property
    def epochs(self):
        return np.asarray(self._epochs, dtype=float)

    @property
    def steps(self):
        return np.asarray(self._steps, dtype=np.int64)

    @property
    def last_step(self):
        """The step of the last record, or None."""
        return self._steps[-1] if self._steps else None

    @property
    def last_epoch(self):
        """The epoch position of the last record, or None."""
        return self._epochs[-1] if self._epochs else None

    @property
    def epochs_covered(self):
        """Epochs begun up to the last record (0 when there is none)."""
        return int(math.ceil(self._epochs[-1])) if self._epochs else 0

    def __len__(self):
        return len(self._rows)

    def values(self):
        """records x columns, NaN where a kernel was not monitored."""
        values = np.full((len(self._rows), len(self._columns)), np.nan)
        for row, record in zip(values, self._rows):
            for column, key in enumerate(self._columns):
                row[column] = record.get(key, np.nan)
        return values

    def add_columns(self, paths):
        """Give the kernels at `paths` a column each (those not seen before, at the end).
        Columns restored by label take the path of the kernel so labelled; a restored
        label that no kernel has is a ValueError."""
        if self._keys_are_labels:
            labels = dict(zip(kernel_labels(paths), paths))
            unknown = [label for label in self._columns if label not in labels]
            if unknown:
                raise ValueError(
                    f"Restored records have columns {self._columns}; the model's trainable kernels are "
                    f"{list(labels)}, and {unknown} are not among them."
                )
            self._columns = [labels[label] for label in self._columns]
            self._rows = [{labels[label]: value for label, value in row.items()} for row in self._rows]
            self._keys_are_labels = False
        self._columns += [path for path in paths if path not in self._columns]

    def append(self, paths, values, step, epoch):
        """A record: `values[i]` for the kernel at `paths[i]`, at `step` and `epoch`."""
        self._rows.append(dict(zip(paths, np.asarray(values).tolist())))
        self._epochs.append(float(epoch))
        self._steps.append(int(step))

    def place(self, row, epoch):
        """Set the epoch position of record `row` (placed once its epoch's length is known)."""
        self._epochs[row] = float(epoch)

    def restore(self, layer_names, values, epochs, steps, variable_paths=None):
        """Replace the records with saved ones: `values` records x columns (NaN where not
        monitored), columns keyed by `variable_paths`, or by `layer_names` where the file
        has no paths."""
        self._columns = list(variable_paths) if variable_paths is not None else list(layer_names)
        self._keys_are_labels = variable_paths is None
        values = np.asarray(values, dtype=float).reshape(len(epochs), len(self._columns))
        self._rows = [{key: v for key, v in zip(self._columns, row) if not np.isnan(v)} for row in values]
        self._epochs = [float(e) for e in epochs]
        self._steps = [int(s) for s in steps]

    def save(self, path, quantity):
        """Write the table to an HDF5 file atomically: datasets `quantity`, "epochs" and
        "steps", attributes "layer_names", "variable_paths" and "quantity"."""
        write_h5_atomic(
            path,
            {quantity: self.values(), "epochs": self.epochs, "steps": self.steps},
            {"layer_names": self.layer_names, "variable_paths": self.variable_paths, "quantity": quantity},
        )

    @classmethod
    def load(cls, path, quantity):
        """The table saved at `path`; a ValueError if it holds another quantity."""
        arrays, attrs = read_h5(path)
        if attrs.get("quantity") != quantity:
            raise ValueError(f"{path!r} holds {attrs.get('quantity')!r} records, not {quantity!r}.")
        table = cls()
        table.restore(attrs["layer_names"], arrays[quantity], arrays["epochs"], arrays["steps"],
                      attrs.get("variable_paths"))
        return table
