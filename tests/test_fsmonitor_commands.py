"""engine/fsmonitor/commands.py: each of unison's commands as a change to the fsmonitor's rooms.

The rooms are the real ones (settler, rescans, full-sync request, cycles),
the watcher runs on :class:`~tests.fakes.FakeINotify` (the watches it makes
are recorded), and the commands are called as the protocol calls them, at
explicit times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from inotify_simple import flags as F

from engine.fsmonitor.commands import Commands
from engine.fsmonitor.cycles import Cycles
from engine.fsmonitor.fullsync import FullSyncRequest, RequestState
from engine.fsmonitor.inotify import MASK, Watcher
from engine.fsmonitor.rescan import Rescans
from engine.fsmonitor.settle import Settler
from engine.fsmonitor.verifier import VerifierThread
from engine.state.scans import Marker, under_way
from tests.fakes import FakeClock, FakeINotify

T = 500.0


@dataclass
class Rig:
    commands: Commands
    inotify: FakeINotify
    behind: list[float] = field(default_factory=list)  # the times fsmonitor.json was said to be behind
    begun: list[float] = field(default_factory=list)  # the times a cycle began (written before the answer)

    @property
    def cycles(self) -> Cycles:
        return self.commands.cycles

    def at(self, now: float) -> Commands:
        """The commands as the Monitor hands them a line received at ``now``."""
        self.commands.now = now
        return self.commands


def make_rig(interval: float = 0.0, verifier: VerifierThread | None = None) -> Rig:
    inotify = FakeINotify()
    behind: list[float] = []
    begun: list[float] = []
    commands = Commands(
        Watcher(lambda rel: rel == "ignored", inotify=inotify),
        Settler(),
        Rescans(interval),
        FullSyncRequest(),
        Cycles(wall=FakeClock(1_800_000_000.0)),
        verifier,
        lambda: behind.append(commands.now),
        lambda count: begun.append(commands.now),
    )
    return Rig(commands, inotify, behind, begun)


def test_start_names_the_replica_watches_its_path_and_begins_a_scan() -> None:
    rig = make_rig()
    rig.at(T).start("h1", "/host", "src")
    assert rig.commands.watcher.roots == {"h1": "/host"}
    assert rig.inotify.added == [("/host/src", MASK)]
    assert rig.cycles.syncing_since == T  # a scan is part of a cycle
    rig.at(T + 1).start("h1", "/elsewhere", "")
    assert rig.commands.watcher.roots == {"h1": "/host"}  # a replica's root is named once
    assert rig.inotify.added[-1] == ("/host", MASK)
    assert rig.cycles.syncing_since == T  # the same cycle


def test_a_scan_of_the_root_starts_the_rescan_interval_a_scan_below_does_not() -> None:
    rig = make_rig(interval=300.0)
    rig.at(T).start("h1", "/host", "src")
    assert rig.commands.rescans.next_at is None
    rig.at(T + 5).start("h1", "/host", "")
    assert rig.commands.rescans.next_at == T + 5 + 300.0


def test_dir_watches_the_folder_and_link_follows_the_link() -> None:
    rig = make_rig()
    rig.at(T).start("h1", "/host", "")
    rig.commands.watch_dir("h1", "a/b")
    rig.commands.follow_link("h1", "to-lib")
    rig.commands.watch_dir("h1", "ignored")
    assert rig.inotify.added[1:] == [("/host/a/b", MASK), ("/host/to-lib", MASK & ~F.DONT_FOLLOW)]


def test_the_verifier_learns_both_roots_host_first_once_unisons_first_cycle_ends(tmp_path: Path) -> None:
    """Not at START: a trusted start (patch 0006) has the verifier's first pass find what changed
    before the watches were up, so it walks once unison waits (every folder watched)."""
    host, app = tmp_path / "host", tmp_path / "app"
    verifier = VerifierThread(lambda rel: False, 60.0, host=str(host))  # never started
    rig = make_rig(verifier=verifier)
    rig.at(T).start("h1", str(app), "")
    rig.at(T).waiting("h1", pending=0)
    assert verifier.roots is None  # one root: nothing to compare yet
    rig.at(T).start("h2", str(host), "")
    assert verifier.roots is None  # both named, the first cycle not over
    rig.at(T).waiting("h2", pending=0)
    assert verifier.roots == (str(host), str(app))


def test_reset_forgets_what_settles_for_that_replica_only() -> None:
    rig = make_rig()
    rig.commands.settler.add({("h1", "a"), ("h2", "a"), ("h1", "b")}, T)
    rig.at(T).reset("h1")
    assert rig.commands.settler.dirty == {("h2", "a")}


def test_changes_taken_begin_one_cycle_and_count_its_paths() -> None:
    rig = make_rig()
    rig.at(T).changes_taken("h1", ["a", "b"])
    rig.at(T + 1).changes_taken("h2", ["a"])
    assert rig.cycles.syncing_since == T
    assert rig.cycles.sync_paths == 3
    assert rig.begun == [T]  # once, when the cycle began: fsmonitor.json shows it before the answer


def test_a_wait_ends_the_cycle_and_says_the_status_is_behind() -> None:
    rig = make_rig()
    rig.at(T).changes_taken("h1", ["a"])
    rig.at(T + 2).waiting("h1", pending=0)
    assert not rig.cycles.syncing
    assert rig.cycles.totals.syncs == 1 and rig.cycles.last_sync_done == T + 2
    assert rig.cycles.pending_since is None
    assert rig.behind == [T + 2]
    rig.at(T + 3).waiting("h2", pending=0)  # the other replica's wait ends no second cycle
    assert rig.cycles.totals.syncs == 1 and rig.behind == [T + 2]


def test_changes_already_pending_at_the_wait_wait_from_then() -> None:
    rig = make_rig()
    rig.at(T).changes_taken("h1", ["a"])
    rig.at(T + 2).waiting("h1", pending=4)
    assert rig.cycles.pending_since == T + 2


@pytest.mark.parametrize("taken", [True, False])
def test_a_full_sync_counts_when_the_cycle_that_took_its_rescan_ends(taken: bool) -> None:
    rig = make_rig()
    rig.commands.full_sync.request()
    rig.commands.full_sync.rescanned()  # the Monitor reported the root
    if taken:
        rig.at(T).changes_taken("h1", [""])
        assert rig.commands.full_sync.state is RequestState.SYNCING
    else:
        rig.at(T).start("h1", "/host", "")  # a scan, not the rescan taken
    rig.at(T + 1).waiting("h1", pending=0)
    assert rig.cycles.totals.flushes == (1 if taken else 0)
    assert rig.commands.full_sync.state is (RequestState.IDLE if taken else RequestState.RESCANNED)


def test_a_full_scan_is_said_for_the_watchdog_from_start_or_a_root_taken_to_the_next_wait(
    tmp_path: Path,
) -> None:
    """engine/state/scans.py: the first cycle (START) and a rescan (a root in CHANGES) are full
    scans until unison's next WAIT; an ordinary cycle is not one."""
    rig = make_rig()
    rig.commands.scans = Marker(tmp_path, 4242)
    rig.at(T).start("h1", "/host", "")
    rig.at(T).start("h2", "/app", "")
    assert under_way(tmp_path, 4242) == 1  # the first cycle: one scan for both replicas
    rig.at(T + 3).waiting("h1", 0)
    assert under_way(tmp_path, 4242) is None
    rig.at(T + 4).changes_taken("h1", ["src/a.txt"])
    assert under_way(tmp_path, 4242) is None  # an ordinary cycle
    rig.at(T + 5).waiting("h1", 0)
    rig.at(T + 9).changes_taken("h1", [""])  # a rescan reported the root
    rig.at(T + 9).changes_taken("h2", [""])
    assert under_way(tmp_path, 4242) == 3  # the second full scan
    rig.at(T + 12).waiting("h1", 0)
    assert under_way(tmp_path, 4242) is None
    assert under_way(tmp_path, 4343) is None  # another unison's: none


def test_a_new_fsmonitor_removes_the_scan_files_of_those_before_it(tmp_path: Path) -> None:
    Marker(tmp_path, 1).began()
    assert under_way(tmp_path, 1) == 1
    Marker(tmp_path, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scans.2"]
