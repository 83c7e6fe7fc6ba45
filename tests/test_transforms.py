"""Each Layca/LARS operation against its numpy equation."""

import keras
import numpy as np
import pytest
from keras import ops

from layer_rotation_tools import backend, transforms
from tests import references

RNG = np.random.default_rng(0)
P = RNG.normal(size=(4, 5))
S = RNG.normal(size=(4, 5))


def _np(x):
    return np.asarray(ops.convert_to_numpy(x), dtype=np.float64)


def _layca(p, step, rho, **options):
    return transforms.layca_updates([p], [step], rho, **options)[0]


def _lars(p, step, rho, max_growth, **options):
    return transforms.lars_updates([p], [step], rho, max_growth, **options)[0]


def test_dot_products_are_the_float64_gram_matrix_even_for_tiny_float32_values():
    p, s = (P * 1e-30).astype(np.float32), (S * 1e25).astype(np.float32)
    a, b, c = (float(_np(x)[0]) for x in transforms.stacked_dot_products([p], [s]))
    p64, s64 = p.astype(np.float64).ravel(), s.astype(np.float64).ravel()
    assert (a, b, c) == pytest.approx((p64 @ p64, s64 @ s64, s64 @ p64), rel=1e-14)


@pytest.mark.parametrize("step", [np.zeros_like(S), S * 1e-9, 3.0 * P], ids=["zero", "below-epsilon", "parallel"])
def test_layca_steps_that_cannot_rotate_leave_p_bit_for_bit(step):
    p = P.astype(np.float32)
    np.testing.assert_array_equal(_np(_layca(p, step.astype(np.float32), 0.1)), p)


def test_lars_zero_step_leaves_p_bit_for_bit():
    p = P.astype(np.float32)
    np.testing.assert_array_equal(_np(_lars(p, np.zeros_like(p), 0.1, 1e-4)), p)


@pytest.mark.parametrize("rho", [3.0**-7, 3.0**-3, 1.0, 9.0])
def test_layca_update_rotates_by_arctan_rho_and_keeps_the_norm(rho):
    new = _np(_layca(ops.convert_to_tensor(P), ops.convert_to_tensor(S), rho))
    np.testing.assert_allclose(new, references.layca(P, S, rho), rtol=1e-10)
    assert references.tan_angle(P, new) == pytest.approx(rho, rel=1e-6)
    assert np.linalg.norm(new) == pytest.approx(np.linalg.norm(P), rel=1e-12)


@pytest.mark.parametrize("norm_after", [2.0, 3.0], ids=["rotated", "rotated_and_grown"])
@pytest.mark.parametrize("angle", [1e-4, 3.0**-7, 0.3, 1.2, 2.0])
def test_rotation_rate_is_tan_of_the_angle_also_for_tiny_angles_in_float32(angle, norm_after):
    # Grown by half its norm, a kernel's change lies within ~6 degrees of its direction
    # for small angles, where the float32 products would cancel (float64 is taken there).
    a = np.zeros(10, np.float32)
    a[0] = 2.0
    b = np.zeros(10, np.float32)
    b[0], b[1] = norm_after * np.cos(angle), norm_after * np.sin(angle)
    rate = float(_np(transforms.rotation_rates([a], [b])[0]))
    assert rate == pytest.approx(abs(np.tan(angle)), rel=1e-4)


def test_cosine_distance_and_nan_guards():
    assert float(_np(transforms.cosine_distances([P], [-P])[0])) == pytest.approx(2.0)
    x = ops.convert_to_tensor(np.array([1.0, np.nan, np.inf, -np.inf]))
    np.testing.assert_array_equal(_np(transforms.nan_to_zero(x)), [1.0, 0, 0, 0])
    np.testing.assert_array_equal(_np(transforms.keep_finite(x, ops.ones_like(x) * 7)), [1.0, 7, 7, 7])


@pytest.mark.parametrize("scale", [1e-30, 1e-20, 1e-3, 1e15, 1e30])
def test_tiny_and_huge_kernels_still_rotate_by_arctan_rho_in_float32(scale):
    p = (P * scale).astype(np.float32)
    new = _np(_layca(ops.convert_to_tensor(p), ops.convert_to_tensor(S.astype(np.float32)), 0.1))
    assert references.tan_angle(p, new) == pytest.approx(0.1, rel=1e-4)
    assert np.linalg.norm(new) == pytest.approx(np.linalg.norm(p.astype(np.float64)), rel=1e-5)
    lars = _np(_lars(ops.convert_to_tensor(p), ops.convert_to_tensor(S.astype(np.float32)), 0.1,
                     1e-4 * np.linalg.norm(p.astype(np.float64)) if scale < 1e30 else np.float32(1e26)))
    np.testing.assert_allclose(lars / scale, references.lars(P, S, 0.1, np.linalg.norm(P)), rtol=1e-4, atol=1e-6)
    distance = float(_np(transforms.cosine_distances([p], [new.astype(np.float32)])[0]))
    assert distance == pytest.approx(references.cosine_distance(p, new), rel=1e-3)


def test_tiny_steps_below_the_threshold_are_zero_and_huge_steps_are_normalised():
    p = ops.convert_to_tensor(P.astype(np.float32))
    tiny = _np(_layca(p, ops.convert_to_tensor((S * 1e-12).astype(np.float32)), 0.1))
    np.testing.assert_allclose(tiny, P, rtol=1e-6)
    huge = _np(_layca(p, ops.convert_to_tensor((S * 1e30).astype(np.float32)), 0.1))
    np.testing.assert_allclose(huge, references.layca(P, S, 0.1), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("tilt", [1.0, 1e-2, 1e-4], ids=["general", "nearly-parallel", "almost-parallel"])
def test_float32_kernels_rotate_precisely_on_both_paths(tilt):
    """General steps take the float32 path, steps within ~6 degrees of p the float64 one."""
    p, step = P.astype(np.float32), (P + tilt * S).astype(np.float32)
    new = _np(_layca(p, step, 0.1))
    np.testing.assert_allclose(new, references.layca(p, step, 0.1), rtol=1e-5, atol=1e-6)
    assert references.tan_angle(p, new) == pytest.approx(0.1, rel=1e-4)


def _eager(fn, *args, **options):
    return fn(*args, **options)


def _compiled(fn, *args, **options):
    """fn(*args, **options) in a compiled function (`backend.compiled`: jax.jit, tf.function;
    eagerly on PyTorch); under jax.jit, float64 sums of kernels of several chunks of rows
    are taken in a loop (`transforms._looped_totals`)."""
    return backend.compiled(lambda *tensors: fn(*tensors, **options))(*args)


@pytest.mark.parametrize("parallel", [False, True], ids=["float32", "float64"])
def test_many_kernels_at_once_each_rotate_as_alone(parallel, chunking):
    """Kernels of different shapes, scales and rates, updated in one call: each as its
    own equation gives it. With a step almost parallel to its kernel, a kernel of norm
    1e-30 or 1e30, or a zero step, every kernel is updated in float64."""
    _check_many_kernels(parallel, _eager)


@pytest.mark.parametrize("chunk_bytes", [1, 80, None], ids=["row", "rows-and-rest", "whole"])
@pytest.mark.parametrize("parallel", [False, True], ids=["float32", "float64"])
def test_compiled_updates_and_measures_are_the_equations_with_sums_over_chunks_of_rows(parallel, chunk_bytes,
                                                                                      monkeypatch):
    """The same kernels per kernel and per unit, in compiled functions: float64 sums taken
    in a loop a row at a time, two rows at a time with rows left over (`CHUNK_BYTES` of
    80: 5 rows of (6, 2) and 2 of (5, 4), each with one row left over) or whole, as the
    equations give them."""
    if chunk_bytes is not None:
        monkeypatch.setattr(transforms, "CHUNK_BYTES", chunk_bytes)
    _check_many_kernels(parallel, _compiled)
    _check_per_unit(parallel, _compiled)


@pytest.mark.tensorflow
@pytest.mark.parametrize("window", [3, 32], ids=["windows-and-rest", "rest-only"])
@pytest.mark.parametrize("parallel", [False, True], ids=["float32", "float64"])
def test_updates_and_measures_in_a_function_xla_compiles_are_the_equations_with_sums_in_windows(
        parallel, window, monkeypatch):
    """The same kernels per kernel and per unit, in a TensorFlow function that XLA compiles,
    where every sum is taken over axes of at most `SUM_WINDOW` elements
    (`transforms._windowed_total`) and in float64. Of at most 3: the 20 elements of a
    (4, 5) kernel (a prime factor 5) in 6 windows of 3 and 2 elements left over, its 4 rows
    per unit in 1 window and 1 row left over; of at most 32: every total as its factors,
    every unit's rows left over."""
    import tensorflow as tf

    monkeypatch.setattr(transforms, "SUM_WINDOW", window)

    def xla(fn, *args, **options):
        return tf.function(lambda *tensors: fn(*tensors, **options), jit_compile=True)(*args)

    _check_many_kernels(parallel, xla)
    _check_per_unit(parallel, xla)


@pytest.mark.parametrize("per_unit", [False, True], ids=["total", "per_unit"])
@pytest.mark.parametrize("shape", [(4, 5), (7, 3), (9, 2), (2, 3, 2), (2,)])
def test_windowed_total_is_the_sum(shape, per_unit, monkeypatch):
    """`_windowed_total` over axes of at most 3 elements: totals of a count with a prime
    factor above 3 (20 and 21 elements) and every unit's rows (4, 7, 9, 6 and 1) in windows
    of 3 and the rows left over; the other totals (18, 12 and 2 elements) as their
    factors."""
    monkeypatch.setattr(transforms, "SUM_WINDOW", 3)
    x = RNG.normal(size=shape)
    expected = x.reshape(-1, shape[-1]).sum(axis=0) if per_unit else x.sum()
    np.testing.assert_allclose(_np(transforms._windowed_total(ops.convert_to_tensor(x, "float64"), per_unit)),
                               expected, rtol=1e-12)


def _check_many_kernels(parallel, run):
    shapes, rates = [(4, 5), (3,), (2, 3, 2), (6, 2), (5, 4)], [0.1, 0.5, 1.0, 3.0**-3, 0.2]
    scales = [1e-30, 1.0, 1e30, 1e-3, 2.0] if parallel else [1e-3, 1.0, 1e3, 1e-2, 2.0]
    ps = [(RNG.normal(size=shape) * scale).astype(np.float32) for shape, scale in zip(shapes, scales)]
    steps = [RNG.normal(size=shape).astype(np.float32) for shape in shapes]
    if parallel:
        steps[3] = (ps[3] + 1e-4 * 1e-3 * steps[3]).astype(np.float32)  # within 1e-4 rad of p's direction
        steps[4] = np.zeros_like(ps[4])
    news = run(transforms.layca_updates, ps, steps, ops.convert_to_tensor(rates, "float64"))
    for p, step, rate, new in zip(ps, steps, rates, news):
        assert keras.backend.standardize_dtype(new.dtype) == "float32"
        expected = references.layca(p, step, rate)
        np.testing.assert_allclose(_np(new), expected, rtol=1e-5, atol=1e-6 * np.abs(p).max())
    if parallel:
        np.testing.assert_array_equal(_np(news[4]), ps[4])
    moved = [float(np.any(_np(new) != p)) for p, new in zip(ps, news)]
    rotation = _np(run(transforms.rotation_rates, ps, news))
    np.testing.assert_allclose(rotation, np.multiply(rates, moved), rtol=1e-4, atol=1e-7)
    distances = [references.cosine_distance(p, _np(new)) for p, new in zip(ps, news)]
    np.testing.assert_allclose(_np(run(transforms.cosine_distances, ps, news)), distances, rtol=1e-3, atol=1e-7)
    squared_norms = [float(np.sum(p.astype(np.float64) ** 2)) for p in ps]
    np.testing.assert_allclose(_np(transforms.squared_norms(ps)), squared_norms, rtol=1e-12)
    known = run(transforms.cosine_distances, ps, news, ops.convert_to_tensor(squared_norms, "float64"))
    np.testing.assert_allclose(_np(known), distances, rtol=1e-3, atol=1e-7)
    norms = [np.linalg.norm(p.astype(np.float64)) for p in ps]
    lars = run(transforms.lars_updates, ps, steps, ops.convert_to_tensor(rates, "float64"),
               1e-4 * ops.convert_to_tensor(norms, "float64"))
    for p, step, rate, p_norm, new in zip(ps, steps, rates, norms, lars):
        expected = references.lars(p, step, rate, p_norm)
        np.testing.assert_allclose(_np(new), expected, rtol=1e-4, atol=1e-6 * np.abs(p).max())


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_rotation_rate_of_half_precision_kernels_is_the_tan_between_their_values(dtype):
    # The change y - x is taken in float32: in the kernels' own precision it would keep
    # about 3 significant digits of itself (bfloat16), and so would the rate.
    import ml_dtypes

    rng = np.random.default_rng(0)
    numpy_dtype = {"bfloat16": ml_dtypes.bfloat16, "float16": np.float16}[dtype]
    x = rng.normal(size=(64, 32)).astype(numpy_dtype)
    y = (x.astype(np.float64) + 3e-3 * rng.normal(size=(64, 32))).astype(numpy_dtype)
    rate = float(_np(transforms.rotation_rates([ops.convert_to_tensor(x)], [ops.convert_to_tensor(y)])[0]))
    assert rate == pytest.approx(references.tan_angle(x.astype(np.float64), y.astype(np.float64)), rel=1e-5)


def _units(x):
    x = np.asarray(x, np.float64)
    return x.reshape(-1, x.shape[-1]).T  # one row per output unit


@pytest.mark.parametrize("parallel", [False, True], ids=["float32", "float64"])
def test_per_unit_updates_and_measures_of_many_kernels_are_each_units_own(parallel, chunking):
    """Per output unit, in one call: each unit's update, rate, distance and norm as the
    numpy equation gives it for that unit alone. With one unit's step almost parallel to
    its weights, or a kernel of norm 1e-30 or 1e30, every sum is taken in float64."""
    _check_per_unit(parallel, _eager)


def _check_per_unit(parallel, run):
    shapes, rates = [(4, 5), (2, 3, 2), (6, 3)], [0.1, 1.0, 3.0**-3]
    scales = [1e-30, 1e30, 1.0] if parallel else [1e-3, 1e3, 1.0]
    ps = [(RNG.normal(size=shape) * scale).astype(np.float32) for shape, scale in zip(shapes, scales)]
    steps = [RNG.normal(size=shape).astype(np.float32) for shape in shapes]
    steps[2][:, 1] = 0.0  # a unit that does not move
    if parallel:
        steps[2][:, 0] = ps[2][:, 0] + 1e-4 * steps[2][:, 0]  # within 1e-4 rad of its unit's direction
    news = run(transforms.layca_updates, ps, steps, ops.convert_to_tensor(rates, "float64"), per_unit=True)
    for p, step, rate, new in zip(ps, steps, rates, news):
        expected = references.per_unit(references.layca, p, step, rate)
        np.testing.assert_allclose(_np(new), expected, rtol=1e-5, atol=1e-6 * np.abs(p).max())
    np.testing.assert_array_equal(_np(news[2])[:, 1], ps[2][:, 1])
    pairs = list(zip(ps, news))
    tangents = np.concatenate([[references.tan_angle(u, v) for u, v in zip(_units(p), _units(_np(n)))]
                               for p, n in pairs])
    np.testing.assert_allclose(_np(run(transforms.rotation_rates, ps, news, per_unit=True)), tangents, rtol=1e-4,
                               atol=1e-7)
    distances = np.concatenate([[references.cosine_distance(u, v) for u, v in zip(_units(p), _units(_np(n)))]
                                for p, n in pairs])
    unit_squares = np.concatenate([np.sum(_units(p) ** 2, axis=1) for p in ps])
    np.testing.assert_allclose(_np(transforms.squared_norms(ps, per_unit=True)), unit_squares, rtol=1e-12)
    for known in (None, ops.convert_to_tensor(unit_squares, "float64")):
        np.testing.assert_allclose(_np(run(transforms.cosine_distances, ps, news, known, per_unit=True)),
                                   distances, rtol=1e-3, atol=1e-7)
    quantiles = _np(transforms.unit_quantiles(ops.convert_to_tensor(tangents, "float64"), ps, (0.0, 0.3, 1.0)))
    counts = np.cumsum([0] + [p.shape[-1] for p in ps])
    np.testing.assert_allclose(quantiles, [np.quantile(tangents[a:b], (0.0, 0.3, 1.0))
                                           for a, b in zip(counts[:-1], counts[1:])], rtol=1e-12)
    growths = 1e-4 * np.concatenate([np.linalg.norm(_units(p), axis=1) for p in ps])
    lars = run(transforms.lars_updates, ps, steps, ops.convert_to_tensor(rates, "float64"),
               ops.convert_to_tensor(growths, "float64"), per_unit=True)
    for p, step, rate, new, start in zip(ps, steps, rates, lars, counts):
        expected = references.per_unit(references.lars, p, step, rate, growths[start:start + p.shape[-1]] / 1e-4)
        np.testing.assert_allclose(_np(new), expected, rtol=1e-4, atol=1e-6 * np.abs(p).max())


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="tensors are written in place on PyTorch only")
@pytest.mark.parametrize("per_unit", [False, True], ids=["per_kernel", "per_unit"])
@pytest.mark.parametrize("parallel", [False, True], ids=["float32", "float64"])
def test_updates_written_in_place_over_the_proposed_values_equal_those_returned(parallel, per_unit, chunking):
    """Written into the tensors that hold the proposed values q_i (`into`), each step
    s_i = p_i - q_i made from each chunk of rows before it is written over: Layca's and
    LARS' results are the numpy equations', on the float32 and float64 paths, per kernel
    and per unit, whole or a row at a time."""
    import torch

    shapes, rates = [(4, 5), (2, 3, 2), (6, 3)], [0.1, 1.0, 3.0**-3]
    scales = [1e-30, 1e30, 1.0] if parallel else [1e-3, 1e3, 1.0]
    ps = [(RNG.normal(size=shape) * scale).astype(np.float32) for shape, scale in zip(shapes, scales)]
    proposed = [(p - RNG.normal(size=p.shape) * np.abs(p).max()).astype(np.float32) for p in ps]
    proposed[2][:, 1] = ps[2][:, 1]  # a unit (a part of a kernel) that does not move
    proposed[2][3, 0] = np.nan  # NaN steps count as zero
    steps = [np.nan_to_num(p.astype(np.float64) - q, nan=0.0) for p, q in zip(ps, proposed)]
    p_norms = [np.linalg.norm(_units(p), axis=1) if per_unit else np.linalg.norm(p.astype(np.float64)) for p in ps]
    max_growths = ops.convert_to_tensor(1e-4 * (np.concatenate(p_norms) if per_unit else np.array(p_norms)), "float64")

    def equation(update, p, step, *args):
        p = p.astype(np.float64)
        return references.per_unit(update, p, step, *args) if per_unit else update(p, step, *args)

    def layca(into):
        return transforms.layca_updates(ps, transforms.descent_steps(ps, into), rates, per_unit=per_unit, into=into)

    def lars(into):
        return transforms.lars_updates(ps, transforms.descent_steps(ps, into), rates, max_growths, per_unit=per_unit,
                                       into=into)

    expected = {layca: [equation(references.layca, *case) for case in zip(ps, steps, rates)],
                lars: [equation(references.lars, *case) for case in zip(ps, steps, rates, p_norms)]}
    for update, results in expected.items():
        into = [torch.tensor(q) for q in proposed]
        assert update(into) is None
        for target, want, p in zip(into, results, ps):
            np.testing.assert_allclose(_np(target), want, rtol=1e-4, atol=1e-6 * np.abs(p).max())
