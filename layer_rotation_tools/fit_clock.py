"""Where a monitor's records fall in training: steps and epochs counted from the first
`fit` the monitor saw, across fits.

Keras counts a fit's epochs from its `initial_epoch` (0 unless given) and steps by the
optimizer's `iterations`, which a fresh optimizer starts again at 0. A monitor that sees
several fits (fine-tuning after training, a new optimizer, a resumed run) records one
history: the clock adds to each fit's counts what the fits before it covered. Nothing
here needs Keras: the monitor hands the clock the counts Keras gives it.
"""


class FitClock:
    """Steps and epochs across fits, and the batches of the epoch under way.

    Example:

    ```python
    clock = FitClock()
    clock.begin_fit(iterations=0)
    clock.begin_epoch(0)
    clock.step(iterations=32)  # 32
    clock.end_fit(iterations=32)
    clock.begin_fit(iterations=0)  # a new optimizer: its iterations start at 0 again
    clock.begin_epoch(0)           # and Keras' epochs too
    (clock.step(iterations=1), clock.epoch)  # (33, 1)
    ```
    """

    def __init__(self):
        self.step_offset = 0  # added to the optimizer's iterations in this fit
        self.epoch_offset = None  # added to Keras' epoch numbers in this fit, set at its first epoch
        self.steps_done = 0  # the step of the last record, or at which this fit began
        self.epochs_begun = 0  # epochs begun, across fits (also where a fit stops within one)
        self.epoch = 0  # the epoch under way, across fits
        self.batches = 0  # batches run in the epoch under way
        self.epoch_length = None  # batches in the last epoch run

    def begin_fit(self, iterations):
        """A fit begins with the optimizer at `iterations`: its steps continue the last
        record's (or the last fit's end), whatever the optimizer counted before."""
        self.step_offset = max(self.steps_done - iterations, 0)
        self.steps_done = self.step_offset + iterations
        self.epoch_offset = None

    def begin_epoch(self, epoch):
        """Keras' epoch `epoch` of this fit begins: the first continues the epochs begun."""
        self.batches = 0
        if self.epoch_offset is None:
            self.epoch_offset = max(self.epochs_begun - epoch, 0)
        self.epoch = epoch + self.epoch_offset
        self.epochs_begun = self.epoch + 1

    def count_batches(self, batches):
        """`batches` more batches of this epoch were run (Keras' steps per execution)."""
        self.batches += batches

    def end_epoch(self):
        """The epoch under way ends: its length is known."""
        self.epoch_length = self.batches

    def step(self, iterations):
        """The step, across fits, at which this fit's optimizer counts `iterations`."""
        return self.step_offset + iterations

    def recorded(self, step):
        """A record was taken at `step`."""
        self.steps_done = step

    def end_fit(self, iterations):
        """This fit ends with its optimizer at `iterations` (steps after the last record
        count too: a next fit continues after them)."""
        self.steps_done = max(self.steps_done, self.step(iterations))

    def continue_from(self, last_step, epochs_covered):
        """Continue earlier records: the last at `last_step` (None: none), `epochs_covered`
        epochs begun."""
        self.steps_done = last_step or 0
        self.epochs_begun = epochs_covered
