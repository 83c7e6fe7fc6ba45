"""Layca and the monitors used as a Keras user uses Keras: models built lazily, several
`fit` calls, recompiles, frozen layers, steps_per_execution, embeddings and custom
weights, recurrent layers named as Keras names them, schedules and custom loops."""

import warnings

import keras
import numpy as np
import pytest

from layer_rotation_tools import (
    PAPER_KERNEL_NAMES,
    Layca,
    LayerRotationCurves,
    LayerRotationRates,
    Records,
    ReplayRotationRates,
)
from tests import references
from tests.iterations import IterationsSeen, assert_steps_are_iterations

RHO = 0.05


def _data(n=64, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)).astype("float32"), rng.integers(0, classes, n)


def _lazy_sequential():
    return keras.Sequential([keras.layers.Dense(8, name="hidden"), keras.layers.Dense(3, name="out")])


class TwoDense(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(8)
        self.out = keras.layers.Dense(3)

    def call(self, x):
        return self.out(keras.ops.relu(self.hidden(x)))


def _fit_with_monitors(make_model, optimizer, build_first, epochs=2, jit_compile=False):
    """Train a fresh model (same seed, so the same initial weights whether built before
    fit or by fit) with both monitors; returns (model, curves, rates)."""
    x, y = _data()
    keras.backend.clear_session()  # the same automatic layer names in both runs
    keras.utils.set_random_seed(11)
    model = make_model()
    if build_first:
        model(x[:1])
    model.compile(optimizer(), "sparse_categorical_crossentropy", jit_compile=jit_compile)
    curves, rates, seen = LayerRotationCurves(batch_frequency=2), LayerRotationRates(), IterationsSeen()
    model.fit(x, y, batch_size=16, epochs=epochs, shuffle=False, verbose=0, callbacks=[curves, rates, seen])
    assert_steps_are_iterations(curves, seen)
    assert_steps_are_iterations(rates, seen)
    return model, curves, rates


@pytest.mark.parametrize(
    "make_model, optimizer",
    [
        (_lazy_sequential, lambda: Layca(learning_rate=RHO)),
        (TwoDense, lambda: keras.optimizers.SGD(0.1)),
        (TwoDense, lambda: Layca(keras.optimizers.Adam(), learning_rate=RHO, lars=True)),
    ],
    ids=["sequential-layca", "subclassed-sgd", "subclassed-layca-lars"],
)
def test_a_model_built_by_fit_trains_and_is_measured_as_one_built_before(make_model, optimizer):
    lazy, lazy_curves, lazy_rates = _fit_with_monitors(make_model, optimizer, build_first=False)
    built, curves, rates = _fit_with_monitors(make_model, optimizer, build_first=True)
    for a, b in zip(lazy.weights, built.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    assert lazy_curves.layer_names == curves.layer_names and len(curves.layer_names) == 2
    np.testing.assert_allclose(lazy_curves.distances, curves.distances, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(lazy_rates.rates, rates.rates, rtol=1e-5)
    np.testing.assert_array_equal(lazy_curves.steps, [2, 4, 6, 8])
    assert np.all(curves.distances[0] > 0)  # the reference predates the first step


@pytest.mark.parametrize("jit_compile", [False, True])
def test_layca_rotates_a_lazily_built_model_by_rho_each_step(jit_compile):
    _, _, rates = _fit_with_monitors(
        _lazy_sequential, lambda: Layca(learning_rate=RHO), build_first=False, jit_compile=jit_compile
    )
    np.testing.assert_allclose(rates.rates, RHO, rtol=1e-4)


def _small_convnet():
    """Conv-BN-pool-dense on 4x4 images of 6 channels (`_data`'s 96 features)."""
    return keras.Sequential([keras.layers.Reshape((4, 4, 6)), keras.layers.Conv2D(4, 3, use_bias=False),
                             keras.layers.BatchNormalization(center=False, scale=False),
                             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, use_bias=False)])


def test_layca_rotates_a_convnet_by_rho_each_step_in_a_compiled_step():
    # On PyTorch, a compiled step (torch.compile) once failed on Layca's update, a
    # functools.partial under torch.no_grad that dynamo cannot trace.
    x, y = _data(features=96)
    keras.utils.set_random_seed(5)
    model = _small_convnet()
    model.compile(Layca(learning_rate=RHO), "sparse_categorical_crossentropy", jit_compile=True)
    rates = LayerRotationRates()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[rates])
    assert rates.rates.shape == (4, 2)
    np.testing.assert_allclose(rates.rates, RHO, rtol=1e-4)


def _batches_of_unknown_length():
    """4 batches of 16 from a generator: Keras learns their number only at the end."""
    x, y = _data()
    for start in range(0, 64, 16):
        yield x[start : start + 16], y[start : start + 16]


def test_a_model_built_by_fit_from_a_generator_of_unknown_length():
    model = TwoDense()
    model.compile(Layca(learning_rate=RHO), "sparse_categorical_crossentropy")
    rates, seen = LayerRotationRates(), IterationsSeen()
    model.fit(_batches_of_unknown_length(), epochs=1, verbose=0, callbacks=[rates, seen])
    np.testing.assert_allclose(rates.rates, RHO, rtol=1e-4)
    assert rates.rates.shape == (4, 2)
    assert_steps_are_iterations(rates, seen)


def test_batch_records_of_data_of_unknown_length_are_placed_within_their_epoch():
    model = _lazy_sequential()
    model.compile(Layca(learning_rate=RHO), "sparse_categorical_crossentropy")
    curves, seen = LayerRotationCurves(batch_frequency=1), IterationsSeen()
    model.fit(_batches_of_unknown_length(), epochs=1, verbose=0, callbacks=[curves, seen])
    np.testing.assert_allclose(curves.epochs, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(curves.steps, [1, 2, 3, 4])
    assert_steps_are_iterations(curves, seen)


@pytest.mark.tensorflow
def test_batch_records_of_a_dataset_of_unknown_cardinality_follow_each_epoch():
    import tensorflow as tf

    x, y = _data()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).filter(lambda *_: True).batch(16)  # length unknown
    model = _lazy_sequential()
    model.compile(Layca(learning_rate=RHO), "sparse_categorical_crossentropy")
    curves, seen = LayerRotationCurves(batch_frequency=2), IterationsSeen()
    model.fit(dataset, epochs=2, verbose=0, callbacks=[curves, seen])
    np.testing.assert_allclose(curves.epochs, [0.5, 1.0, 1.5, 2.0])
    assert_steps_are_iterations(curves, seen)


@pytest.mark.tensorflow
def test_a_custom_training_loop_builds_layca_inside_its_first_step():
    import tensorflow as tf

    x, y = _data()
    model = TwoDense()
    optimizer = Layca(learning_rate=RHO, lars=True)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)

    train_step(x[:16], y[:16])
    kernels = [model.hidden.kernel, model.out.kernel]
    before = [k.numpy() for k in kernels]
    train_step(x[16:32], y[16:32])
    for b, k in zip(before, kernels):
        assert references.tan_angle(b, k.numpy()) > 0
    # LARS' cap is relative to ||p_0||, read inside the first step.
    assert [float(v.numpy()) for v in optimizer._initial_norms if v is not None] == pytest.approx(
        [np.linalg.norm(b) for b in before], rel=0.05
    )


# -- steps_per_execution ------------------------------------------------------------

needs_steps_per_execution = pytest.mark.skipif(
    keras.backend.backend() == "torch", reason="Keras' PyTorch backend refuses steps_per_execution > 1"
)


def _spe_run(steps_per_execution, monitor):
    x, y = _data()
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, name="hidden"), keras.layers.Dense(3, name="out")])
    model.compile(Layca(learning_rate=RHO), "sparse_categorical_crossentropy", steps_per_execution=steps_per_execution)
    seen = IterationsSeen()
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[monitor, seen])
    if isinstance(monitor, (LayerRotationCurves, LayerRotationRates)):
        assert_steps_are_iterations(monitor, seen)
    return monitor


@needs_steps_per_execution
def test_steps_per_execution_records_at_the_true_steps():
    every_step = _spe_run(1, LayerRotationCurves(batch_frequency=4))
    grouped = _spe_run(2, LayerRotationCurves(batch_frequency=4))
    np.testing.assert_array_equal(grouped.steps, [4, 8])
    np.testing.assert_array_equal(grouped.steps, every_step.steps)
    np.testing.assert_allclose(grouped.distances, every_step.distances, rtol=1e-5)
    rates_every_step = _spe_run(1, LayerRotationRates(batch_frequency=2))
    rates_grouped = _spe_run(2, LayerRotationRates(batch_frequency=2))
    np.testing.assert_allclose(rates_grouped.rates, rates_every_step.rates, rtol=1e-4)


@pytest.mark.parametrize(
    "monitor, message",
    [
        (lambda: LayerRotationRates(), r"batch_frequency=1.*steps_per_execution=2.*multiple of 2"),
        (lambda: LayerRotationCurves(batch_frequency=3), r"batch_frequency=3.*multiple of 2"),
        (lambda: ReplayRotationRates(np.ones((4, 2)), ["hidden", "out"]), r"steps_per_execution=2.*=1"),
    ],
    ids=["rates", "curves", "replay"],
)
@needs_steps_per_execution
def test_steps_per_execution_that_hides_steps_is_refused(monitor, message):
    with pytest.raises(ValueError, match=message):
        _spe_run(2, monitor())


# -- gradient accumulation ----------------------------------------------------------------


def _accumulating_model(accumulation):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, name="hidden"), keras.layers.Dense(3, name="out")])
    layca = Layca(keras.optimizers.Adam(), learning_rate=RHO, gradient_accumulation_steps=accumulation)
    model.compile(layca, "sparse_categorical_crossentropy")
    return model


def test_accumulating_four_batches_is_one_step_on_their_mean():
    """With a mean loss, four batches of 4 accumulated are one batch of 16: the same
    rotations, Adam's bias correction at the same step, records at the applied steps."""
    x, y = _data()
    accumulating, one_batch = _accumulating_model(4), _accumulating_model(None)
    curves, rates, seen = LayerRotationCurves(batch_frequency=1), LayerRotationRates(), IterationsSeen()
    accumulating.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[curves, rates, seen])
    one_batch.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(accumulating.weights, one_batch.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)
    assert int(accumulating.optimizer.iterations) == int(accumulating.optimizer.inner_optimizer.iterations) == 4
    np.testing.assert_array_equal(rates.steps, [1, 2, 3, 4])
    np.testing.assert_allclose(rates.rates, RHO, rtol=1e-4)
    np.testing.assert_array_equal(curves.steps, [1, 2, 3, 4])
    np.testing.assert_allclose(curves.epochs, [0.25, 0.5, 0.75, 1.0])
    assert_steps_are_iterations(curves, seen)
    assert_steps_are_iterations(rates, seen)


def test_a_model_saved_mid_accumulation_resumes_where_it_stopped(tmp_path):
    x, y = _data()
    uninterrupted = _accumulating_model(4)
    uninterrupted.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    interrupted = _accumulating_model(4)
    interrupted.fit(x[:24], y[:24], batch_size=4, epochs=1, shuffle=False, verbose=0)  # 6 batches: 1 step and 2 of 4
    interrupted.save(tmp_path / "mid.keras")
    resumed = keras.saving.load_model(tmp_path / "mid.keras")
    assert int(resumed.optimizer.iterations) == 1
    resumed.fit(x[24:], y[24:], batch_size=4, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(resumed.weights, uninterrupted.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)
    assert int(resumed.optimizer.iterations) == int(resumed.optimizer.inner_optimizer.iterations) == 4


# -- variables that are not dense or convolutional kernels ------------------------------


class Scaled(keras.layers.Layer):
    """A layer with a custom trainable weight named neither kernel nor bias."""

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

    def call(self, x):
        return x * self.scale


def _embedding_model(extra=None):
    layers = [keras.Input((4,), dtype="int32"), keras.layers.Embedding(20, 5, name="emb"), keras.layers.Flatten()]
    layers += [extra] if extra is not None else []
    layers += [keras.layers.Dense(3, name="out")]
    return keras.Sequential(layers)


def _one_step(model, optimizer):
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 20, (16, 4)), rng.integers(0, 3, 16)
    model.compile(optimizer, "sparse_categorical_crossentropy")
    before = {v.path: v.numpy() for v in model.trainable_variables}
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    return before, {v.path: v.numpy() for v in model.trainable_variables}


def test_embedding_tables_are_rotated_like_kernels():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # embeddings and biases: nothing to warn about
        before, after = _one_step(_embedding_model(), Layca(learning_rate=RHO))
    table = "sequential/emb/embeddings"
    assert references.tan_angle(before[table], after[table]) == pytest.approx(RHO, rel=1e-4)
    assert np.linalg.norm(after[table]) == pytest.approx(np.linalg.norm(before[table]), rel=1e-5)


def test_variables_layca_leaves_unchanged_are_named_in_one_warning():
    with pytest.warns(UserWarning, match=r"leaves 1 trainable variable\(s\) unchanged: \['sequential/emb/embeddings'\]"):
        before, after = _one_step(_embedding_model(), Layca(learning_rate=RHO, kernel_names=PAPER_KERNEL_NAMES))
    np.testing.assert_array_equal(after["sequential/emb/embeddings"], before["sequential/emb/embeddings"])


def test_custom_weights_warn_and_can_be_rotated_or_trained():
    with pytest.warns(UserWarning, match=r"scaled/scale'\].*kernel_names.*train_non_kernels=True"):
        before, after = _one_step(_embedding_model(Scaled()), Layca(learning_rate=RHO))
    path = next(p for p in before if p.endswith("scale"))
    np.testing.assert_array_equal(after[path], before[path])

    keras.utils.set_random_seed(2)
    layca = Layca(learning_rate=RHO, kernel_names=[r"(^|/)embeddings$", r"(^|/)kernel$", r"(^|/)scale$"])
    before, after = _one_step(_embedding_model(Scaled()), layca)
    path = next(p for p in before if p.endswith("scale"))
    assert references.tan_angle(before[path], after[path]) == pytest.approx(RHO, rel=1e-4)

    before, after = _one_step(_embedding_model(Scaled()), Layca(learning_rate=RHO, train_non_kernels=True))
    path = next(p for p in before if p.endswith("scale"))
    assert not np.array_equal(after[path], before[path])


# -- several fit calls ------------------------------------------------------------------


def _small_model():
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, name="hidden"), keras.layers.Dense(3, name="out")])


def test_records_of_several_fits_form_one_history():
    x, y = _data()
    model = _small_model()
    initial = [v.numpy() for v in model.trainable_variables if v.path.endswith("kernel")]
    model.compile(Layca(learning_rate=RHO), "sparse_categorical_crossentropy")
    curves, seen = LayerRotationCurves(), IterationsSeen()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[curves, seen])
    seen.epoch_offset = 2
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[curves, seen])
    np.testing.assert_array_equal(curves.epochs, [1, 2, 3, 4])
    np.testing.assert_array_equal(curves.steps, [4, 8, 12, 16])
    # A fresh optimizer (its iterations restart at 0): steps and epochs still continue.
    model.compile(Layca(learning_rate=RHO), "sparse_categorical_crossentropy")
    seen.epoch_offset, seen.step_offset = 4, 16
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[curves, seen])
    np.testing.assert_array_equal(curves.epochs, [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(curves.steps, [4, 8, 12, 16, 20])
    assert_steps_are_iterations(curves, seen)
    final = [v.numpy() for v in model.trainable_variables if v.path.endswith("kernel")]
    np.testing.assert_allclose(
        curves.distances[-1], [references.cosine_distance(a, b) for a, b in zip(initial, final)], atol=1e-6
    )
    # Keras' own numbering, when the user gives it, is kept.
    seen.epoch_offset = 0
    model.fit(x, y, batch_size=16, epochs=7, initial_epoch=5, verbose=0, callbacks=[curves, seen])
    np.testing.assert_array_equal(curves.epochs, [1, 2, 3, 4, 5, 6, 7])
    assert_steps_are_iterations(curves, seen)


# -- trainability changes ---------------------------------------------------------------


def test_frozen_then_fine_tuned_layers_get_a_curve_with_gaps(tmp_path):
    x, y = _data()
    base = keras.layers.Dense(8, name="base")
    model = keras.Sequential([keras.Input((6,)), base, keras.layers.Dense(3, name="head")])
    base_initial = base.kernel.numpy()
    curves, seen = LayerRotationCurves(), IterationsSeen()
    base.trainable = False
    model.compile(Layca(learning_rate=RHO), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[curves, seen])
    np.testing.assert_array_equal(base.kernel.numpy(), base_initial)
    base.trainable = True
    model.compile(Layca(learning_rate=RHO), "sparse_categorical_crossentropy")
    seen.epoch_offset, seen.step_offset = 2, 8
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[curves, seen])
    assert_steps_are_iterations(curves, seen)

    assert curves.layer_names == ["head", "base"]
    distances = curves.distances
    assert np.isnan(distances[:2, 1]).all() and np.isfinite(distances[:, 0]).all()
    assert distances[-1, 1] == pytest.approx(references.cosine_distance(base_initial, base.kernel.numpy()), abs=1e-6)
    curves.save(tmp_path / "curves.h5")
    loaded = LayerRotationCurves.load(tmp_path / "curves.h5")
    assert loaded.layer_names == curves.layer_names
    np.testing.assert_array_equal(loaded.distances, distances)  # NaN gaps included
    loaded.plot()


def test_a_new_model_with_the_same_paths_needs_a_new_callback():
    x, y = _data()
    curves = LayerRotationCurves()
    for _ in range(2):
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, name="out")], name="same")
        model.compile("sgd", "sparse_categorical_crossentropy")
        if curves.layer_names:
            with pytest.raises(ValueError, match=r"another variable at that path.*new callback"):
                model.fit(x, y, epochs=1, verbose=0, callbacks=[curves])
        else:
            model.fit(x, y, epochs=1, verbose=0, callbacks=[curves])


# -- rates ----------------------------------------------------------------------------


@pytest.mark.parametrize("rate, shown", [(float("nan"), "nan"), (-0.1, "-0.1"), (float("inf"), "inf")])
def test_rates_that_make_no_sense_are_refused_at_construction(rate, shown):
    with pytest.raises(ValueError, match=rf"learning_rate is {shown}.*finite number >= 0"):
        Layca(learning_rate=rate)


class _GoesNegative(keras.optimizers.schedules.LearningRateSchedule):
    """0.1 for three steps, then -0.1."""

    def __call__(self, step):
        return keras.ops.where(step < 3, 0.1, -0.1)

    def get_config(self):
        return {}


def _three_good_steps_then_one_bad(run_eagerly):
    x, y = _data()
    model = _small_model()
    model.compile(Layca(learning_rate=_GoesNegative()), "sparse_categorical_crossentropy", run_eagerly=run_eagerly)
    model.fit(x[:48], y[:48], batch_size=16, epochs=1, verbose=0)  # steps 0-2: fine
    kernels = [v for v in model.trainable_variables if v.path.endswith("kernel")]
    return model, kernels, [k.numpy() for k in kernels], (x[:16], y[:16])


def test_a_schedule_is_refused_at_step_zero_and_eagerly_at_the_first_step_it_goes_wrong():
    with pytest.raises(ValueError, match=r"schedule at step 0 is -0.5"):
        Layca(learning_rate=keras.optimizers.schedules.PolynomialDecay(-0.5, 10))
    model, kernels, before, (x, y) = _three_good_steps_then_one_bad(run_eagerly=True)
    if keras.backend.backend() == "jax":  # an error inside a JAX step would lose the model's state
        refusal = pytest.warns(RuntimeWarning, match=r"must be a finite number >= 0; received -0.1")
    else:
        refusal = pytest.raises(ValueError, match=r"learning_rate \(schedule\) is -0.1.*finite number >= 0")
    with refusal:
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for k, value in zip(kernels, before):
        np.testing.assert_array_equal(k.numpy(), value)


@pytest.mark.tensorflow
def test_a_schedule_going_wrong_in_a_tensorflow_graph_stops_the_step():
    import tensorflow as tf

    model, kernels, before, (x, y) = _three_good_steps_then_one_bad(run_eagerly=False)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must be a finite number >= 0"):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for k, value in zip(kernels, before):
        np.testing.assert_array_equal(k.numpy(), value)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="jax.jit's behaviour")
def test_a_schedule_going_wrong_under_jax_jit_warns_and_leaves_the_kernels():
    model, kernels, before, (x, y) = _three_good_steps_then_one_bad(run_eagerly=False)
    with pytest.warns(RuntimeWarning, match=r"must be a finite number >= 0; received -0.1"):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for k, value in zip(kernels, before):
        np.testing.assert_array_equal(k.numpy(), value)


def test_learning_rate_scheduler_cannot_set_a_negative_rate():
    x, y = _data()
    model = _small_model()
    model.compile(Layca(learning_rate=RHO), "sparse_categorical_crossentropy")
    scheduler = keras.callbacks.LearningRateScheduler(lambda epoch: RHO if epoch == 0 else -RHO)
    with pytest.raises(ValueError, match=r"learning_rate is -0.05"):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[scheduler])


# -- layer names of recurrent layers ------------------------------------------------------


def _recurrent_model():
    return keras.Sequential(
        [
            keras.Input((5, 3)),
            keras.layers.LSTM(4, return_sequences=True, name="enc"),
            keras.layers.Bidirectional(keras.layers.GRU(4), name="bi"),
            keras.layers.Dense(2, name="out"),
        ]
    )


def test_multipliers_take_the_keras_names_of_recurrent_layers():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 5, 3)).astype("float32"), rng.integers(0, 2, 16)
    model = _recurrent_model()
    model.compile(Layca(learning_rate=RHO, multipliers={"enc": 0.5, "bi": 2.0}), "sparse_categorical_crossentropy")
    rates, seen = LayerRotationRates(), IterationsSeen()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[rates, seen])
    assert_steps_are_iterations(rates, seen)
    expected = {"enc": 0.5, "forward": 2.0, "backward": 2.0, "out": 1.0}
    assert len(rates.variable_paths) == 7  # kernel and recurrent kernel of 3 cells, and out
    for path, rate in zip(rates.variable_paths, rates.rates[0]):
        factor = next(f for key, f in expected.items() if key in path)
        assert rate == pytest.approx(factor * RHO, rel=1e-4), path
    values = model.optimizer.multiplier_values()
    assert values["lstm_cell"] == 0.5 and values["forward_gru/gru_cell"] == values["backward_gru/gru_cell"] == 2.0


def test_a_layer_name_shared_by_several_layers_is_refused():
    model = keras.Sequential(
        [keras.Input((5, 3)), keras.layers.LSTM(4, return_sequences=True, name="a"), keras.layers.LSTM(4, name="b")]
    )
    with pytest.raises(ValueError, match=r"'lstm_cell' matches several layers.*a/lstm_cell.*b/lstm_cell"):
        Layca(multipliers={"lstm_cell": 2.0}).build(model.trainable_variables)
    layca = Layca(multipliers={"a": 2.0})
    layca.build(model.trainable_variables)
    assert layca.multiplier_values() == {"a/lstm_cell": 2.0, "b/lstm_cell": 1.0}


@pytest.mark.parametrize("built", ["with an Input", "by a call", "by fit", "by train_on_batch"])
def test_a_zero_kernel_is_an_error_naming_it_before_anything_trains(built):
    x, y = _data()
    model = keras.Sequential(
        ([keras.Input((6,))] if built == "with an Input" else [])
        + [keras.layers.Dense(8, name="hidden"), keras.layers.Dense(3, kernel_initializer="zeros", name="dead")]
    )
    if built == "by a call":
        model(x[:1])
    before = [w.copy() for w in model.get_weights()]
    model.compile(Layca(learning_rate=RHO), "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"cannot rotate kernel '[^']*dead/kernel': its norm is 0\.0"):
        if built == "by train_on_batch":
            model.train_on_batch(x[:16], y[:16])
        else:
            model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for value, previous in zip(model.get_weights(), before):
        np.testing.assert_array_equal(value, previous)


def test_a_recurrent_models_recorded_rates_replay_kernel_by_kernel(tmp_path):
    """The replay takes what LayerRotationRates records: one column per kernel, a cell's
    kernel and recurrent kernel each at its own recorded rate (not both at one)."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(48, 5, 3)).astype("float32"), rng.integers(0, 2, 48)

    def make_model():
        keras.utils.set_random_seed(0)
        return keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4, name="enc"), keras.layers.Dense(2, name="out")])

    source = make_model()
    source.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    recorded = LayerRotationRates()
    source.fit(x, y, batch_size=16, epochs=1, callbacks=[recorded], verbose=0)
    assert recorded.layer_names == ["lstm_cell/kernel", "lstm_cell/recurrent_kernel", "out"]
    kernel, recurrent = recorded.rates[0, :2]
    assert abs(kernel - recurrent) > 1e-3 * max(kernel, recurrent)  # the two kernels do rotate differently
    copy = make_model()
    copy.compile(optimizer=Layca(learning_rate=1.0), loss="sparse_categorical_crossentropy")
    replayed = LayerRotationRates()
    copy.fit(x, y, batch_size=16, epochs=1, verbose=0,
             callbacks=[ReplayRotationRates(recorded.records()), replayed])
    np.testing.assert_allclose(replayed.rates, recorded.rates, rtol=1e-4)
    values = copy.optimizer.multiplier_values()
    assert set(values) == {"lstm_cell/kernel", "lstm_cell/recurrent_kernel", "out"}
    saved = tmp_path / "rates.h5"  # and as a file: the same records, the same replay
    recorded.save(saved)
    again = make_model()
    again.compile(optimizer=Layca(learning_rate=1.0), loss="sparse_categorical_crossentropy")
    replayed_again = LayerRotationRates()
    again.fit(x, y, batch_size=16, epochs=1, verbose=0,
              callbacks=[ReplayRotationRates(Records.load(saved, "rates")), replayed_again])
    np.testing.assert_allclose(replayed_again.rates, recorded.rates, rtol=1e-4)
    with pytest.raises(ValueError, match=r"names \['lstm_cell'\] more than once.*recorder's Records"):
        ReplayRotationRates(recorded.rates, ["lstm_cell", "lstm_cell", "out"])
    with pytest.raises(ValueError, match=r"'kernel' matches several kernels"):
        Layca(multipliers={"kernel": 2.0}).build(make_model().trainable_variables)
