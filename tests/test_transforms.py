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


def test_projection_is_orthogonal_to_p():
    projected = _np(transforms.project_orthogonal(ops.convert_to_tensor(S), ops.convert_to_tensor(P)))
    np.testing.assert_allclose(projected, S - (S * P).sum() / (P * P).sum() * P, rtol=1e-12)
    assert abs((projected * P).sum()) < 1e-12


def test_normalisation_gives_the_norm_of_p_and_zeroes_tiny_steps():
    normalized = _np(transforms.normalize_rotation(ops.convert_to_tensor(S), np.linalg.norm(P)))
    assert np.linalg.norm(normalized) == pytest.approx(np.linalg.norm(P))
    assert not np.any(_np(transforms.normalize_rotation(ops.convert_to_tensor(S * 1e-9), 1.0)))


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


@pytest.mark.parametrize("scale", [1e-30, 1e-20, 1e-3, 1e15, 1e30])
def test_tiny_and_huge_kernels_still_rotate_by_arctan_rho_in_float32(scale):
    p = (P * scale).astype(np.float32)
    new = _np(transforms.layca_update(ops.convert_to_tensor(p), ops.convert_to_tensor(S.astype(np.float32)), 0.1))
    assert references.tan_angle(p, new) == pytest.approx(0.1, rel=1e-4)
    assert np.linalg.norm(new) == pytest.approx(np.linalg.norm(p.astype(np.float64)), rel=1e-5)
    lars = _np(transforms.lars_update(ops.convert_to_tensor(p), ops.convert_to_tensor(S.astype(np.float32)), 0.1,
                                      1e-4 * np.linalg.norm(p.astype(np.float64)) if scale < 1e30 else np.float32(1e26)))
    np.testing.assert_allclose(lars / scale, references.lars(P, S, 0.1, np.linalg.norm(P)), rtol=1e-4, atol=1e-6)
    distance = float(_np(transforms.cosine_distance(ops.convert_to_tensor(p), ops.convert_to_tensor(new.astype(np.float32)))))
    assert distance == pytest.approx(references.cosine_distance(p, new), rel=1e-3)


def test_tiny_steps_below_the_threshold_are_zero_and_huge_steps_are_normalised():
    p = ops.convert_to_tensor(P.astype(np.float32))
    tiny = _np(transforms.layca_update(p, ops.convert_to_tensor((S * 1e-12).astype(np.float32)), 0.1))
    np.testing.assert_allclose(tiny, P, rtol=1e-6)
    huge = _np(transforms.layca_update(p, ops.convert_to_tensor((S * 1e30).astype(np.float32)), 0.1))
    np.testing.assert_allclose(huge, references.layca(P, S, 0.1), rtol=1e-4, atol=1e-6)
