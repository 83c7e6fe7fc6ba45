"""What the monitors take from Keras' training step, on each backend.

- `StepWithRecord` (TensorFlow): Keras' training function made from a step that runs the
  model's `train_step`, then takes a record, which comes back in the step's logs.
- `JaxStepState`: the kernels' values and the optimizer's step count in the state that a
  JAX training step returns (during `fit` on JAX, Keras holds the model's state outside
  its variables).
- `build_from_first_batch`: a model never called, built from the shapes of its first
  batch, as Keras does before a fit under a distribution strategy.

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
