"""The one place that knows Keras' internals.

Layca and the monitors use Keras' public API wherever it has one. What it lacks, they
reach through this module: every private name of Keras used by this package is listed in
`HOOKS` (and read here only), so that a Keras release that renames one fails
`tests/test_keras_adapter.py` with that name, rather than deep inside a fit.

Two of Keras' private methods are *overridden* by `Layca` (`_backend_apply_gradients`,
`_backend_update_step`): they are in `HOOKS` too, since a rename would make Keras stop
calling Layca's step without any error.
"""

import keras

#: (owner, name) of each Keras internal this package uses: "Optimizer" is
#: `keras.optimizers.Optimizer`, "Model" is `keras.Model`, "Callback" `keras.callbacks.Callback`.
HOOKS = (
    ("Optimizer", "_backend_apply_gradients"),  # overridden by Layca: its step on every variable
    ("Optimizer", "_backend_update_step"),  # overridden by Layca; the inner optimizer's fused step
    ("Optimizer", "_get_current_learning_rate"),
    ("Optimizer", "_learning_rate"),
    ("Optimizer", "_variables"),
    ("Optimizer", "_get_variable_index"),
    ("Model", "_flatten_layers"),
    ("Model", "_symbolic_build"),  # TensorFlow: the monitors build a model before its first step
    ("Model", "_make_function"),  # TensorFlow: the monitors' step that also records
    ("Callback", "_model"),  # the model without JAX's state sync
)

_OWNERS = {"Optimizer": keras.optimizers.Optimizer, "Model": keras.Model, "Callback": keras.callbacks.Callback}


def missing_hooks():
    """The hooks of `HOOKS` this Keras lacks, as "Owner.name" strings. An attribute set
    only on instances (`_learning_rate`, `_variables`, `Callback._model`) is looked up on
    a fresh instance."""
    instances = {
        "Optimizer": keras.optimizers.SGD(),
        "Model": keras.Sequential(),
        "Callback": keras.callbacks.Callback(),
    }
    return [
        f"{owner}.{name}" for owner, name in HOOKS
        if not (hasattr(_OWNERS[owner], name) or hasattr(instances[owner], name))
    ]


# -- the model's training function --------------------------------------------------


def wrap_train_function(model, wrapper):
    """Replace the model's training function by `wrapper(current function)`, until Keras
    makes its training function again: the next `fit` or `train_on_batch` (each calls
    `model.make_train_function()` before its first step, on every backend) first puts
    back Keras' own function, however the fit that wrapped it ended (an error in a
    callback, in the data, an interrupt). `restore_train_function` does it at once (the
    monitors, at the end of their fit).
    Wrappers stack: a second one wraps the first; one restore removes them all."""
    current = model.train_function
    if _KERAS_FUNCTION not in vars(model):
        keras_make_train_function = model.make_train_function

        def make_train_function(force=False):
            restore_train_function(model)
            return keras_make_train_function(force)

        object.__setattr__(model, _KERAS_FUNCTION, (current, make_train_function))
        object.__setattr__(model, "make_train_function", make_train_function)
    object.__setattr__(model, "train_function", wrapper(current))


def train_function_wrapped(model):
    """Whether `wrap_train_function` wrapped the model's function (in this fit)."""
    return _KERAS_FUNCTION in vars(model)


def restore_train_function(model):
    """Put back the training function (and `make_train_function`) Keras made, if wrapped."""
    saved = vars(model).pop(_KERAS_FUNCTION, None)
    if saved is None:
        return
    keras_function, hook = saved
    if vars(model).get("make_train_function") is hook:
        del vars(model)["make_train_function"]
    object.__setattr__(model, "train_function", keras_function)


_KERAS_FUNCTION = "_layer_rotation_keras_train_function"
