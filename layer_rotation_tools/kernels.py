"""Which variables are kernels, and how kernel layers are named.

The papers study "weights that multiply the inputs of a layer (e.g. kernels of fully
connected and convolutional layers)" (footnote 2 of arXiv:1806.01603); biases and
batch-norm parameters are not rotated. A variable is a kernel when its path matches one
of `DEFAULT_KERNEL_NAMES` (or the user's patterns): the selection is a boolean mask made
once from the variables, never string matching inside the maths.

Embedding tables count as kernels: a lookup is the product of a one-hot input with the
table, so the table is a weight that multiplies a layer's input, in the papers' sense.
`PAPER_KERNEL_NAMES` leaves them out (only dense, convolutional and recurrent kernels).

A kernel's *layer* is its path without the variable name (`sequential/conv1/kernel` ->
`sequential/conv1`). Users name a layer by any unique trailing part of that path, usually
the Keras layer name (`conv1`), or by the name of a Keras layer that owns it (`enc` for
the cell `sequential/enc/lstm_cell` of an LSTM named `enc`).
"""

import re

#: Regular expressions (searched in `variable.path`) selecting multiplicative weights.
PAPER_KERNEL_NAMES = (
    r"(^|/)kernel$",
    r"(^|/)depthwise_kernel$",
    r"(^|/)pointwise_kernel$",
    r"(^|/)recurrent_kernel$",
)
#: The default selection: `PAPER_KERNEL_NAMES` and embedding tables.
DEFAULT_KERNEL_NAMES = PAPER_KERNEL_NAMES + (r"(^|/)embeddings$",)
#: Parameters that are not kernels and that Layca leaves unchanged by design, as the
#: authors' code does: biases and the scale and offset of normalisation layers.
NON_KERNEL_PARAMETER_NAMES = (r"(^|/)bias$", r"(^|/)gamma$", r"(^|/)beta$")


def kernel_mask(variables, kernel_names=DEFAULT_KERNEL_NAMES):
    """One bool per variable: does its path match one of the `kernel_names` patterns?"""
    patterns = [re.compile(pattern) for pattern in kernel_names]
    return [any(p.search(variable_path(v)) for p in patterns) for v in variables]


def unexpected_non_kernels(variables, mask):
    """Paths of the variables that are neither kernels (`mask`) nor biases or
    normalisation parameters (`NON_KERNEL_PARAMETER_NAMES`)."""
    return [
        variable_path(v)
        for v, is_kernel in zip(variables, mask)
        if not is_kernel and not kernel_mask([v], NON_KERNEL_PARAMETER_NAMES)[0]
    ]


def kernel_variables(model, kernel_names=DEFAULT_KERNEL_NAMES):
    """The model's trainable kernels, in the order of `model.trainable_variables`
    (forward-pass order for Sequential and Functional models)."""
    variables = model.trainable_variables
    return [v for v, is_kernel in zip(variables, kernel_mask(variables, kernel_names)) if is_kernel]


def kernel_layers(model, kernel_names=DEFAULT_KERNEL_NAMES):
    """The model's layers (`model.layers`: forward order for Sequential and Functional
    models) that own a kernel, trainable or frozen."""
    return [layer for layer in model.layers if any(kernel_mask(layer.weights, kernel_names))]


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


def kernel_labels(paths):
    """A label per kernel variable path for plots and records: its layer's short name,
    with the variable name appended when a layer has several kernels (separable convs,
    recurrent cells)."""
    layers = short_names([path.rpartition("/")[0] or path for path in paths])
    counts = {name: layers.count(name) for name in layers}
    return [
        name if counts[name] == 1 else f"{name}/{path.rpartition('/')[2]}"
        for name, path in zip(layers, paths)
    ]


def owning_layer(name, path):
    """The prefix of the layer path `path` that the layer name `name` designates, or None.

    `name` designates the layer at `path` when it is a trailing part of it (whole `/`
    segments: `conv1`, `enc/lstm_cell`), and a Keras layer that owns it when it is a
    run of whole segments inside it (`enc` in `sequential/enc/lstm_cell`, `bi` in
    `sequential/bi/forward_gru/gru_cell`); the innermost run counts.
    """
    parts, wanted = path.split("/"), name.split("/")
    ends = [i + len(wanted) for i in range(len(parts) - len(wanted) + 1) if parts[i : i + len(wanted)] == wanted]
    return "/".join(parts[: ends[-1]]) if ends else None


def _ends_with(path, name):
    return path == name or path.endswith("/" + name)


def variable_path(variable):
    """The variable's path (its name for variables without one)."""
    return getattr(variable, "path", None) or variable.name
