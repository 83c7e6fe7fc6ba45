"""Layca inside Keras training: serialisation, resume, jit, distribution, loss scaling, schedules."""

import logging

import keras
import numpy as np
import pytest

from layer_rotation_tools import Layca, LayerRotationRates, SGDAMom, backend
from tests import references
from tests.iterations import IterationsSeen, assert_steps_are_iterations
from tests.serialization import round_trip


def _mlp(batch_norm=True):
    layers = [keras.Input((6,)), keras.layers.Dense(8, use_bias=False, name="hidden")]
    if batch_norm:
        layers.append(keras.layers.BatchNormalization(center=False, scale=False))
    layers += [keras.layers.ReLU(), keras.layers.Dense(3, activation="softmax", name="out")]
    return keras.Sequential(layers)


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = keras.utils.to_categorical(rng.integers(0, 3, n), 3)
    return x, y


def test_config_round_trip_keeps_every_setting():
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([10, 20], [0.1, 0.02, 0.004])
    layca = Layca(
        keras.optimizers.Adam(0.002, beta_1=0.8),
        learning_rate=schedule,
        multipliers={"hidden": 0.5},
        lars=True,
        train_non_kernels=True,
        kernel_names=[r"kernel$"],
        epsilon=1e-6,
        lars_max_growth=2e-4,
        clipnorm=1.0,
        jit_compile=False,
    )
    clone = round_trip(layca)
    assert isinstance(clone.inner_optimizer, keras.optimizers.Adam)
    assert clone.inner_optimizer.beta_1 == 0.8 and clone.multipliers == {"hidden": 0.5}
    assert clone.lars and clone.train_non_kernels and clone.kernel_names == (r"kernel$",) and not clone.jit_compile
    assert Layca.from_config(Layca(SGDAMom(momentum=0.5)).get_config()).inner_optimizer.momentum == 0.5


def test_jit_compile_is_true_false_or_auto_and_auto_round_trips():
    assert Layca().jit_compile == "auto" and round_trip(Layca()).jit_compile == "auto"
    with pytest.raises(ValueError, match=r"jit_compile must be True, False or 'auto'; received 'xla'"):
        Layca(jit_compile="xla")


@pytest.mark.parametrize("xla_step", [False, True], ids=["default-step", "xla-step"])
@pytest.mark.parametrize("lars", [False, True], ids=["layca", "lars"])
@pytest.mark.parametrize("still", ["rho_0", "multipliers_0"])
def test_steps_at_rate_zero_leave_every_kernel_bit_for_bit(still, lars, xla_step):
    """At rho = 0, or with every layer's factor 0, a compiled training step leaves each
    kernel as it was, bit for bit, though Adam proposes a step: where XLA compiles the
    whole step (JAX; TensorFlow with `jit_compile=True`) the group's rotation is skipped
    (`layca._rotated_traced`'s `cond`), elsewhere it is computed and gives the kernel
    back."""
    if xla_step and backend.name() != "tensorflow":
        pytest.skip("JAX's default step is the XLA step; PyTorch has none (jit_compile=True is torch.compile)")
    model = _mlp(batch_norm=False)
    rate, multipliers = (0.0, None) if still == "rho_0" else (0.1, {"hidden": 0.0, "out": 0.0})
    model.compile(Layca(keras.optimizers.Adam(0.1), learning_rate=rate, multipliers=multipliers, lars=lars),
                  "categorical_crossentropy", jit_compile=True if xla_step else "auto")
    x, y = _data()
    before = [keras.ops.convert_to_numpy(k) for k in model.trainable_weights if "kernel" in k.path]
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    after = [keras.ops.convert_to_numpy(k) for k in model.trainable_weights if "kernel" in k.path]
    assert len(before) == 2
    for old, new in zip(before, after):
        np.testing.assert_array_equal(new, old)


@pytest.mark.tensorflow  # XLA-compiled group updates exist on TensorFlow only (`backend.xla_compiled_update`)
@pytest.mark.parametrize("jit_compile, grouped, with_xla", [
    ("auto", False, True), ("auto", True, False), (True, True, True), (False, False, False)])
def test_auto_compiles_the_update_with_xla_where_the_model_is_one_group(jit_compile, grouped, with_xla, monkeypatch):
    from layer_rotation_tools import layca as layca_module

    if grouped:
        monkeypatch.setattr(layca_module, "GROUP_BYTES", 1)
    model = _mlp(batch_norm=False)
    layca = Layca(learning_rate=0.05, jit_compile=jit_compile)
    model.compile(layca, "categorical_crossentropy")
    model.fit(*_data(), batch_size=16, epochs=1, verbose=0)
    compiled = [f for f in layca._compiled_updates.functions.values() if f is not None]
    assert bool(compiled) == with_xla
    assert len(compiled) == (2 if grouped else 1) * with_xla  # one call per group


@pytest.mark.tensorflow  # `backend.shared_function` is a tf.function on TensorFlow only
@pytest.mark.parametrize("xla_step", [False, True], ids=["graph", "xla-step"])
def test_groups_of_one_shape_share_one_traced_rotation(xla_step, monkeypatch):
    """In TensorFlow's graph and in a step XLA compiles (`model.compile(jit_compile=True)`,
    where each group's `cond` calls it), one traced rotation per shape of kernel, however
    many groups call it."""
    from layer_rotation_tools import layca as layca_module

    monkeypatch.setattr(layca_module, "GROUP_BYTES", 1)
    monkeypatch.setattr(layca_module, "_ROTATED_COMPILED", {})
    model = keras.Sequential([keras.Input((6,))] + [keras.layers.Dense(6, use_bias=False) for _ in range(3)]
                             + [keras.layers.Dense(3, use_bias=False)])
    model.compile(Layca(learning_rate=0.05, jit_compile=False), "mse", jit_compile=xla_step)
    model.fit(*_data(), batch_size=16, epochs=1, verbose=0)
    # Four groups, two shapes of kernel: (6, 6) three times, (6, 3) once.
    assert layca_module._ROTATED_COMPILED["shared"].function.experimental_get_tracing_count() == 2


def test_save_load_resumes_with_identical_results(tmp_path):
    x, y = _data()

    def fresh():
        keras.utils.set_random_seed(7)
        model = _mlp()
        model.compile(Layca(keras.optimizers.Adam(), learning_rate=0.05, multipliers={"hidden": 0.5}), "categorical_crossentropy")
        return model

    straight = fresh()
    straight.optimizer.build(straight.trainable_variables)
    straight.optimizer.set_multipliers({"out": 0.3})
    straight.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)

    first = fresh()
    first.optimizer.build(first.trainable_variables)
    first.optimizer.set_multipliers({"out": 0.3})
    first.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    first.save(tmp_path / "model.keras")
    resumed = keras.models.load_model(tmp_path / "model.keras")
    assert isinstance(resumed.optimizer, Layca)
    assert resumed.optimizer.multiplier_values() == {"hidden": 0.5, "out": pytest.approx(0.3)}
    assert int(resumed.optimizer.inner_optimizer.iterations.numpy()) == 4
    resumed.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(straight.weights, resumed.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def _train(strategy=None, jit_compile=False, inner="sgd"):
    x, y = _data()
    scope = strategy.scope() if strategy else keras.name_scope("single")
    with scope:
        keras.utils.set_random_seed(3)
        model = _mlp(batch_norm=False)
        model.compile(Layca(inner, learning_rate=0.1), "categorical_crossentropy", jit_compile=jit_compile)
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    return [v.numpy() for v in model.weights]


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch.compile's recompile limit")
def test_torch_compile_runs_the_groups_past_the_recompile_limit_eagerly_with_the_same_weights(monkeypatch, caplog):
    """Under torch.compile each group's update is compiled for its own variables (Layca's
    docstring): past dynamo's recompile limit, here 1, PyTorch warns and runs the other
    groups eagerly, and the weights are those of the step not compiled."""
    import torch

    from layer_rotation_tools import layca as layca_module

    monkeypatch.setattr(layca_module, "GROUP_BYTES", 1)
    torch._dynamo.reset()  # the versions that earlier tests compiled count towards the limit
    # PyTorch's loggers do not pass their records on to the root logger, where caplog listens.
    logger = logging.getLogger("torch._dynamo.convert_frame")
    logger.addHandler(caplog.handler)
    try:
        # PyTorch's own patch, not monkeypatch: pytest 9.2's undo deletes a module attribute
        # that is not in the module's __dict__, and a deleted dynamo setting is gone.
        with torch._dynamo.config.patch(recompile_limit=1):
            compiled = _train(jit_compile=True, inner="adam")
    finally:
        logger.removeHandler(caplog.handler)
        torch._dynamo.reset()
    warned = [message for message in caplog.messages if "hit config.recompile_limit" in message]
    assert any("function: '_update_group'" in message for message in warned), warned
    # Inductor fuses Adam's step into one pass, rounding in another float32 order than the
    # eager step: after these 8 steps a weight of 0.63 differed by 1.1e-5 (PyTorch 2.13).
    for a, b in zip(_train(jit_compile=False, inner="adam"), compiled):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.tensorflow
def test_mirrored_strategy_on_two_devices_equals_one_device(mirrored_strategy):
    one = _train(inner="adam")
    two = _train(mirrored_strategy, inner="adam")
    assert mirrored_strategy.num_replicas_in_sync == 2
    # Two replicas sum their gradients in another float32 order than one device: on
    # TensorFlow 2.21 (2-core AVX2 machine) weights of up to 0.95 differ by up to 5.6e-6
    # after these 8 steps (1.8e-6 with an SGD inner step), a few float32 ulps per step.
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("grouped", [False, True], ids=["one-group", "a-group-per-variable"])
def test_jit_compile_equals_eager_graph(grouped, monkeypatch):
    """The model's step compiled (`jit_compile=True`: XLA, where each group's rotation is one
    operation of the step; torch.compile) gives the weights of the step not compiled."""
    if grouped:
        from layer_rotation_tools import layca as layca_module

        monkeypatch.setattr(layca_module, "GROUP_BYTES", 1)
    for a, b in zip(_train(jit_compile=False), _train(jit_compile=True)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.tensorflow  # on JAX, steps the loss scale skips still move kernels by ~1e-9 rad: not yet understood
def test_loss_scale_optimizer_with_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    model = _mlp()
    optimizer = keras.optimizers.LossScaleOptimizer(Layca("sgd", learning_rate=0.1))
    model.compile(optimizer, "categorical_crossentropy")
    x, y = _data(16)
    rates, seen = LayerRotationRates(), IterationsSeen()
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[rates, seen])
    assert_steps_are_iterations(rates, seen)
    kernels = [v for v in model.trainable_variables if v.path.endswith("kernel")]
    assert all(v.dtype == "float32" for v in kernels)
    # A step whose scaled float16 gradients overflow is skipped (kernels untouched, no
    # step counted, so no record) and halves the scale; every applied step rotates each
    # kernel by exactly rho.
    applied = int(optimizer.iterations.numpy())
    np.testing.assert_array_equal(rates.steps, np.arange(1, applied + 1))
    np.testing.assert_allclose(rates.rates, 0.1, rtol=1e-3)
    assert applied >= 2 and float(optimizer.dynamic_scale.numpy()) == 2.0**15 / 2 ** (3 - applied)


def test_learning_rate_scheduler_callback_sets_rho():
    model = _mlp()
    model.compile(Layca("sgd", learning_rate=0.1), "categorical_crossentropy")
    x, y = _data(32)
    rates, seen = LayerRotationRates(), IterationsSeen()
    scheduler = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 if epoch == 0 else 0.02)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[scheduler, rates, seen])
    assert_steps_are_iterations(rates, seen)
    np.testing.assert_allclose(rates.rates[:2], 0.1, rtol=1e-3)
    np.testing.assert_allclose(rates.rates[2:], 0.02, rtol=1e-3)


def test_learning_rate_schedule_object_drives_rho():
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([1], [0.1, 0.03])
    model = _mlp()
    model.compile(Layca("sgd", learning_rate=schedule), "categorical_crossentropy")
    x, y = _data(64)
    rates, seen = LayerRotationRates(), IterationsSeen()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[rates, seen])
    assert_steps_are_iterations(rates, seen)
    # PiecewiseConstantDecay: iterations 0 and 1 take 0.1, later ones 0.03.
    np.testing.assert_allclose(rates.rates[:2], 0.1, rtol=1e-3)
    np.testing.assert_allclose(rates.rates[2:], 0.03, rtol=1e-3)


def test_first_fit_step_rotates_by_rho_against_reference():
    model = _mlp(batch_norm=False)
    model.compile(Layca("sgd", learning_rate=0.2), "categorical_crossentropy")
    before = [v.numpy() for v in model.trainable_variables]
    x, y = _data(16)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for v, b in zip(model.trainable_variables, before):
        if v.path.endswith("kernel"):
            assert references.tan_angle(b, v.numpy()) == pytest.approx(0.2, rel=1e-4)
