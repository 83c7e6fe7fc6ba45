"""What the monitors take from Keras' training step, on each backend.

- `StepWithRecord` (TensorFlow): Keras' training function made from a step that runs the
  model's `train_step`, then takes a record, which comes back in the step's logs.
- `JaxStepState`: the kernels' values and the optimizer's step count in the state that a
  JAX training step returns (during `fit` on JAX, Keras holds the model's state outside
  its variables).
- `build_from_first_batch`: a model never called, built from the shapes of its first
  batch, as Keras does before a fit under a distribution strategy.
- `TrainFunctionTap`: Keras' training function of a fit, wrapped so that a monitor sees
  every call, and the step count of the call that finds the end of the data taken back.

Keras' internals are reached through `keras_adapter` only.
"""

import keras
from keras import ops

from layer_rotation_tools import backend, keras_adapter

#: The logs' key under which a step made by `StepWithRecord` hands its record (to be
#: removed before Keras' callbacks see the logs).
RECORD = "_layer_rotation_record"


class StepWithRecord:
    """Keras' training function whose step also takes a record: `record()`, traced inside
    the compiled step right after `train_step`, its result in the logs under `RECORD`.
    The last function made is kept, and made again when Keras' function or `key` (what
    the record reads) changes."""

    def __init__(self):
        self._key, self._function = None, None

    def function(self, model, keras_function, record, key):
        """The training function for `keras_function` that also records; None off
        TensorFlow, under a distribution strategy, or where this Keras cannot make one."""
        if backend.name() != "tensorflow" or backend.distributed(model):
            return None
        if (keras_function, key) != self._key:

            def step_with_record(data):
                logs = model.train_step(data)
                return {**logs, RECORD: record()}

            self._key = (keras_function, key)
            self._function = keras_adapter.make_step_function(model, step_with_record)
        return self._function


class JaxStepState:
    """Where `kernels` lie in the trainable variables of the state a JAX training step
    returns, and where the optimizer's batch count lies in its optimizer variables
    (`keras_adapter.step_counter`); found once, read after every step by `read`."""

    def __init__(self, model, kernels, reader):
        trainable = {id(v): i for i, v in enumerate(model.trainable_variables)}
        counter, self._batches_per_step = keras_adapter.step_counter(model.optimizer)
        counters = [i for i, v in enumerate(model.optimizer.variables) if v is counter]
        if not counters:
            raise ValueError(
                f"{reader} cannot read the step count of optimizer {model.optimizer.name!r}: its step counter is "
                "not among its `variables`."
            )
        self._kernels, self._counter = [trainable[id(k)] for k in kernels], counters[0]

    def read(self, outputs):
        """The kernels' values and the optimizer's `iterations` after the step that
        returned `outputs` (iterations as a new array: the next step donates the state)."""
        trainable, optimizer_variables = keras_adapter.jax_step_state(outputs)
        iterations = ops.floor_divide(optimizer_variables[self._counter], self._batches_per_step)
        return [trainable[i] for i in self._kernels], iterations


def build_from_first_batch(model, iterator):
    """Build `model`, never called, and its optimizer from the shapes of the batches
    `iterator` yields (its `element_spec`: TensorFlow's iterators); returns whether it
    could (False for an iterator without a spec)."""
    spec = getattr(iterator, "element_spec", None)
    if spec is None:
        return False
    batch = keras.tree.map_structure(
        lambda s: keras.KerasTensor(s.shape, keras.backend.standardize_dtype(s.dtype.name)), spec
    )
    keras_adapter.build_from_batch(model, batch)
    return True


class TrainFunctionTap:
    """Keras' training function of one fit, with a monitor in its place.

    `attach` puts the monitor's function (which takes the arguments of Keras' function
    and returns its outputs) in place of Keras' training function, for the fit under way;
    the monitor then runs Keras' function, or one made from it that also records
    (`recording_function`), through `call`; `detach` puts Keras' function back. Several
    monitors of one fit stack their functions; only the first may take its record inside
    Keras' step (a recording function remakes the step).
    """

    def __init__(self):
        self.keras_function = None  # Keras' training function of the fit under way
        self.shared = False  # another monitor of this fit put its function in place first
        self._step_with_record = StepWithRecord()

    def attach(self, model, monitored):
        """Put `monitored` in place of the model's training function, until the fit ends."""
        self.shared = keras_adapter.train_function_wrapped(model)

        def wrapper(keras_function):
            self.keras_function = keras_function
            return monitored

        keras_adapter.wrap_train_function(model, wrapper)

    def recording_function(self, model, record, key):
        """Keras' function whose step also takes `record()` (`StepWithRecord`, remade when
        `key` changes), or None (off TensorFlow, or where another monitor of this fit
        attached first)."""
        if self.shared:
            return None
        return self._step_with_record.function(model, self.keras_function, record, key)

    @staticmethod
    def call(model, function, args, length_known):
        """`function(*args)`: Keras' training function or the recording one. On TensorFlow,
        with data of unknown length (`length_known` False), Keras calls its function once
        more at the end of the data, where `next(iterator)` fails, and the optimizer's
        `iterations.assign_add(1)`, which depends on no data, runs anyway (18 iterations for
        16 batches in two epochs, measured): that count of no step is taken back."""
        counter = before = None
        if backend.name() == "tensorflow" and not length_known:
            counter, _ = keras_adapter.step_counter(model.optimizer)
            before = ops.copy(counter)
        try:
            return function(*args)
        except backend.end_of_data_errors():
            if counter is not None:
                counter.assign(before)
            raise

    @staticmethod
    def detach(model):
        """Put Keras' training function back."""
        keras_adapter.restore_train_function(model)
