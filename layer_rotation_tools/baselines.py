"""The SGD variants the papers compare Layca with (REFERENCE.md, "Other SGD variants").

Each is a plain Keras optimizer; each also works as Layca's inner optimizer.
"""

import keras
from keras import ops

from layer_rotation_tools.transforms import STEP_EPSILON, norm

_PACKAGE = "layer_rotation_tools"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SGDAMom(keras.optimizers.Optimizer):
    """SGD with Adam's momentum scheme and no adaptivity ("SGD_AMom", Supp. B.4 of
    arXiv:1806.01603):

        v_t = m v_{t-1} + (1 - m) g_t
        w_t = w_{t-1} - rho v_t

    Args:
        learning_rate: rho, a float or a `keras.optimizers.schedules` schedule.
        momentum: m in [0, 1), 0.9 in the papers.
        **kwargs: the keyword arguments of `keras.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, name="sgd_amom", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not isinstance(momentum, (int, float)) or not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be a float in [0, 1); received momentum={momentum!r}.")
        self.momentum = float(momentum)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.velocities = self.add_optimizer_variables(variables, "velocity")

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        m = ops.cast(self.momentum, variable.dtype)
        v = self.velocities[self._get_variable_index(variable)]
        self.assign(v, m * v + (1.0 - m) * gradient)
        self.assign_sub(variable, learning_rate * v)

    def get_config(self):
        config = super().get_config()
        config["momentum"] = self.momentum
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class NormalizedSGD(keras.optimizers.Optimizer):
    """Block-normalised SGD (Figure 7 of arXiv:1806.01603; REFERENCE.md):

        w <- w - lr g / ||g||      (per variable; no step where ||g|| <= 1e-7)

    It fixes the norm of each layer's update instead of its rotation.
    """

    def __init__(self, learning_rate=0.01, name="normalized_sgd", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        g_norm = norm(gradient)
        safe = ops.where(g_norm > STEP_EPSILON, g_norm, ops.ones_like(g_norm))
        scale = ops.where(g_norm > STEP_EPSILON, learning_rate / safe, ops.zeros_like(safe))
        self.assign_sub(variable, gradient * scale)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class EffectiveLRSGD(keras.optimizers.Optimizer):
    """SGD with the effective learning rate of a scale-invariant layer (REFERENCE.md):

        w <- w - lr g ||w||^2      (per variable)
    """

    def __init__(self, learning_rate=0.01, name="effective_lr_sgd", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        self.assign_sub(variable, learning_rate * gradient * ops.sum(ops.square(variable)))
