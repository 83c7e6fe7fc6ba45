"""Layca against the numpy reference of its four operations, for every inner optimizer."""

import keras
import numpy as np
import pytest

from layer_rotation_tools import Layca, SGDAMom, alpha_multipliers
from layer_rotation_tools import layca as layca_module
from layer_rotation_tools import transforms
from tests import references

INNERS = {
    "sgd": lambda: keras.optimizers.SGD(0.05),
    "sgd_momentum": lambda: keras.optimizers.SGD(0.05, momentum=0.9),
    "sgd_nesterov": lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: keras.optimizers.Adam(0.01),
    "rmsprop": lambda: keras.optimizers.RMSprop(0.01),
    "adagrad": lambda: keras.optimizers.Adagrad(0.05),
    "sgd_amom": lambda: SGDAMom(0.05),
}
SHAPES = {"dense_a": (5, 4), "conv_b": (3, 3, 2, 4)}


def _variables(values, names=SHAPES):
    variables = []
    for name, value in zip(names, values):
        with keras.name_scope(name):
            variables.append(keras.Variable(value, name="kernel"))
    return variables


def _problem(steps=4, seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.normal(size=shape).astype("float32") for shape in SHAPES.values()]
    grads = [[rng.normal(size=shape).astype("float32") for shape in SHAPES.values()] for _ in range(steps)]
    return init, grads


@pytest.mark.parametrize("grouped", [False, True], ids=["one_group", "a_group_each_by_rows"])
@pytest.mark.parametrize("jit_compile", [True, False])
@pytest.mark.parametrize("inner", INNERS)
def test_steps_equal_numpy_layca_of_the_inner_step_and_inner_state_advances_as_alone(
        inner, jit_compile, grouped, monkeypatch):
    # These inner optimizers' steps depend on gradients and state only, so the inner
    # optimizer run alone on a shadow copy gives the step s_t Layca must receive.
    # jit_compile (on TensorFlow: each group's update compiled by XLA) changes no result,
    # nor does stepping the kernels one group at a time (a model larger than GROUP_BYTES),
    # each written a row at a time where operations run eagerly (on PyTorch: kernels
    # larger than CHUNK_BYTES, whose steps are made and results written chunk by chunk).
    if grouped:
        monkeypatch.setattr(layca_module, "GROUP_BYTES", 1)
        monkeypatch.setattr(transforms, "CHUNK_BYTES", 1)
    init, grads = _problem()
    rho, multipliers = 0.2, {"dense_a": 1.0, "conv_b": 0.5}
    kernels = _variables(init)
    layca = Layca(INNERS[inner](), learning_rate=rho, multipliers=multipliers, jit_compile=jit_compile)
    alone = INNERS[inner]()
    shadow = [keras.Variable(w) for w in init]
    expected = [w.astype(np.float64) for w in init]
    for g in grads:
        before = [v.numpy() for v in shadow]
        alone.apply([keras.ops.convert_to_tensor(x) for x in g], shadow)  # torch's Keras optimizers take tensors
        steps = [b - v.numpy() for b, v in zip(before, shadow)]
        expected = [references.layca(e, s, rho * m) for e, s, m in zip(expected, steps, multipliers.values())]
        layca.apply(g, kernels)
    for kernel, want in zip(kernels, expected):
        np.testing.assert_allclose(kernel.numpy(), want, rtol=1e-4, atol=1e-5)
    assert len(layca.inner_optimizer.variables) == len(alone.variables)
    # rtol 1e-5, not 1e-6: on PyTorch the optimizer alone takes Keras' fused `_foreach` path,
    # which rounds m * momentum - lr * g once where `update_step` rounds each operation.
    for mine, theirs in zip(layca.inner_optimizer.variables, alone.variables):
        np.testing.assert_allclose(np.asarray(mine), np.asarray(theirs), rtol=1e-5)
    assert int(layca.iterations.numpy()) == int(layca.inner_optimizer.iterations.numpy()) == len(grads)


def test_memory_groups_cut_consecutive_variables_at_the_byte_limit():
    variables = [keras.Variable(np.zeros(shape, "float32")) for shape in [(4,), (2, 2), (10,), (1,), (1,)]]
    # 16, 16, 40, 4 and 4 bytes: a variable over the limit stands alone.
    assert layca_module.memory_groups(variables, limit=32) == [[0, 1], [2], [3, 4]]
    assert layca_module.memory_groups(variables, limit=2**24) == [[0, 1, 2, 3, 4]]
    assert layca_module.memory_groups([], limit=8) == []


def test_sgd_first_step_is_layca_of_the_gradient():
    init, grads = _problem(steps=1)
    kernels = _variables(init)
    Layca("sgd", learning_rate=0.3).apply(grads[0], kernels)
    for kernel, w, g in zip(kernels, init, grads[0]):
        np.testing.assert_allclose(kernel.numpy(), references.layca(w, g, 0.3), rtol=1e-5, atol=1e-6)


def test_adam_first_step_matches_adam_equations():
    init, grads = _problem(steps=1)
    kernels = _variables(init)
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    Layca(keras.optimizers.Adam(lr, beta_1=b1, beta_2=b2, epsilon=eps), learning_rate=0.1).apply(grads[0], kernels)
    for kernel, w, g in zip(kernels, init, grads[0]):
        g = g.astype(np.float64)
        m, v = (1 - b1) * g, (1 - b2) * g**2
        step = lr * np.sqrt(1 - b2) / (1 - b1) * m / (np.sqrt(v) + eps)
        np.testing.assert_allclose(kernel.numpy(), references.layca(w, step, 0.1), rtol=1e-5, atol=1e-6)


def _cnn():
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, use_bias=False, name="conv"),
            keras.layers.BatchNormalization(),
            keras.layers.SeparableConv2D(6, 3, name="sep"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax", name="head"),
        ]
    )


def test_every_kernel_rotates_by_its_rate_and_keeps_its_norm_in_a_model():
    model = _cnn()
    multipliers = alpha_multipliers(model, -0.4)
    layca = Layca(keras.optimizers.Adam(), learning_rate=0.05, multipliers=multipliers)
    model.compile(layca, "categorical_crossentropy")
    before = {v.path: v.numpy() for v in model.trainable_variables}
    x = np.random.default_rng(0).normal(size=(16, 8, 8, 3)).astype("float32")
    y = keras.utils.to_categorical(np.arange(16) % 3, 3)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    rates = {"conv": multipliers["conv"], "sep": multipliers["sep"], "head": multipliers["head"]}
    kernels = [v for v in model.trainable_variables if v.path.endswith("kernel")]
    assert len(kernels) == 4  # conv, depthwise, pointwise, dense
    for v in kernels:
        layer = v.path.split("/")[-2]
        assert references.tan_angle(before[v.path], v.numpy()) == pytest.approx(0.05 * rates[layer], rel=1e-3)
        assert np.linalg.norm(v.numpy()) == pytest.approx(np.linalg.norm(before[v.path]), rel=1e-6)
    for v in model.trainable_variables:
        if not v.path.endswith("kernel"):
            np.testing.assert_array_equal(v.numpy(), before[v.path])  # default: not updated


def test_train_non_kernels_gives_them_the_inner_step():
    bias_init = np.linspace(0.1, 0.5, 4).astype("float32")
    kernel_init, bias_grad = _problem(steps=1)[0][0], np.full(4, 2.0, "float32")
    with keras.name_scope("dense"):
        kernel, bias = keras.Variable(kernel_init, name="kernel"), keras.Variable(bias_init, name="bias")
    layca = Layca(keras.optimizers.SGD(0.1), train_non_kernels=True)
    layca.apply([np.ones_like(kernel_init), bias_grad], [kernel, bias])
    np.testing.assert_allclose(bias.numpy(), bias_init - 0.1 * bias_grad, rtol=1e-6)


def test_alpha_profile_multipliers_drive_each_layer_rate():
    model = _cnn()
    names = ["conv", "sep", "head"]
    assert list(alpha_multipliers(model, 0.6)) == names
    np.testing.assert_allclose(list(alpha_multipliers(model, 0.6).values()), references.alpha_profile(3, 0.6))


@pytest.mark.parametrize("rho, capped", [(0.001, False), (0.2, True)])
def test_lars_mode_matches_reference_with_growth_cap(rho, capped):
    init, grads = _problem(steps=3)
    if capped:  # steps pointing outwards: the norm would grow by rho ||p|| without the cap
        grads = [[-w for w in init]] * 3
    kernels = _variables(init)
    layca = Layca("sgd", learning_rate=rho, lars=True)
    expected = [w.astype(np.float64) for w in init]
    p0_norms = [np.linalg.norm(w) for w in init]
    for g in grads:
        expected = [references.lars(e, s, rho, n0) for e, s, n0 in zip(expected, g, p0_norms)]
        layca.apply(g, kernels)
    for kernel, want, w in zip(kernels, expected, init):
        np.testing.assert_allclose(kernel.numpy(), want, rtol=1e-5, atol=1e-6)
        growth = np.linalg.norm(kernel.numpy()) - np.linalg.norm(w)
        if capped:
            assert growth == pytest.approx(3 * 1e-4 * np.linalg.norm(w), rel=1e-2)
        else:  # LARS steps are not orthogonal to p: the norm may also shrink.
            assert growth < 3 * 1e-4 * np.linalg.norm(w)


@pytest.mark.parametrize("inner", ["sgd", "adam"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_gradients_leave_weights_finite_and_unchanged(inner, bad):
    init, grads = _problem(steps=1)
    kernels = _variables(init)
    layca = Layca(inner, learning_rate=0.1)
    layca.apply([np.full_like(g, bad) for g in grads[0]], kernels)
    for kernel, w in zip(kernels, init):
        np.testing.assert_array_equal(kernel.numpy(), w)
    assert all(np.all(np.isfinite(np.asarray(v))) for v in layca.inner_optimizer.variables)


def test_partly_nan_gradient_is_zeroed_not_propagated():
    init, grads = _problem(steps=1)
    g = grads[0][0].copy()
    g[0, 0] = np.nan
    kernel = _variables(init[:1])[0]
    Layca("sgd", learning_rate=0.1).apply([g], [kernel])
    np.testing.assert_allclose(kernel.numpy(), references.layca(init[0], np.nan_to_num(g, nan=0.0), 0.1), rtol=1e-5, atol=1e-6)


def test_zero_step_leaves_the_kernel_unchanged():
    kernel = _variables(_problem(steps=1)[0][:1])[0]
    before = kernel.numpy()
    Layca("sgd").apply([np.zeros_like(before)], [kernel])
    np.testing.assert_array_equal(kernel.numpy(), before)


def test_zero_norm_kernel_is_an_error_naming_it():
    with keras.name_scope("dead_layer"):
        kernel = keras.Variable(np.zeros((3, 2), "float32"), name="kernel")
    with pytest.raises(ValueError, match=r"dead_layer/kernel.*norm is 0"):
        Layca().build([kernel])


def test_unknown_and_ambiguous_layer_names_list_the_known_ones():
    kernels = _variables(_problem(steps=1)[0])
    with pytest.raises(ValueError, match=r"'nope'.*\['dense_a', 'conv_b'\]"):
        Layca(multipliers={"nope": 2.0}).build(kernels)
    with pytest.raises(ValueError, match=r"finite number >= 0"):
        Layca(multipliers={"dense_a": -1.0})


def test_bad_inner_optimizers_are_clear_errors():
    with pytest.raises(ValueError, match=r"optimizer='not_an_optimizer'.*'sgd_amom'"):
        Layca("not_an_optimizer")
    with pytest.raises(ValueError, match=r"weight_decay.*kernel_regularizer"):
        Layca(keras.optimizers.AdamW())
    with pytest.raises(ValueError, match=r"clipnorm.*on Layca"):
        Layca(keras.optimizers.SGD(clipnorm=1.0))
    with pytest.raises(ValueError, match=r"weight_decay"):
        Layca(weight_decay=1e-4)


def test_set_multipliers_after_build_changes_the_next_step():
    init, grads = _problem(steps=2)
    kernels = _variables(init)
    layca = Layca("sgd", learning_rate=0.1)
    layca.apply(grads[0], kernels)
    layca.set_multipliers({"conv_b": 0.25})
    before = [k.numpy() for k in kernels]
    layca.apply(grads[1], kernels)
    assert references.tan_angle(before[0], kernels[0].numpy()) == pytest.approx(0.1, rel=1e-4)
    assert references.tan_angle(before[1], kernels[1].numpy()) == pytest.approx(0.025, rel=1e-4)
    assert layca.multiplier_values() == {"dense_a": 1.0, "conv_b": 0.25}


def test_the_inner_optimizer_counts_the_steps_layca_counts():
    kernel = _variables(_problem(steps=1)[0][:1])[0]
    optimizer = Layca(keras.optimizers.Adam())
    gradient = np.ones_like(kernel.numpy())
    counts = []
    for grads in ([gradient], [], [gradient], []):
        optimizer.apply(grads, [kernel])
        counts.append((int(optimizer.iterations.numpy()), int(optimizer.inner_optimizer.iterations.numpy())))
    assert counts == [(1, 1), (1, 1), (2, 2), (2, 2)]


@pytest.mark.skipif(not hasattr(keras.optimizers, "Muon") or tuple(map(int, keras.__version__.split(".")[:2])) < (3, 12),
                    reason="this Keras has no Muon with adam_weight_decay")
def test_layca_on_muon_is_the_hyperball_recipe_and_muons_own_decays_are_refused():
    """Muon's orthogonalised step for each matrix kernel, then Layca's four operations (the
    numpy reference); a bias (train_non_kernels) takes Muon's AdamW step as Muon alone
    gives it; both of Muon's decays act in Optimizer.apply, which Layca does not call:
    refused, never silently dropped."""
    with pytest.raises(ValueError, match=r"weight_decay=0\.004"):
        Layca(keras.optimizers.Muon())
    with pytest.raises(ValueError, match=r"adam_weight_decay=0\.004.*Hyperball recipe"):
        Layca(keras.optimizers.Muon(weight_decay=None))
    rng = np.random.default_rng(0)
    shapes = {"kernel": (6, 4), "bias": (4,)}
    init = [rng.normal(size=shape).astype("float32") for shape in shapes.values()]
    grads = [[rng.normal(size=shape).astype("float32") for shape in shapes.values()] for _ in range(3)]

    def variables():
        with keras.name_scope("dense_m"):
            return [keras.Variable(value, name=name) for name, value in zip(shapes, init)]

    def muon():
        return keras.optimizers.Muon(learning_rate=0.02, weight_decay=None, adam_weight_decay=None)

    rho = 0.1
    layca, trained = Layca(muon(), learning_rate=rho, train_non_kernels=True), variables()
    alone, shadow = muon(), variables()
    expected_kernel = init[0].astype(np.float64)
    for g in grads:
        before = shadow[0].numpy()
        alone.apply([keras.ops.convert_to_tensor(x) for x in g], shadow)
        expected_kernel = references.layca(expected_kernel, before - shadow[0].numpy(), rho)
        layca.apply(g, trained)
        kernel = trained[0].numpy()
        np.testing.assert_allclose(trained[1].numpy(), shadow[1].numpy(), rtol=1e-5, atol=1e-6)  # AdamW path
    np.testing.assert_allclose(kernel, expected_kernel, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(kernel), np.linalg.norm(init[0]), rtol=1e-5)
