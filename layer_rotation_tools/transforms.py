"""Layca and LARS, and the layer-rotation measures, in `keras.ops`.

Notation follows Algorithm 2 of the extended paper (Carbonnelle & De Vleeschouwer,
"Layer rotation: a surprisingly powerful indicator of generalization in deep networks?",
arXiv:1806.01603, Supp. A.4): `p` is a layer's kernel w_t^l and `s` the step s_t^l
proposed by an optimizer, written as a *descent* step (the optimizer alone would set
p' = p - s). Norms and dot products are taken over all elements (the flattened kernel).
Steps must be finite (Layca passes them through `nan_to_zero`).

Both updates are linear in p and s: p' = alpha p + beta s, with scalar coefficients
that depend only on the three dot products a = p.p, b = s.s and c = s.p. So each update
is three reductions, a few scalar operations and one combination (`linear_update`).
The reductions and the combination run in float64, where the product of two float32
numbers is exact and the squares of any float32 (1e-90 to 1e77) neither underflow nor
overflow: kernels and steps with norms like 1e-30 or 1e30, and steps nearly parallel to
the kernel, rotate as precisely as any other. Compiled by XLA (Layca's update on every
backend but PyTorch), the casts fuse into the passes over the kernel, which read and
write the kernel's own dtype: float64 costs no extra pass, where a choice between
float32 and float64 (a `cond`) would split the fusion. Run operation by operation
(PyTorch), float32 is taken first where it is accurate (`linear_update`).
"""

import keras
from keras import ops

#: Threshold under which a step counts as zero (`||s|| <= 1e-7`, the authors' code).
STEP_EPSILON = 1e-7
#: A step whose part orthogonal to p has ||s_perp||^2 <= PARALLEL_TOLERANCE ||s||^2 is
#: treated as zero: its direction is below the float64 resolution of b - c^2 / a.
PARALLEL_TOLERANCE = 1e-10


def norm(x):
    """Euclidean norm of the flattened tensor, ||x||_2."""
    return ops.sqrt(ops.sum(ops.square(x)))


def nan_to_zero(x):
    """Replace NaN and +-Inf by 0 (the authors' recommendation, Supp. A.2 of
    arXiv:1806.01603v1: "Replacing eventual NaN values in the update with zeros is
    required")."""
    return ops.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)  # one fused pass on every backend


def keep_finite(new, old):
    """Element-wise `new` where finite, else `old`: a non-finite step becomes a zero step."""
    return ops.where(ops.isfinite(new), new, old)


def dot_products(x, y, dtype="float64"):
    """(x.x, y.y, x.y) of the flattened tensors, computed in `dtype`, as float64."""
    x, y = ops.cast(x, dtype), ops.cast(y, dtype)
    return tuple(ops.cast(d, "float64") for d in (ops.sum(ops.square(x)), ops.sum(ops.square(y)), ops.sum(x * y)))


def in_float32_range(a, b):
    """Whether two squared norms lie far from float32's underflow and overflow
    (1e-20 < a, b < 1e30), so that float32 sums of squares and products are accurate."""
    return ops.logical_and(ops.logical_and(a > 1e-20, a < 1e30), ops.logical_and(b > 1e-20, b < 1e30))


def float32_suffices(a, b, c):
    """Whether dot products taken in float32 give the coefficients accurately: a and b
    `in_float32_range`, and s not within ~6 degrees of p's direction
    (||s_perp||^2 > 0.01 ||s||^2), where b - c^2 / a would cancel."""
    return ops.logical_and(in_float32_range(a, b), b - c * (c / a) > 0.01 * b)


def linear_update(p, step, coefficients, float32_first=False):
    """p' = alpha p + beta s, with (alpha, beta) = coefficients(a, b, c) of the float64 dot
    products, combined in float64 and returned in p's dtype.

    With `float32_first`, for float32 kernels, the dot products and the combination are
    taken in float32 where `float32_suffices`, and in float64 only otherwise (a `cond`):
    fewer operations where they run one by one (PyTorch; TensorFlow without XLA), where
    every cast to float64 is a pass over the kernel of its own. Under XLA the casts fuse
    into the passes and the cond would split the fusion, so float64 throughout is faster.
    """
    def update(dtype, dots):
        alpha, beta = coefficients(*dots)
        return ops.cast(ops.cast(alpha, dtype) * ops.cast(p, dtype) + ops.cast(beta, dtype) * ops.cast(step, dtype), p.dtype)

    if not float32_first or keras.backend.standardize_dtype(p.dtype) != "float32":
        return update("float64", dot_products(p, step))
    dots = dot_products(p, step, "float32")
    return ops.cond(
        float32_suffices(*dots), lambda: update("float32", dots), lambda: update("float64", dot_products(p, step))
    )


def layca_coefficients(a, b, c, rate, epsilon=STEP_EPSILON):
    """(alpha, beta) such that the four operations of Layca (Algorithm 2 of
    arXiv:1806.01603),

        s  <- s - (s . p) p / ||p||^2        (1: project)
        s  <- s ||p|| / ||s||                (2: rotation-based normalisation; 0 if ||s|| <= epsilon)
        p' <- p - rho s                      (3: update)
        p' <- p' ||p|| / ||p'||              (4: back on the sphere)

    give p' = alpha p + beta s. Operation 1 leaves s_perp with ||s_perp||^2 = b - c^2/a;
    operation 3 adds to p a vector orthogonal to p, of norm rho ||p||, so that
    ||p - rho s|| = ||p|| sqrt(1 + rho^2) and operation 4 divides by sqrt(1 + rho^2).
    With k = rho ||p|| / ||s_perp||:

        alpha = (1 + k c / a) / sqrt(1 + rho^2),   beta = -k / sqrt(1 + rho^2),

    and (alpha, beta) = (1, 0) when the step counts as zero (||s_perp|| <= epsilon, or
    s parallel to p within PARALLEL_TOLERANCE) or a coefficient is not finite.
    """
    rate = ops.convert_to_tensor(rate, "float64")
    perp_squared = b - c * (c / a)
    moves = ops.logical_and(perp_squared > PARALLEL_TOLERANCE * b, perp_squared > epsilon**2)
    k = rate * ops.sqrt(a / ops.where(moves, perp_squared, ops.ones_like(b)))
    shrink = ops.sqrt(1.0 + ops.square(rate))
    return _unless_still(moves, (1.0 + k * (c / a)) / shrink, -k / shrink)


def lars_coefficients(a, b, c, rate, max_growth):
    """(alpha, beta) such that Layca without operations 1 and 4, i.e. LARS / NG_adap
    (Supp. A.4 of arXiv:1806.01603), as in the authors' code,

        s  <- s ||p|| / ||s||     (a zero step stays zero)
        p' <- p - rho s
        p' <- p' (||p|| + g) / ||p'||   if ||p'|| - ||p|| > g,  g = max_growth

    gives p' = alpha p + beta s. With k = rho ||p|| / ||s||, ||p - k s||^2 = a - 2 k c + k^2 b
    and gamma = min(1, (||p|| + g) / ||p - k s||): alpha = gamma, beta = -gamma k.
    `max_growth` is 1e-4 ||p_0|| in the papers (p_0: the kernel at the start of training).
    """
    rate = ops.convert_to_tensor(rate, "float64")
    moves = b > 0
    k = rate * ops.sqrt(a / ops.where(moves, b, ops.ones_like(b)))
    p_norm = ops.sqrt(a)
    squared = a - 2.0 * k * c + ops.square(k) * b
    # ops.where, not ops.maximum: Keras 3.15's torch maximum demotes float64 to float32
    # (keras-team/keras#23223), which zeroes the squared norms of kernels below 1e-23.
    new_norm = ops.sqrt(ops.where(squared > 0, squared, ops.zeros_like(squared)))
    limit = p_norm + ops.convert_to_tensor(max_growth, "float64")
    gamma = ops.where(new_norm > limit, limit / new_norm, ops.ones_like(new_norm))
    return _unless_still(moves, gamma, -gamma * k)


def _unless_still(moves, alpha, beta):
    """(alpha, beta), or (1, 0), which gives p back bit for bit, where the kernel must
    not move (a zero step, or coefficients that are not finite)."""
    moves = ops.logical_and(moves, ops.logical_and(ops.isfinite(alpha), ops.isfinite(beta)))
    return ops.where(moves, alpha, ops.ones_like(alpha)), ops.where(moves, beta, ops.zeros_like(beta))


def layca_update(p, step, rate, epsilon=STEP_EPSILON, float32_first=False):
    """Layca's p' (see `layca_coefficients`): tan(angle(p, p')) == rho and ||p'|| == ||p||;
    p itself, bit for bit, when the step is zero. `float32_first`: see `linear_update`."""
    return linear_update(p, step, lambda a, b, c: layca_coefficients(a, b, c, rate, epsilon), float32_first)


def lars_update(p, step, rate, max_growth, float32_first=False):
    """LARS' p' (see `lars_coefficients`); p itself, bit for bit, when the step is zero."""
    return linear_update(p, step, lambda a, b, c: lars_coefficients(a, b, c, rate, max_growth), float32_first)


def cosine_distance(x, y):
    """Layer rotation (Section 3.1 of arXiv:1806.01603): 1 - x.y / (||x|| ||y||).

    Dot products in float32 (absolute error about 1e-8, what float32 kernels resolve)
    when the norms are `in_float32_range`, else in float64.
    """
    def distance(xx, yy, xy):
        return 1.0 - xy / ops.sqrt(xx * yy)

    dots = dot_products(x, y, "float32")
    return ops.cond(in_float32_range(dots[0], dots[1]), lambda: distance(*dots), lambda: distance(*dot_products(x, y)))


def rotation_rate(previous, current):
    """Per-step layer rotation rate: tan of the angle between two kernels, in float64.

    Equal to sqrt(1 / (1 - d)^2 - 1) with d = cosine_distance(previous, current), the
    authors' formula, but computed as tan = sqrt(a b - c^2) / |c| (a = x.x, b = y.y,
    c = x.y), whose float64 cancellation keeps small angles (1e-4 and below) precise
    where 1 - d, rounded near 1, would not.
    """
    aa, bb, ab = dot_products(previous, current)
    gap = aa * bb - ab * ab
    return ops.sqrt(ops.where(gap > 0, gap, ops.zeros_like(gap))) / ops.abs(ab)  # not maximum: see lars_coefficients
