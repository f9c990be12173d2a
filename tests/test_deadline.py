"""engine/deadline.py: steps share what is left of one point in time (a clock passed in, never read)."""

from __future__ import annotations

from engine.deadline import Deadline
from tests.fakes import FakeClock


def test_what_is_left_shrinks_with_the_clock_and_stops_at_zero() -> None:
    clock = FakeClock(1000.0)
    deadline = Deadline(10, clock)
    assert deadline.remaining() == 10
    clock.advance(4)
    assert deadline.remaining() == 6
    clock.advance(7)
    assert deadline.remaining() == 0


def test_a_step_takes_at_most_its_own_limit() -> None:
    deadline = Deadline(10, FakeClock())
    assert deadline.share(3) == 3
    assert deadline.share(30) == 10


def test_a_step_leaves_what_the_steps_after_it_keep() -> None:
    clock = FakeClock()
    deadline = Deadline(10, clock)
    assert deadline.share(8, keep=4) == 6  # 10 left, 4 kept: 6, under its limit of 8
    clock.advance(5)
    assert deadline.share(8, keep=4) == 1
    clock.advance(2)
    assert deadline.share(8, keep=4) == 0  # 3 left, 4 kept: nothing, never negative
    assert deadline.share(8) == 3  # the last step takes the rest


def test_steps_run_one_after_another_never_overrun_the_end() -> None:
    """Each step spends its whole share: together they end at the deadline, not after it."""
    clock = FakeClock()
    deadline = Deadline(10, clock)
    spent = []
    for most, keep in ((6, 3), (6, 1), (6, 0), (6, 0)):
        share = deadline.share(most, keep)
        spent.append(share)
        clock.advance(share)
    assert spent == [6, 3, 1, 0]
    assert deadline.remaining() == 0
