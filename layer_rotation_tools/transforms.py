"""The operations of Layca and LARS, one transformation per function, in `keras.ops`.

Notation follows Algorithm 2 of the extended paper (Carbonnelle & De Vleeschouwer,
"Layer rotation: a surprisingly powerful indicator of generalization in deep networks?",
arXiv:1806.01603, Supp. A.4): `p` is a layer's kernel w_t^l and `step` the step s_t^l
proposed by an optimizer, written as a *descent* step (the optimizer alone would set
p' = p - step). Every function works on tensors of any shape: norms and dot products
are taken over all elements, i.e. over the flattened kernel.

All operations are invariant to the scale of p (Layca(c p, s) = c Layca(p, s) for c > 0)
and normalise the step, so they work on x / max|x| and scale back: kernels and steps
with norms like 1e-20 or 1e20 would otherwise underflow or overflow in float32 sums of
squares and silently stop rotating.
"""

from keras import ops

#: Threshold under which a step counts as zero (`||s|| <= 1e-7`, the authors' code).
STEP_EPSILON = 1e-7


def norm(x):
    """Euclidean norm of the flattened tensor, ||x||_2."""
    return ops.sqrt(ops.sum(ops.square(x)))


def max_scaled(x):
    """(x / max|x|, max|x|), with max|x| taken as 1 for an all-zero x."""
    scale = ops.max(ops.abs(x))
    scale = ops.where(scale > 0, scale, ops.ones_like(scale))
    return x / scale, scale


def nan_to_zero(x):
    """Replace NaN and +-Inf by 0 (the authors' recommendation, Supp. A.2 of
    arXiv:1806.01603v1: "Replacing eventual NaN values in the update with zeros is
    required")."""
    return ops.where(ops.isfinite(x), x, ops.zeros_like(x))


def keep_finite(new, old):
    """Element-wise `new` where finite, else `old`: a non-finite step becomes a zero step."""
    return ops.where(ops.isfinite(new), new, old)


def project_orthogonal(step, p):
    """Operation 1: s <- s - (s . p) p / ||p||^2, the step projected on the space
    orthogonal to p (the tangent space of the sphere of radius ||p||)."""
    step, step_scale = max_scaled(step)
    p, _ = max_scaled(p)
    return step_scale * (step - (ops.sum(step * p) / ops.sum(p * p)) * p)


def normalize_rotation(step, p_norm, epsilon=STEP_EPSILON):
    """Operation 2: s <- s ||p|| / ||s||, and s <- 0 where ||s|| <= epsilon.

    After it, a step orthogonal to p has the norm of p, so that p - rho s makes an
    angle arctan(rho) with p.
    """
    step, step_scale = max_scaled(step)
    scaled_norm = norm(step)
    keep = step_scale * scaled_norm > epsilon  # the threshold applies to the true norm
    safe_norm = ops.where(keep, scaled_norm, ops.ones_like(scaled_norm))
    return step * ops.where(keep, p_norm / safe_norm, ops.zeros_like(p_norm))


def rescale_to_norm(p, target_norm):
    """Operation 4: p <- p target / ||p|| (back on the sphere of radius `target`)."""
    return p * (target_norm / norm(p))


def cap_norm_growth(p_new, p_norm, max_growth):
    """LARS' guard (footnote 5 of arXiv:1806.01603): if ||p'|| - ||p|| > max_growth,
    rescale p' to the norm ||p|| + max_growth."""
    new_norm = norm(p_new)
    capped = p_new * ((p_norm + max_growth) / new_norm)
    return ops.where(new_norm - p_norm > max_growth, capped, p_new)


def layca_update(p, step, rate, epsilon=STEP_EPSILON):
    """The four operations of Layca (Algorithm 2 of arXiv:1806.01603):

        s  <- s - (s . p) p / ||p||^2        (1: project)
        s  <- s ||p|| / ||s||                (2: rotation-based normalisation)
        p' <- p - rho s                      (3: update)
        p' <- p' ||p|| / ||p'||              (4: back on the sphere)

    so that tan(angle(p, p')) == rho and ||p'|| == ||p||. Returns p' (p itself, bit for
    bit, when the step is zero).
    """
    p_hat, scale = max_scaled(p)
    p_norm = norm(p_hat)
    step = normalize_rotation(project_orthogonal(step, p_hat), p_norm, epsilon)
    return _unless_zero(step, p, scale * rescale_to_norm(p_hat - rate * step, p_norm))


def lars_update(p, step, rate, max_growth):
    """Layca without operations 1 and 4, i.e. LARS / NG_adap (Supp. A.4 of
    arXiv:1806.01603), as in the authors' code:

        s  <- s ||p|| / ||s||     (a zero step stays zero)
        p' <- p - rho s
        p' <- p' (||p|| + g) / ||p'||   if ||p'|| - ||p|| > g,  g = max_growth

    `max_growth` is 1e-4 ||p_0|| in the papers (p_0: the kernel at the start of training).
    """
    p_hat, scale = max_scaled(p)
    p_norm = norm(p_hat)
    step = normalize_rotation(step, p_norm, epsilon=0.0)
    return _unless_zero(step, p, scale * cap_norm_growth(p_hat - rate * step, p_norm, max_growth / scale))


def _unless_zero(step, p, p_new):
    """p_new, or p itself where the step is zero (no rounding through the rescaling)."""
    return ops.where(ops.any(ops.not_equal(step, 0.0)), p_new, p)


def cosine_distance(a, b):
    """Layer rotation (Section 3.1 of arXiv:1806.01603): 1 - a.b / (||a|| ||b||)."""
    a, b = max_scaled(a)[0], max_scaled(b)[0]
    return 1.0 - ops.sum(a * b) / (norm(a) * norm(b))


def rotation_rate(previous, current):
    """Per-step layer rotation rate: tan of the angle between two kernels.

    Equal to sqrt(1 / (1 - d)^2 - 1) with d = cosine_distance(previous, current), the
    authors' formula, but computed from the rejection r = b - (a.b / ||a||^2) a so that
    small angles keep their precision in float32: tan = ||r|| / |(a.b) / ||a|||.
    """
    previous, current = max_scaled(previous)[0], max_scaled(current)[0]
    coefficient = ops.sum(previous * current) / ops.sum(previous * previous)
    rejection = current - coefficient * previous
    return norm(rejection) / ops.abs(coefficient * norm(previous))
