"""The one place that knows Keras' internals.

Layca and the monitors use Keras' public API wherever it has one. What it lacks, they
reach through this module: every private name of Keras used by this package is listed in
`HOOKS` (and read here only), so that a Keras release that renames one fails
`tests/test_keras_adapter.py` with that name, rather than deep inside a fit.

Two of Keras' private methods are *overridden* by `Layca` (`_backend_apply_gradients`,
`_backend_update_step`): they are in `HOOKS` too, since a rename would make Keras stop
calling Layca's step without any error.
"""

import importlib

import keras

#: The Keras versions this package is tested with (CI: the oldest on TensorFlow's fast
#: tier, the newest everywhere). Keras 3.9 and older lack `Optimizer.add_optimizer_variables`,
#: which the Keras 2 baselines use.
OLDEST_KERAS, NEWEST_KERAS = "3.10.0", "3.15.1"


def require_supported_keras(version=keras.__version__):
    """Refuse, at import, a Keras older than `OLDEST_KERAS`, naming the version needed."""
    if _release(version) < _release(OLDEST_KERAS):
        raise ImportError(
            f"layer-rotation-tools needs Keras >= {OLDEST_KERAS} (tested up to {NEWEST_KERAS}); this environment "
            f"has keras {version}. Upgrade it: pip install 'keras>={OLDEST_KERAS}'."
        )


def _release(version):
    return tuple(int(part) for part in version.split(".")[:3] if part.isdigit())


require_supported_keras()

#: (owner, name, backend) of each Keras internal this package uses, where backend is
#: the one Keras backend on which it is used (None: all). Owners: "Optimizer" is
#: `keras.optimizers.Optimizer`, "Model" is `keras.Model`, "Callback" is
#: `keras.callbacks.Callback`, "Adam" is `keras.optimizers.Adam`, "Variable" is
#: `keras.Variable`, "stateless_scope" is Keras' module `keras.src.backend.common.stateless_scope`.
HOOKS = (
    ("Optimizer", "_backend_apply_gradients", None),  # overridden by Layca: its step on every variable
    ("Optimizer", "_backend_update_step", None),  # overridden by Layca; the inner optimizer's fused step
    ("Optimizer", "_get_current_learning_rate", None),
    ("Optimizer", "_learning_rate", None),
    ("Optimizer", "_variables", None),
    ("Optimizer", "_get_variable_index", None),
    ("Optimizer", "_iterations", "jax"),  # the batch count, read from JAX's training state
    ("Model", "_flatten_layers", None),
    ("Model", "_symbolic_build", "tensorflow"),  # the monitors build a model before its first step
    ("Model", "_make_function", "tensorflow"),  # the monitors' step that also records
    ("Callback", "_model", None),  # the model without JAX's state sync
    ("Adam", "_velocities", None),  # its second-moment estimates (the experiments' second_moments figure)
    ("Variable", "_value", "torch"),  # the tensor that holds a variable's values (Layca writes rows of it)
    ("stateless_scope", "in_stateless_scope", "torch"),  # where assignments are collected, not written
)


def _module(name):
    """Keras' module `name`, or None where this Keras has none (`missing_hooks` names it)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


_OWNERS = {
    "Optimizer": keras.optimizers.Optimizer,
    "Model": keras.Model,
    "Callback": keras.callbacks.Callback,
    "Adam": keras.optimizers.Adam,
    "Variable": keras.Variable,
    "stateless_scope": _module("keras.src.backend.common.stateless_scope"),
}


def missing_hooks():
    """The hooks of `HOOKS` used on this backend that this Keras lacks, as "Owner.name"
    strings. An attribute set only on instances (`_learning_rate`, `_variables`,
    `Callback._model`, `Adam._velocities`) is looked up on a fresh instance."""
    adam = keras.optimizers.Adam()
    adam.build([keras.Variable(1.0)])
    instances = {"Optimizer": adam, "Model": keras.Sequential(), "Callback": keras.callbacks.Callback(), "Adam": adam,
                 "Variable": keras.Variable(1.0), "stateless_scope": _OWNERS["stateless_scope"]}
    return [
        f"{owner}.{name}" for owner, name, backend in HOOKS
        if backend in (None, keras.backend.backend())
        and not (hasattr(_OWNERS[owner], name) or hasattr(instances[owner], name))
    ]


# -- the model's training function --------------------------------------------------


def wrap_train_function(model, wrapper):
    """Replace the model's training function by `wrapper(current function)`, until Keras
    makes its training function again: the next `fit` or `train_on_batch` (each calls
    `model.make_train_function()` before its first step, on every backend) first puts
    back Keras' own function, however the fit that wrapped it ended (an error in a
    callback, in the data, an interrupt). `restore_train_function` does it at once (the
    monitors, at the end of their fit).
    Wrappers stack: a second one wraps the first; one restore removes them all.
    Where Keras dropped the function meanwhile (`compile`, after a fit that ended by an
    error), the restore leaves Keras' choice: the next fit makes a new function, with the
    new optimizer and loss."""
    current = model.train_function
    if _KERAS_FUNCTION not in vars(model):
        keras_make_train_function = model.make_train_function

        def make_train_function(force=False):
            restore_train_function(model)
            return keras_make_train_function(force)

        object.__setattr__(model, _KERAS_FUNCTION, {"keras": current, "hook": make_train_function})
        object.__setattr__(model, "make_train_function", make_train_function)
    wrapped = wrapper(current)
    vars(model)[_KERAS_FUNCTION]["wrapped"] = wrapped
    object.__setattr__(model, "train_function", wrapped)


def train_function_wrapped(model):
    """Whether `wrap_train_function` wrapped the model's function (in this fit)."""
    return _KERAS_FUNCTION in vars(model)


def restore_train_function(model):
    """Put back the training function (and `make_train_function`) Keras made, if wrapped
    and still in place."""
    saved = vars(model).pop(_KERAS_FUNCTION, None)
    if saved is None:
        return
    if vars(model).get("make_train_function") is saved["hook"]:
        del vars(model)["make_train_function"]
    if model.train_function is saved["wrapped"]:
        object.__setattr__(model, "train_function", saved["keras"])


_KERAS_FUNCTION = "_layer_rotation_keras_train_function"


# -- optimizers ------------------------------------------------------------------------


def current_learning_rate(optimizer):
    """The rate of this step: a schedule's value at the optimizer's iterations, or the
    rate variable (Keras' `learning_rate` property reads this)."""
    return optimizer._get_current_learning_rate()


def learning_rate_setting(optimizer):
    """The rate as given to the optimizer: a schedule (or a callable), or its variable."""
    return optimizer._learning_rate


def set_learning_rate(optimizer, value):
    """Keras' own setter of `learning_rate`, for an optimizer whose class overrides the
    property (Layca checks the value, then hands it over)."""
    keras.optimizers.Optimizer.learning_rate.fset(optimizer, value)


def step_counter(optimizer):
    """The variable that counts the batches the optimizer was applied to, and the
    batches per applied step (its `gradient_accumulation_steps`, else 1): the public
    `iterations` is that count // batches per step. A `LossScaleOptimizer` counts its
    inner optimizer's steps."""
    while isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    return optimizer._iterations, optimizer.gradient_accumulation_steps or 1


def own_variables(optimizer):
    """The variables the optimizer itself made (iterations, rate, its slots), without
    those of an optimizer it wraps."""
    return optimizer._variables


def variable_index(optimizer, variable):
    """The position of `variable` among those the optimizer was built on (its slots,
    e.g. `optimizer.velocities`, are listed in that order)."""
    return optimizer._get_variable_index(variable)


def update_step_of_all(optimizer):
    """The optimizer's step of a list of variables at once
    (`fn(grads, variables, learning_rate)`): on PyTorch, Keras' optimizers fuse it into
    one `torch._foreach` call; elsewhere it calls `update_step` per variable."""
    return optimizer._backend_update_step


def in_place_value(variable):
    """The tensor that holds the variable's values, to be written in place
    (`backend.write_rows`), as Keras' `assign` writes a PyTorch variable
    (`Variable._direct_assign`: `value.copy_(new)`); None where a write must go through
    `assign`: on TensorFlow and JAX, in a `keras.StatelessScope` (which collects
    assignments rather than writing them), or where the variable is read through
    autocasting (as a cast copy)."""
    scopes = _OWNERS["stateless_scope"]
    if keras.backend.backend() != "torch" or scopes is None or scopes.in_stateless_scope():
        return None
    value = variable.value
    return value if value is variable._value else None


def second_moments(optimizer, variable):
    """Adam's second-moment estimate of `variable` (None for an optimizer without one)."""
    if not hasattr(optimizer, "_velocities"):
        return None
    return optimizer._velocities[variable_index(optimizer, variable)]


# -- models and callbacks --------------------------------------------------------------


def all_built(model):
    """Whether the model and every layer inside it (nested ones too) are built."""
    return all(layer.built for layer in model._flatten_layers())


def build_from_batch(model, batch):
    """Build a model never called, and its optimizer, from a batch of `KerasTensor`s,
    as Keras does before a fit under a distribution strategy."""
    model._symbolic_build(data_batch=batch)


def make_step_function(model, step):
    """Keras' training function made from `step(data) -> logs` instead of the model's
    `train_step` (TensorFlow: compiled as Keras compiles its own); None where this Keras
    cannot make one."""
    if not hasattr(model, "_make_function"):
        return None
    return model._make_function(step)


def unsynced_model(callback):
    """The callback's model, without the state sync of JAX that `callback.model` runs
    (during fit on JAX, the model's state lives outside its variables; reading
    `callback.model` writes it back, which costs a copy)."""
    return callback._model


def jax_step_state(outputs):
    """From what Keras' JAX training function returns, `(logs, state)`, the trainable
    variables' values and the optimizer variables' values after the step."""
    _, (trainable, _, optimizer_variables, _) = outputs
    return trainable, optimizer_variables
