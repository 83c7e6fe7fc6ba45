"""Layer-wise learning-rate multipliers parametrised by alpha (the "alpha profile").

Equation (1) of arXiv:1806.01603, with the exponent 5 of the authors' code
(the authors' get_learning_rate_multipliers: exponent 5; docs/faithfulness.md). For L kernel layers in forward order,
i = 0..L-1:

    alpha > 0:  multiplier_i = (1 - alpha) ** (5 (L - 1 - i) / (L - 1))   (last layers fastest)
    alpha <= 0: multiplier_i = (1 + alpha) ** (5 i / (L - 1))             (first layers fastest)
"""

import math

from layer_rotation_tools.arguments import real_number, whole_number
from layer_rotation_tools.kernels import DEFAULT_KERNEL_NAMES, kernel_layer_names

#: The exponent of the authors' code.
ALPHA_EXPONENT = 5.0


def alpha_profile(num_layers, alpha, exponent=ALPHA_EXPONENT):
    """The list of `num_layers` multipliers of Equation (1) for `alpha` in [-1, 1]."""
    layers, value = whole_number(num_layers), real_number(alpha)
    if layers is None or layers < 1:
        raise ValueError(
            f"num_layers must be a positive integer; received num_layers={num_layers!r}."
        )
    if value is None or not (math.isfinite(value) and -1.0 <= value <= 1.0):
        raise ValueError(
            f"alpha must be a number in [-1, 1] (negative: first layers rotate fastest, "
            f"positive: last layers); received alpha={alpha!r}."
        )
    num_layers, alpha = layers, value
    if num_layers == 1:
        return [1.0]
    last = num_layers - 1
    if alpha > 0:
        return [(1.0 - alpha) ** (exponent * (last - i) / last) for i in range(num_layers)]
    return [(1.0 + alpha) ** (exponent * i / last) for i in range(num_layers)]


def alpha_multipliers(model, alpha, kernel_names=DEFAULT_KERNEL_NAMES):
    """`{layer name: multiplier}` of the alpha profile over the model's kernel layers, in
    forward order; pass it to `Layca(multipliers=...)`."""
    names = kernel_layer_names(model, kernel_names)
    if not names:
        raise ValueError(
            f"Model {model.name!r} has no trainable kernel matching {list(kernel_names)}; "
            "build the model first (call it on data or give it an Input)."
        )
    return dict(zip(names, alpha_profile(len(names), alpha)))
