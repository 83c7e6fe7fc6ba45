"""The monitors' clock on its own: steps and epochs across fits, as Keras counts them in
each fit."""

from layer_rotation_tools.fit_clock import FitClock


def test_a_later_fit_with_a_fresh_optimizer_continues_the_steps_and_epochs():
    clock = FitClock()
    clock.begin_fit(iterations=0)
    clock.begin_epoch(0)
    clock.count_batches(4)
    clock.end_epoch()
    assert (clock.step(4), clock.epoch, clock.epoch_length) == (4, 0, 4)
    clock.recorded(4)
    clock.begin_epoch(1)
    clock.end_fit(iterations=6)  # two steps after the last record: stopped within epoch 1
    clock.begin_fit(iterations=0)  # a new optimizer, and Keras' epochs from 0 again
    clock.begin_epoch(0)
    assert (clock.step(1), clock.epoch, clock.batches) == (7, 2, 0)


def test_a_fit_that_goes_on_with_the_same_optimizer_and_initial_epoch_adds_nothing():
    clock = FitClock()
    clock.begin_fit(iterations=0)
    clock.begin_epoch(0)
    clock.end_fit(iterations=8)
    clock.begin_fit(iterations=8)  # model.fit(..., initial_epoch=1) on the same optimizer
    clock.begin_epoch(1)
    assert (clock.step(9), clock.epoch) == (9, 1)


def test_a_clock_continuing_restored_records_counts_from_their_last_step_and_epoch():
    clock = FitClock()
    clock.continue_from(last_step=30, epochs_covered=3)
    clock.begin_fit(iterations=0)  # a resumed run's fresh optimizer
    clock.begin_epoch(0)
    assert (clock.step(1), clock.epoch) == (31, 3)
    clock.continue_from(last_step=None, epochs_covered=0)
    assert clock.steps_done == 0
