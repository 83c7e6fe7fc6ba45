"""The networks of the papers' tasks (extended paper, Table 1; the authors' models.py; docs/faithfulness.md).

Conventions of the authors' code: kernels have no bias; batch norm has no trainable
scale or centre; weight decay, when a configuration asks for it, is an L2 kernel
regulariser. `width` multiplies every layer's filter count (1.0 = published network);
`stage_units` caps the repeated units of each stage of a convolutional network
(convolutions of a VGG stage, blocks of a residual stack; None = published network).
Smoke-scale runs use a small width and one unit per stage: the same kinds of layers and
connections in fewer repeats.
"""

import keras
from keras import layers


def _filters(n, width):
    return max(1, int(round(n * width)))


def _conv(filters, kernel_size=3, strides=1, initializer="he_uniform", regularizer=None, name=None):
    return layers.Conv2D(
        filters, kernel_size, strides=strides, padding="same", use_bias=False,
        kernel_initializer=initializer, kernel_regularizer=regularizer, name=name,
    )


def _units(n, stage_units):
    return n if stage_units is None else min(n, stage_units)


def _bn(momentum=0.99):
    return layers.BatchNormalization(momentum=momentum, center=False, scale=False)


def _head(x, num_classes, initializer, regularizer):
    return layers.Dense(
        num_classes, activation="softmax", use_bias=False,
        kernel_initializer=initializer, kernel_regularizer=regularizer, name="classifier",
    )(x)


def vgg_style(input_shape, num_classes, stages, convs_per_stage, width=1.0, regularizer=None, bn_momentum=0.99, name="vgg",
              stage_units=None):
    """conv-ReLU-BN blocks, 2x2 max pooling between stages, global average pooling, dense
    (C10-CNN1: 4 stages x 6 convs of 32..256 filters; tiny-CNN: 5 x 2 of 32..512)."""
    inputs = keras.Input(input_shape)
    x = inputs
    for stage, filters in enumerate(stages):
        if stage:
            x = layers.MaxPooling2D()(x)
        for i in range(_units(convs_per_stage, stage_units)):
            x = _conv(_filters(filters, width), regularizer=regularizer, name=f"conv{stage + 1}_{i + 1}")(x)
            x = layers.ReLU()(x)
            x = _bn(bn_momentum)(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, _head(x, num_classes, "he_uniform", regularizer), name=name)


def c10_cnn1(input_shape, num_classes, width=1.0, regularizer=None, stage_units=None):
    """C10-CNN1: VGG-style, 4 stages x 6 conv3x3 (32, 64, 128, 256), he_uniform; 25 kernel layers."""
    return vgg_style(input_shape, num_classes, (32, 64, 128, 256), 6, width, regularizer, name="c10_cnn1",
                     stage_units=stage_units)


def tiny_cnn(input_shape, num_classes, width=1.0, regularizer=None, stage_units=None):
    """tiny-CNN: VGG-style, 5 stages x 2 conv3x3 (32..512), BN momentum 0.9; 11 kernel
    layers. (the papers give no initialiser: he_uniform, as C10-CNN1.)"""
    return vgg_style(input_shape, num_classes, (32, 64, 128, 256, 512), 2, width, regularizer, 0.9, name="tiny_cnn",
                     stage_units=stage_units)


def c10_cnn2(input_shape, num_classes, width=1.0, regularizer=None, stage_units=None):
    """C10-CNN2: the torch-blog VGG (cifar.torch): stages of 2, 2, 3, 3, 3 conv3x3 (64,
    128, 256, 512, 512), conv-BN-ReLU, max pooling after every stage, dense 512-BN-ReLU,
    dense; dropout removed (as the authors did). he_normal (the blog's MSR init)."""
    inputs = keras.Input(input_shape)
    x = inputs
    for stage, (convs, filters) in enumerate(zip((2, 2, 3, 3, 3), (64, 128, 256, 512, 512))):
        for i in range(_units(convs, stage_units)):
            x = _conv(_filters(filters, width), initializer="he_normal", regularizer=regularizer, name=f"conv{stage + 1}_{i + 1}")(x)
            x = _bn()(x)
            x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(_filters(512, width), use_bias=False, kernel_initializer="he_normal", kernel_regularizer=regularizer, name="fc1")(x)
    x = layers.ReLU()(_bn()(x))
    return keras.Model(inputs, _head(x, num_classes, "he_normal", regularizer), name="c10_cnn2")


def resnet_v1(input_shape, num_classes, depth, width=1.0, regularizer=None, stage_units=None):
    """ResNet v1 for CIFAR, the layout of the Keras `cifar10_resnet` example: conv-BN-ReLU
    layers, 3 stacks of (depth - 2) / 6 basic blocks with 16, 32, 64 filters, 1x1 strided
    projection shortcuts where the shape changes, average pooling 8, dense; he_normal.
    ResNet-32 (C100-resnet) and ResNet-110 (the warmup study)."""
    if (depth - 2) % 6:
        raise ValueError(f"ResNet v1 depth must be 6n + 2 (20, 32, 44, 56, 110, ...); received depth={depth}.")
    blocks = _units((depth - 2) // 6, stage_units)

    def conv_bn(x, filters, kernel_size=3, strides=1, activation=True, batch_norm=True, name=None):
        x = _conv(filters, kernel_size, strides, "he_normal", regularizer, name=name)(x)
        if batch_norm:
            x = _bn()(x)
        return layers.ReLU()(x) if activation else x

    inputs = keras.Input(input_shape)
    filters = _filters(16, width)
    x = conv_bn(inputs, filters, name="conv0")
    for stack in range(3):
        for block in range(blocks):
            strides = 2 if stack > 0 and block == 0 else 1
            y = conv_bn(x, filters, strides=strides, name=f"s{stack + 1}b{block + 1}_conv1")
            y = conv_bn(y, filters, activation=False, name=f"s{stack + 1}b{block + 1}_conv2")
            if strides == 2:
                x = conv_bn(x, filters, 1, strides, activation=False, batch_norm=False, name=f"s{stack + 1}_projection")
            x = layers.ReLU()(layers.Add()([x, y]))
        filters *= 2
    x = layers.Flatten()(layers.AveragePooling2D(pool_size=8)(x))
    # The classifier has no L2 (resnet_v1 of the authors' paper-experiments/models.py).
    return keras.Model(inputs, _head(x, num_classes, "he_normal", None), name=f"resnet{6 * blocks + 2}_v1")


def resnet32(input_shape, num_classes, width=1.0, regularizer=None, stage_units=None):
    return resnet_v1(input_shape, num_classes, 32, width, regularizer, stage_units)


def resnet110(input_shape, num_classes, width=1.0, regularizer=None, stage_units=None):
    return resnet_v1(input_shape, num_classes, 110, width, regularizer, stage_units)


def wide_resnet(input_shape, num_classes, depth=28, widen=10, dropout=0.3, width=1.0, regularizer=None, stage_units=None):
    """Wide ResNet (Zagoruyko & Komodakis) with pre-activation blocks: BN-ReLU-conv,
    dropout between the two convs, 1x1 projection of the block's input where the shape
    changes. WRN-28-10 (C100-WRN): 3 groups of 4 blocks with 160, 320, 640 filters. As in
    WideResNet of the authors' paper-experiments/models.py: no initialiser is set (Keras'
    glorot_uniform), and the projection takes the block's raw input."""
    if (depth - 4) % 6:
        raise ValueError(f"Wide ResNet depth must be 6n + 4 (16, 22, 28, 40, ...); received depth={depth}.")
    blocks = _units((depth - 4) // 6, stage_units)
    init = "glorot_uniform"
    inputs = keras.Input(input_shape)
    x = _conv(_filters(16, width), initializer=init, regularizer=regularizer, name="conv0")(inputs)
    for group, (filters, strides) in enumerate(zip((16 * widen, 32 * widen, 64 * widen), (1, 2, 2))):
        filters = _filters(filters, width)
        for block in range(blocks):
            stride = strides if block == 0 else 1
            tag = f"g{group + 1}b{block + 1}"
            y = layers.ReLU()(_bn()(x))
            y = _conv(filters, strides=stride, initializer=init, regularizer=regularizer, name=f"{tag}_conv1")(y)
            y = layers.ReLU()(_bn()(y))
            y = layers.Dropout(dropout)(y)
            y = _conv(filters, initializer=init, regularizer=regularizer, name=f"{tag}_conv2")(y)
            if x.shape[-1] != filters or stride != 1:
                x = _conv(filters, 1, stride, init, regularizer, name=f"{tag}_projection")(x)
            x = layers.Add()([x, y])
    x = layers.ReLU()(_bn()(x))
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, _head(x, num_classes, init, regularizer), name=f"wrn{6 * blocks + 4}_{widen}")


def wrn28_10(input_shape, num_classes, width=1.0, regularizer=None, stage_units=None):
    return wide_resnet(input_shape, num_classes, 28, 10, 0.3, width, regularizer, stage_units)


def mlp(input_shape, num_classes, hidden, width=1.0, regularizer=None, name="mlp", initializer="he_normal"):
    """Fully connected ReLU layers without biases, he_normal by default (keeps the signal
    through the 11-layer toy network; the papers name no initialiser)."""
    inputs = keras.Input(input_shape)
    x = layers.Flatten()(inputs)
    for i, units in enumerate(hidden):
        x = layers.Dense(_filters(units, width), activation="relu", use_bias=False, kernel_initializer=initializer,
                         kernel_regularizer=regularizer, name=f"hidden{i + 1}")(x)
    return keras.Model(inputs, _head(x, num_classes, initializer, regularizer), name=name)


def mlp1(input_shape, num_classes, width=1.0, regularizer=None, stage_units=None):
    """The 1-hidden-layer MLP (784 ReLU units) of the features study (Section 6, Figure 8).
    An MLP has no stages: `stage_units` keeps every layer (see `mlp11`)."""
    return mlp(input_shape, num_classes, (784,), width, regularizer, name="mlp1")


def mlp11(input_shape, num_classes, width=1.0, regularizer=None, stage_units=None):
    """The eleven-layer MLP of the one-layer-at-a-time study: 10 identical hidden layers
    of 784 ReLU units and the classifier (Section 3 of arXiv:1806.01603v1). An MLP has no
    stages: every layer is kept whatever `stage_units`, since its studies train and
    measure hidden layers by number."""
    return mlp(input_shape, num_classes, (784,) * 10, width, regularizer, name="mlp11")


def mlp11_orthogonal(input_shape, num_classes, width=1.0, regularizer=None, stage_units=None):
    """The eleven-layer MLP with orthogonal initial kernels (Figure 8, left, of the ICLR
    version), of gain sqrt(2) so that the ReLU layers keep the signal's scale as
    he_normal does (Saxe et al., 2014; the paper gives no gain). Every layer is kept, as
    in `mlp11`."""
    initializer = keras.initializers.Orthogonal(gain=2.0**0.5)
    return mlp(input_shape, num_classes, (784,) * 10, width, regularizer, name="mlp11_orthogonal", initializer=initializer)


MODELS = {
    "c10_cnn1": c10_cnn1,
    "resnet32": resnet32,
    "tiny_cnn": tiny_cnn,
    "c10_cnn2": c10_cnn2,
    "wrn28_10": wrn28_10,
    "resnet110": resnet110,
    "mlp1": mlp1,
    "mlp11": mlp11,
    "mlp11_orthogonal": mlp11_orthogonal,
}


def build_model(name, input_shape, num_classes, width=1.0, weight_decay=None, stage_units=None):
    """The network `name` of MODELS, with an L2 kernel regulariser of `weight_decay`, and
    at most `stage_units` units per stage (the MLPs keep every layer)."""
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; known: {sorted(MODELS)}.")
    regularizer = keras.regularizers.L2(weight_decay) if weight_decay else None
    return MODELS[name](tuple(input_shape), num_classes, width=width, regularizer=regularizer, stage_units=stage_units)
