"""engine/fsmonitor/cycles.py and status.FsmonitorStatus: the fsmonitor's bookkeeping and its file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from engine.fsmonitor.cycles import Cycles, Publisher
from engine.state import begun
from engine.state.shared import Clash, FsmonitorStatus
from tests.fakes import CLOCK_STARTS, FakeClock

KEYS = [
    "pid",
    "unison_pid",
    "syncs",
    "first_sync_at",
    "last_sync_at",
    "pending_changes",
    "pending_since",
    "conflicts",
    "rescans",
    "watches",
    "flushes",
    "recent_conflicts",
    "verify_passes",
    "verify_last_at",
    "verify_seconds",
    "verify_cpu_seconds",
    "verify_checked",
    "verify_pause",
    "drift_repaired",
    "drift_unrepaired",
    "litter_removed",
    "clashes",  # issue 19: added, none renamed
    "cycles_begun",  # issues 24/25: added
]


@pytest.mark.parametrize("t", CLOCK_STARTS)
def test_a_cycle_runs_from_the_first_changes_to_the_next_wait(t: float) -> None:
    cycles = Cycles.resume(FsmonitorStatus(), FakeClock(1_800_000_000.0))
    assert not cycles.syncing
    assert cycles.changes_taken(3, t)
    assert not cycles.changes_taken(2, t + 0.5)  # the other replica's CHANGES: same cycle
    with capture_logs() as logs:
        cycles.cycle_ended(t + 1.5, pending=0, full_sync=True)
    (logged,) = logs
    assert logged == {
        "event": "sync.cycle",
        "first": True,
        "paths": 5,
        "cycle_ms": 1500.0,
        "flush": 1,
        "log_level": "info",
    }
    assert cycles.totals.syncs == 1 and cycles.totals.flushes == 1
    assert cycles.totals.first_sync_at == cycles.totals.last_sync_at == "2027-01-15T08:00:00.000Z"
    assert cycles.last_sync_done == t + 1.5
    assert not cycles.syncing


def test_pending_since_is_published_in_wall_clock_time() -> None:
    wall = FakeClock(1_800_000_000.0)
    cycles = Cycles.resume(FsmonitorStatus(), wall)
    cycles.reported(100.0)
    cycles.reported(101.0)  # already waiting since 100
    wall.advance(5)
    snap = cycles.snapshot(105.0, pending=4, watches=7)
    assert (snap.pending_since, snap.pending_changes, snap.watches) == (1_800_000_000.0, 4, 7)
    cycles.scan_started(106.0)
    cycles.cycle_ended(107.0, pending=0, full_sync=False)
    assert cycles.snapshot(107.0, 0, 7).pending_since is None
    cycles.scan_started(108.0)
    cycles.cycle_ended(109.0, pending=2, full_sync=False)  # changes came during the cycle
    assert cycles.snapshot(110.0, 2, 7).pending_since == wall() - 1


def test_totals_carry_over_from_the_previous_fsmonitor() -> None:
    previous = FsmonitorStatus(
        pid=1,
        syncs=9,
        last_sync_at="x",
        conflicts=2,
        rescans=3,
        flushes=4,
        drift_repaired=5,
        litter_removed=6,
    )
    totals = Cycles.resume(previous, FakeClock()).totals
    assert totals == FsmonitorStatus(
        pid=os.getpid(),
        unison_pid=os.getppid(),
        last_sync_at="x",
        conflicts=2,
        rescans=3,
        drift_repaired=5,
        litter_removed=6,
    )


def test_conflict_copies_are_counted_once() -> None:
    cycles = Cycles.resume(FsmonitorStatus(), FakeClock())
    for _ in range(2):
        cycles.saw("a (conflict_on_2026-11-25).txt")
    cycles.saw("a.txt")
    assert cycles.totals.conflicts == 1


def test_a_conflict_copy_removed_and_made_again_counts_again() -> None:
    """Found by the fuzzer: the user removes the copy, the same file conflicts again the same
    day, unison reuses the name; two conflicts were counted as one."""
    cycles = Cycles.resume(FsmonitorStatus(), FakeClock())
    name = "a (conflict_on_2026-12-02)"
    there = {name}
    for _ in range(2):
        cycles.saw(name, lambda rel: rel in there)
        cycles.saw(name, lambda rel: rel in there)  # its other events: counted once
        there.clear()
        cycles.saw(name, lambda rel: rel in there)  # removed by the user
        there.add(name)
    assert cycles.totals.conflicts == 2


def test_the_ten_newest_conflict_copies_are_listed_newest_first() -> None:
    cycles = Cycles.resume(FsmonitorStatus(), FakeClock())
    names = [f"f{i} (conflict_on_2026-11-25).txt" for i in range(12)]
    for name in names:
        cycles.saw(name)
    assert cycles.totals.conflicts == 12
    assert cycles.totals.recent_conflicts == tuple(reversed(names))[:10]
    again = Cycles.resume(cycles.totals, FakeClock())
    assert again.totals.recent_conflicts == cycles.totals.recent_conflicts


def test_the_file_keeps_its_keys_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "fsmonitor.json"
    snap = FsmonitorStatus(
        pid=5,
        unison_pid=4,
        syncs=2,
        pending_since=1.5,
        flushes=1,
        recent_conflicts=("a",),
        verify_seconds=0.5,
        drift_unrepaired=("a/b",),
        clashes=(Clash(("README.md", "readme.md"), "2026-01-01T00:00:00.000Z"),),
    )
    snap.save(path)
    assert list(json.loads(path.read_text())) == KEYS
    assert FsmonitorStatus.load(path) == snap


def test_a_missing_or_odd_file_loads_as_defaults(tmp_path: Path) -> None:
    assert FsmonitorStatus.load(tmp_path / "none.json") == FsmonitorStatus()
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"pid": "7", "flushes": None, "pending_since": True, "syncs": 3}))
    assert FsmonitorStatus.load(odd) == FsmonitorStatus(syncs=3)


def test_an_unwritable_status_is_given_up_with_one_warning(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path / "missing" / "fsmonitor.json")
    with capture_logs() as logs:
        publisher.publish(FsmonitorStatus())
        publisher.publish(FsmonitorStatus())
    assert [e["event"] for e in logs] == ["status.unwritable"]
    assert publisher.path is None


def test_the_publisher_is_behind_from_a_change_until_it_writes(tmp_path: Path) -> None:
    """Built first, it is what the screen, the commands and the outbox tell (no loop between them)."""
    path = tmp_path / "fsmonitor.json"
    publisher = Publisher(path)
    assert not publisher.behind
    publisher.changed()
    publisher.changed()
    assert publisher.behind and not path.exists()  # said, not written: the loop writes once a round
    publisher.publish(FsmonitorStatus(syncs=1))
    assert not publisher.behind and FsmonitorStatus.load(path).syncs == 1
    nowhere = Publisher(None)  # no status folder: nothing written, and never behind for ever
    nowhere.changed()
    nowhere.publish(FsmonitorStatus())
    assert not nowhere.behind


def test_a_cycle_begun_is_said_in_the_fsmonitors_counter_and_the_file_follows(tmp_path: Path) -> None:
    """Issue 24: the beginning is a size (ftruncate, microseconds), not a file replaced before
    unison's answer; the status read takes the larger of the two counts, for that fsmonitor."""
    path = tmp_path / "fsmonitor.json"
    publisher = Publisher(path)
    FsmonitorStatus(pid=os.getpid(), cycles_begun=3, syncs=3).save(path)
    publisher.before_answer(4)
    assert publisher.behind and FsmonitorStatus.load(path).cycles_begun == 4  # file not yet written
    publisher.publish(FsmonitorStatus(pid=os.getpid(), cycles_begun=4, syncs=4))
    assert FsmonitorStatus.load(path).cycles_begun == 4
    other = FsmonitorStatus(pid=os.getpid() + 1, cycles_begun=1)  # another fsmonitor's file
    other.save(path)
    assert FsmonitorStatus.load(path).cycles_begun == 1  # this fsmonitor's counter is not its count


def test_a_new_fsmonitors_counter_starts_at_zero_and_removes_the_old_ones(tmp_path: Path) -> None:
    old = begun.Counter(tmp_path, 7)
    old.grow(12)
    assert begun.read(tmp_path, 7) == 12
    begun.Counter(tmp_path, 8).grow(1)
    assert (begun.read(tmp_path, 7), begun.read(tmp_path, 8)) == (0, 1)
    assert begun.read(tmp_path, None) == 0
