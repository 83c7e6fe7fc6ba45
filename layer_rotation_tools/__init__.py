"""layer-rotation-tools: monitor and control layer rotation in Keras 3 (TensorFlow, JAX, PyTorch).

Carbonnelle & De Vleeschouwer, "Layer rotation: a surprisingly powerful indicator of
generalization in deep networks?" (arXiv:1806.01603) and "On layer-level control of
DNN training and its impact on generalization" (arXiv:1806.01603v1).

Importing the package first imports Keras with TensorFlow's start-up lines held to its log
level (`startup.py`: informational lines hidden unless `TF_CPP_MIN_LOG_LEVEL=0`).
"""

from layer_rotation_tools import startup

startup.import_keras()

from layer_rotation_tools.baselines import EffectiveLRSGD, Keras2Adagrad, Keras2RMSprop, NormalizedSGD, SGDAMom
from layer_rotation_tools.callbacks import (
    LayerRotationCurves,
    LayerRotationRates,
    ReplayRotationRates,
)
from layer_rotation_tools.kernels import (
    DEFAULT_KERNEL_NAMES,
    PAPER_KERNEL_NAMES,
    kernel_layer_names,
    kernel_layers,
    kernel_variables,
)
from layer_rotation_tools.layca import Layca, find_layca, optimizer_class
from layer_rotation_tools.plotting import plot_layer_rotation_curves
from layer_rotation_tools.profiles import alpha_multipliers, alpha_profile
from layer_rotation_tools.records import Records
from layer_rotation_tools.storage import ResultsFileError

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_KERNEL_NAMES",
    "EffectiveLRSGD",
    "Keras2Adagrad",
    "Keras2RMSprop",
    "Layca",
    "LayerRotationCurves",
    "LayerRotationRates",
    "NormalizedSGD",
    "PAPER_KERNEL_NAMES",
    "Records",
    "ReplayRotationRates",
    "ResultsFileError",
    "SGDAMom",
    "alpha_multipliers",
    "alpha_profile",
    "find_layca",
    "kernel_layer_names",
    "kernel_layers",
    "kernel_variables",
    "optimizer_class",
    "plot_layer_rotation_curves",
]
