"""Registration of this package's Keras objects, so that `keras.saving.load_model` and
`keras.optimizers.deserialize` find them by name ("layer_rotation_tools>Layca")."""

import keras

#: The package part of the registered names.
PACKAGE = "layer_rotation_tools"

#: Class decorator: `@serialization.register`.
register = keras.saving.register_keras_serializable(package=PACKAGE)
