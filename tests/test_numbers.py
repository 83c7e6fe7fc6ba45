"""Wherever the library takes a number, a numpy scalar of any numeric dtype and a 0-d array
are the same number; booleans, strings and arrays of several values are clear errors."""

import keras
import numpy as np
import pytest

from layer_rotation_tools import Layca, LayerRotationCurves, SGDAMom, alpha_multipliers, alpha_profile

#: One, in every form a user may hold it.
ONES = [1, 1.0, np.int8(1), np.int64(1), np.uint16(1), np.float16(1), np.float32(1), np.float64(1),
        np.array(1), np.array(1.0, np.float32)]
HALVES = [0.5, np.float16(0.5), np.float32(0.5), np.float64(0.5), np.array(0.5)]
WHOLE = [2, np.int8(2), np.int32(2), np.uint64(2), np.array(2)]
NOT_NUMBERS = [True, np.bool_(True), "0.5", np.array([0.5]), None, [0.5]]


def _ids(values):
    return [f"{type(v).__name__}-{getattr(v, 'dtype', '')}" for v in values]


def _model():
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="out")(hidden))


@pytest.mark.parametrize("one", ONES, ids=_ids(ONES))
def test_a_one_of_any_numeric_type_is_a_rate_and_a_factor(one):
    model = _model()
    optimizer = Layca("sgd", learning_rate=one, multipliers={"hidden": one})
    optimizer.build(model.trainable_variables)
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == 1.0
    assert optimizer.multiplier_values() == {"hidden": 1.0, "out": 1.0}
    optimizer.learning_rate = one  # as keras.callbacks.LearningRateScheduler sets it
    optimizer.set_multipliers({"out": one})
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == 1.0
    assert alpha_profile(3, one) == [0.0, 0.0, 1.0]  # alpha = 1: only the last layer rotates
    assert alpha_multipliers(model, one) == {"hidden": 0.0, "out": 1.0}


@pytest.mark.parametrize("half", HALVES, ids=_ids(HALVES))
def test_a_half_of_any_floating_type_is_a_momentum_and_an_alpha(half):
    assert SGDAMom(momentum=half).momentum == 0.5
    assert alpha_profile(2, half) == alpha_profile(2, 0.5)


@pytest.mark.parametrize("two", WHOLE, ids=_ids(WHOLE))
def test_a_two_of_any_integer_type_is_a_count(two):
    assert LayerRotationCurves(batch_frequency=two).batch_frequency == 2
    assert isinstance(LayerRotationCurves(batch_frequency=two).batch_frequency, int)
    assert alpha_profile(two, 0.0) == [1.0, 1.0]


@pytest.mark.parametrize("value", NOT_NUMBERS, ids=_ids(NOT_NUMBERS))
def test_what_is_not_a_number_is_refused_naming_it(value):
    shown = repr(value)
    with pytest.raises(ValueError, match=r"learning_rate \(rho\) must be a number"):
        Layca("sgd", learning_rate=value)
    with pytest.raises(ValueError, match=r"a factor must be a finite number >= 0"):
        Layca("sgd", multipliers={"hidden": value})
    with pytest.raises(ValueError, match=r"alpha must be a number in \[-1, 1\]") as error:
        alpha_profile(3, value)
    assert shown in str(error.value)
    with pytest.raises(ValueError, match=r"momentum must be a number in \[0, 1\)"):
        SGDAMom(momentum=value)


@pytest.mark.parametrize("count", [2.0, np.float32(2), np.array(2.0), 0, np.int64(-1)])
def test_a_count_must_be_a_positive_whole_number_of_an_integer_type(count):
    with pytest.raises(ValueError, match=r"batch_frequency must be a positive integer or None; received"):
        LayerRotationCurves(batch_frequency=count)
    with pytest.raises(ValueError, match=r"num_layers must be a positive integer"):
        alpha_profile(count, 0.0)
