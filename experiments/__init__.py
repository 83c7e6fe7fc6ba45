"""Reproduction of the layer rotation papers' experiments on top of layer_rotation_tools.

`python -m experiments --help` lists the commands: one configuration or a whole study,
at full scale (GPU, hours) or at smoke scale (CPU, seconds) along the same code path.
"""

# The library before anything imports Keras: it imports Keras with TensorFlow's start-up
# lines held to the log level (layer_rotation_tools/startup.py).
import layer_rotation_tools  # noqa: E402,F401
