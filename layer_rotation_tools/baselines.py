"""The optimizers the papers compare Layca with: the SGD variants (SGD_AMom: extended
paper, Supp. B.4; block-normalised SGD: ICLR version, Figure 7; docs/faithfulness.md),
and RMSprop and Adagrad with the update rules the authors ran (Keras 2's, which differ
from Keras 3's).

Each is a plain Keras optimizer; each also works as Layca's inner optimizer.
"""

import keras
from keras import ops

from layer_rotation_tools import keras_adapter, serialization
from layer_rotation_tools.arguments import real_number
from layer_rotation_tools.transforms import STEP_EPSILON, norm


@serialization.register
class SGDAMom(keras.optimizers.Optimizer):
    """SGD with Adam's momentum scheme and no adaptivity ("SGD_AMom", Supp. B.4 of
    arXiv:1806.01603):

        v_t = m v_{t-1} + (1 - m) g_t
        w_t = w_{t-1} - rho v_t

    Args:
        learning_rate: float or `keras.optimizers.schedules.LearningRateSchedule`.
            rho. Defaults to `0.01`.
        momentum: float in [0, 1). m. Defaults to `0.9`, as in the papers.
        name: str. The optimizer's name. Defaults to `"sgd_amom"`.
        **kwargs: the keyword arguments of `keras.optimizers.Optimizer` (`clipnorm`,
            `use_ema`, `gradient_accumulation_steps`, ...).
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, name="sgd_amom", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        value = real_number(momentum)
        if value is None or not 0.0 <= value < 1.0:
            raise ValueError(f"momentum must be a number in [0, 1); received momentum={momentum!r}.")
        self.momentum = value

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.velocities = self.add_optimizer_variables(variables, "velocity")

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        m = ops.cast(self.momentum, variable.dtype)
        v = self.velocities[keras_adapter.variable_index(self, variable)]
        self.assign(v, m * v + (1.0 - m) * gradient)
        self.assign_sub(variable, learning_rate * v)

    def get_config(self):
        config = super().get_config()
        config["momentum"] = self.momentum
        return config


@serialization.register
class NormalizedSGD(keras.optimizers.Optimizer):
    """Block-normalised SGD (Figure 7 of arXiv:1806.01603; docs/faithfulness.md):

        w <- w - lr g / ||g||      (per variable; no step where ||g|| <= 1e-7)

    It fixes the norm of each layer's update instead of its rotation.

    Args:
        learning_rate: float or `keras.optimizers.schedules.LearningRateSchedule`.
            lr, the norm of each variable's step. Defaults to `0.01`.
        name: str. The optimizer's name. Defaults to `"normalized_sgd"`.
        **kwargs: the keyword arguments of `keras.optimizers.Optimizer` (`clipnorm`,
            `use_ema`, `gradient_accumulation_steps`, ...).
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


@serialization.register
class EffectiveLRSGD(keras.optimizers.Optimizer):
    """SGD with the effective learning rate of a scale-invariant layer (docs/faithfulness.md):

        w <- w - lr g ||w||^2      (per variable)

    Args:
        learning_rate: float or `keras.optimizers.schedules.LearningRateSchedule`.
            lr. Defaults to `0.01`.
        name: str. The optimizer's name. Defaults to `"effective_lr_sgd"`.
        **kwargs: the keyword arguments of `keras.optimizers.Optimizer` (`clipnorm`,
            `use_ema`, `gradient_accumulation_steps`, ...).
    """

    def __init__(self, learning_rate=0.01, name="effective_lr_sgd", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        self.assign_sub(variable, learning_rate * gradient * ops.sum(ops.square(variable)))


class _Keras2Adaptive(keras.optimizers.Optimizer):
    """Keras 2's adaptive step, w_t = w_{t-1} - lr g_t / (sqrt(a_t) + eps), with an
    accumulator a (from 0) that subclasses update in `_accumulate`."""

    def __init__(self, learning_rate, epsilon, name, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.epsilon = float(epsilon)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.accumulators = self.add_optimizer_variables(variables, "accumulator")

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        accumulator = self.accumulators[keras_adapter.variable_index(self, variable)]
        self.assign(accumulator, self._accumulate(accumulator, gradient))
        self.assign_sub(variable, learning_rate * gradient / (ops.sqrt(accumulator) + self.epsilon))

    def get_config(self):
        config = super().get_config()
        config["epsilon"] = self.epsilon
        return config


@serialization.register
class Keras2RMSprop(_Keras2Adaptive):
    """RMSprop with Keras 2's update rule, which the authors' optimizers copy
    (`paper-experiments/layca_optimizers.py`, class RMSprop):

        a_t = rho a_{t-1} + (1 - rho) g_t^2          (a_0 = 0)
        w_t = w_{t-1} - lr g_t / (sqrt(a_t) + eps)

    Keras 3's `RMSprop` divides by sqrt(a_t + eps) instead, which for gradients near
    sqrt(eps) = 3e-4 and below gives a different step.

    Args:
        learning_rate: float or `keras.optimizers.schedules.LearningRateSchedule`.
            Defaults to `0.001`.
        rho: float. The decay of the moving average of squared gradients. Defaults to
            `0.9`, Keras 2's default.
        epsilon: float. eps. Defaults to `1e-7`, Keras 2's `K.epsilon()`.
        name: str. The optimizer's name. Defaults to `"keras2_rmsprop"`.
        **kwargs: the keyword arguments of `keras.optimizers.Optimizer` (`clipnorm`,
            `use_ema`, `gradient_accumulation_steps`, ...).
    """

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7, name="keras2_rmsprop", **kwargs):
        super().__init__(learning_rate, epsilon, name, **kwargs)
        self.rho = float(rho)

    def _accumulate(self, accumulator, gradient):
        return self.rho * accumulator + (1.0 - self.rho) * ops.square(gradient)

    def get_config(self):
        config = super().get_config()
        config["rho"] = self.rho
        return config


@serialization.register
class Keras2Adagrad(_Keras2Adaptive):
    """Adagrad with Keras 2's update rule, which the authors' optimizers copy
    (`paper-experiments/layca_optimizers.py`, class Adagrad):

        a_t = a_{t-1} + g_t^2                        (a_0 = 0)
        w_t = w_{t-1} - lr g_t / (sqrt(a_t) + eps)

    Keras 3's `Adagrad` starts a at 0.1 and divides by sqrt(a_t + eps): its first step
    with a 1e-3 gradient is 316 times smaller.

    Args:
        learning_rate: float or `keras.optimizers.schedules.LearningRateSchedule`.
            Defaults to `0.01`.
        epsilon: float. eps. Defaults to `1e-7`, Keras 2's `K.epsilon()`.
        name: str. The optimizer's name. Defaults to `"keras2_adagrad"`.
        **kwargs: the keyword arguments of `keras.optimizers.Optimizer` (`clipnorm`,
            `use_ema`, `gradient_accumulation_steps`, ...).
    """

    def __init__(self, learning_rate=0.01, epsilon=1e-7, name="keras2_adagrad", **kwargs):
        super().__init__(learning_rate, epsilon, name, **kwargs)

    def _accumulate(self, accumulator, gradient):
        return accumulator + ops.square(gradient)
