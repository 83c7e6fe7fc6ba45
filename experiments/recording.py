"""Callbacks that record what some studies draw beyond layer rotation: Adam's second
moments, the training accuracy of every batch, the first layer's feedback silhouette.
Each appends to a list it is given (the run keeps the lists across resumptions)."""

import keras
import numpy as np

from experiments import feedback
from layer_rotation_tools import kernel_variables, keras_adapter

#: The lists these callbacks append to, by name (a run keeps them across resumptions and
#: writes the non-empty ones to its `RunResult`).
RECORD_NAMES = ("second_moment_epochs", "second_moments", "batch_accuracy", "feedback_silhouette")


class SecondMoments(keras.callbacks.Callback):
    """10th, 50th and 90th percentile of Adam's second-moment estimate per kernel layer at
    the end of the given epochs (ICLR Figure 11, extended Figure 5)."""

    def __init__(self, epochs, records):
        super().__init__()
        self.epochs, self.records = set(epochs), records

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        if epoch + 1 not in self.epochs:
            return
        moments = [keras_adapter.second_moments(optimizer, k) for k in kernel_variables(self.model)]
        if any(m is None for m in moments):
            return
        percentiles = [np.percentile(np.asarray(m), (10, 50, 90)) for m in moments]
        self.records["second_moment_epochs"].append(epoch + 1)
        self.records["second_moments"].append(percentiles)


class BatchAccuracy(keras.callbacks.Callback):
    """The training accuracy of every batch, as Keras 2's `on_batch_end` logs gave it to
    the authors' `History_batch` ("Analysis of SGD's learning rate - going further.ipynb").
    Keras 3 logs the epoch's running mean instead, weighted by batch size, so batch k's
    own accuracy is (N_k m_k - N_{k-1} m_{k-1}) / n_k, with N_k the examples seen and m_k
    the mean logged after batch k."""

    def __init__(self, sizes, records):
        super().__init__()
        self.seen = np.cumsum(sizes)
        self.records = records

    def on_epoch_begin(self, epoch, logs=None):
        self.previous = 0.0

    def on_train_batch_end(self, batch, logs=None):
        mean = float(logs["accuracy"])
        total = self.seen[batch] * mean
        self.records.append((total - self.previous) / (self.seen[batch] - (self.seen[batch - 1] if batch else 0)))
        self.previous = total


class FeedbackSilhouette(keras.callbacks.Callback):
    """The silhouette score, with respect to the classes, of the feedback the first layer
    receives on the training examples, before training and after every epoch (Figure 8,
    right, of the ICLR version; `experiments.feedback`)."""

    def __init__(self, x, y, records):
        super().__init__()
        self.x, self.y, self.records = x, y, records

    def _record(self):
        signal = feedback.layer_feedback(self.model, self.x, self.y, layer=0)
        self.records.append(feedback.silhouette_score(signal, self.y.argmax(axis=1)))

    def on_train_begin(self, logs=None):
        if not self.records:
            self._record()

    def on_epoch_end(self, epoch, logs=None):
        self._record()
