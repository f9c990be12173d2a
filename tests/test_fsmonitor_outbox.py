"""engine/fsmonitor/outbox.py: what goes to unison, and when ``fsmonitor.json`` is written.

An Outbox over the real rooms and two real folders; the protocol is the real
one, on the recording :class:`~tests.fakes.FakeBackend`; ``fsmonitor.json``
is a real file, read back as the typed status.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.fs.compare import differs
from engine.fsmonitor.caseguard import CaseGuard
from engine.fsmonitor.casescreen import CaseScreen
from engine.fsmonitor.copyhold import HOLD, POLL, CopyHold
from engine.fsmonitor.cycles import Cycles, Publisher
from engine.fsmonitor.differ import StillDiffers
from engine.fsmonitor.hygiene import Hygiene
from engine.fsmonitor.inotify import Watcher
from engine.fsmonitor.monitor import present
from engine.fsmonitor.outbox import Outbox
from engine.fsmonitor.protocol import Protocol
from engine.fsmonitor.settle import Settler
from engine.fsmonitor.verifier import Pass
from engine.state.shared import FsmonitorStatus
from tests.fakes import FakeBackend, FakeClock, FakeINotify

T = 200.0
WALL = 1_800_000_000.0


@dataclass
class Rig:
    host: Path
    app: Path
    outbox: Outbox
    status: Path

    def written(self) -> FsmonitorStatus | None:
        """fsmonitor.json as written last, then removed (None: not written since)."""
        if not self.status.exists():
            return None
        found = FsmonitorStatus.load(self.status)
        self.status.unlink()
        return found

    def wait_both(self) -> None:
        for replica in ("H", "A"):
            self.outbox.protocol.handle(f"WAIT {replica}")


def make_rig(tmp_path: Path, replicas: int = 2, fold: bool = False) -> Rig:
    host, app = tmp_path / "host", tmp_path / "app"
    host.mkdir()
    app.mkdir()
    watcher = Watcher(lambda rel: False, inotify=FakeINotify())
    for replica, root in (("H", host), ("A", app))[:replicas]:
        watcher.add_root(replica, str(root))
    publisher = Publisher(tmp_path / "fsmonitor.json")
    guard = CaseGuard(watcher.roots, str(host), now=lambda: "2026-01-01T00:00:00.000Z") if fold else None
    outbox = Outbox(
        watcher,
        Settler(),
        StillDiffers(watcher.roots, differs),
        Cycles(wall=FakeClock(WALL)),
        Hygiene(),
        CaseScreen(publisher.changed, guard),
        Protocol(FakeBackend()),
        publisher,
        CopyHold(lambda rel: present(watcher.roots, rel)),
    )
    return Rig(host, app, outbox, tmp_path / "fsmonitor.json")


def drift(rig: Rig, *differing: str) -> Pass:
    """A verifier pass (host first) that found ``differing``."""
    return Pass((str(rig.host), str(rig.app)), frozenset(differing), (), 10, 0.1, 0.1, 30.0, WALL)


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return make_rig(tmp_path)


def test_paths_are_reported_for_both_replicas_and_answer_a_waiting_unison(rig: Rig) -> None:
    rig.outbox.protocol.handle("WAIT A")
    assert rig.outbox.report({"a.txt", "src/b.txt"}, T) == ["CHANGES A"]
    assert rig.outbox.protocol.pending == {"H": {"a.txt", "src/b.txt"}, "A": {"a.txt", "src/b.txt"}}
    assert rig.outbox.cycles.pending_since == T
    rig.outbox.report({"c.txt"}, T + 1)
    assert rig.outbox.cycles.pending_since == T  # they wait since the first


def test_nothing_to_report_is_no_report_unless_always(rig: Rig) -> None:
    rig.wait_both()
    assert rig.outbox.report(set(), T) == []
    assert rig.outbox.cycles.pending_since is None
    rig.outbox.publish_changes(T)
    assert rig.written() is None
    rig.outbox.report(set(), T, always=True)  # a rescan is counted even with nothing new
    assert rig.outbox.cycles.pending_since == T


def test_the_status_file_is_written_once_a_round_and_only_when_behind(rig: Rig) -> None:
    rig.outbox.publish_changes(T)
    assert rig.written() is None  # nothing changed since the start
    rig.outbox.report({"a.txt"}, T)
    rig.outbox.report({"b.txt"}, T)
    rig.outbox.publish_changes(T + 1)
    written = rig.written()
    assert written is not None and written.pending_changes == 4  # two paths, two replicas
    assert written.pending_since is not None
    rig.outbox.publish_changes(T + 2)
    assert rig.written() is None  # written once for both reports


def test_the_status_counts_what_settles_and_what_waits_for_unison(rig: Rig) -> None:
    rig.outbox.settler.add({("H", "x"), ("H", "y")}, T)
    rig.outbox.report({"a.txt"}, T)
    rig.outbox.publish(T)
    written = rig.written()
    assert written is not None and written.pending_changes == 2 + 2


def test_between_cycles_abandoned_temp_files_go_and_are_counted(rig: Rig) -> None:
    left = rig.app / ".unison.a.txt.8f2e.unison.tmp"
    left.write_text("partial")
    rig.outbox.hygiene.saw_temps([str(left)])
    assert rig.outbox.between_cycles(T) == []
    assert not left.exists()
    rig.outbox.publish_changes(T)
    written = rig.written()
    assert written is not None and written.litter_removed == 1


def test_between_cycles_the_drift_that_still_differs_goes_to_unison(rig: Rig) -> None:
    (rig.host / "drifted.txt").write_text("never announced")
    rig.outbox.hygiene.passed(drift(rig, "drifted.txt", "gone.txt"))
    rig.wait_both()
    assert rig.outbox.between_cycles(T) == ["CHANGES H"]  # unison then asks for both
    assert rig.outbox.protocol.pending == {"H": {"drifted.txt"}, "A": {"drifted.txt"}}
    assert rig.outbox.cycles.totals.drift_repaired == 1
    assert rig.outbox.between_cycles(T + 1) == []  # taken once


def test_drift_waits_until_unison_named_both_replicas(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, replicas=1)
    (rig.host / "drifted.txt").write_text("x")
    rig.outbox.hygiene.passed(drift(rig, "drifted.txt"))
    assert rig.outbox.between_cycles(T) == []
    assert rig.outbox.protocol.pending == {}
    assert rig.outbox.hygiene.drift.to_report == {"drifted.txt"}  # still there for later


def test_drift_into_a_clash_stays_away_from_unison_and_shows_in_the_status(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, fold=True)
    for name in ("README.md", "readme.md"):
        (rig.app / name).write_text(name)
    rig.outbox.hygiene.passed(drift(rig, "readme.md"))
    assert rig.outbox.between_cycles(T) == []
    assert rig.outbox.protocol.pending == {}
    rig.outbox.publish_changes(T)  # the clash made the status behind
    written = rig.written()
    assert written is not None and [c.paths for c in written.clashes] == [("README.md", "readme.md")]


def _copy_in_app(rig: Rig) -> str:
    (rig.app / "a").mkdir()
    (rig.app / "a" / "a (conflict_on_2026-12-04)").write_text("the app's save")
    return "a/a (conflict_on_2026-12-04)"


def test_a_conflict_copy_still_in_a_replica_holds_what_would_go_to_unison(rig: Rig) -> None:
    """Seed 7101: unison's next cycle deleted the folder a copy was kept in before ``run`` had
    moved the copy to the store; until it is gone, the host's deletion of ``a`` waits."""
    rig.outbox.protocol.handle("WAIT A")
    copy = _copy_in_app(rig)
    rig.outbox.copies.saw([copy], T)
    assert rig.outbox.report({"a"}, T) == []
    assert rig.outbox.protocol.pending == {}
    assert rig.outbox.release(T + 0.5) == []  # still there
    rig.outbox.publish(T + 0.5)
    written = rig.written()
    assert written is not None and written.pending_changes == 1  # held, and said so
    (rig.app / copy).unlink()  # run moved it
    assert rig.outbox.release(T + 0.6) == ["CHANGES A"]
    assert rig.outbox.protocol.pending == {"H": {"a"}, "A": {"a"}}
    assert rig.outbox.copies.deadline(T + 0.6) is None


def test_a_copy_that_stays_holds_nothing_longer_than_the_hold(rig: Rig) -> None:
    rig.outbox.protocol.handle("WAIT A")
    copy = _copy_in_app(rig)
    rig.outbox.copies.saw([copy], T)
    assert rig.outbox.report({""}, T, always=True) == []  # a rescan waits too
    assert rig.outbox.copies.deadline(T) == T + POLL
    assert rig.outbox.copies.deadline(T + HOLD - 0.01) == pytest.approx(T + HOLD)
    assert rig.outbox.release(T + HOLD) == ["CHANGES A"]
    assert rig.outbox.protocol.pending == {"H": {""}, "A": {""}}
    assert rig.outbox.report({"b"}, T + HOLD) == []  # the copy is old news: nothing held
    assert rig.outbox.protocol.pending == {"H": {"", "b"}, "A": {"", "b"}}


def test_other_ignored_names_hold_nothing(rig: Rig) -> None:
    rig.outbox.protocol.handle("WAIT A")
    (rig.app / "a.txt (notes)").write_text("not a copy")
    rig.outbox.copies.saw(["a.txt (notes)"], T)
    assert rig.outbox.report({"a.txt"}, T) == ["CHANGES A"]
