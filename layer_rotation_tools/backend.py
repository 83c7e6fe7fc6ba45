"""What differs between Keras' backends, in one place.

Everything else in the package is written in `keras.ops`. TensorFlow, JAX and PyTorch
are imported lazily, and only on their own backend, as Keras itself does.
"""

import contextlib
import threading
import warnings

import keras
import numpy as np
from keras import ops


def name():
    return keras.backend.backend()


def tracing(value):
    """Whether `value` belongs to a trace being built (a `tf.function` graph, a `jax.jit`
    tracer) rather than to eager execution, where it can be read at once."""
    if name() == "tensorflow":
        import tensorflow as tf

        return not tf.executing_eagerly()
    if name() == "jax":
        import jax

        return isinstance(value, jax.core.Tracer)
    return False


def fuses_elementwise(value):
    """Whether `value` belongs to a `jax.jit` trace, where XLA fuses an element-wise
    expression read by several operations into each of them rather than holding it as a
    buffer, and fuses a sum with the product it sums. Not TensorFlow's graphs, which hold
    each operation's result, nor its functions that XLA compiles (`xla_compiles_step`),
    whose sums keep their products fused only in windows (`windows_long_sums`): there the
    steps made where used and the float64 sums a chunk of rows at a time
    (`transforms.descent_steps`, `transforms._looped_totals`) lowered nothing and their
    code, compiled for each group, cost memory (`Layca("sgd")` in a step XLA compiles, ten
    and twenty 2,000 x 2,000 kernels, steps after the first: 1.06 and 0.68 times the
    kernels' bytes over SGD with them, 0.88 and 0.55 without, before the windows; with
    the windows, steps made where used peaked at 1,131 MiB against 1,125 without;
    `benchmarks/kernel_memory.py`)."""
    return name() == "jax" and tracing(value)


def xla_compiles_step(value):
    """Whether `value` belongs to a step that XLA compiles whole: a `jax.jit` trace, or a
    TensorFlow function traced for XLA (the model's step with `jit_compile=True`,
    TensorFlow's default where it sees a GPU), other than an update that XLA compiles alone
    inside a graph that it does not (`xla_compiled_update`)."""
    if not tracing(value):
        return False
    if name() == "jax":
        return True
    return name() == "tensorflow" and _in_xla_step()


def windows_long_sums(value):
    """Whether `value` belongs to a TensorFlow function traced for XLA (a step, or an update
    compiled alone: `xla_compiled_update`), whose XLA rewrites each sum over an axis of
    more than 32 elements into a `reduce-window` over windows of 32 that takes its input
    as a buffer (XLA's `TreeReductionRewriter`, on the CPU): the product summed is held
    whole, a float64 product twice a float32 kernel's bytes (read from XLA's buffer
    assignment of `Layca("sgd")`'s step). Sums over axes of 32 elements or fewer keep the
    product fused (`transforms._windowed_total`). Not JAX, whose XLA fuses a product into
    its sum."""
    return name() == "tensorflow" and _traced_for_xla()


def _in_xla_step():
    """Whether TensorFlow traces, for XLA, a function other than an update compiled alone
    (`xla_compiled_update`)."""
    return not getattr(_UPDATE_ALONE, "active", False) and _traced_for_xla()


def _traced_for_xla():
    """Whether TensorFlow traces a function for XLA, or a function that one calls."""
    from tensorflow.python.ops import control_flow_util

    graph = trace()
    return graph is not None and control_flow_util.GraphOrParentsInXlaContext(graph)


#: Set while an update that XLA compiles alone runs (and is traced): `xla_compiled_update`.
_UPDATE_ALONE = threading.local()


def known_shape(x):
    """x's shape as a tuple of ints, or None where its rank or a dimension is not known (a
    TensorFlow function traced with shapes relaxed: `compiled`)."""
    if getattr(x.shape, "rank", 0) is None:
        return None
    shape = tuple(x.shape)
    return None if any(d is None for d in shape) else tuple(int(d) for d in shape)


def cond(pred, true_fn, false_fn):
    """`ops.cond`, except where `pred` holds its value now (eager execution), where the
    branch is chosen in Python: Keras' `ops.cond` makes an `Operation` on every call
    (about 0.1 ms on a 2-core CPU, profiled), which counts where a step's
    operations run one by one (PyTorch, eager steps)."""
    if tracing(pred):
        return ops.cond(pred, true_fn, false_fn)
    return true_fn() if bool(pred) else false_fn()


def end_of_data_errors():
    """What Keras' training function raises when the data ends (TensorFlow's calls pull the
    batch from an iterator themselves; on the other backends the batch is an argument)."""
    if name() == "tensorflow":
        import tensorflow as tf

        return StopIteration, tf.errors.OutOfRangeError
    return StopIteration,


def trace():
    """The TensorFlow graph being traced now (None when executing eagerly, and on the
    other backends). A `tf.function` that creates variables (Keras' training step on
    its first call: the optimizer's variables, and a model's first called by `fit`) is
    traced twice before it first runs: in the first trace the variables read as zeros
    (their values come when the function first runs); in the second, after TensorFlow
    has initialised them, they read their true values."""
    if name() == "tensorflow":
        import tensorflow as tf

        if tf.inside_function():
            return tf.compat.v1.get_default_graph()
    return None


def read(variable):
    """A variable's value as a float64 numpy array, read eagerly (also from inside a
    TensorFlow trace, for variables that already hold their values)."""
    if name() == "tensorflow":
        import tensorflow as tf

        with tf.init_scope():
            return np.asarray(ops.convert_to_numpy(variable), dtype=np.float64)
    return np.asarray(ops.convert_to_numpy(variable), dtype=np.float64)


def compiled(fn, *example_args):
    """`fn` compiled for repeated eager calls with arguments like `example_args`: a
    concrete `tf.function` on TensorFlow (calls skip argument matching), `jax.jit` on
    JAX; `without_gradients(fn)` on PyTorch."""
    if name() == "tensorflow":
        import tensorflow as tf

        function = tf.function(fn, reduce_retracing=True)
        return function.get_concrete_function(*example_args) if example_args else function
    if name() == "jax":
        import jax

        return jax.jit(fn)
    return without_gradients(fn)


def shared_function(fn):
    """`fn` as one function that the graphs calling it share, on TensorFlow: traced once per
    signature of its arguments (the structure, shapes and dtypes of its tensors, the values
    of the others) and called, not copied, by every caller (`tf.function` marked
    `_noinline`), so that a training step calling it for many groups of kernels of the same
    shapes holds its operations once. Variables among the arguments are passed as their
    values (read when the call runs). The `tf.function` is the result's `function`. `fn`
    itself on JAX, which traces whole steps, and on PyTorch, which runs them eagerly.

    Example: `shared_function(lambda x: x * 2)(keras.ops.ones(3))` is [2, 2, 2]."""
    if name() != "tensorflow":
        return fn
    import tensorflow as tf

    function = tf.function(fn, autograph=False, experimental_attributes={"_noinline": True})

    def value(x):
        return tf.convert_to_tensor(x) if isinstance(x, keras.Variable) else x

    def call(*args):
        return function(*tf.nest.map_structure(value, args))

    call.function = function
    return call


def write_rows(target, start, rows):
    """Write `rows` over target[start:start + len(rows)] (slices of the first axis), in
    place: `target` shares a variable's storage (`keras_adapter.in_place_value`, PyTorch
    only), as Keras' own `assign` writes a PyTorch variable (`copy_`)."""
    import torch

    with torch.no_grad():
        target[start:start + int(rows.shape[0])].copy_(rows)


def without_gradients(fn):
    """`fn` under `torch.no_grad()` on PyTorch, so that operations on a model's kernels
    (parameters that require gradients) record no graph for backpropagation, which would
    keep their operands (a widened copy of every kernel) alive as long as the result;
    `fn` itself elsewhere."""
    if name() == "torch":
        import torch

        return torch.no_grad()(fn)
    return fn


def xla_compiled_update(fn):
    """`fn`, a function that updates variables, compiled by XLA into one call on
    TensorFlow (`tf.function(jit_compile=True)`), where a training step that is not
    compiled by XLA itself (`jit_compile=False`, `run_eagerly=True`) would run its
    operations one by one; inside a step that XLA compiles, `fn` itself, part of it. None
    on JAX, which compiles whole steps, and on PyTorch. Also None under a `tf.distribute`
    strategy other than the default, whose cross-replica updates (`merge_call`) XLA cannot
    compile inside a replica's step."""
    if name() != "tensorflow" or distributed():
        return None
    import tensorflow as tf

    function = tf.function(fn, jit_compile=True)

    def update(*args):
        if _in_xla_step():
            return fn(*args)
        _UPDATE_ALONE.active = True
        try:
            return function(*args)
        finally:
            _UPDATE_ALONE.active = False

    return update


@contextlib.contextmanager
def after(tensors):
    """Operations created inside run once `tensors` are computed: in a TensorFlow graph,
    whose executor runs any operation whose inputs are ready, a control dependency on
    them; elsewhere operations run in program order (eagerly, or as XLA schedules them)
    and nothing is added."""
    if tensors and name() == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly():
            with tf.control_dependencies(tensors):
                yield
            return
    yield


def distributed(model=None):
    """Whether a `tf.distribute` strategy other than the default is in scope, or is
    `model`'s (a model built in a strategy's scope trains under it)."""
    if name() != "tensorflow":
        return False
    import tensorflow as tf

    if tf.distribute.has_strategy():
        return True
    return model is not None and model.distribute_strategy is not tf.distribute.get_strategy()


@contextlib.contextmanager
def only_if(condition, message, value):
    """Inside a compiled step, `message` and `value` when `condition` fails: in a
    TensorFlow graph an assertion (an error) that the operations created inside wait on,
    so they do not run; under jax.jit a warning from a host callback, as the operations
    still run (callers make them harmless): an error raised there would lose the model's
    state, whose buffers JAX has donated to the step. XLA on TensorFlow drops assertions:
    there nothing is said. Eager code checks on the host instead."""
    if name() == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly():
            check = tf.debugging.Assert(condition, [message, value])
            with tf.control_dependencies([check]):
                yield
            return
    if name() == "jax":
        import jax

        def warn(received):
            warnings.warn(f"{message} {received}", RuntimeWarning, stacklevel=1)

        # The host callback only in the branch taken when the condition fails: a callback
        # on every step would make each step wait on the host.
        jax.lax.cond(condition, lambda v: None, lambda v: jax.debug.callback(warn, v), value)
    yield


def float64_available():
    """Whether float64 arithmetic is real here: JAX computes in float32 unless
    `jax_enable_x64` is set, silently."""
    if name() == "jax":
        import jax

        return bool(jax.config.jax_enable_x64)
    return True


def enable_float64():
    """Make float64 real on JAX (`jax_enable_x64`) for a program that builds its models
    after this call; a no-op elsewhere. For programs (the demo, the experiments), not
    for the library, which never changes a user's global settings."""
    if name() == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)


def require_float64(what):
    """An error naming `what` where float64 is not available (JAX without x64)."""
    if not float64_available():
        raise RuntimeError(
            f"{what} computes dot products in float64 where float32 would lose the result (kernels with norms "
            "below 1e-10 or above 1e15, steps nearly parallel to the kernel, rotation rates below 1e-4), and "
            "JAX silently computes float64 as float32 unless x64 is enabled. Enable it before building the "
            "model: jax.config.update('jax_enable_x64', True), or the environment variable JAX_ENABLE_X64=1."
        )


def accelerator():
    """The accelerator Keras computes on ("cpu", or the GPU's name as the framework gives
    it) and its peak memory in MiB since the process started (None on the CPU)."""
    if name() == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform == "cpu":
            return "cpu", None
        stats = device.memory_stats() or {}
        peak = stats.get("peak_bytes_in_use")
        return device.device_kind, None if peak is None else peak / 2**20
    if name() == "torch":
        import torch

        if not torch.cuda.is_available():
            return "cpu", None
        return torch.cuda.get_device_name(), torch.cuda.max_memory_allocated() / 2**20
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if not gpus:
        return "cpu", None
    info = tf.config.experimental.get_memory_info(gpus[0].name)
    return tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0]).get(
        "device_name", gpus[0].name), info["peak"] / 2**20
