"""Monitoring callbacks against numpy on the weights they saw; saving, replay, plotting."""

import glob

import keras
import matplotlib
import numpy as np
import pytest

from layer_rotation_tools import (
    Layca,
    LayerRotationCurves,
    LayerRotationRates,
    Records,
    ReplayRotationRates,
    kernel_layer_names,
    plot_layer_rotation_curves,
)
from layer_rotation_tools.plotting import layer_colors
from layer_rotation_tools.storage import ResultsFileError
from tests import references
from tests.iterations import IterationsSeen, assert_steps_are_iterations


def _model():
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, use_bias=False, name="first"),
            keras.layers.BatchNormalization(center=False, scale=False),
            keras.layers.ReLU(),
            keras.layers.Dense(8, use_bias=False, name="second"),
            keras.layers.ReLU(),
            keras.layers.Dense(3, activation="softmax", name="last"),
        ]
    )


def _data(n=64):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 6)).astype("float32"), keras.utils.to_categorical(rng.integers(0, 3, n), 3)


class _Capture(keras.callbacks.Callback):
    """Copies the kernels at train begin, every `every` batches and every epoch end."""

    def __init__(self, every=None):
        super().__init__()
        self.every, self.initial, self.seen = every, None, []

    def _kernels(self):
        return [v.numpy() for v in self.model.trainable_variables if v.path.endswith("kernel")]

    def on_train_begin(self, logs=None):
        self.initial = self.initial or self._kernels()

    def on_train_batch_end(self, batch, logs=None):
        if self.every and (batch + 1) % self.every == 0:
            self.seen.append(self._kernels())

    def on_epoch_end(self, epoch, logs=None):
        if not self.every or self.params["steps"] % self.every:
            self.seen.append(self._kernels())


@pytest.mark.parametrize("batch_frequency", [None, 1, 2])
def test_curves_equal_numpy_cosine_distances_of_the_weights_seen(batch_frequency):
    model = _model()
    model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy")
    x, y = _data()
    curves, capture, seen = LayerRotationCurves(batch_frequency=batch_frequency), _Capture(batch_frequency), IterationsSeen()
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[curves, capture, seen])
    expected = [[references.cosine_distance(w0, w) for w0, w in zip(capture.initial, ws)] for ws in capture.seen]
    assert curves.layer_names == ["first", "second", "last"]
    records_per_epoch = 4 // batch_frequency if batch_frequency else 1
    assert curves.distances.shape == (len(capture.seen), 3) == (3 * records_per_epoch, 3)
    np.testing.assert_allclose(curves.distances, expected, rtol=1e-4, atol=1e-6)
    assert curves.distances.min() > 0
    want_epochs = [e + (b + 1) / records_per_epoch for e in range(3) for b in range(records_per_epoch)]
    np.testing.assert_allclose(curves.epochs, want_epochs)
    np.testing.assert_array_equal(curves.steps, np.array(want_epochs) * 4)
    assert_steps_are_iterations(curves, seen)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("batch_frequency", [None, 2])
def test_curves_from_narrower_references_measure_from_the_rounded_initial_kernels(dtype, batch_frequency):
    # The reference of each kernel is its initial value rounded to `dtype` (ml_dtypes: the
    # rounding of every backend), measured against the float32 kernels seen.
    import ml_dtypes

    rounded = {"bfloat16": ml_dtypes.bfloat16, "float16": np.float16}[dtype]
    model = _model()
    model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy")
    x, y = _data()
    curves = LayerRotationCurves(batch_frequency=batch_frequency, reference_dtype=dtype)
    exact, capture = LayerRotationCurves(batch_frequency=batch_frequency), _Capture(batch_frequency)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[curves, exact, capture])
    starts = [w0.astype(rounded).astype(np.float64) for w0 in capture.initial]
    assert not any(np.array_equal(start, w0) for start, w0 in zip(starts, capture.initial))
    expected = [[references.cosine_distance(w0, w) for w0, w in zip(starts, ws)] for ws in capture.seen]
    np.testing.assert_allclose(curves.distances, expected, rtol=1e-4, atol=1e-6)
    assert np.abs(curves.distances - exact.distances).max() < {"bfloat16": 1e-3, "float16": 1e-4}[dtype]
    assert all(keras.backend.standardize_dtype(r.dtype) == dtype for r in curves._reference_variables())


@pytest.mark.parametrize("dtype", ["int8", "bool", "double_precision"])
def test_a_reference_dtype_that_is_not_floating_is_an_error_naming_it(dtype):
    with pytest.raises(ValueError, match=f"reference_dtype='{dtype}' is not a floating dtype.*'bfloat16'"):
        LayerRotationCurves(reference_dtype=dtype)


def _batches_of_unknown_length(kind, x, y, batch_size):
    """The same batches, in order, from data whose length Keras does not know: a `tf.data`
    pipeline through `filter`, a PyTorch `IterableDataset`'s `DataLoader`, a generator (one
    epoch: a generator ends for good)."""
    if kind == "tf.data":
        tf = pytest.importorskip("tensorflow")
        return tf.data.Dataset.from_tensor_slices((x, y)).filter(lambda *_: True).batch(batch_size)
    if kind == "IterableDataset":
        torch = pytest.importorskip("torch")

        class Batches(torch.utils.data.IterableDataset):
            def __iter__(self):
                return ((x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size))

        return torch.utils.data.DataLoader(Batches(), batch_size=None)
    return ((x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size))


@pytest.mark.parametrize("kind, epochs", [("tf.data", 2), ("IterableDataset", 2), ("generator", 1)])
@pytest.mark.parametrize("optimizer", ["sgd", "layca"])
def test_steps_on_data_of_unknown_length_are_the_optimizer_steps(kind, epochs, optimizer):
    if kind == "tf.data" and keras.backend.backend() != "tensorflow":
        pytest.skip("tf.data pipelines feed Keras' TensorFlow backend")
    x, y = _data(64)
    model = _model()
    model.compile(Layca() if optimizer == "layca" else keras.optimizers.SGD(0.1), "categorical_crossentropy")
    curves, seen = LayerRotationCurves(batch_frequency=2), IterationsSeen()
    model.fit(_batches_of_unknown_length(kind, x, y, 8), epochs=epochs, verbose=0, callbacks=[curves, seen])
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 8 * epochs
    assert curves.steps.tolist() == list(range(2, 8 * epochs + 1, 2))
    np.testing.assert_allclose(curves.epochs, np.arange(1, 4 * epochs + 1) / 4)
    assert_steps_are_iterations(curves, seen)


def test_monitoring_every_step_changes_nothing_in_training():
    x, y = _data()
    model = _model()
    initial = model.get_weights()
    model.compile(Layca(keras.optimizers.Adam(0.01), learning_rate=0.1), "categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    unmonitored = model.get_weights()
    monitored = _model()
    monitored.set_weights(initial)
    monitored.compile(Layca(keras.optimizers.Adam(0.01), learning_rate=0.1), "categorical_crossentropy")
    curves, rates, seen = LayerRotationCurves(batch_frequency=1), LayerRotationRates(), IterationsSeen()
    monitored.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[curves, rates, seen])
    for want, got in zip(unmonitored, monitored.get_weights()):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(rates.rates, 0.1, rtol=1e-3)
    assert curves.steps.tolist() == rates.steps.tolist() == list(range(1, 9))
    assert_steps_are_iterations(curves, seen)
    assert_steps_are_iterations(rates, seen)


def test_a_monitored_fit_leaves_logs_and_later_fits_as_keras_makes_them():
    model = _model()
    model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy", metrics=["accuracy"])
    x, y = _data()
    curves, seen = LayerRotationCurves(batch_frequency=1), []
    logs_seen = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(sorted(logs)))
    iterations = IterationsSeen()
    monitored = model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[curves, logs_seen, iterations])
    plain = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert seen == [["accuracy", "loss"]] * 4
    assert sorted(monitored.history) == sorted(plain.history) == ["accuracy", "loss"]
    assert len(curves.distances) == 4  # the plain fit added nothing
    assert_steps_are_iterations(curves, iterations)


def test_a_fit_that_fails_midway_keeps_its_records_and_the_next_fit_records_again():
    model = _model()
    model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy")
    x, y = _data()
    curves, capture, seen = LayerRotationCurves(batch_frequency=1), _Capture(every=1), IterationsSeen()

    def fail(epoch, logs):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(x, y, batch_size=16, epochs=2, verbose=0,
                  callbacks=[curves, capture, seen, keras.callbacks.LambdaCallback(on_epoch_end=fail)])
    seen.epoch_offset = 1
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[curves, capture, seen])
    expected = [[references.cosine_distance(w0, w) for w0, w in zip(capture.initial, ws)] for ws in capture.seen]
    np.testing.assert_allclose(curves.distances, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(curves.steps, np.arange(1, 9))
    assert_steps_are_iterations(curves, seen)


def test_records_of_a_fit_stopped_midway_keep_its_steps_and_epoch_after_a_recompile():
    """A fit stopped by an error in its third batch, nothing read from the monitor, then a
    fresh optimizer (its iterations restart at 0) and a new fit: the new records continue
    at step 4 and in the next epoch."""
    model = _model()
    model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy")
    x, y = _data()
    curves, seen = LayerRotationCurves(batch_frequency=1), IterationsSeen()

    def fail(batch, logs):
        if batch == 2:
            raise RuntimeError("stopped")

    with pytest.raises(RuntimeError, match="stopped"):
        model.fit(x, y, batch_size=16, epochs=2, verbose=0,
                  callbacks=[curves, seen, keras.callbacks.LambdaCallback(on_train_batch_end=fail)])
    model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy")
    seen.epoch_offset, seen.step_offset = 1, 3
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[curves, seen])
    np.testing.assert_array_equal(curves.steps, [1, 2, 3, 4, 5, 6, 7])
    np.testing.assert_allclose(curves.epochs, [0.25, 0.5, 0.75, 1.25, 1.5, 1.75, 2.0])
    assert_steps_are_iterations(curves, seen)


@pytest.mark.parametrize("batch_frequency", [None, 1])
def test_a_recompile_after_a_monitored_fit_that_raises_trains_with_the_new_optimizer(batch_frequency):
    model = _model()
    model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy")
    x, y = _data()
    curves, seen = LayerRotationCurves(batch_frequency=batch_frequency), IterationsSeen()

    def fail(batch, logs):
        raise RuntimeError("stopped")

    with pytest.raises(RuntimeError, match="stopped"):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0,
                  callbacks=[curves, seen, keras.callbacks.LambdaCallback(on_train_batch_end=fail)])
    model.compile(keras.optimizers.SGD(0.0), "categorical_crossentropy")  # a rate of 0: no kernel may move
    before = [v.numpy() for v in model.trainable_variables]
    seen.epoch_offset, seen.step_offset = 1, 1
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[curves, seen])
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 4
    for want, got in zip(before, [v.numpy() for v in model.trainable_variables]):
        np.testing.assert_array_equal(got, want)
    assert_steps_are_iterations(curves, seen)


class _FailingBatches(keras.utils.PyDataset):
    """Batches of (x, y); the third raises (a bad file, an interrupt)."""

    def __init__(self, x, y, error):
        super().__init__()
        self.x, self.y, self.error = x, y, error

    def __len__(self):
        return 4

    def __getitem__(self, index):
        if index == 2:
            raise self.error
        return self.x[16 * index : 16 * (index + 1)], self.y[16 * index : 16 * (index + 1)]


@pytest.mark.parametrize("where", ["callback", "data", "interrupt"])
def test_after_a_fit_that_raises_later_fits_and_steps_are_not_monitored(where):
    if where != "callback" and keras.backend.backend() == "jax":
        pytest.skip("Keras' JAX trainer leaves no values in the variables after an error in the data (Keras 3.15)")
    model = _model()
    model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy")
    x, y = _data()
    curves, rates, seen = LayerRotationCurves(batch_frequency=1), LayerRotationRates(), IterationsSeen()
    error = KeyboardInterrupt() if where == "interrupt" else RuntimeError("bad batch")
    if where == "callback":
        def fail(batch, logs):
            if batch == 2:
                raise error

        data, callbacks = (x, y), [curves, rates, seen, keras.callbacks.LambdaCallback(on_train_batch_end=fail)]
    else:
        data, callbacks = (_FailingBatches(x, y, error),), [curves, rates, seen]
    with pytest.raises(BaseException):  # TensorFlow raises its own error for one from the data
        model.fit(*data, batch_size=16, epochs=1, verbose=0, callbacks=callbacks)
    recorded = (len(curves.steps), len(rates.steps))
    model.train_on_batch(x[:16], y[:16])
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert (len(curves.steps), len(rates.steps)) == recorded
    seen.epoch_offset = 1  # the epoch the failed fit began
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[curves, seen])  # and a monitored fit records again
    assert len(curves.steps) == recorded[0] + 4
    np.testing.assert_allclose(curves.epochs[recorded[0]:], [1.25, 1.5, 1.75, 2.0])
    assert_steps_are_iterations(curves, seen)
    assert_steps_are_iterations(rates, seen)


def test_a_second_fit_keeps_the_initial_kernels():
    model = _model()
    model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy")
    x, y = _data()
    curves, capture, seen = LayerRotationCurves(), _Capture(), IterationsSeen()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[curves, capture, seen])
    seen.epoch_offset = 1
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[curves, capture, seen])
    expected = [references.cosine_distance(w0, w) for w0, w in zip(capture.initial, capture.seen[-1])]
    assert len(curves.distances) == 2
    np.testing.assert_allclose(curves.distances[-1], expected, rtol=1e-4, atol=1e-6)
    assert_steps_are_iterations(curves, seen)


@pytest.mark.parametrize("batch_frequency", [None, 1])
def test_references_set_between_two_fits_are_those_measured_from(batch_frequency):
    model = _model()
    model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy")
    x, y = _data()
    curves, seen = LayerRotationCurves(batch_frequency=batch_frequency), IterationsSeen()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[curves, seen])
    rng = np.random.default_rng(1)
    kernels = [v for v in model.trainable_variables if v.path.endswith("kernel")]
    chosen = [rng.normal(size=tuple(k.shape)).astype("float32") for k in kernels]
    curves.set_reference_kernels(chosen)
    capture, seen.epoch_offset = _Capture(batch_frequency), 1
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[curves, capture, seen])
    expected = [[references.cosine_distance(w0, w) for w0, w in zip(chosen, ws)] for ws in capture.seen]
    np.testing.assert_allclose(curves.distances[-len(expected):], expected, rtol=1e-4, atol=1e-6)
    assert_steps_are_iterations(curves, seen)


def test_rates_equal_numpy_tangent_between_consecutive_steps():
    model = _model()
    model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy")
    x, y = _data(32)
    rates, capture, seen = LayerRotationRates(), _Capture(every=1), IterationsSeen()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[rates, capture, seen])
    states = [capture.initial] + capture.seen
    expected = [[references.tan_angle(a, b) for a, b in zip(s0, s1)] for s0, s1 in zip(states, states[1:])]
    np.testing.assert_allclose(rates.rates, expected, rtol=1e-3)
    assert_steps_are_iterations(rates, seen)


def test_replayed_rates_are_the_rotation_rates_layca_performs():
    x, y = _data(64)
    model = _model()
    table = np.array([[0.05, 0.02, 0.01], [0.01, 0.03, 0.02], [0.02, 0.02, 0.04], [0.03, 0.01, 0.01]])
    model.compile(Layca("sgd", learning_rate=1.0), "categorical_crossentropy")
    rates, seen = LayerRotationRates(), IterationsSeen()
    replay = ReplayRotationRates(table, kernel_layer_names(model))
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[replay, rates, seen])
    np.testing.assert_allclose(rates.rates, np.vstack([table, np.repeat(table[-1:], 4, axis=0)]), rtol=1e-3)
    assert_steps_are_iterations(rates, seen)


def test_replay_checks_the_table_shape():
    with pytest.raises(ValueError, match=r"steps x 2 layers.*\(3,\)"):
        ReplayRotationRates(np.ones(3), ["a", "b"])
    with pytest.raises(ValueError, match=r"layer_names is required.*records\(\)"):
        ReplayRotationRates(np.ones((3, 2)))


def test_replay_takes_only_the_rates_of_every_step_from_the_first():
    names = ["a", "b"]
    every_second = Records("rates", np.ones((2, 2)), [0.5, 1.0], [2, 4], names)
    with pytest.raises(ValueError, match=r"recorded at steps \[2, 4\].*every step.*batch_frequency=1"):
        ReplayRotationRates(every_second)
    with pytest.raises(ValueError, match=r"replays rotation rates; received 'distances'"):
        ReplayRotationRates(Records("distances", np.ones((2, 2)), [0.5, 1.0], [1, 2], names))
    with pytest.raises(ValueError, match=r"layer_names comes with the Records"):
        ReplayRotationRates(Records("rates", np.ones((2, 2)), [0.5, 1.0], [1, 2], names), names)
    replay = ReplayRotationRates(Records("rates", np.full((2, 2), 0.5), [0.5, 1.0], [1, 2], names))
    assert replay.layer_names == names and replay.rates.shape == (2, 2)


def test_save_and_load_round_trip(tmp_path):
    model = _model()
    model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy")
    x, y = _data()
    curves, rates, seen = LayerRotationCurves(batch_frequency=3), LayerRotationRates(), IterationsSeen()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[curves, rates, seen])
    assert_steps_are_iterations(curves, seen)
    assert_steps_are_iterations(rates, seen)
    curves.save(tmp_path / "curves.h5")
    rates.save(tmp_path / "rates.h5")
    loaded = LayerRotationCurves.load(tmp_path / "curves.h5")
    assert loaded.layer_names == curves.layer_names
    np.testing.assert_array_equal(loaded.distances, curves.distances)
    np.testing.assert_array_equal(loaded.epochs, curves.epochs)
    np.testing.assert_array_equal(loaded.steps, curves.steps)
    np.testing.assert_array_equal(LayerRotationRates.load(tmp_path / "rates.h5").rates, rates.rates)
    with pytest.raises(ValueError, match="holds 'rates' records"):
        LayerRotationCurves.load(tmp_path / "rates.h5")


def test_truncated_file_is_a_clear_error(tmp_path):
    curves = LayerRotationCurves()
    curves.restore_records(Records("distances", [[0.5]], [1.0], [4], ["a"]))
    curves.save(tmp_path / "curves.h5")
    data = (tmp_path / "curves.h5").read_bytes()
    (tmp_path / "curves.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(ResultsFileError, match=r"curves.h5.*unreadable.*Delete it"):
        LayerRotationCurves.load(tmp_path / "curves.h5")


@pytest.mark.tensorflow
def test_tensorboard_receives_one_scalar_per_layer(tmp_path):
    import tensorflow as tf

    model = _model()
    model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy")
    x, y = _data()
    curves, seen = LayerRotationCurves(log_dir=str(tmp_path)), IterationsSeen()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[curves, seen])
    assert_steps_are_iterations(curves, seen)
    logged = {}
    for path in glob.glob(str(tmp_path / "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                logged[(value.tag, event.step)] = float(tf.make_ndarray(value.tensor))
    assert logged == {
        (f"distances/{name}", int(step)): pytest.approx(curves.distances[i, j], rel=1e-6)
        for i, step in enumerate(curves.steps)
        for j, name in enumerate(curves.layer_names)
    }


@pytest.mark.tensorflow
def test_curves_under_mirrored_strategy(mirrored_strategy):
    with mirrored_strategy.scope():
        model = _model()
        model.compile(Layca("sgd", learning_rate=0.1), "categorical_crossentropy")
    x, y = _data(32)
    rates, seen = LayerRotationRates(), IterationsSeen()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[rates, seen])
    np.testing.assert_allclose(rates.rates, 0.1, rtol=1e-3)
    assert_steps_are_iterations(rates, seen)


def test_bad_batch_frequency_is_an_error():
    with pytest.raises(ValueError, match="batch_frequency=0"):
        LayerRotationCurves(batch_frequency=0)


def test_plot_uses_viridis_first_to_last_and_starts_at_zero(tmp_path):
    distances = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    ax = plot_layer_rotation_curves(distances, title="eta = 88%")
    lines = ax.get_lines()
    assert [line.get_color() for line in lines] == layer_colors(3)
    assert matplotlib.colors.to_hex(lines[0].get_color()) == "#440154"  # viridis start
    assert matplotlib.colors.to_hex(lines[-1].get_color()) == "#fde725"  # viridis end
    np.testing.assert_array_equal(lines[1].get_xdata(), [0, 1, 2])
    np.testing.assert_array_equal(lines[1].get_ydata(), [0, 0.2, 0.5])
    assert ax.get_ylim() == (0, 1) and ax.get_title() == "eta = 88%"
    ax.figure.savefig(tmp_path / "curves.png")
    image = matplotlib.image.imread(tmp_path / "curves.png")
    assert image.ndim == 3 and image.shape[0] > 100


def test_plot_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"2-D array.*\(3,\)"):
        plot_layer_rotation_curves(np.ones(3))


def _unit_quantiles(quantity, befores, afters, quantiles):
    """numpy's quantiles of `quantity` (of two vectors) over each kernel's output units."""
    return [np.quantile([quantity(b.reshape(-1, b.shape[-1])[:, u], a.reshape(-1, a.shape[-1])[:, u])
                         for u in range(b.shape[-1])], quantiles) for b, a in zip(befores, afters)]


@pytest.mark.parametrize("batch_frequency", [1, 2])
def test_per_unit_quantiles_are_numpys_quantiles_over_each_kernels_units(batch_frequency):
    model = _model()
    model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy")
    x, y = _data()
    quantiles = (0.0, 0.25, 0.5, 0.9, 1.0)
    curves = LayerRotationCurves(batch_frequency=batch_frequency, per_unit_quantiles=quantiles)
    rates = LayerRotationRates(batch_frequency=batch_frequency, per_unit_quantiles=quantiles)
    capture, seen = _Capture(batch_frequency), IterationsSeen()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[curves, rates, capture, seen])
    assert_steps_are_iterations(rates, seen)
    expected = [_unit_quantiles(references.cosine_distance, capture.initial, ws, quantiles) for ws in capture.seen]
    np.testing.assert_allclose(curves.distances, expected, rtol=1e-4, atol=1e-6)
    assert curves.distances.shape == (len(capture.seen), 3, 5)
    previous = [capture.initial, *capture.seen[:-1]]
    expected = [_unit_quantiles(references.tan_angle, b, a, quantiles) for b, a in zip(previous, capture.seen)]
    np.testing.assert_allclose(rates.rates, expected, rtol=1e-4, atol=1e-6)
    assert np.ptp(rates.rates[:, 0], axis=-1).min() > 0  # the units of a layer rotate unequally under SGD


@pytest.mark.parametrize("per_unit", [True, False])
def test_under_per_unit_layca_every_units_rate_is_its_layers_rho(per_unit):
    # Every unit turning by the same angle, each orthogonally to itself and keeping its
    # norm, turns the kernel by that angle too: per-kernel rates are rho either way.
    model = _model()
    model.compile(Layca("adam", learning_rate=0.05, per_unit=per_unit, multipliers={"second": 0.5}),
                  "categorical_crossentropy")
    x, y = _data()
    units, kernels = LayerRotationRates(per_unit_quantiles=(0.0, 1.0)), LayerRotationRates()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[units, kernels])
    rhos = np.array([0.05, 0.025, 0.05])
    np.testing.assert_allclose(kernels.rates, np.broadcast_to(rhos, kernels.rates.shape), rtol=1e-3)
    if per_unit:
        np.testing.assert_allclose(units.rates, np.broadcast_to(rhos[:, None], units.rates.shape), rtol=1e-3)
    else:  # per kernel, some units turn faster than the kernel and some slower
        assert np.all(units.rates[..., 0] < 0.99 * rhos) and np.all(units.rates[..., 1] > 1.01 * rhos)


def test_per_unit_records_round_trip_and_continue_only_with_the_same_quantiles(tmp_path):
    model = _model()
    model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy")
    x, y = _data()
    curves = LayerRotationCurves(batch_frequency=2, per_unit_quantiles=[0.1, 0.5, 0.9])
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[curves])
    curves.save(tmp_path / "units.h5")
    loaded = LayerRotationCurves.load(tmp_path / "units.h5")
    assert loaded.per_unit_quantiles == (0.1, 0.5, 0.9) and loaded.records().quantiles == (0.1, 0.5, 0.9)
    np.testing.assert_array_equal(loaded.distances, curves.distances)
    np.testing.assert_array_equal(loaded.steps, curves.steps)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[loaded])
    np.testing.assert_array_equal(loaded.distances[: len(curves.distances)], curves.distances)
    with pytest.raises(ValueError, match=r"per_unit_quantiles=\(0.1, 0.5, 0.9\); this LayerRotationCurves records "
                                         r"per_unit_quantiles=None"):
        LayerRotationCurves().restore_records(curves.records())
    with pytest.raises(ValueError, match=r"quantiles \(0.1, 0.5, 0.9\) of each layer's units"):
        ReplayRotationRates(Records("rates", curves.distances, curves.epochs, np.arange(1, len(curves.steps) + 1),
                                    curves.layer_names, quantiles=(0.1, 0.5, 0.9)))
    ax = loaded.plot()
    assert len(ax.get_lines()) == 3 and len(ax.collections) == 3  # a median line in a 10-90% band per layer
    np.testing.assert_array_equal(ax.get_lines()[2].get_ydata(), [0.0, *loaded.distances[:, 2, 1]])


@pytest.mark.parametrize("quantiles", [(), (0.5, 1.5), (-0.1,), (0.5, 0.5), (0.9, 0.1), ("median",), 0.5j])
def test_bad_per_unit_quantiles_are_an_error_naming_them(quantiles):
    with pytest.raises(ValueError, match=r"per_unit_quantiles=.*numbers in \[0, 1\] in increasing order"):
        LayerRotationRates(per_unit_quantiles=quantiles)


@pytest.mark.parametrize("per_unit_quantiles", [None, (0.0, 0.5, 1.0)])
def test_rates_measured_a_group_of_kernels_at_a_time_are_numpys(monkeypatch, per_unit_quantiles):
    from layer_rotation_tools import layca as layca_module

    monkeypatch.setattr(layca_module, "GROUP_BYTES", 1)  # every kernel a group of its own, as in a large model
    model = _model()
    model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy")
    x, y = _data()
    rates, capture = LayerRotationRates(batch_frequency=2, per_unit_quantiles=per_unit_quantiles), _Capture(2)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[rates, capture])
    assert rates._measure_fn.__name__ == "grouped"
    previous = [capture.initial, *capture.seen[:-1]]
    if per_unit_quantiles is None:
        expected = [[references.tan_angle(b, a) for b, a in zip(bs, As)] for bs, As in zip(previous, capture.seen)]
    else:
        expected = [_unit_quantiles(references.tan_angle, bs, As, per_unit_quantiles)
                    for bs, As in zip(previous, capture.seen)]
    np.testing.assert_allclose(rates.rates, expected, rtol=1e-4, atol=1e-6)
