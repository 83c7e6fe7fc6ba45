"""Each Layca/LARS operation against its numpy equation."""

import numpy as np
import pytest
from keras import ops

from layer_rotation_tools import transforms
from tests import references

RNG = np.random.default_rng(0)
P = RNG.normal(size=(4, 5))
S = RNG.normal(size=(4, 5))


def _np(x):
    return np.asarray(ops.convert_to_numpy(x), dtype=np.float64)


def test_dot_products_are_the_float64_gram_matrix_even_for_tiny_float32_values():
    p, s = (P * 1e-30).astype(np.float32), (S * 1e25).astype(np.float32)
    a, b, c = (float(_np(x)) for x in transforms.dot_products(p, s))
    p64, s64 = p.astype(np.float64).ravel(), s.astype(np.float64).ravel()
    assert (a, b, c) == pytest.approx((p64 @ p64, s64 @ s64, s64 @ p64), rel=1e-14)


@pytest.mark.parametrize("step", [np.zeros_like(S), S * 1e-9, 3.0 * P], ids=["zero", "below-epsilon", "parallel"])
def test_layca_steps_that_cannot_rotate_leave_p_bit_for_bit(step):
    p = P.astype(np.float32)
    np.testing.assert_array_equal(_np(transforms.layca_update(p, step.astype(np.float32), 0.1)), p)


def test_lars_zero_step_leaves_p_bit_for_bit():
    p = P.astype(np.float32)
    np.testing.assert_array_equal(_np(transforms.lars_update(p, np.zeros_like(p), 0.1, 1e-4)), p)


@pytest.mark.parametrize("rho", [3.0**-7, 3.0**-3, 1.0, 9.0])
def test_layca_update_rotates_by_arctan_rho_and_keeps_the_norm(rho):
    new = _np(transforms.layca_update(ops.convert_to_tensor(P), ops.convert_to_tensor(S), rho))
    np.testing.assert_allclose(new, references.layca(P, S, rho), rtol=1e-10)
    assert references.tan_angle(P, new) == pytest.approx(rho, rel=1e-6)
    assert np.linalg.norm(new) == pytest.approx(np.linalg.norm(P), rel=1e-12)


@pytest.mark.parametrize("angle", [1e-4, 3.0**-7, 0.3, 1.2, 2.0])
def test_rotation_rate_is_tan_of_the_angle_also_for_tiny_angles_in_float32(angle):
    a = np.zeros(10, np.float32)
    a[0] = 2.0
    b = np.zeros(10, np.float32)
    b[0], b[1] = 3.0 * np.cos(angle), 3.0 * np.sin(angle)
    rate = float(ops.convert_to_numpy(transforms.rotation_rate(ops.convert_to_tensor(a), ops.convert_to_tensor(b))))
    assert rate == pytest.approx(abs(np.tan(angle)), rel=1e-4)


def test_cosine_distance_and_nan_guards():
    assert float(_np(transforms.cosine_distance(ops.convert_to_tensor(P), ops.convert_to_tensor(-P)))) == pytest.approx(2.0)
    x = ops.convert_to_tensor(np.array([1.0, np.nan, np.inf, -np.inf]))
    np.testing.assert_array_equal(_np(transforms.nan_to_zero(x)), [1.0, 0, 0, 0])
    np.testing.assert_array_equal(_np(transforms.keep_finite(x, ops.ones_like(x) * 7)), [1.0, 7, 7, 7])


@pytest.mark.parametrize("float32_first", [False, True])
@pytest.mark.parametrize("scale", [1e-30, 1e-20, 1e-3, 1e15, 1e30])
def test_tiny_and_huge_kernels_still_rotate_by_arctan_rho_in_float32(scale, float32_first):
    p = (P * scale).astype(np.float32)
    new = _np(transforms.layca_update(ops.convert_to_tensor(p), ops.convert_to_tensor(S.astype(np.float32)), 0.1,
                                      float32_first=float32_first))
    assert references.tan_angle(p, new) == pytest.approx(0.1, rel=1e-4)
    assert np.linalg.norm(new) == pytest.approx(np.linalg.norm(p.astype(np.float64)), rel=1e-5)
    lars = _np(transforms.lars_update(ops.convert_to_tensor(p), ops.convert_to_tensor(S.astype(np.float32)), 0.1,
                                      1e-4 * np.linalg.norm(p.astype(np.float64)) if scale < 1e30 else np.float32(1e26),
                                      float32_first=float32_first))
    np.testing.assert_allclose(lars / scale, references.lars(P, S, 0.1, np.linalg.norm(P)), rtol=1e-4, atol=1e-6)
    distance = float(_np(transforms.cosine_distance(ops.convert_to_tensor(p), ops.convert_to_tensor(new.astype(np.float32)))))
    assert distance == pytest.approx(references.cosine_distance(p, new), rel=1e-3)


def test_tiny_steps_below_the_threshold_are_zero_and_huge_steps_are_normalised():
    p = ops.convert_to_tensor(P.astype(np.float32))
    tiny = _np(transforms.layca_update(p, ops.convert_to_tensor((S * 1e-12).astype(np.float32)), 0.1))
    np.testing.assert_allclose(tiny, P, rtol=1e-6)
    huge = _np(transforms.layca_update(p, ops.convert_to_tensor((S * 1e30).astype(np.float32)), 0.1))
    np.testing.assert_allclose(huge, references.layca(P, S, 0.1), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("float32_first", [False, True])
@pytest.mark.parametrize("tilt", [1.0, 1e-2, 1e-4], ids=["general", "nearly-parallel", "almost-parallel"])
def test_float32_kernels_rotate_precisely_on_both_paths(tilt, float32_first):
    """With float32_first, general steps take the float32 path, steps within ~6 degrees
    of p the float64 one; without, every step the float64 one."""
    p, step = P.astype(np.float32), (P + tilt * S).astype(np.float32)
    new = _np(transforms.layca_update(p, step, 0.1, float32_first=float32_first))
    np.testing.assert_allclose(new, references.layca(p, step, 0.1), rtol=1e-5, atol=1e-6)
    assert references.tan_angle(p, new) == pytest.approx(0.1, rel=1e-4)
