"""Layca: layer-level controlled amount of weight rotation, as a Keras optimizer wrapper.

Algorithm 1 of arXiv:1806.01603 (Carbonnelle & De Vleeschouwer): whatever step an
optimizer proposes for a kernel, Layca turns it into a rotation of exactly
arctan(rho_l(t)) of that kernel, with rho_l(t) = multiplier_l * rho(t), keeping the
kernel's norm. Biases and batch-norm parameters are not updated (the authors' code),
or take the inner optimizer's plain step with `train_non_kernels=True`.
"""

import contextlib
import math
import warnings

import keras
import numpy as np
from keras import ops

from layer_rotation_tools import backend, keras_adapter, serialization
from layer_rotation_tools.arguments import real_number

from layer_rotation_tools.baselines import EffectiveLRSGD, Keras2Adagrad, Keras2RMSprop, NormalizedSGD, SGDAMom
from layer_rotation_tools.kernels import (
    DEFAULT_KERNEL_NAMES,
    kernel_labels,
    kernel_mask,
    layer_path,
    owning_layer,
    short_names,
    unexpected_non_kernels,
    variable_path,
)
from layer_rotation_tools.transforms import (
    STEP_EPSILON,
    descent_steps,
    keep_finite,
    lars_updates,
    layca_updates,
    nan_to_zero,
    norm,
    unit_norms,
)

_OWN_OPTIMIZERS = {
    "sgd_amom": SGDAMom,
    "normalized_sgd": NormalizedSGD,
    "effective_lr_sgd": EffectiveLRSGD,
    "keras2_rmsprop": Keras2RMSprop,
    "keras2_adagrad": Keras2Adagrad,
}
# Options that act in `Optimizer.apply`, which Layca does not delegate to its inner
# optimizer (it delegates the per-variable step only).
_APPLY_LEVEL_OPTIONS = (
    "weight_decay",
    "adam_weight_decay",  # Muon's decay of the variables it steps with AdamW, applied in `apply` too
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
    "use_ema",
    "gradient_accumulation_steps",
    "loss_scale_factor",
)
_WEIGHT_DECAY_HINT = (
    "Layca holds every kernel's norm fixed, so decoupled weight decay cannot act on "
    "kernels; the papers' '_weight_decay' configurations use an L2 kernel_regularizer "
    "(keras.regularizers.L2) on the loss instead."
)

_ADAM_WEIGHT_DECAY_HINT = (
    "Muon decays the variables it steps with AdamW (non-matrices, embeddings, excluded layers) in "
    "Optimizer.apply, which Layca does not call: pass adam_weight_decay=None (Layca holds each "
    "kernel's norm fixed; with train_non_kernels=True the other variables take Muon's AdamW step "
    "without decay). Layca(keras.optimizers.Muon(weight_decay=None, adam_weight_decay=None)) is the "
    "Hyperball recipe (MuonH)."
)


@serialization.register
class Layca(keras.optimizers.Optimizer):
    """Rotate each kernel by arctan(rho_l(t)) per step, in the direction an optimizer proposes.

    For each kernel p with step s proposed by the inner optimizer (a descent step:
    the inner optimizer alone would set p' = p - s), Algorithm 2 of arXiv:1806.01603:

        s  <- s - (s . p) p / ||p||^2        (1: project orthogonally to p)
        s  <- s ||p|| / ||s||  (0 if ||s|| <= epsilon)   (2: normalise the rotation)
        p' <- p - rho_l(t) s                 (3: update; tan(angle(p, p')) == rho_l(t))
        p' <- p' ||p|| / ||p'||              (4: back on the sphere)

    With `lars=True`, operations 1 and 4 are skipped and the norm growth per step is
    capped at `lars_max_growth * ||p_0||` (LARS / NG_adap, Supp. A.4 and footnote 5).
    NaN and Inf are replaced by 0 in gradients and steps (Supp. A.2 of arXiv:1806.01603v1),
    so they never reach the weights.

    The inner optimizer steps the variables through its `_backend_update_step` (all at
    once, fused where the backend fuses them; variable by variable through `update_step`
    under a `tf.distribute` strategy), so its state (moments, iteration count) advances
    exactly as if it ran alone on the same gradients; its own `learning_rate` only
    scales the step, which Layca normalises away (it still sets the step of non-kernels
    with `train_non_kernels`). A model whose variables exceed 16 MiB (`GROUP_BYTES`) is
    stepped a group of consecutive variables at a time (`memory_groups`), so that
    Layca's copies and temporaries grow with the largest group, not with the model. On
    PyTorch each kernel's result is written into it a chunk of rows at a time, so that
    a group's update holds its snapshot and a chunk's temporaries
    (`transforms.linear_updates`); in TensorFlow's graphs every group's rotation calls
    one shared function (`backend.shared_function`), not a copy of its operations. Under
    torch.compile (`model.compile(jit_compile=True)` on PyTorch) each group's update is
    compiled for that group's variables (dynamo breaks the step where the dot products
    choose float32 or float64); past `torch._dynamo.config.recompile_limit` (8, PyTorch's
    warning "hit config.recompile_limit", function '_update_group') the other groups run
    eagerly, where an inner Adam holds about three kernel-sized temporaries of its step.
    A limit of `len(memory_groups(model.trainable_variables))` compiles every group, whose
    compiled code then stays resident (ten 2,000 x 2,000 kernels, `Layca("adam")` over
    Adam: 0.52 of the kernels' bytes with PyTorch's limit, 0.30 with every group compiled;
    `Layca("sgd")` over SGD: 0.15 and 0.24; `benchmarks/kernel_memory.py
    --recompile-limit`).

    Args:
        optimizer: `keras.optimizers.Optimizer` or str. The inner optimizer: an instance
            or an identifier (`optimizer_class`: Keras' "sgd", "adam", "rmsprop",
            "adagrad", ..., or this package's "sgd_amom", "normalized_sgd",
            "effective_lr_sgd", "keras2_rmsprop", "keras2_adagrad"). Defaults to `"sgd"`
            (plain SGD, as in the papers).
        learning_rate: float or `keras.optimizers.schedules.LearningRateSchedule`.
            rho(t), the global rotation rate. Defaults to `3**-3`, the papers' best.
        multipliers: dict or None. `{layer name: factor}`; rho_l = factor * rho(t).
            Layer names are those of `kernel_layer_names(model)`; missing layers get 1.
            See `alpha_multipliers` for the papers' alpha profile. Factors live in
            variables: `set_multipliers` changes them during training without
            retracing. Defaults to `None` (every factor 1).
        lars: bool. LARS mode (operations 1 and 4 disabled, norm growth capped).
            Defaults to `False`.
        train_non_kernels: bool. Give non-kernel variables (biases, batch-norm
            parameters) the inner optimizer's plain step instead of leaving them
            unchanged. Defaults to `False`, as in the papers.
        kernel_names: list of str or None. Regular expressions searched in
            `variable.path` that select the kernels; `PAPER_KERNEL_NAMES` leaves
            embedding tables out. Defaults to `None`: `kernels.DEFAULT_KERNEL_NAMES`
            (dense, conv, depthwise, pointwise and recurrent kernels, and embedding
            tables).
        epsilon: float. A step with norm <= epsilon is treated as zero. Defaults to
            `1e-7`.
        lars_max_growth: float. The LARS cap, as a fraction of the kernel's initial
            norm. Defaults to `1e-4`.
        jit_compile: bool or "auto". On TensorFlow, compile each group's update (the
            inner optimizer's steps and the rotations of its kernels) with XLA into one
            call, also in training steps that XLA does not compile (`jit_compile=False`,
            `run_eagerly=True`), where its operations would otherwise run one by one.
            "auto": with XLA where the model is stepped in one group (`memory_groups`:
            its variables within 16 MiB, as the papers' models at the widths of the
            CPU runs, or ResNet-32 at full width), where it saves the cost of running
            many small operations one by one; without, where it is stepped a group at
            a time, whose operations on large kernels gain no speed from XLA (ten
            2,000 x 2,000 kernels: 1.03 s a step either way, one CPU core) while each
            kernel added costs 0.16 times its bytes over the inner optimizer with
            XLA, 0.07 times without (steps after the first, `benchmarks/kernel_memory.py
            --layers 10 20`; 0.2-1.7 with XLA, varying between runs, before its sums
            kept their products fused: `transforms._windowed_total`; on a GPU, whose
            passes XLA fuses, not measured). No effect on JAX, whose steps XLA compiles whole, on
            PyTorch, under a `tf.distribute` strategy, or where XLA compiles the model's
            whole step (`model.compile(jit_compile=True)`, TensorFlow's default where it
            sees a GPU), of which the update is then part, each group's rotation one
            operation of it as on JAX. Pass False for an inner optimizer that XLA cannot
            compile. Defaults to `"auto"`.
        per_unit: bool. Apply the four operations to each output unit's weight vector
            instead of the whole kernel: every axis but the last (a Dense column, a
            convolution's output channel, a recurrent kernel's column of one gate's
            unit; an embedding table's column), so that each unit turns by
            arctan(rho_l) a step and keeps its norm, as Nero (Liu et al., 2021) and
            rotational equilibrium (Kosson et al., 2024) control rotation per neuron.
            Layer-wise multipliers and LARS mode apply to each unit of the layer (LARS
            caps each unit's growth by `lars_max_growth` times its initial norm).
            Defaults to `False` (the papers' per-layer rotation).
        **kwargs: `clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema`,
            `loss_scale_factor`, `gradient_accumulation_steps` as in
            `keras.optimizers.Optimizer`, applied to the gradients before the inner
            optimizer sees them. With `gradient_accumulation_steps=N`, Layca rotates
            once every N batches, by the mean of their gradients; `iterations` (and the
            inner optimizer's, and the monitors' steps) count those applied steps.

    Example:

    ```python
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, name="hidden"),
                              keras.layers.Dense(3, name="out")])
    layca = Layca("adam", learning_rate=3**-3, multipliers=alpha_multipliers(model, 0.2))
    model.compile(optimizer=layca, loss="sparse_categorical_crossentropy")
    model.fit(np.random.rand(64, 8), np.random.randint(0, 3, 64), epochs=1, verbose=0)
    layca.multiplier_values()  # {'hidden': 0.32768, 'out': 1.0}
    ```
    """

    def __init__(
        self,
        optimizer="sgd",
        learning_rate=3.0**-3,
        multipliers=None,
        lars=False,
        train_non_kernels=False,
        kernel_names=None,
        epsilon=STEP_EPSILON,
        lars_max_growth=1e-4,
        jit_compile="auto",
        per_unit=False,
        name=None,
        **kwargs,
    ):
        if kwargs.get("weight_decay") is not None:
            raise ValueError(f"Layca does not take weight_decay={kwargs['weight_decay']!r}: {_WEIGHT_DECAY_HINT}")
        learning_rate = _checked_rate(learning_rate)
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.inner_optimizer = get_inner_optimizer(optimizer)
        self.multipliers = _checked_multipliers(multipliers)
        self.lars = bool(lars)
        self.train_non_kernels = bool(train_non_kernels)
        self.kernel_names = tuple(kernel_names) if kernel_names is not None else DEFAULT_KERNEL_NAMES
        if not self.kernel_names:
            raise ValueError("kernel_names is empty: Layca would rotate nothing. Leave it as None for the defaults.")
        self.epsilon = float(epsilon)
        self.lars_max_growth = float(lars_max_growth)
        if not (isinstance(jit_compile, (bool, np.bool_)) or jit_compile == "auto"):
            raise ValueError(f"Layca's jit_compile must be True, False or 'auto'; received {jit_compile!r}.")
        self.jit_compile = jit_compile if jit_compile == "auto" else bool(jit_compile)
        self.per_unit = bool(per_unit)
        self._compiled_updates = _CompiledUpdates()
        self._unchecked_in = None  # the trace in which build could not read the kernels (`build`)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        mask = kernel_mask(variables, self.kernel_names)
        if not any(mask):
            raise ValueError(
                f"None of the {len(variables)} variables given to Layca is a kernel "
                f"(no path matches kernel_names={list(self.kernel_names)}); "
                f"variables: {[variable_path(v) for v in variables][:20]}."
            )
        kernels = [i for i, is_kernel in enumerate(mask) if is_kernel]
        # Built inside a traced step (TensorFlow: Keras builds the optimizer, and a model
        # first called by fit, in its first trace), the kernels may not hold their values
        # yet: they are checked at the next trace, before the step first runs.
        backend.require_float64("Layca")
        self._unchecked_in = backend.trace()
        norms = {i: self._checked_norm(variables[i]) for i in kernels} if self._unchecked_in is None else {}
        self._kernel_layers = {i: layer_path(variables[i]) for i in kernels}
        self._kernel_paths = {i: variable_path(variables[i]) for i in kernels}
        factors = {i: 1.0 for i in kernels}
        factors.update(self._resolve(self.multipliers))
        self._rate_multipliers = tuple(
            self._scalar_variable(factors[i], f"rate_multiplier_{_slug(variables[i])}") if mask[i] else None
            for i in range(len(variables))
        )
        # LARS caps growth relative to ||p_0||; 0 stands for "not read yet" (set at the first step).
        self._initial_norms = tuple(
            self._initial_norm_variable(variables[i], norms.get(i)) if mask[i] and self.lars else None
            for i in range(len(variables))
        )
        if not self.train_non_kernels:
            untouched = unexpected_non_kernels(variables, mask)
            if untouched:
                warnings.warn(
                    f"Layca leaves {len(untouched)} trainable variable(s) unchanged: {untouched}. They are "
                    f"neither kernels (kernel_names={list(self.kernel_names)}) nor biases or normalisation "
                    "parameters. To rotate them, add a pattern matching their path to kernel_names; to train "
                    "them with the inner optimizer's plain step, pass train_non_kernels=True.",
                    stacklevel=2,
                )
        inner = self.inner_optimizer
        if inner.built:
            raise ValueError(
                f"The inner optimizer {inner.name!r} is already built on other variables; "
                "give Layca a fresh optimizer instance (or an identifier)."
            )
        inner.build([v for v, is_kernel in zip(variables, mask) if is_kernel or self.train_non_kernels])

    def _checked_norm(self, variable):
        """The kernel's norm, read now, with an error where Layca cannot rotate it."""
        norm_value = float(np.linalg.norm(backend.read(variable)))
        if not norm_value > 0 or not math.isfinite(norm_value):
            raise ValueError(
                f"Layca cannot rotate kernel '{variable_path(variable)}': its norm is "
                f"{norm_value}, so it has no direction and rotation is "
                "undefined. Initialise it with a non-zero, finite initializer (e.g. "
                "'glorot_uniform'), or leave it out of Layca with kernel_names "
                "(and train_non_kernels=True to train it with the inner optimizer)."
            )
        return norm_value

    @property
    def variables(self):
        return keras_adapter.own_variables(self) + self.inner_optimizer.variables

    @property
    def learning_rate(self):
        return keras_adapter.current_learning_rate(self)

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        # Also where `keras.callbacks.LearningRateScheduler` sets rho(t).
        keras_adapter.set_learning_rate(self, _checked_rate(learning_rate))

    def apply(self, grads, trainable_variables=None):
        super().apply(grads, trainable_variables)
        # The inner optimizer's own counter (Adam's bias correction, its schedules) is
        # Layca's, whatever Keras counted (an empty list of gradients counts no step).
        self.inner_optimizer.iterations.assign(self.iterations)

    def _backend_apply_gradients(self, grads, trainable_variables):
        # Here, after `build` (whose variables TensorFlow must be able to lift out of a traced
        # step) and before any variable changes, a schedule's rate is checked at each step. A
        # fixed rate was checked when set (`_checked_rate`); checking it again would cost a host
        # callback in every JAX step (a third of the small MLP's step).
        if self._unchecked_in is not None and backend.trace() is not self._unchecked_in:
            for variable in trainable_variables:
                if self._is_kernel(variable):
                    self._checked_norm(variable)
            self._unchecked_in = None
        rate = ops.convert_to_tensor(keras_adapter.current_learning_rate(self))
        # A schedule (or any callable rate) varies; a float or a variable does not.
        with _refusing_invalid(rate) if callable(keras_adapter.learning_rate_setting(self)) else contextlib.nullcontext():
            super()._backend_apply_gradients(grads, trainable_variables)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if backend.distributed():
            # tf.distribute updates each variable on its replicas: `update_step`.
            super()._backend_update_step(grads, trainable_variables, learning_rate)
        else:
            self._update(grads, trainable_variables, learning_rate, keras_adapter.update_step_of_all(self.inner_optimizer))

    def update_step(self, gradient, variable, learning_rate):
        def inner_update(grads, variables, inner_rate):
            self.inner_optimizer.update_step(grads[0], variables[0], inner_rate)

        self._update([gradient], [variable], learning_rate, inner_update)

    def _update(self, grads, variables, learning_rate, inner_update):
        """Step `variables` group by group (`memory_groups`: consecutive variables of at most
        `GROUP_BYTES` together, or one larger kernel alone), each group's work waiting on
        its own gradients (`backend.after`: in a TensorFlow graph, a group's copies are
        taken as its gradients arrive from backpropagation, each freed as soon as its group
        is stepped); each group's update compiled by XLA with `jit_compile`
        (`_compiled_group_update`; "auto": where there is one group). Measured
        (`benchmarks/kernel_memory.py`, TensorFlow's graph): ordering each group after the
        previous group's writes instead held the gradients of the groups waiting their
        turn, 1.2-1.3 kernels' bytes over SGD against 0.7."""
        stepped = [i for i, variable in enumerate(variables) if self._is_kernel(variable) or self.train_non_kernels]
        rate = ops.cast(learning_rate, "float64")  # a tensor (a Keras variable is not one to tf.function)
        # Last group first: backpropagation gives the last layers' gradients first.
        groups = memory_groups([variables[i] for i in stepped])
        with_xla = self.jit_compile is True or (self.jit_compile == "auto" and len(groups) == 1)
        for group in reversed(groups):
            group_variables = [variables[stepped[j]] for j in group]
            group_grads = [grads[stepped[j]] for j in group]
            update = self._compiled_group_update(group_variables, inner_update) if with_xla else None
            with backend.after(group_grads):
                if update is None:
                    self._update_group(group_grads, group_variables, rate, inner_update)
                else:
                    update(group_grads, rate)

    def _compiled_group_update(self, variables, inner_update):
        """`_update_group` of `variables` compiled by XLA (`backend.xla_compiled_update`),
        made once per list of variables; None where it does not apply."""
        key = (tuple(id(v) for v in variables), backend.distributed())
        functions = self._compiled_updates.functions
        if key not in functions:
            def update(grads, rate):
                self._update_group(grads, variables, rate, inner_update)

            functions[key] = backend.xla_compiled_update(update)
        return functions[key]

    def _is_kernel(self, variable):
        return self._rate_multipliers[keras_adapter.variable_index(self, variable)] is not None

    def _update_group(self, grads, variables, rate, inner_update):
        """The inner optimizer steps `variables` on their gradients `grads` (NaN-free), through
        `inner_update` (its `_backend_update_step`, which steps them all at once where the
        backend fuses the step of many variables, as PyTorch's Adam does), then each kernel
        is set to its rotation towards the proposed value, all at once (`_rotated`), and
        each other variable keeps its proposed value where it is finite."""
        before = [_snapshot(variable) for variable in variables]
        inner_update([nan_to_zero(ops.convert_to_tensor(g)) for g in grads], variables,
                     self.inner_optimizer.learning_rate)
        kernels, ps = [], []
        for variable, p in zip(variables, before):
            if self._is_kernel(variable):
                kernels.append(variable)
                ps.append(p)
            else:
                self.assign(variable, keep_finite(ops.convert_to_tensor(variable), p))
        if not kernels:
            return
        # The value each kernel would take from the inner optimizer alone, read before any is written.
        proposed = [ops.convert_to_tensor(variable) for variable in kernels]
        indices = [keras_adapter.variable_index(self, variable) for variable in kernels]
        multipliers = ops.stack([ops.cast(self._rate_multipliers[i], "float64") for i in indices])
        rates = _valid_rate(rate) * multipliers
        max_growths = None
        if self.lars:
            initial = [ops.cast(self._initial_norm(i, p), "float64") for i, p in zip(indices, ps)]
            max_growths = self.lars_max_growth * (ops.concatenate(initial) if self.per_unit else ops.stack(initial))
        if backend.tracing(ps[0]):
            rotated = _rotated_traced(ps, proposed, rates, self.epsilon, max_growths, self.per_unit)
        else:
            into = [keras_adapter.in_place_value(variable) for variable in kernels]
            if all(target is not None for target in into):  # PyTorch: written in place, a chunk at a time
                _rotated_into(into, ps, proposed, rates, self.epsilon, max_growths, self.per_unit)
                return
            rotated = _rotated_compiled(ps, proposed, rates, self.epsilon, max_growths, self.per_unit)
        for variable, new in zip(kernels, rotated):
            self.assign(variable, new)

    def _initial_norm(self, index, p):
        """||p_0|| for LARS' cap: stored at build, or read at the first step (then stored)."""
        stored = self._initial_norms[index]
        current = ops.convert_to_tensor(stored)
        now = unit_norms(p) if self.per_unit else norm(p)
        value = ops.where(current > 0, current, ops.cast(now, current.dtype))
        stored.assign(value)
        return value

    def set_multipliers(self, multipliers):
        """Set layer-wise factors `{layer name: factor}` (rho_l = factor * rho(t)).

        After `build`, the factors are assigned to variables: the compiled training
        step picks them up at its next call without retracing, so a callback may
        call this every batch. Layers not named keep their current factor.
        """
        multipliers = _checked_multipliers(multipliers)
        if not self.built:
            self.multipliers.update(multipliers)
            return
        for index, factor in self._resolve(multipliers).items():
            self._rate_multipliers[index].assign(factor)

    def multiplier_values(self):
        """`{name: current factor}` for every kernel layer (after build): the layer's name,
        or, where a layer's kernels have different factors (a recurrent cell's kernel
        and recurrent kernel replaying recorded rates), each kernel's label
        (`kernel_labels`: `lstm_cell/kernel`)."""
        if not self.built:
            raise ValueError("Layca is not built yet: call optimizer.build(model.trainable_variables) or train first.")
        layers = dict(zip(self._kernel_layers.values(), short_names(list(self._kernel_layers.values()))))
        labels = dict(zip(self._kernel_paths.values(), kernel_labels(list(self._kernel_paths.values()))))
        factors = {i: float(ops.convert_to_numpy(self._rate_multipliers[i])) for i in self._kernel_layers}
        by_layer = {}
        for i, path in self._kernel_layers.items():
            by_layer.setdefault(path, []).append(i)
        values = {}
        for path, indices in by_layer.items():
            if len({factors[i] for i in indices}) == 1:
                values[layers[path]] = factors[indices[0]]
            else:
                values.update({labels[self._kernel_paths[i]]: factors[i] for i in indices})
        return values

    def _resolve(self, multipliers):
        """Map `{name: factor}` to `{kernel index: factor}`, with clear errors.

        A name designates the kernels of one layer (`kernels.owning_layer`): a trailing
        part of their layer's path, or a Keras layer that owns them (an RNN, a
        Bidirectional wrapper, a nested model). A name that designates no layer may
        designate one kernel by a trailing part of its variable path (`lstm_cell/kernel`,
        `lstm_cell/recurrent_kernel`: the labels the monitors record, one per kernel).
        """
        known = list(dict.fromkeys(short_names(list(self._kernel_layers.values()))))
        resolved = {}
        for name, factor in multipliers.items():
            owners = {i: owning_layer(name, path) for i, path in self._kernel_layers.items()}
            indices = [i for i, owner in owners.items() if owner is not None]
            layers = {owners[i] for i in indices}
            if not indices:
                indices = [i for i, path in self._kernel_paths.items() if path == name or path.endswith("/" + name)]
                if len(indices) > 1:
                    raise ValueError(
                        f"multipliers name {name!r} matches several kernels "
                        f"{sorted(self._kernel_paths[i] for i in indices)}; use one of the unique labels "
                        f"{kernel_labels(list(self._kernel_paths.values()))}."
                    )
            if not indices:
                raise ValueError(
                    f"multipliers names layer {name!r}, which owns no kernel of this model. "
                    f"Known kernel layers (forward order): {known}; single kernels: "
                    f"{kernel_labels(list(self._kernel_paths.values()))}."
                )
            if len(layers) > 1:
                raise ValueError(
                    f"multipliers name {name!r} matches several layers {sorted(layers)}; "
                    f"use one of the unique names {known}."
                )
            resolved.update({i: factor for i in indices})
        return resolved

    def _initial_norm_variable(self, variable, value):
        """||p_0|| (per unit: a vector of its units' norms) for LARS' cap; 0 where the
        kernel's value cannot be read yet (set at the first step, `_initial_norm`)."""
        name = f"initial_norm_{_slug(variable)}"
        if not self.per_unit:
            return self._scalar_variable(0.0 if value is None else value, name)
        units = (int(variable.shape[-1]),)
        initial = np.zeros(units) if value is None else backend.read(variable).reshape(-1, units[0])
        if value is not None:
            initial = np.sqrt(np.sum(np.square(initial), axis=0))
        return self.add_variable(shape=units, initializer=keras.initializers.Constant(initial), dtype="float32",
                                 aggregation="only_first_replica", name=name)

    def _scalar_variable(self, value, name):
        return self.add_variable(
            shape=(),
            initializer=keras.initializers.Constant(value),
            dtype="float32",
            aggregation="only_first_replica",
            name=name,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "optimizer": keras.saving.serialize_keras_object(self.inner_optimizer),
                "multipliers": dict(self.multipliers),
                "lars": self.lars,
                "train_non_kernels": self.train_non_kernels,
                "kernel_names": list(self.kernel_names),
                "epsilon": self.epsilon,
                "lars_max_growth": self.lars_max_growth,
                "jit_compile": self.jit_compile,
                "per_unit": self.per_unit,
            }
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["optimizer"] = keras.saving.deserialize_keras_object(config["optimizer"], custom_objects=custom_objects)
        return super().from_config(config, custom_objects=custom_objects)


def optimizer_class(identifier):
    """The optimizer class an identifier names: this package's ("sgd_amom",
    "keras2_rmsprop", ...: `_OWN_OPTIMIZERS`) or Keras' ("sgd", "adam", "rmsprop": Keras
    3's own), with a clear error."""
    if isinstance(identifier, str) and identifier.lower() in _OWN_OPTIMIZERS:
        return _OWN_OPTIMIZERS[identifier.lower()]
    try:
        return type(keras.optimizers.get(identifier))
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"Layca cannot use optimizer={identifier!r} as its inner optimizer ({error}). "
            "Pass a keras.optimizers.Optimizer instance or a name such as 'sgd', 'adam', "
            f"'rmsprop', 'adagrad', {', '.join(repr(n) for n in _OWN_OPTIMIZERS)}."
        ) from None


def get_inner_optimizer(identifier):
    """A fresh optimizer from an identifier (`optimizer_class`), or the instance itself,
    with clear errors."""
    if isinstance(identifier, Layca):
        raise ValueError("Layca cannot wrap another Layca; wrap its inner optimizer directly.")
    if isinstance(identifier, keras.optimizers.Optimizer):
        optimizer = identifier
    else:
        optimizer = optimizer_class(identifier)()
    for option in _APPLY_LEVEL_OPTIONS:
        value = getattr(optimizer, option, None)
        if value:
            hint = {"weight_decay": _WEIGHT_DECAY_HINT, "adam_weight_decay": _ADAM_WEIGHT_DECAY_HINT}.get(
                option, f"set {option} on Layca instead.")
            raise ValueError(
                f"The inner optimizer {optimizer.name!r} has {option}={value!r}, which acts in "
                f"Optimizer.apply; Layca only delegates the per-variable step. {hint}"
            )
    return optimizer


def _checked_rate(learning_rate):
    """rho as given, with an error for a rate that is not a finite number >= 0; a
    schedule is checked at step 0 here and at every step in `_valid_rate`."""
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        _refuse_rate(float(ops.convert_to_numpy(learning_rate(0))), "learning_rate schedule at step 0")
        return learning_rate
    if callable(learning_rate) or isinstance(learning_rate, keras.Variable):
        return learning_rate
    rate = real_number(learning_rate)
    if rate is None:
        raise ValueError(
            f"Layca's learning_rate (rho) must be a number or a keras.optimizers.schedules.LearningRateSchedule; "
            f"received learning_rate={learning_rate!r}."
        )
    _refuse_rate(rate, "learning_rate")
    return rate


def _refuse_rate(value, what):
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(
            f"Layca's {what} is {value!r}: rho is the tangent of the rotation angle per step, so it must be a "
            "finite number >= 0 (NaN would never move the weights, a negative rate would ascend the loss). "
            "3**-3 is the papers' best."
        )


def _valid_rate(rate):
    """rho(t) where it is a finite number >= 0, else 0: under XLA, which drops the
    assertion of `_refusing_invalid`, a step at an invalid rate leaves every kernel
    unchanged (never ascends, never writes NaN)."""
    valid = ops.logical_and(ops.isfinite(rate), rate >= 0)
    return ops.where(valid, rate, ops.zeros_like(rate))


@contextlib.contextmanager
def _refusing_invalid(rate):
    """Run the step only if rho(t) is a finite number >= 0 (a schedule gone wrong is
    refused at the first step where it does): run eagerly, an error at once; in a
    TensorFlow graph, every operation of the step waits on an assertion that fails
    with the value, so no variable changes (`backend.only_if`). On JAX, where an error
    inside a step loses the model's state, a warning, and the step leaves every kernel
    unchanged (`_valid_rate`)."""
    if not backend.tracing(rate) and backend.name() != "jax":
        _refuse_rate(float(ops.convert_to_numpy(rate)), "learning_rate (schedule)")
        yield
        return
    valid = ops.logical_and(ops.isfinite(rate), rate >= 0)
    with backend.only_if(valid, "Layca's learning rate rho(t) must be a finite number >= 0; received", rate):
        yield


def _checked_multipliers(multipliers):
    if multipliers is None:
        return {}
    if not isinstance(multipliers, dict):
        raise ValueError(
            f"multipliers must be a dict {{layer name: factor}}; received {type(multipliers).__name__}. "
            "alpha_multipliers(model, alpha) builds one."
        )
    checked = {}
    for name, factor in multipliers.items():
        value = real_number(factor)
        if value is None or not math.isfinite(value) or value < 0:
            raise ValueError(
                f"multipliers[{name!r}] = {factor!r}: a factor must be a finite number >= 0 "
                "(0 freezes the layer)."
            )
        checked[str(name)] = value
    return checked


def _rotated(ps, proposed, rates, epsilon, max_growths, per_unit=False, into=None):
    """The kernels after Layca's step, or LARS' where `max_growths` are given, for the
    steps p - proposed (`descent_steps`: float32 at least; NaN and Inf zeroed), per
    kernel or `per_unit`. With `into` (eager), written into those tensors instead, the
    step of a kernel of several chunks made a chunk of rows at a time
    (`transforms.linear_updates`); without, each step is made whole."""
    steps = descent_steps(ps, proposed, whole=into is None)
    if max_growths is None:
        return layca_updates(ps, steps, rates, epsilon, per_unit, into)
    return lars_updates(ps, steps, rates, max_growths, per_unit, into)


@backend.without_gradients
def _rotated_into(into, ps, proposed, rates, epsilon, max_growths, per_unit):
    """`_rotated` written into `into`: tensors that hold the kernels' values
    (`keras_adapter.in_place_value`), which also hold the proposed values until each
    chunk of rows is written; eager, on PyTorch."""
    _rotated(ps, proposed, rates, epsilon, max_growths, per_unit, into)


def _rotated_compiled(ps, proposed, rates, epsilon, max_growths, per_unit=False):
    """`_rotated` as one compiled call, for eager steps (`run_eagerly=True`), where its
    small operations would cost more than the model's step; compiled once per backend
    and granularity."""
    key = (backend.name(), per_unit)
    if key not in _ROTATED_COMPILED:
        # A plain function, not a functools.partial: torch.compile cannot trace a partial
        # under torch.no_grad (`compile(jit_compile=True)` on PyTorch).
        _ROTATED_COMPILED[key] = backend.compiled(_rotated_per_unit if per_unit else _rotated)
    return _ROTATED_COMPILED[key](ps, proposed, rates, epsilon, max_growths)


def _rotated_traced(ps, proposed, rates, epsilon, max_growths, per_unit=False):
    """`_rotated` inside a traced step: on TensorFlow one function that every group's update
    calls (`backend.shared_function`); where XLA compiles the whole step (JAX, and
    TensorFlow's steps with `jit_compile=True`: `backend.xla_compiles_step`), one operation
    of the step, a `cond` on whether any of the group's rates is above 0 (where none is,
    the kernels keep their values, as Layca's and LARS' steps at rate 0 leave them bit for
    bit).

    One operation, because XLA's scheduler interleaved a rotation's dozen small operations
    with later groups' backpropagation, holding every waiting group's step. Measured
    (`benchmarks/xla_step_memory.py`, ten 2,000 x 2,000 kernels, a group each): Layca(SGD)'s
    temporaries over SGD's 0.80 times the kernels' bytes before, 0.20 as one operation
    with its step derived where used (`transforms.descent_steps`). One function, because
    each group's own copy of the operations held about 4 MiB of graph in TensorFlow's
    graphs (`benchmarks/kernel_memory.py --layers 10 20`: 0.36 times each kernel's bytes
    added over SGD, against 0.09 shared); there a `cond` cost more (ten kernels, steps
    after the first: 0.29 of the kernels' bytes over SGD, against 0.21 without), but in
    TensorFlow's steps that XLA compiles it cost less: 0.88 and 0.55 of ten and twenty
    kernels' bytes over SGD, against 1.89 and 1.07 without."""
    if "shared" not in _ROTATED_COMPILED:
        _ROTATED_COMPILED["shared"] = backend.shared_function(_rotated)
    shared = _ROTATED_COMPILED["shared"]
    if not backend.xla_compiles_step(ps[0]):
        return shared(ps, proposed, rates, epsilon, max_growths, per_unit)
    return backend.cond(ops.any(rates > 0), lambda: shared(ps, proposed, rates, epsilon, max_growths, per_unit),
                        lambda: list(ps))


def _rotated_per_unit(ps, proposed, rates, epsilon, max_growths):
    """`_rotated` per output unit."""
    return _rotated(ps, proposed, rates, epsilon, max_growths, per_unit=True)


_ROTATED_COMPILED = {}


def _snapshot(variable):
    """The variable's value now, as a tensor. (`convert_to_tensor` would hand back the
    variable itself, read lazily after later assignments.)"""
    return ops.copy(variable)


#: The bytes of variables that Layca steps together (`memory_groups`).
GROUP_BYTES = 2**24


def memory_groups(variables, limit=None):
    """The positions of `variables` cut into runs of consecutive variables whose bytes
    together stay within `limit` (default `GROUP_BYTES`, 16 MiB; a larger variable alone).
    Layca holds a copy of each variable of a group and a few temporaries per kernel while
    it steps the group, so its memory over its inner optimizer's grows with the largest
    group, not with the model; a model whose variables fit in one group (the papers'
    models at the widths of the CPU runs; at full width ResNet-32 and ResNet-110, 1.8 and
    6.6 MiB, but not C10-CNN1, 16.4 MiB, nor WRN-28-10, 139 MiB) is stepped at once, as
    fast as before groups existed.

    Example: `memory_groups([keras.Variable(np.zeros(4))] * 3, limit=8)` is `[[0], [1], [2]]`
    (4 float32 take 16 bytes).
    """
    limit = GROUP_BYTES if limit is None else limit
    groups, size = [], 0
    for position, variable in enumerate(variables):
        nbytes = math.prod(variable.shape) * np.dtype(keras.backend.standardize_dtype(variable.dtype)).itemsize
        if not groups or size + nbytes > limit:
            groups.append([])
            size = 0
        groups[-1].append(position)
        size += nbytes
    return groups


class _CompiledUpdates:
    """Holds Layca's compiled updates out of sight of TensorFlow's object tracking
    (which would save them with the optimizer)."""

    def __init__(self):
        self.functions = {}


def _slug(variable):
    return variable_path(variable).replace("/", "_").replace(":", "_")


def find_layca(optimizer):
    """The Layca optimizer in `optimizer` or inside its wrappers (LossScaleOptimizer)."""
    while not isinstance(optimizer, Layca):
        if not hasattr(optimizer, "inner_optimizer"):
            raise ValueError(f"The model's optimizer {optimizer!r} is not Layca (nor wraps one).")
        optimizer = optimizer.inner_optimizer
    return optimizer
