"""Which variables are kernels, and how kernel layers are named.

The papers study "weights that multiply the inputs of a layer (e.g. kernels of fully
connected and convolutional layers)" (footnote 2 of arXiv:1806.01603); biases and
batch-norm parameters are not rotated. A variable is a kernel when its path matches one
of `DEFAULT_KERNEL_NAMES` (or the user's patterns): the selection is a boolean mask made
once from the variables, never string matching inside the maths.

A kernel's *layer* is its path without the variable name (`sequential/conv1/kernel` ->
`sequential/conv1`). Users name a layer by any unique trailing part of that path, usually
the Keras layer name (`conv1`).
"""

import re

#: Regular expressions (searched in `variable.path`) selecting multiplicative weights.
DEFAULT_KERNEL_NAMES = (
    r"(^|/)kernel$",
    r"(^|/)depthwise_kernel$",
    r"(^|/)pointwise_kernel$",
    r"(^|/)recurrent_kernel$",
)


def kernel_mask(variables, kernel_names=DEFAULT_KERNEL_NAMES):
    """One bool per variable: does its path match one of the `kernel_names` patterns?"""
    patterns = [re.compile(pattern) for pattern in kernel_names]
    return [any(p.search(variable_path(v)) for p in patterns) for v in variables]


def kernel_variables(model, kernel_names=DEFAULT_KERNEL_NAMES):
    """The model's trainable kernels, in the order of `model.trainable_variables`
    (forward-pass order for Sequential and Functional models)."""
    variables = model.trainable_variables
    return [v for v, is_kernel in zip(variables, kernel_mask(variables, kernel_names)) if is_kernel]


def layer_path(variable):
    """The path of the layer that owns `variable`: its path less the variable's name."""
    return variable_path(variable).rpartition("/")[0] or variable_path(variable)


def short_names(paths):
    """For each path, its shortest trailing part (whole `/` segments) that no other
    distinct path in `paths` ends with. Keeps order; equal paths get equal names."""
    distinct = list(dict.fromkeys(paths))
    names = {}
    for path in distinct:
        parts = path.split("/")
        for size in range(1, len(parts) + 1):
            candidate = "/".join(parts[-size:])
            if not any(_ends_with(other, candidate) for other in distinct if other != path):
                break
        names[path] = candidate
    return [names[p] for p in paths]


def kernel_layer_names(model, kernel_names=DEFAULT_KERNEL_NAMES):
    """Names of the layers that own kernels, in forward-pass order, one per layer.

    These are the keys accepted by `Layca(multipliers=...)` and `alpha_multipliers`.
    """
    paths = [layer_path(v) for v in kernel_variables(model, kernel_names)]
    return list(dict.fromkeys(short_names(paths)))


def kernel_labels(variables):
    """A label per kernel variable for plots and records: its layer's short name, with
    the variable name appended when a layer has several kernels (separable convs)."""
    layers = short_names([layer_path(v) for v in variables])
    counts = {name: layers.count(name) for name in layers}
    return [
        name if counts[name] == 1 else f"{name}/{variable_path(v).rpartition('/')[2]}"
        for name, v in zip(layers, variables)
    ]


def match_layer(name, path):
    """Does the layer name `name` designate the layer at `path`?"""
    return _ends_with(path, name)


def _ends_with(path, name):
    return path == name or path.endswith("/" + name)


def variable_path(variable):
    """The variable's path (its name for variables without one)."""
    return getattr(variable, "path", None) or variable.name
