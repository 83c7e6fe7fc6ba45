"""A monitor's records: `Records`, the one type every file of them holds, and
`RecordTable`, the table a monitor fills as it trains.

`Records` is what a monitor recorded: one value per kernel per record (or, for a monitor
of each output unit, the quantiles of the kernel's units), with each record's
position in epochs and its training step, one label per kernel (`kernels.kernel_labels`)
and each kernel's variable path. Its HDF5 layout (`to_h5`, `from_h5`) is the same in a
monitor's own file (`LayerRotationCurves.save`), in a run's checkpoint and in its results
file (`experiments.results`), where each monitor's names carry its quantity as a prefix.

A table has a column per kernel, keyed by the kernel variable's path (`kernels.
variable_path`) and added the first time the kernel is monitored, and a row per record,
with the record's position in epochs and its training step. A kernel not monitored at a
record (frozen, or not in the model yet) reads NaN in that row. Records restored from a
file written before paths were saved are keyed by layer label until the table meets the
model's kernels (`add_columns`). Nothing here needs Keras or training.
"""

import math
from dataclasses import dataclass

import numpy as np

from layer_rotation_tools.kernels import kernel_labels
from layer_rotation_tools.storage import ResultsFileError, read_h5, write_h5_atomic


@dataclass(frozen=True)
class Records:
    """What a monitor recorded.

    `values[i, k]` is kernel k's value of `quantity` ("distances", "rates") at record i
    (NaN where the kernel was not monitored), taken at `epochs[i]` (in epochs, fractional
    for batch records; NaN where the file that held the records did not keep them) and
    training step `steps[i]`. `layer_names` has one label per kernel (column);
    `variable_paths` each column's variable path (None for records kept without them).
    Where the quantity was measured for each output unit of each kernel, `quantiles` are
    the quantiles recorded over each kernel's units and `values[i, k, j]` is quantile
    `quantiles[j]` of kernel k's units at record i; else `quantiles` is None.
    """

    quantity: str
    values: np.ndarray
    epochs: np.ndarray
    steps: np.ndarray
    layer_names: list
    variable_paths: list | None = None
    quantiles: tuple | None = None

    def to_h5(self, prefix=""):
        """`(arrays, attrs)` for `storage.write_h5_atomic`: datasets `<prefix><quantity>`,
        `<prefix>epochs` and `<prefix>steps`, attributes `<prefix>layer_names`,
        `<prefix>variable_paths`, `<prefix>quantity` and `<prefix>quantiles`."""
        arrays = {f"{prefix}{self.quantity}": np.asarray(self.values, float),
                  f"{prefix}epochs": np.asarray(self.epochs, float), f"{prefix}steps": np.asarray(self.steps, np.int64)}
        attrs = {f"{prefix}layer_names": list(self.layer_names), f"{prefix}quantity": self.quantity,
                 f"{prefix}variable_paths": None if self.variable_paths is None else list(self.variable_paths),
                 f"{prefix}quantiles": None if self.quantiles is None else list(self.quantiles)}
        return arrays, attrs

    @classmethod
    def from_h5(cls, arrays, attrs, quantity, prefix=""):
        """The records `to_h5(prefix)` wrote of `quantity`: a ValueError if they hold another
        quantity, a KeyError naming what the file lacks."""
        held = attrs[f"{prefix}quantity"]
        if held != quantity:
            raise ValueError(f"The file holds {held!r} records, not {quantity!r}.")
        quantiles = attrs.get(f"{prefix}quantiles")  # absent from files written before per-unit records
        return cls(quantity, arrays[f"{prefix}{quantity}"], arrays[f"{prefix}epochs"], arrays[f"{prefix}steps"],
                   list(attrs[f"{prefix}layer_names"]), attrs.get(f"{prefix}variable_paths"),
                   None if quantiles is None else tuple(float(q) for q in quantiles))

    def save(self, path):
        """Write the records alone to an HDF5 file, atomically."""
        write_h5_atomic(path, *self.to_h5())

    @classmethod
    def load(cls, path, quantity):
        """The records of `quantity` that `save` wrote at `path`; a ValueError, naming the
        file, if it holds another quantity."""
        arrays, attrs = read_h5(path)
        try:
            return cls.from_h5(arrays, attrs, quantity)
        except ValueError as error:
            raise ValueError(f"{path!r}: {error}") from None
        except KeyError as error:
            raise ResultsFileError(f"{path!r} lacks {error}: it holds no monitor's records.") from None


class RecordTable:
    """Rows of `{path: value}` with their epoch positions and steps; with `quantiles`,
    each value is a list of one value per quantile."""

    def __init__(self, quantiles=None):
        self.quantiles = quantiles
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
        """records x columns (x quantiles), NaN where a kernel was not monitored."""
        tail = () if self.quantiles is None else (len(self.quantiles),)
        values = np.full((len(self._rows), len(self._columns), *tail), np.nan)
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

    def records(self, quantity):
        """The table as `Records` of `quantity`."""
        return Records(quantity, self.values(), self.epochs, self.steps, self.layer_names, self.variable_paths,
                       self.quantiles)

    @classmethod
    def from_records(cls, records):
        """A table continuing from `records`: columns keyed by their variable paths, or by
        their labels where the records have no paths (`add_columns`)."""
        table = cls(records.quantiles)
        paths = records.variable_paths
        table._columns = list(paths) if paths is not None else list(records.layer_names)
        table._keys_are_labels = paths is None
        tail = () if records.quantiles is None else (len(records.quantiles),)
        values = np.asarray(records.values, dtype=float).reshape(len(records.steps), len(table._columns), *tail)
        table._rows = [{key: v.tolist() for key, v in zip(table._columns, row) if not np.all(np.isnan(v))}
                       for row in values]
        table._epochs = [float(e) for e in records.epochs]
        table._steps = [int(s) for s in records.steps]
        return table
