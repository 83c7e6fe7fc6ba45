"""The experiments' learning-rate schedule: the authors' step decay with an optional
linear warmup. Registered serializable, so a checkpointed model reloads with it."""

import keras


@keras.saving.register_keras_serializable(package="experiments")
class StepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """lr(t) = initial * factor ** (number of boundaries <= t), times a linear warmup from
    initial / 10 to initial over the first `warmup_steps` steps (the warmup study, extended paper Section 5.3; docs/faithfulness.md)."""

    def __init__(self, initial, boundaries, factor, warmup_steps=0):
        self.initial = float(initial)
        self.boundaries = [int(b) for b in boundaries]
        self.factor = float(factor)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        drops = sum((keras.ops.cast(step >= b, "float32") for b in self.boundaries), keras.ops.zeros((), "float32"))
        rate = self.initial * keras.ops.power(self.factor, drops)
        if self.warmup_steps:
            rate = rate * (0.1 + 0.9 * keras.ops.minimum(step / self.warmup_steps, 1.0))
        return rate

    def get_config(self):
        return {"initial": self.initial, "boundaries": self.boundaries, "factor": self.factor, "warmup_steps": self.warmup_steps}
