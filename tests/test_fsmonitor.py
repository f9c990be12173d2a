"""engine/fsmonitor/monitor.py: the Monitor driven with explicit times, and the real executable.

The Monitor tests run once per value in ``CLOCK_STARTS``: none may depend on
where the monotonic clock happens to start.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from structlog.testing import capture_logs

from engine.fs.compare import differs
from engine.fsmonitor import cycles, rescan, settle
from engine.fsmonitor.inotify import Batch, Watcher
from engine.fsmonitor.monitor import Monitor, build_monitor
from engine.fsmonitor.protocol import quote
from engine.fsmonitor.settle import SETTLE
from engine.state import begun
from engine.state.shared import FsmonitorStatus
from tests.fakes import CLOCK_STARTS, FakeClock
from tests.helpers import REPO, wait_for


@dataclass
class Rig:
    """A Monitor on two real folders, past unison's first scan, with both replicas waited for."""

    host: Path
    app: Path
    monitor: Monitor
    t0: float

    def read_events(self, *keys: tuple[str, str], at: float) -> list[str]:
        """Feed inotify's events to the monitor until ``keys`` were seen and are written."""
        seen: set[tuple[str, str]] = set()
        out: list[str] = []

        def step() -> bool:
            batch = self.monitor.watcher.read()
            seen.update(batch.changed)
            out.extend(self.monitor.events(batch, at))
            return set(keys) <= seen and not (set(keys) & self.monitor.settler.writing)

        wait_for(step, 5, f"events for {keys}")
        return out

    def wait_all(self, now: float) -> list[str]:
        return self.monitor.command("WAIT h1", now) + self.monitor.command("WAIT h2", now)

    def events(self, changed: set[tuple[str, str]], at: float) -> list[str]:
        return self.monitor.events(Batch(changed), at)

    def stats(self) -> FsmonitorStatus:
        return self.monitor.cycles.snapshot(0.0, self.monitor.protocol.pending_count(), 0)


def start_rig(
    tmp_path: Path,
    t0: float,
    rescan_interval: float = 0.0,
    status_file: Path | None = None,
    exist_ok: bool = False,
    unison_cpu: Callable[[], float | None] = lambda: None,
) -> Rig:
    host, app = tmp_path / "host", tmp_path / "app"
    host.mkdir(exist_ok=exist_ok)
    app.mkdir(exist_ok=exist_ok)
    monitor = build_monitor(
        Watcher(lambda rel: False),
        differs,
        rescan_interval=rescan_interval,
        unison_cpu=unison_cpu,
        status_file=status_file,
        wall=FakeClock(1_800_000_000.0),
    )
    monitor.publish(t0)  # as the select loop does before it reads anything
    assert monitor.command("VERSION 1", t0) == ["VERSION 1"]
    for replica, root in (("h1", host), ("h2", app)):
        assert monitor.command(f"START {replica} {quote(str(root))} ", t0) == ["OK"]
        assert monitor.command("DIR ", t0) == ["OK"]
        assert monitor.command("DONE", t0) == []
    return Rig(host, app, monitor, t0)


@pytest.fixture(params=CLOCK_STARTS)
def t0(request: pytest.FixtureRequest) -> float:
    """Where the monotonic clock starts."""
    start: float = request.param
    return start


@pytest.fixture
def rig(tmp_path: Path, t0: float) -> Rig:
    return start_rig(tmp_path, t0)


def test_a_change_is_reported_after_the_settle_time_not_before(rig: Rig) -> None:
    t = rig.t0 + 1
    assert rig.wait_all(t) == []
    (rig.host / "f.txt").write_text("edit")
    assert rig.read_events(("h1", "f.txt"), at=t) == []
    assert rig.monitor.tick(t + SETTLE / 2) == []
    deadline = rig.monitor.deadline(t)
    assert deadline == t + SETTLE
    assert rig.monitor.tick(deadline) == ["CHANGES h1"]  # the wake-up time is never too early
    assert rig.monitor.command("CHANGES h1", t + 0.01) == ["RECURSIVE f.txt", "DONE"]
    # a path that differs is reported for both replicas: unison looks at both sides
    assert rig.monitor.command("CHANGES h2", t + 0.01) == ["RECURSIVE f.txt", "DONE"]
    assert rig.monitor.protocol.pending_count() == 0


def test_a_change_without_a_wait_is_kept_for_the_next_wait(tmp_path: Path, t0: float) -> None:
    status_file = tmp_path / "fsmonitor.json"
    rig = start_rig(tmp_path, t0, status_file=status_file)
    t = rig.t0 + 1
    (rig.app / "g.txt").write_text("edit")
    rig.read_events(("h2", "g.txt"), at=t)
    assert rig.monitor.tick(t + SETTLE) == []
    rig.monitor.publish_changes(t + SETTLE)  # the select loop's end of round
    written = FsmonitorStatus.load(status_file)
    assert written.pending_changes == 2  # g.txt, for each replica
    assert written.pending_since == 1_800_000_000.0  # the wall clock when they were reported
    assert written.pid == os.getpid()
    assert rig.monitor.command("WAIT h2", t + 1) == ["CHANGES h2"]
    assert rig.monitor.command("CHANGES h2", t + 1) == ["RECURSIVE g.txt", "DONE"]


def test_an_echo_is_not_reported(rig: Rig) -> None:
    # unison's own write into the other side (the host's change went out in an
    # earlier batch): both sides now hold the same thing
    t = rig.t0 + 1
    rig.wait_all(t)
    (rig.host / "same.txt").write_text("same")
    rig.read_events(("h1", "same.txt"), at=t)
    assert rig.monitor.tick(t + SETTLE) == ["CHANGES h1"]
    (rig.app / "same.txt").write_text("same")
    rig.read_events(("h2", "same.txt"), at=t + 2 * SETTLE)
    assert rig.monitor.tick(t + 3 * SETTLE) == []
    assert rig.monitor.settler.dirty == set()


def test_the_same_change_on_both_sides_at_once_is_reported(tmp_path: Path, t0: float) -> None:
    # Both sides deleted the file (or wrote the same bytes) within one batch: unison must
    # record it, or its archive stays stale and the next save of the path is a false
    # conflict (issue 18: the fuzzer's first find)
    for side in ("host", "app"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "gone.txt").write_text("synced")
    rig = start_rig(tmp_path, t0, exist_ok=True)
    t = rig.t0 + 1
    rig.wait_all(t)
    (rig.host / "gone.txt").unlink()
    (rig.app / "gone.txt").unlink()
    rig.read_events(("h1", "gone.txt"), ("h2", "gone.txt"), at=t)
    assert rig.monitor.tick(t + SETTLE) == ["CHANGES h1"]


def test_a_file_created_and_deleted_before_the_flush_is_not_reported(rig: Rig) -> None:
    t = rig.t0 + 1
    rig.wait_all(t)
    (rig.host / "brief.txt").write_text("gone soon")
    rig.read_events(("h1", "brief.txt"), at=t)
    (rig.host / "brief.txt").unlink()
    rig.read_events(("h1", "brief.txt"), at=t + SETTLE / 2)
    assert rig.monitor.tick(t + SETTLE * 2) == []
    assert rig.monitor.protocol.pending_count() == 0


def test_a_steady_stream_of_events_is_still_reported(rig: Rig) -> None:
    t = rig.t0 + 1
    rig.wait_all(t)
    (rig.host / "busy.txt").write_text("0")
    rig.read_events(("h1", "busy.txt"), at=t)
    now = t
    while now < t + settle.MAX_BATCH:  # as the settler compares: against the deadline
        now += SETTLE / 2
        rig.events({("h1", "busy.txt")}, now)
        if now < t + settle.MAX_BATCH:
            assert rig.monitor.tick(now) == []
    assert rig.monitor.tick(now) == ["CHANGES h1"]


def test_overflow_reports_the_root(rig: Rig) -> None:
    t = rig.t0 + 1
    rig.wait_all(t)
    assert rig.monitor.events(Batch(set(), overflow=True), t) == ["CHANGES h1"]
    assert rig.monitor.command("CHANGES h1", t) == ["RECURSIVE ", "DONE"]
    assert rig.monitor.command("CHANGES h2", t) == ["RECURSIVE ", "DONE"]
    assert rig.stats().rescans == 1


def test_overflow_drops_the_dirty_paths_it_covers(rig: Rig) -> None:
    t = rig.t0 + 1
    rig.events({("h1", "a")}, t)
    rig.monitor.events(Batch(set(), overflow=True), t)
    assert rig.monitor.settler.dirty == set()
    assert rig.monitor.protocol.pending == {"h1": {""}, "h2": {""}}


def test_the_rescan_interval_reports_the_root(tmp_path: Path, t0: float) -> None:
    rig = start_rig(tmp_path, t0, rescan_interval=10)
    t = rig.t0 + 1
    rig.wait_all(t)
    assert rig.monitor.tick(rig.t0 + 5) == []
    assert rig.monitor.deadline(t) == pytest.approx(rig.t0 + 10, abs=1)
    assert rig.monitor.tick(rig.t0 + 11) == ["CHANGES h1"]
    assert rig.monitor.command("CHANGES h1", rig.t0 + 11) == ["RECURSIVE ", "DONE"]
    assert rig.monitor.command("CHANGES h2", rig.t0 + 11) == ["RECURSIVE ", "DONE"]
    assert rig.stats().rescans == 1
    # the next one is an interval later
    assert rig.wait_all(rig.t0 + 12) == []
    assert rig.monitor.tick(rig.t0 + 15) == []
    assert rig.monitor.tick(rig.t0 + 22) == ["CHANGES h1"]
    assert rig.stats().rescans == 2


def test_no_rescan_when_the_interval_is_zero(rig: Rig) -> None:
    rig.wait_all(rig.t0)
    assert rig.monitor.deadline(rig.t0 + 1) is None
    assert rig.monitor.tick(rig.t0 + 10_000) == []


@pytest.mark.parametrize(
    "name",
    [
        "name (conflict_on_2026-11-25).txt",
        "sub/name (conflict #1_on_2026-11-25).txt",
        "name (conflict #12_on_2026-11-25_was_deleted).txt",
        "archive.tar (conflict_on_2026-11-25).gz",
        "Makefile (conflict_on_2026-11-25)",
    ],
)
def test_a_conflict_copy_is_counted_once(rig: Rig, name: str) -> None:
    (rig.app / name).parent.mkdir(parents=True, exist_ok=True)
    (rig.app / name).write_text("the loser's version")  # unison made it
    t = rig.t0 + 1
    for i in range(3):
        rig.events({("h1", name), ("h2", name)}, t + i)
        rig.monitor.tick(t + i + 1)
    assert rig.stats().conflicts == 1


@pytest.mark.parametrize("name", ["conflict.txt", "name (conflict).txt", "name (conflict_on_today).txt"])
def test_other_names_are_not_conflicts(rig: Rig, name: str) -> None:
    rig.events({("h1", name)}, rig.t0)
    rig.monitor.tick(rig.t0 + 1)
    assert rig.stats().conflicts == 0


def test_a_sync_cycle_is_counted_when_unison_waits_again(rig: Rig) -> None:
    t = rig.t0 + 1
    rig.wait_all(t)  # the first WAIT ends unison's initial scan
    assert rig.stats().syncs == 1
    rig.events({("h1", "x")}, t)
    (rig.host / "x").write_text("x")
    assert rig.monitor.tick(t + 1) == ["CHANGES h1"]
    rig.monitor.command("CHANGES h1", t + 1)
    rig.monitor.command("CHANGES h2", t + 1)
    assert rig.stats().syncs == 1
    rig.wait_all(t + 2)
    assert rig.stats().syncs == 2
    assert rig.stats().last_sync_at is not None


def test_a_cycle_is_in_the_status_file_before_unison_hears_the_answer_that_begins_it(
    tmp_path: Path, t0: float
) -> None:
    """Whoever sees what a cycle did (a file arrived) must see that it began, to wait for its
    end: the fuzzer's synced-edit kill waited for "a cycle ended since the save" and took a
    cycle under way at the save (the first scan after a restart) for the one that carried it."""
    status_file = tmp_path / "fsmonitor.json"
    rig = start_rig(tmp_path, t0, status_file=status_file)  # its START began the first scan's cycle
    assert FsmonitorStatus.load(status_file).cycles_begun == 1
    t = rig.t0 + 1
    rig.wait_all(t)
    rig.monitor.publish_changes(t)  # the end of the round that ended the first cycle
    (rig.host / "x").write_text("x")
    rig.events({("h1", "x")}, t)
    assert rig.monitor.tick(t + 1) == ["CHANGES h1"]
    assert rig.monitor.command("CHANGES h1", t + 1) == ["RECURSIVE x", "DONE"]
    written = FsmonitorStatus.load(status_file)  # no end of round (publish_changes) yet
    assert (written.cycles_begun, written.syncs) == (2, 1)
    rig.monitor.command("CHANGES h2", t + 1)  # the same cycle
    rig.wait_all(t + 2)
    rig.monitor.publish_changes(t + 2)
    assert FsmonitorStatus.load(status_file).cycles_begun == FsmonitorStatus.load(status_file).syncs == 2


def _reported_since_the_file_went(tmp_path: Path, t0: float) -> tuple[Rig, Path, float]:
    """A rig whose fsmonitor.json was written and then removed, and a change on the host side
    reported to a waiting unison at ``t + 1`` (nothing written yet: the file's return says when)."""
    status_file = tmp_path / "fsmonitor.json"
    rig = start_rig(tmp_path, t0, status_file=status_file)
    t = rig.t0 + 1
    rig.wait_all(t)
    rig.monitor.publish_changes(t)
    status_file.unlink()
    (rig.host / "x").write_text("x")
    rig.events({("h1", "x")}, t)
    assert rig.monitor.tick(t + 1) == ["CHANGES h1"]
    return rig, status_file, t


def test_a_sync_cycle_replaces_the_status_file_once_at_its_end(tmp_path: Path, t0: float) -> None:
    """Issue 24: a log appended every 100 ms syncs ~3.5 times a second, and each replacement
    of fsmonitor.json is a rename (on ext4, a flush of the new file's data).  The paths handed
    to a waiting unison, the cycle's beginning (said in begun.PID) and what changes while it
    runs are written once, at its end: one replacement per cycle, not three."""
    rig, status_file, t = _reported_since_the_file_went(tmp_path, t0)
    rig.monitor.publish_changes(t + 1)  # the end of that round
    assert rig.monitor.command("CHANGES h1", t + 1.01) == ["RECURSIVE x", "DONE"]
    assert begun.read(tmp_path, os.getpid()) == 2  # before the answer: the cycle began
    rig.monitor.command("CHANGES h2", t + 1.01)
    rig.monitor.publish_changes(t + 1.01)
    assert not status_file.exists()  # not yet written
    rig.wait_all(t + 1.03)
    rig.monitor.publish_changes(t + 1.03)
    written = FsmonitorStatus.load(status_file)
    assert (written.cycles_begun, written.syncs, written.pending_changes) == (2, 2, 0)


def test_a_long_cycle_is_written_while_it_runs(tmp_path: Path, t0: float) -> None:
    status_file = tmp_path / "fsmonitor.json"
    rig = start_rig(tmp_path, t0, status_file=status_file)
    t = rig.t0 + 1
    rig.wait_all(t)
    (rig.host / "x").write_text("x")
    rig.events({("h1", "x")}, t)
    rig.monitor.tick(t + 1)
    rig.monitor.command("CHANGES h1", t + 1)
    rig.monitor.publish_changes(t + 1)
    status_file.unlink()
    assert rig.monitor.deadline(t + 1) == t + 1 + cycles.DURING_CYCLE  # the loop wakes for it
    rig.monitor.publish_changes(t + 1 + cycles.DURING_CYCLE)  # a full scan of a big tree, say
    written = FsmonitorStatus.load(status_file)
    assert (written.cycles_begun, written.syncs) == (2, 1)


def test_a_report_whose_cycle_does_not_begin_is_written_within_soon(tmp_path: Path, t0: float) -> None:
    rig, status_file, t = _reported_since_the_file_went(tmp_path, t0)
    rig.monitor.publish_changes(t + 1)
    assert rig.monitor.deadline(t + 1) == t + 1 + cycles.SOON  # the loop wakes for it
    rig.monitor.publish_changes(t + 1 + cycles.SOON)  # unison never asked (it is stopping, say)
    assert FsmonitorStatus.load(status_file).pending_changes == 2


def test_a_full_sync_request_rescans_and_counts_when_its_cycle_ends(rig: Rig) -> None:
    t = rig.t0 + 1
    rig.wait_all(t)
    rig.monitor.request_full_sync()
    assert rig.monitor.deadline(t) is not None
    with capture_logs() as logs:
        assert rig.monitor.tick(t) == ["CHANGES h1"]
    assert [e for e in logs if e["event"] == "rescan"] == [
        {"event": "rescan", "reason": "flush", "replicas": 2, "log_level": "info"}
    ]
    assert rig.monitor.tick(t + 1) == []  # one rescan per request
    rig.monitor.command("CHANGES h1", t + 1)
    rig.monitor.command("CHANGES h2", t + 1)
    assert rig.stats().flushes == 0  # taken, not yet synced
    with capture_logs() as logs:
        rig.wait_all(t + 2)
    (cycle,) = [e for e in logs if e["event"] == "sync.cycle"]
    assert cycle["paths"] == 2 and cycle["first"] is False
    assert cycle["cycle_ms"] == pytest.approx(1000, abs=0.1)
    assert rig.stats().flushes == 1
    rig.monitor.command("CHANGES h1", t + 3)  # a later cycle without a request
    rig.wait_all(t + 4)
    assert rig.stats().flushes == 1


def test_a_conflict_copy_is_logged_with_its_name(rig: Rig) -> None:
    name = "a (conflict_on_2026-11-25).txt"
    (rig.host / name).write_text("the loser's version")
    rig.events({("h1", name)}, rig.t0)
    with capture_logs() as logs:
        rig.monitor.tick(rig.t0 + 1)
    assert {"event": "conflict", "kept": name, "log_level": "warning"} in logs


# --- the executable, as unison runs it -----------------------------------------------------


@dataclass
class Helper:
    proc: subprocess.Popen[bytes]
    lines: queue.Queue[str]

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def expect(self, line: str, timeout: float = 5) -> None:
        try:
            got = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"no line from the fsmonitor within {timeout} s; expected {line!r}"
            ) from None
        assert got == line

    def nothing_pending(self) -> None:
        """Nothing more was answered: the reply to a VERSION sent now is the very next line.

        The fsmonitor answers in order from one thread, so a stray line already
        written comes first; no sleep, no race with the reader thread.
        """
        self.send("VERSION 1")
        self.expect("VERSION 1")


@pytest.fixture
def helper(tmp_path: Path) -> Iterator[Helper]:
    runtime = tmp_path / "rt"
    runtime.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "SYNC_RUNTIME_DIR": str(runtime),
        "LOG_FORMAT": "json",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.fsmonitor"],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    lines: queue.Queue[str] = queue.Queue()

    def reader() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.put(raw.decode().rstrip("\n"))

    threading.Thread(target=reader, daemon=True).start()
    yield Helper(proc, lines)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_the_executable_speaks_the_protocol(tmp_path: Path, helper: Helper) -> None:
    host, app = tmp_path / "host dir", tmp_path / "app"
    host.mkdir()
    app.mkdir()
    helper.send("VERSION 1")
    helper.expect("VERSION 1")
    for replica, root in (("h1", host), ("h2", app)):
        helper.send(f"START {replica} {quote(str(root))} ")
        helper.expect("OK")
        helper.send("DIR ")
        helper.expect("OK")
        helper.send("DONE")
    helper.send("WAIT h1")
    helper.send("WAIT h2")
    (host / "new file.txt").write_text("hello")
    helper.expect("CHANGES h1")
    helper.send("CHANGES h1")
    helper.expect("RECURSIVE new%20file.txt")
    helper.expect("DONE")
    helper.send("CHANGES h2")
    helper.expect("RECURSIVE new%20file.txt")  # reported for both replicas
    helper.expect("DONE")
    helper.nothing_pending()
    assert helper.proc.stdin is not None
    helper.proc.stdin.close()
    assert helper.proc.wait(timeout=5) == 0


def test_the_executable_answers_an_unknown_command_with_error(helper: Helper) -> None:
    helper.send("VERSION 1")
    helper.expect("VERSION 1")
    helper.send("NONSENSE")
    got = helper.lines.get(timeout=5)
    assert got.startswith("ERROR ")
    assert helper.proc.wait(timeout=5) != 0


def test_the_fsmonitor_says_it_runs_only_once_a_flush_signal_is_handled() -> None:
    """`flush` signals the pid fsmonitor.json names (SIGUSR1): published before the handler was
    in place, a flush at that moment killed the fsmonitor (the signal's default action)."""
    from engine.fsmonitor.select_loop import serve

    handlers: list[object] = []

    class Published:
        def publish(self, now: float) -> None:
            handlers.append(signal.getsignal(signal.SIGUSR1))

        def deadline(self, now: float) -> float | None:
            return None

        def tick(self, now: float) -> list[str]:
            return []

        def publish_changes(self, now: float) -> None:
            pass

    stdin_r, stdin_w = os.pipe()
    idle_r, idle_w = os.pipe()
    os.close(stdin_w)  # unison closed our stdin: serve returns at once
    previous = signal.getsignal(signal.SIGUSR1)
    try:
        watcher = SimpleNamespace(fileno=lambda: idle_r)
        assert serve(Published(), watcher, stdin=stdin_r) == 0  # type: ignore[arg-type]
    finally:
        signal.signal(signal.SIGUSR1, previous)
        signal.set_wakeup_fd(-1)
        for fd in (stdin_r, idle_r, idle_w):
            os.close(fd)
    assert handlers and handlers[0] not in (signal.SIG_DFL, signal.SIG_IGN, None)


def test_a_dear_full_scan_spaces_the_periodic_rescans(tmp_path: Path, t0: float) -> None:
    """Issue 24: unison's CPU over a full scan (START to WAIT) paces the next periodic rescan.

    A first scan that costs unison 2 s of CPU puts the next rescan at
    2 / RESCAN_BUDGET s, not at the 10 s interval; one that costs nothing keeps it.
    """
    spent = [100.0]
    rig = start_rig(tmp_path, t0, rescan_interval=10, unison_cpu=lambda: spent[0])
    spent[0] += 2.0  # the first (full) scan
    with capture_logs() as logs:
        rig.wait_all(rig.t0 + 3)
    pause = 2.0 / rescan.RESCAN_BUDGET
    assert [e for e in logs if e["event"] == "rescan.cost"] == [
        {"event": "rescan.cost", "cpu_seconds": 2.0, "next_in": pause, "log_level": "info"}
    ]
    assert rig.monitor.deadline(rig.t0 + 3) == pytest.approx(rig.t0 + pause)
    assert rig.monitor.tick(rig.t0 + 11) == []  # the interval passed: not yet
    assert rig.monitor.tick(rig.t0 + pause) == ["CHANGES h1"]
    for replica in ("h1", "h2"):
        assert rig.monitor.command(f"CHANGES {replica}", rig.t0 + pause) == ["RECURSIVE ", "DONE"]
    rig.wait_all(rig.t0 + pause + 1)  # this rescan cost nothing: the interval again
    assert rig.monitor.deadline(rig.t0 + pause + 1) == pytest.approx(rig.t0 + pause + 10)
