"""Kernel selection, layer naming and the alpha profile."""

import keras
import numpy as np
import pytest

from layer_rotation_tools import (
    PAPER_KERNEL_NAMES,
    alpha_multipliers,
    alpha_profile,
    kernel_layer_names,
    kernel_layers,
    kernel_variables,
)
from layer_rotation_tools.kernels import kernel_labels, short_names
from tests import references


class _Block(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(4, name="proj")

    def call(self, x):
        return self.dense(x)


def _model():
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(3, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.SeparableConv2D(4, 3, name="sep")(x)
    x = keras.layers.DepthwiseConv2D(3, name="dw")(x)
    x = keras.layers.Flatten()(x)
    x = _Block(name="block_a")(x)
    x = _Block(name="block_b")(x)
    outputs = keras.Sequential([keras.layers.Dense(2, name="head")], name="sub")(x)
    return keras.Model(inputs, outputs)


def test_kernels_include_nested_depthwise_pointwise_and_exclude_biases_and_bn():
    paths = [v.path for v in kernel_variables(_model())]
    assert [p.rpartition("/")[2] for p in paths] == [
        "kernel", "depthwise_kernel", "pointwise_kernel", "kernel", "kernel", "kernel", "kernel",
    ]
    assert not any("batch_normalization" in p or p.endswith("bias") for p in paths)


def test_layer_names_are_forward_ordered_and_unique():
    # Both blocks own a layer named "proj": their names keep the enclosing block.
    assert kernel_layer_names(_model()) == ["conv", "sep", "dw", "block_a/proj", "block_b/proj", "head"]


def test_kernel_labels_split_layers_with_several_kernels():
    labels = kernel_labels([v.path for v in kernel_variables(_model())])
    assert labels[:4] == ["conv", "sep/depthwise_kernel", "sep/pointwise_kernel", "dw"]


def test_custom_kernel_names_select_by_path():
    selected = kernel_variables(_model(), kernel_names=[r"(^|/)depthwise_kernel$"])
    assert [v.path for v in selected] == ["sep/depthwise_kernel"]  # DepthwiseConv2D's is "dw/kernel"


def test_short_names_keep_the_shortest_unique_suffix():
    assert short_names(["m/a/x", "m/b/x", "m/c", "m/c"]) == ["a/x", "b/x", "c", "c"]


@pytest.mark.parametrize("alpha", [-0.8, -0.3, 0.0, 0.1, 0.6, 1.0, -1.0])
def test_alpha_profile_matches_reference_formula(alpha):
    np.testing.assert_allclose(alpha_profile(25, alpha), references.alpha_profile(25, alpha), rtol=1e-12)


def test_alpha_profile_shape():
    first_fast = alpha_profile(5, -0.6)
    last_fast = alpha_profile(5, 0.6)
    assert first_fast[0] == 1.0 and first_fast[-1] == pytest.approx(0.4**5)
    assert last_fast[-1] == 1.0 and last_fast[0] == pytest.approx(0.4**5)
    assert alpha_profile(5, 0.0) == [1.0] * 5


@pytest.mark.parametrize("alpha", [1.5, -1.01, float("nan"), "0.5"])
def test_alpha_outside_range_is_an_error(alpha):
    with pytest.raises(ValueError, match=r"alpha must be a number in \[-1, 1\]"):
        alpha_profile(4, alpha)


def test_alpha_multipliers_are_keyed_by_kernel_layer_names():
    model = _model()
    multipliers = alpha_multipliers(model, 0.4)
    assert list(multipliers) == kernel_layer_names(model)
    np.testing.assert_allclose(list(multipliers.values()), references.alpha_profile(6, 0.4))


def test_kernel_layers_are_the_layers_owning_a_kernel_frozen_or_not():
    model = keras.Sequential([
        keras.Input((4,), dtype="int32"), keras.layers.Embedding(10, 3, name="emb"), keras.layers.Flatten(),
        keras.layers.Dense(5, name="frozen"), keras.layers.BatchNormalization(), keras.layers.Dense(2, name="out"),
    ])
    model.get_layer("frozen").trainable = False
    assert [layer.name for layer in kernel_layers(model)] == ["emb", "frozen", "out"]
    assert [layer.name for layer in kernel_layers(model, PAPER_KERNEL_NAMES)] == ["frozen", "out"]
