"""Layca and LARS, and the layer-rotation measures, in `keras.ops`.

Notation follows Algorithm 2 of the extended paper (Carbonnelle & De Vleeschouwer,
"Layer rotation: a surprisingly powerful indicator of generalization in deep networks?",
arXiv:1806.01603, Supp. A.4): `p` is a layer's kernel w_t^l and `s` the step s_t^l
proposed by an optimizer, written as a *descent* step (the optimizer alone would set
p' = p - s). Norms and dot products are taken over all elements (the flattened kernel).
Steps must be finite (Layca passes them through `nan_to_zero`).

Both updates are linear in p and s: p' = alpha p + beta s, with scalar coefficients
that depend only on the three dot products a = p.p, b = s.s and c = s.p. So each update
is three reductions, a few scalar operations and one combination (`linear_updates`,
which takes the scalar operations of all kernels at once, on vectors). Per output unit
(`per_unit`), each unit's weight vector (over every axis but the last) takes the place
of the kernel: the reductions keep the last axis, and the scalars become vectors.
Kernels of float32 or narrower take the reductions and the combination in float32 where
that is accurate (`float32_suffices`), and in float64 otherwise, where the product of two float32
numbers is exact and the squares of any float32 (1e-90 to 1e77) neither underflow nor
overflow: kernels and steps with norms like 1e-30 or 1e30, and steps nearly parallel to
the kernel, rotate as precisely as any other.
"""

import math

import keras
import numpy as np
from keras import ops

from layer_rotation_tools import backend

#: Threshold under which a step counts as zero (`||s|| <= 1e-7`, the authors' code).
STEP_EPSILON = 1e-7
#: A step whose part orthogonal to p has ||s_perp||^2 <= PARALLEL_TOLERANCE ||s||^2 is
#: treated as zero: its direction is below the float64 resolution of b - c^2 / a.
PARALLEL_TOLERANCE = 1e-10


def norm(x):
    """Euclidean norm of the flattened tensor, ||x||_2 (its sum as every sum here: `_total`)."""
    return ops.sqrt(_total(ops.square(x)))


def nan_to_zero(x):
    """Replace NaN and +-Inf by 0 (the authors' recommendation, Supp. A.2 of
    arXiv:1806.01603v1: "Replacing eventual NaN values in the update with zeros is
    required")."""
    return ops.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)  # one fused pass on every backend


def keep_finite(new, old):
    """Element-wise `new` where finite, else `old`: a non-finite step becomes a zero step."""
    return ops.where(ops.isfinite(new), new, old)


def stacked_dot_products(xs, ys, dtype="float64", xx=None, per_unit=False, looped=False):
    """The dot products of each pair (x_i, y_i) of flattened tensors, computed in `dtype`,
    as three float64 vectors (x_i.x_i), (y_i.y_i) and (x_i.y_i): one stack and one cast
    for all pairs. With `per_unit`, of each output unit's weight vectors (over every axis
    but the last: a Dense column, a convolution's output channel, a recurrent kernel's
    column), one entry per unit of every pair, in order. `xx`, where given, is the vector
    (x_i.x_i), known already and not computed again. `looped`: widened sums in a loop
    over chunks of rows where XLA compiles the whole step (`_dot_products`)."""
    width = 3 if xx is None else 2
    sums = [total for x, y in zip(xs, ys) for total in _dot_products(x, y, dtype, xx is None, per_unit, looped)]
    if per_unit:  # vectors of different lengths: one concatenation a column
        columns = [as_dtype(ops.concatenate(sums[j::width]), "float64") for j in range(width)]
    else:
        columns = ops.unstack(as_dtype(ops.reshape(ops.stack(sums), (-1, width)), "float64"), axis=1)
    return columns if xx is None else [as_dtype(xx, "float64"), *columns]


def per_kernel(values, kernels, per_unit=False):
    """A vector of one value per kernel (with `per_unit`, per output unit of every kernel,
    in order) cut into one piece per kernel: a scalar each, or the kernel's units."""
    if not per_unit:
        return ops.unstack(values)
    pieces, start = [], 0
    for kernel in kernels:
        count = int(kernel.shape[-1])
        pieces.append(values[start:start + count])
        start += count
    return pieces


def unit_quantiles(values, kernels, quantiles):
    """The `quantiles` (in [0, 1]) of each kernel's units in a vector of one value per
    output unit of every kernel: a float64 array (kernels x quantiles). Linear
    interpolation between the sorted values, as numpy's default: quantile q of n values
    sorted v_0 <= ... <= v_{n-1} is v_i + (q (n - 1) - i) (v_{i+1} - v_i), i = floor(q (n - 1)).
    (Not `ops.quantile`: Keras 3.15 on PyTorch returns float64 input's quantiles in float32.)"""
    q = np.asarray(quantiles, dtype=np.float64)
    summaries = []
    for piece in per_kernel(values, kernels, True):
        count = int(piece.shape[0])
        position = q * (count - 1)
        low = np.floor(position).astype(np.int32)
        high = np.minimum(low + 1, count - 1)
        weight = ops.convert_to_tensor(position - low, "float64")
        ordered = ops.sort(as_dtype(piece, "float64"))
        summaries.append(ops.take(ordered, low) * (1.0 - weight) + ops.take(ordered, high) * weight)
    return ops.stack(summaries)


#: The bytes of a kernel's rows (counted in float64) that the dot products take at a time
#: where operations run eagerly, and that float64 sums take at a time where XLA compiles
#: the whole step (`_dot_products`).
CHUNK_BYTES = 2**22


def _dot_products(x, y, dtype, squares_of_x=True, per_unit=False, looped=False):
    """[x.x, y.y, x.y] in `dtype` ([y.y, x.y] without `squares_of_x`), each over the whole
    tensors or, `per_unit`, one per output unit (`_total`). `y` may be `Derived` from x.
    Where operations run eagerly, each is summed over chunks of rows (`_row_chunks`), so
    that a product, a widened copy or a derived tensor is alive for a chunk only, not for
    the whole kernel. Compiled, products take the whole tensors (XLA fuses each into its
    sum), except, with `looped`, widened products (float64 dot products of float32
    kernels) where XLA compiles the whole step: there they are summed together in a loop
    over chunks of rows (`_looped_totals`)."""
    products = [lambda a, b: ops.square(as_dtype(b, dtype)), lambda a, b: as_dtype(a, dtype) * as_dtype(b, dtype)]
    if squares_of_x:
        products.insert(0, lambda a, b: ops.square(as_dtype(a, dtype)))
    rows = _loop_rows(x) if looped and keras.backend.standardize_dtype(x.dtype) != dtype else None
    if rows is not None:
        return _looped_totals(products, x, y, per_unit, rows)
    return [_chunked_total(product, x, None if squares_of_x and j == 0 else y, per_unit)
            for j, product in enumerate(products)]


class Derived:
    """A tensor y = make(x, other) of the pair (x, y), made from x and `other` (a tensor
    of x's shape) where it is needed: a chunk of rows at a time where operations run
    eagerly (`_row_chunks`), so that y is never whole. `LayerRotationRates`' change
    (`rotation_rates`) and Layca's step (`descent_steps`) are derived tensors."""

    def __init__(self, other, make):
        self.other = other
        self.make = make


def _row_chunks(x, y=None):
    """(start, x rows, y rows) over the rows of x and y, tensors of one shape: slices of
    their first axis of about `CHUNK_BYTES` of x (counted in float64), y's rows made as
    they are taken where y is `Derived` (and None where y is None); one chunk, the whole
    tensors, where `_one_chunk`."""
    other = _source(y)
    if _one_chunk(x, other):
        pieces = [(0, x, other)]
    else:
        rows = _chunk_rows(x.shape)
        pieces = [(start, x[start:start + rows], None if other is None else other[start:start + rows])
                  for start in range(0, int(x.shape[0]), rows)]
    for start, a, b in pieces:
        yield start, a, _rows_of(y, a, b)


def _source(y):
    """The tensor whose rows y's rows are made from: `other` where y is `Derived`, else y."""
    return y.other if isinstance(y, Derived) else y


def _rows_of(y, x_rows, source_rows):
    """y's rows beside `x_rows`, given the same rows of `_source(y)`: made from both where y
    is `Derived`, else those rows themselves."""
    return y.make(x_rows, source_rows) if isinstance(y, Derived) else source_rows


def _chunk_rows(shape):
    """The rows of a tensor of `shape` in a chunk: about `CHUNK_BYTES` counted in float64,
    at least one."""
    return max(1, CHUNK_BYTES // (8 * math.prod(shape[1:])))


def _one_chunk(x, y=None):
    """Whether `_row_chunks` takes x and y whole: where either belongs to a trace (whose
    shapes may not be known), x has fewer than two axes (a chunk must hold every output
    unit: its last axis) or x is within `CHUNK_BYTES` (counted in float64)."""
    traced = backend.tracing(x) or (y is not None and backend.tracing(y))
    return traced or len(x.shape) < 2 or 8 * math.prod(x.shape) <= CHUNK_BYTES  # 8: a float64 element's bytes


def _chunked_total(product, x, y, per_unit):
    """The sum over the chunks of `_row_chunks(x, y)` of `_total(product(x rows, y rows))`."""
    total = None
    for _, a, b in _row_chunks(x, y):
        part = _total(product(a, b), per_unit)
        total = part if total is None else total + part
    return total


def _loop_rows(x):
    """The rows of x that `_looped_totals` takes at a time (about `CHUNK_BYTES` of x counted
    in float64), where x belongs to a step that XLA compiles whole
    (`backend.fuses_elementwise`), its shape is known and it takes several chunks of at
    least one row each (with two axes or more: a chunk holds every output unit); else
    None. Not in TensorFlow's graphs, whose `cond` runs only the branch taken: there the
    loop in the float64 branch cost more than the whole tensors in the steps that do not
    take it (`LayerRotationRates()` over SGD, ten 2,000 x 2,000 kernels, steps after the
    first: 1.21 times the kernels' bytes against 1.02, `benchmarks/kernel_memory.py`)."""
    shape = backend.known_shape(x)
    if not backend.fuses_elementwise(x) or shape is None or len(shape) < 2:
        return None
    rows = _chunk_rows(shape)
    return rows if rows < shape[0] else None


def _looped_totals(products, x, y, per_unit, rows):
    """[sum of `_total(product(x rows, y rows))` over chunks of `rows` rows (`_loop_rows`), for
    each of `products`], in a step XLA compiles whole: one loop (`ops.fori_loop`) whose
    body takes a chunk of x and y (`ops.slice`; y's rows made there where y is `Derived`)
    and adds every product's sum, then the rows left over. XLA then holds a chunk's widened
    copies rather than the kernel's: measured with `memory_analysis` of a JAX step, the
    three float64 sums of a 2,000 x 2,000 float32 kernel and its step taken whole held
    a float64 copy of each (61 MiB), which the sums share."""
    other = _source(y)
    count = int(x.shape[0]) // rows

    def sums(a, b):
        return [_total(product(a, _rows_of(y, a, b)), per_unit) for product in products]

    def rows_at(tensor, start):
        return ops.slice(tensor, [start] + [0] * (len(tensor.shape) - 1), (rows, *tensor.shape[1:]))

    def add_chunk(i, totals):
        return [t + u for t, u in zip(totals, sums(rows_at(x, i * rows), rows_at(other, i * rows)))]

    totals = ops.fori_loop(1, count, add_chunk, sums(x[:rows], other[:rows]))
    if count * rows < int(x.shape[0]):
        totals = [t + u for t, u in zip(totals, sums(x[count * rows:], other[count * rows:]))]
    return totals


def _total(value, per_unit=False):
    """The sum of `value`'s elements, or with `per_unit` the sums over every axis but the
    last: one per output unit. Where XLA would hold the summed value whole
    (`backend.windows_long_sums`), summed in windows (`_windowed_total`)."""
    if backend.windows_long_sums(value) and backend.known_shape(value) is not None:
        return _windowed_total(value, per_unit)
    return ops.sum(ops.reshape(value, (-1, value.shape[-1])), axis=0) if per_unit else ops.sum(value)


#: The longest axis that XLA's CPU compiler sums as it is, fused with what it sums
#: (`backend.windows_long_sums`).
SUM_WINDOW = 32


def _windowed_total(value, per_unit=False):
    """`_total(value, per_unit)` as sums over axes of at most `SUM_WINDOW` (32) elements,
    which XLA keeps fused with what they sum. A total of n elements where n = f_1 ... f_k
    with every f_i <= 32 (`_small_factors`: 4,000,000 = 32 x 25 x 25 x 25 x 8): one sum over
    the elements reshaped to (f_1, ..., f_k), a single operation. Else, and per unit (where
    XLA folds such a reshape, which only splits the summed rows, back into one long sum),
    in windows of 32 of the rows x_0 ... x_{n-1} (each a unit's entries per unit),
    m = floor(n / 32):

        sum_i x_i = ones(m) . [sum_{j<32} x_{32k+j}]_k + sum_{i >= 32m} x_i,

    the windows' sums added by a product with a vector of ones, which XLA does not merge
    with them into one long sum, as it merges two sums. Measured (`Layca("sgd")`, ten and
    twenty kernels of 256 x 256, one group, the update compiled by XLA alone): windows
    compiled 4 functions a kernel and the resident memory grew by 147 and 206 MiB over the
    first step, the factors 1, and 127 and 171 MiB."""
    units = int(value.shape[-1]) if per_unit else 1
    rows = ops.reshape(value, (-1, units))
    count = int(rows.shape[0])
    factors = None if per_unit else _small_factors(count)
    if factors is not None:
        total = ops.sum(ops.reshape(rows, (*factors, units)), axis=tuple(range(len(factors))))
    else:
        windows = count // SUM_WINDOW
        total = ops.sum(rows[windows * SUM_WINDOW:], axis=0)
        sums = ops.sum(ops.reshape(rows[:windows * SUM_WINDOW], (windows, SUM_WINDOW, units)), axis=1)
        # einsum, not matmul: Keras 3.15's torch matmul returns float64 products in float32.
        total = total + ops.einsum("k,ku->u", ops.ones((windows,), sums.dtype), sums)
    return total if per_unit else total[0]


def _small_factors(count):
    """Factors of `count`, each at most `SUM_WINDOW`, whose product is `count` (the largest
    first: 2,000 is 25 x 20 x 4), or None where `count` has a prime factor above it."""
    factors = []
    while count > SUM_WINDOW:
        divisor = next((d for d in range(SUM_WINDOW, 1, -1) if count % d == 0), None)
        if divisor is None:
            return None
        factors.append(divisor)
        count //= divisor
    return factors + [count]


def widened_difference(a, b):
    """a - b, both taken in float64 where `a` is float64 and in float32 otherwise, so that
    half-precision values lose nothing to the subtraction (the difference of two close
    float32 numbers is exact)."""
    dtype = "float64" if keras.backend.standardize_dtype(a.dtype) == "float64" else "float32"
    return as_dtype(a, dtype) - as_dtype(b, dtype)


def squared_norms(xs, per_unit=False):
    """The vector of the squared norms x_i.x_i of the flattened tensors (with `per_unit`,
    of each output unit's weight vector of every tensor, in order), in float64."""
    totals = [_total(ops.square(as_dtype(x, "float64")), per_unit) for x in xs]
    return ops.concatenate(totals) if per_unit else ops.stack(totals)


def as_dtype(x, dtype):
    """`x` as a tensor in `dtype`: `x` itself where it already is one (a cast that is no
    operation still costs a dispatch where operations run one by one)."""
    if ops.is_tensor(x) and keras.backend.standardize_dtype(x.dtype) == dtype:
        return x
    return ops.cast(x, dtype)


def in_float32_range(a, b):
    """Whether two squared norms lie far from float32's underflow and overflow
    (1e-20 < a, b < 1e30), so that float32 sums of squares and products are accurate."""
    return ops.logical_and(ops.logical_and(a > 1e-20, a < 1e30), ops.logical_and(b > 1e-20, b < 1e30))


def float32_suffices(a, b, c):
    """Whether dot products taken in float32 give the coefficients accurately: a and b
    `in_float32_range`, and s not within ~6 degrees of p's direction
    (||s_perp||^2 > 0.01 ||s||^2), where b - c^2 / a would cancel."""
    return ops.logical_and(in_float32_range(a, b), b - c * (c / a) > 0.01 * b)


def linear_updates(ps, steps, coefficients, per_unit=False, into=None):
    """[alpha_i p_i + beta_i s_i] for kernels p_i and steps s_i, with (alpha, beta) =
    coefficients(a, b, c) taken once on the vectors of every pair's dot products
    (a_i, b_i, c_i), in float64, and each result in p_i's dtype. With `per_unit`, each
    output unit's weight vector takes the place of each kernel (`stacked_dot_products`):
    every unit of p_i is set to alpha p + beta s with its own (alpha, beta).

    With `into` (where operations run eagerly, and the backend writes in place:
    `backend.write_rows`), tensors that share the storage of the variables the results
    are for: each result is written into them a chunk of rows at a time (`_row_chunks`)
    rather than returned, so that the update holds a chunk's temporaries, not a kernel's.
    The steps may then be `Derived` from p_i (`descent_steps`): a step derived from
    into[i] (the value an optimizer proposed, written over) is made from each chunk of
    rows before that chunk is written.

    The scalar arithmetic of all kernels is one pass of vector operations: a dozen
    operations in all rather than a dozen per kernel, which counts where operations run
    one by one (PyTorch, eager steps). Where every kernel is float32 or narrower, the dot
    products and the combinations are taken in float32 if `float32_suffices` for every
    pair (every unit), else all in float64 (one `cond` for all kernels; straight in
    float64 where XLA compiles a TensorFlow function: `float32_first`): float32 passes
    over the kernels are faster on every backend, compiled by XLA or not (measured:
    `benchmarks/step_time.py`), and hold no float64 copy of a kernel.
    """
    def split_coefficients(dtype, dots):
        alpha, beta = (as_dtype(v, dtype) for v in coefficients(*dots))
        return zip(per_kernel(alpha, ps, per_unit), per_kernel(beta, ps, per_unit), ps, steps)

    def combination(dtype, a, b, p_rows, s_rows):
        return as_dtype(a * as_dtype(p_rows, dtype) + b * as_dtype(s_rows, dtype), p_rows.dtype)

    if into is None:
        def combine(dtype, dots):
            return [combination(dtype, a, b, p, _made(s, p)) for a, b, p, s in split_coefficients(dtype, dots)]

        return float32_first(ps, steps, float32_suffices, combine, per_unit=per_unit, looped=True)

    def coefficients_in(dtype, dots):
        return dtype, list(split_coefficients(dtype, dots))

    dtype, pieces = float32_first(ps, steps, float32_suffices, coefficients_in, per_unit=per_unit, looped=True)
    for target, (a, b, p, s) in zip(into, pieces):
        for start, p_rows, s_rows in _row_chunks(p, s):
            backend.write_rows(target, start, combination(dtype, a, b, p_rows, s_rows))
    return None


#: The dtypes whose values float32 holds exactly (a kernel kept in half precision is widened
#: to float32 pair by pair, inside the dot products).
AT_MOST_FLOAT32 = ("float32", "bfloat16", "float16")


def float32_first(xs, ys, suffices, compute, xx=None, per_unit=False, looped=False):
    """compute(dtype, (a, b, c)) on the vectors of the pairs' dot products
    (`stacked_dot_products`, given `xx`, per kernel or `per_unit`), with dtype "float32"
    where every x_i is float32 or narrower (`AT_MOST_FLOAT32`) and suffices(a, b, c)
    holds for every entry (dot products taken in float32), else "float64" (dot products
    taken in float64, with `looped` in a loop over chunks of rows where XLA compiles the
    whole step): one `cond` for all pairs.

    Where XLA compiles a TensorFlow function (`backend.windows_long_sums`), straight in
    float64: there each sum takes its widened product fused (`_windowed_total`), so that
    float64 holds no copy of a kernel, while the float32 sums and their `cond` held their
    own buffers (`Layca("sgd")` in a step XLA compiles, ten 2,000 x 2,000 kernels, the
    step's temporaries 110 MiB against 80 in float64, SGD's 35: XLA's buffer assignment).

    Layca's and LARS' updates take the loop (`linear_updates`): measured on JAX (ten
    2,000 x 2,000 kernels under a strong L2 penalty, so that every step is nearly
    parallel to its kernel and takes the float64 branch), the steps after the first
    peaked 38 MiB lower with it. The monitors' measures do not: there it lowered nothing
    (`LayerRotationRates()` under weight decay: 1,225 MiB with, 1,224 without) and its
    compiled code cost the whole fit 0.07 of the kernels' bytes
    (`benchmarks/kernel_memory.py`)."""
    def in_float64():
        return compute("float64", stacked_dot_products(xs, ys, xx=xx, per_unit=per_unit, looped=looped))

    if backend.windows_long_sums(xs[0]) or any(
            keras.backend.standardize_dtype(x.dtype) not in AT_MOST_FLOAT32 for x in xs):
        return in_float64()
    dots = stacked_dot_products(xs, ys, "float32", xx, per_unit)
    return backend.cond(ops.all(suffices(*dots)), lambda: compute("float32", dots), in_float64)


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


def layca_updates(ps, steps, rates, epsilon=STEP_EPSILON, per_unit=False, into=None):
    """Layca's p'_i for each kernel p_i and step s_i (see `layca_coefficients`), at rate
    rates[i] (or one rate for all): tan(angle(p_i, p'_i)) == rho_i and ||p'_i|| == ||p_i||;
    p_i itself, bit for bit, when its step is zero. With `per_unit`, the same for each
    output unit's weight vector of p_i, at kernel i's rate: every unit turns by
    arctan(rho_i) and keeps its norm; a unit whose step is zero keeps its weights. With
    `into`, written into them instead (`linear_updates`)."""
    rates = _rates_of(rates, ps, per_unit)
    return linear_updates(ps, steps, lambda a, b, c: layca_coefficients(a, b, c, rates, epsilon), per_unit, into)


def lars_updates(ps, steps, rates, max_growths, per_unit=False, into=None):
    """LARS' p'_i for each kernel (see `lars_coefficients`), with the cap max_growths[i]
    (or one for all); p_i itself, bit for bit, when its step is zero. With `per_unit`,
    LARS on each output unit's weight vector: `rates` one per kernel, `max_growths` one
    per unit of every kernel, in kernel order. With `into`, written into them instead
    (`linear_updates`)."""
    rates = _rates_of(rates, ps, per_unit)
    return linear_updates(ps, steps, lambda a, b, c: lars_coefficients(a, b, c, rates, max_growths), per_unit, into)


def _rates_of(rates, ps, per_unit):
    """`rates` (one per kernel, or one for all), repeated for each output unit of each
    kernel where `per_unit`."""
    rates = ops.convert_to_tensor(rates, "float64")
    if not per_unit:
        return rates
    rates = ops.broadcast_to(rates, (len(ps),))
    return ops.concatenate([ops.broadcast_to(rates[i], (int(p.shape[-1]),)) for i, p in enumerate(ps)])


def cosine_distances(xs, ys, xx=None, per_unit=False):
    """Layer rotation (Section 3.1 of arXiv:1806.01603) of each pair of kernels,
    1 - x.y / (||x|| ||y||), as a float64 vector (with `per_unit`, of each output unit's
    weight vector of every pair, in order). `xx`, where given, is the vector of the
    squared norms x_i.x_i (the monitors' references, which do not change during
    training, so that each measure takes two reductions per kernel, not three).

    Dot products in float32 (absolute error about 1e-8, what float32 kernels resolve)
    where every kernel is float32 or narrower and every norm `in_float32_range`, else in float64.
    """
    def distances(dtype, dots):
        xx, yy, xy = dots
        return 1.0 - xy / ops.sqrt(xx * yy)

    return float32_first(xs, ys, lambda xx, yy, xy: in_float32_range(xx, yy), distances, xx, per_unit)


def rotation_rates(previous, current, per_unit=False):
    """Per-step layer rotation rate of each kernel: tan of the angle between its values
    before and after, as a float64 vector (with `per_unit`, of each output unit's weight
    vector of every kernel, in order).

    Equal to sqrt(1 / (1 - d)^2 - 1) with d = the cosine distance, the authors' formula,
    but computed from the change d = y - x (x before, y after), which keeps small angles
    (1e-4 and below) precise where 1 - d, rounded near 1, would not: with
    a = x.x, e = d.d and f = d.x, y's part along x is (a + f) / ||x|| and its part
    orthogonal to x has the squared norm e - f^2 / a, so

        tan = sqrt(e - f^2 / a) ||x|| / |a + f| = sqrt(a e - f^2) / |a + f|.

    The change is taken in float32 at least (`widened_difference`: each element to within
    half an ulp of itself), and the dot products in float32 where every kernel is float32
    or narrower, every norm `in_float32_range` and the change is not within ~6 degrees of
    x's direction (`float32_suffices`: a e - f^2 would cancel), else in float64
    (`float32_first`). Where operations run eagerly, the change is made a chunk of rows
    at a time (`Derived`, `CHUNK_BYTES`), so that the measure holds a chunk's
    temporaries beside the two kernels. Compiled, each product makes the change again
    (XLA fuses it into the product): made once, every kernel's change was held until
    the `cond` of `float32_first`, whose float64 branch reads it (TensorFlow's graph,
    ten 2,000 x 2,000 kernels measured in one step: 2.00 times the kernels' bytes over
    SGD against 1.03, `benchmarks/kernel_memory.py`).
    """
    def rates(dtype, dots):
        a, e, f = dots
        gap = a * e - f * f
        return ops.sqrt(ops.where(gap > 0, gap, ops.zeros_like(gap))) / ops.abs(a + f)  # not maximum: see lars_coefficients

    return float32_first(previous, [Derived(y, _change) for y in current], float32_suffices, rates, per_unit=per_unit)


def _change(x, after):
    """after - x, in float32 at least (`widened_difference`)."""
    return widened_difference(after, x)


def descent_steps(ps, proposed, whole=False):
    """The step of each kernel p_i towards the value q_i an optimizer proposes, as a
    descent step s_i = p_i - q_i (`widened_difference`: float32 at least; NaN and Inf
    zeroed, `nan_to_zero`): `Derived` from p_i (made where it is needed, again for each
    use) where p_i takes several chunks of rows (a chunk at a time) and where XLA
    compiles the whole step (`backend.fuses_elementwise`: JAX), which fuses the making
    into each use; else (or with `whole`, outside XLA) made now, once, as a tensor (an
    update reads it three times). Measured under XLA (`benchmarks/xla_step_memory.py`:
    ten 2,000 x 2,000 kernels, a group each, the rotation one operation:
    `layca._rotated_traced`): derived, Layca(SGD)'s temporaries over SGD's are 31 MiB,
    against 46 made once; in TensorFlow's graphs, which keep every operation's result,
    deriving cost more (per kernel added over SGD, 0.46 against 0.36,
    `benchmarks/kernel_memory.py`)."""
    return [Derived(q, _descent_step) if backend.fuses_elementwise(p) or not (whole or _one_chunk(p, q))
            else _descent_step(p, q) for p, q in zip(ps, proposed)]


def _made(y, x):
    """y as a whole tensor beside x (`_rows_of` all its rows)."""
    return _rows_of(y, x, _source(y))


def _descent_step(p, q):
    return nan_to_zero(widened_difference(p, q))


def unit_norms(x):
    """The norm of each output unit's weight vector of a kernel: over every axis but the
    last (a Dense column, a convolution's output channel), in float64."""
    return ops.sqrt(squared_norms([x], per_unit=True))
