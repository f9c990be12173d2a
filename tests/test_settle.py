"""engine/fsmonitor/settle.py: when a batch of changed paths is taken, for any start of the clock."""

from __future__ import annotations

import random

import pytest

from engine.fsmonitor.settle import MAX_BATCH, SETTLE, WRITE_HOLD, Settler
from tests.fakes import CLOCK_STARTS

# many more start values than the real-inotify tests can afford: these are cheap
STARTS = [*CLOCK_STARTS, *(random.Random(11).uniform(0, 2**34) for _ in range(2000))]
A, B = ("h1", "a"), ("h2", "b")


def test_nothing_dirty_nothing_due() -> None:
    settler = Settler()
    assert settler.deadline(5.0) is None
    assert not settler.settled(5.0)


def test_a_batch_settles_exactly_at_its_deadline() -> None:
    for t in STARTS:
        settler = Settler()
        settler.add({A}, t)
        deadline = settler.deadline(t)
        assert deadline == t + SETTLE
        assert not settler.settled(t)
        assert settler.settled(deadline), t  # waking at the deadline finds it settled


def test_a_deadline_in_the_past_is_now() -> None:
    settler = Settler()
    settler.add({A}, 10.0)
    assert settler.deadline(20.0) == 20.0


def test_a_new_event_moves_the_deadline() -> None:
    for t in STARTS:
        settler = Settler()
        settler.add({A}, t)
        settler.add({B}, t + SETTLE / 2)
        assert not settler.settled(t + SETTLE)
        assert settler.settled(settler.deadline(t) or 0)
        assert settler.take() == {A, B}
        assert settler.deadline(t) is None


def test_a_steady_stream_is_taken_after_max_batch() -> None:
    for t in STARTS[:50]:
        settler = Settler()
        now = t
        while now < t + MAX_BATCH:
            settler.add({A}, now)
            assert not settler.settled(now)
            now += SETTLE / 2
        settler.add({A}, now)
        assert settler.settled(now)


def test_a_file_being_written_stays_behind_up_to_write_hold_while_the_rest_goes() -> None:
    for t in STARTS[:200]:
        settler = Settler()
        settler.add({A, B}, t, writing=frozenset({A}))
        assert settler.settled(t + SETTLE)
        assert settler.take(t + SETTLE) == {B}  # a log kept open does not hold back an edit
        assert settler.dirty == {A}
        assert not settler.settled(t + WRITE_HOLD / 2)  # held: the log is still being written
        deadline = settler.deadline(t + SETTLE)
        assert deadline == t + WRITE_HOLD  # no busy wake-ups while only the log is dirty
        assert settler.settled(deadline)
        assert settler.take(deadline) == {A}
        assert settler.dirty == set()


def test_a_file_written_without_end_goes_every_write_hold() -> None:
    for t in STARTS[:200]:
        settler = Settler()
        now = t
        taken_at = []
        while now < t + 5 * WRITE_HOLD:
            settler.add({A}, now, writing=frozenset({A}))
            woken = now + SETTLE  # the loop wakes at the settle deadline, before the next write
            if settler.settled(woken) and settler.take(woken) == {A}:
                taken_at.append(woken)
            now += 0.1
        assert taken_at, t
        gaps = [b - a for a, b in zip([t, *taken_at], taken_at, strict=False)]
        # dirty again a step after a take, then the hold, ending at the next write: two steps at most
        assert max(gaps) <= WRITE_HOLD + 0.2 + SETTLE + 0.01, (t, gaps)


def test_a_file_written_to_the_end_no_longer_holds() -> None:
    settler = Settler()
    settler.add({A}, 1.0, writing=frozenset({A}))
    assert not settler.settled(1.0 + SETTLE)
    settler.add({A}, 1.0 + SETTLE, written=frozenset({A}))
    assert settler.settled(1.0 + 2 * SETTLE)


def test_taking_a_batch_ends_its_files_being_written() -> None:
    settler = Settler()
    settler.add({A}, 1.0, writing=frozenset({A, B}))
    assert settler.take() == {A}
    assert settler.writing == {B}


@pytest.mark.parametrize(("replica", "left"), [("h1", {B}), (None, set())])
def test_forget(replica: str | None, left: set[tuple[str, str]]) -> None:
    settler = Settler()
    settler.add({A, B}, 1.0)
    settler.forget(replica)
    assert settler.dirty == left
