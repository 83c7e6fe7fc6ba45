"""The serialization round trip every saved Keras object must survive, as Keras saves it."""

import keras


def round_trip(obj):
    """`obj` serialized and deserialized (`keras.saving`, as `model.save` does); asserts the
    clone has the same class and config, and returns it."""
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))
    assert type(clone) is type(obj), (type(clone), type(obj))
    assert clone.get_config() == obj.get_config()
    return clone
