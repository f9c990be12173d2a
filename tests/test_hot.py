"""engine/fsmonitor/hot.py and its hook in the Monitor: hot paths wait, cold edits never do.

A small discrete-event simulation plays unison's ``-repeat watch`` loop
(``src/uitext.ml``: take the changes, sync, sleep 1 s, ``WAIT``) against a
Monitor fed a log that changes every 100 ms and sparse cold edits, with the
fake clock started at every value of ``CLOCK_STARTS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine.fsmonitor.hot import HOT_SOON, HotPaths
from engine.fsmonitor.inotify import Batch, Watcher
from engine.fsmonitor.monitor import Monitor
from engine.fsmonitor.protocol import quote
from engine.fsmonitor.settle import SETTLE
from engine.statefiles import FsmonitorStatus
from tests.fakes import CLOCK_STARTS, FakeClock

DELAY = 3.0
SYNC = 0.01  # how long the simulated unison takes to sync
SLEEP = 1.0  # unison's watchinterval
LOG = "var/log/dev.log"


@pytest.fixture(params=CLOCK_STARTS)
def t0(request: pytest.FixtureRequest) -> float:
    start: float = request.param
    return start


def monitor_on(tmp_path: Path, t0: float, delay: float = DELAY, status_file: Path | None = None) -> Monitor:
    monitor = Monitor(
        status_file=status_file,
        watcher=Watcher(lambda rel: False),
        differs=lambda mine, theirs: True,  # every change is real: the filter is tested elsewhere
        hot=HotPaths(delay),
        wall=FakeClock(1_800_000_000.0),
    )
    monitor.command("VERSION 1", t0)
    for replica in ("h1", "h2"):
        root = tmp_path / replica
        root.mkdir()
        monitor.command(f"START {replica} {quote(str(root))} ", t0)
        monitor.command("DONE", t0)
    return monitor


@dataclass
class Sim:
    """unison's watch loop against the Monitor, with scripted changes, in simulated time."""

    monitor: Monitor
    now: float
    changes: list[tuple[float, str]]  # (when, path), in time order, on the app side (h2)
    wake_unison: float | None = None  # when unison next acts (its sync ends / its sleep ends)
    waiting: bool = False
    taken: list[tuple[float, set[str]]] = field(default_factory=list)  # when unison took what
    woken_at: list[float] = field(default_factory=list)  # when a CHANGES answered a WAIT

    def run(self, until: float) -> None:
        self._answer(self.monitor.command("WAIT h1", self.now) + self.monitor.command("WAIT h2", self.now))
        self.waiting = not self.taken
        steps = 0
        while self.now < until:
            steps += 1
            assert steps < 100_000, "the Monitor asks to be woken without doing anything"
            times = [t for t in (self.monitor.deadline(self.now), self.wake_unison) if t is not None]
            if self.changes:
                times.append(self.changes[0][0])
            self.now = max(self.now, min(times))
            out: list[str] = []
            while self.changes and self.changes[0][0] <= self.now:
                _, rel = self.changes.pop(0)
                out += self.monitor.events(Batch({("h2", rel)}), self.now)
            if self.wake_unison is not None and self.now >= self.wake_unison:
                out += self._unison_step()
            out += self.monitor.tick(self.now)
            self.monitor.publish_changes(self.now)  # as the select loop does at the end of a round
            self._answer(out)

    def _answer(self, out: list[str]) -> None:
        if any(line.startswith("CHANGES") for line in out) and self.waiting:
            self.waiting = False
            self.woken_at.append(self.now)
            self._take()

    def _take(self) -> None:
        paths: set[str] = set()
        for replica in ("h1", "h2"):
            lines = self.monitor.command(f"CHANGES {replica}", self.now)
            paths |= {line.removeprefix("RECURSIVE ") for line in lines if line != "DONE"}
        self.taken.append((self.now, paths))
        self.wake_unison = self.now + SYNC + SLEEP  # the sync, then watchinterval

    def _unison_step(self) -> list[str]:
        self.wake_unison = None
        self.waiting = True
        return self.monitor.command("WAIT h1", self.now) + self.monitor.command("WAIT h2", self.now)

    def lags(self, changes: list[tuple[float, str]], rel: str) -> list[float]:
        """For each change of ``rel``: how long until unison took it."""
        out = []
        for at, path in changes:
            if path != rel:
                continue
            took = next(t for t, paths in self.taken if t >= at and (rel in paths or "" in paths))
            out.append(took - at)
        return out


def churn(t0: float, seconds: float, cold_every: float = 1.5) -> list[tuple[float, str]]:
    log = [(t0 + 0.05 + 0.1 * i, LOG) for i in range(int(seconds / 0.1))]
    cold = [(t0 + 0.5 + cold_every * i, f"src/edit{i}.php") for i in range(int(seconds / cold_every))]
    return sorted(log + cold)


def test_a_cold_edit_is_reported_at_once_while_a_hot_path_is_held(tmp_path: Path, t0: float) -> None:
    changes = churn(t0, 30.0)
    sim = Sim(monitor_on(tmp_path, t0), t0, list(changes))
    sim.run(t0 + 32.0)
    cold = [(at, rel) for at, rel in changes if rel != LOG]
    lags = [lag for at, rel in cold for lag in sim.lags(cold, rel) if at > t0 + 5.0]
    # past the first seconds (the log must show it is hot), every edit goes within the settle time
    assert lags and max(lags) <= SETTLE + 1e-6, lags


def test_without_a_hot_delay_the_log_costs_the_edits_unisons_sleep(tmp_path: Path, t0: float) -> None:
    changes = churn(t0, 30.0)
    sim = Sim(monitor_on(tmp_path, t0, delay=0.0), t0, list(changes))
    sim.run(t0 + 32.0)
    cold = [(at, rel) for at, rel in changes if rel != LOG]
    lags = [lag for at, rel in cold for lag in sim.lags(cold, rel) if at > t0 + 5.0]
    assert max(lags) > 0.3  # what SYNC_HOT_DELAY is for (the baseline the test above beats)


def test_a_hot_path_rides_along_with_the_next_cold_edit(tmp_path: Path, t0: float) -> None:
    changes = churn(t0, 20.0)
    sim = Sim(monitor_on(tmp_path, t0), t0, list(changes))
    sim.run(t0 + 22.0)
    late = [(t, paths) for t, paths in sim.taken if t > t0 + 5.0]
    assert late
    for _, paths in late:  # past the start, unison never syncs the log alone...
        assert any(p.startswith("src/") for p in paths), late
    assert all(LOG in paths for _, paths in late)  # ...and it goes with every edit


def test_a_hot_path_is_never_held_longer_than_its_delay(tmp_path: Path, t0: float) -> None:
    for delay in (0.5, 1.0, DELAY, 5.0):
        changes = churn(t0, 30.0, cold_every=100.0)  # one cold edit, then only the log
        (tmp_path / str(delay)).mkdir()
        sim = Sim(monitor_on(tmp_path / str(delay), t0, delay), t0, list(changes))
        sim.run(t0 + 32.0)
        lags = sim.lags(changes, LOG)
        # held at most `delay`, then taken at unison's next WAIT (a sync and its sleep)
        assert max(lags) <= delay + SETTLE + SYNC + SLEEP + 1e-6, (delay, max(lags))
        alone = [t for t, paths in sim.taken if paths == {LOG}]
        assert len(alone) >= 3  # it does go alone when nothing else comes


def test_a_full_sync_request_releases_every_held_path(tmp_path: Path, t0: float) -> None:
    changes = churn(t0, 6.0, cold_every=100.0)
    status_file = tmp_path / "fsmonitor.json"
    monitor = monitor_on(tmp_path, t0, status_file=status_file)
    sim = Sim(monitor, t0, list(changes))
    sim.run(t0 + 6.0)
    while not monitor.hot.held:  # the log is hot: drive on until it is held
        sim.changes.append((sim.now + 0.1, LOG))
        sim.run(sim.now + 0.1)
    published = FsmonitorStatus.load(status_file)
    assert published.pending_since is None  # a held path is no stall for the watchdog
    assert published.pending_changes >= 1  # ...but it counts in pending_changes
    monitor.request_full_sync()
    out = monitor.tick(sim.now)
    assert len(monitor.hot) == 0
    assert monitor.protocol.pending == {"h1": {""}, "h2": {""}}  # the root covers the log
    sim._answer(out)
    if not sim.waiting and sim.taken[-1][1] == {""}:
        return
    sim.run(sim.now + SYNC + SLEEP + 0.01)  # unison was asleep: it takes the root when it waits
    assert any(paths == {""} for _, paths in sim.taken)


def test_a_path_is_cold_until_it_keeps_changing_soon_after_each_sync(t0: float) -> None:
    hot = HotPaths(DELAY)
    assert not hot.classify("a", t0)  # never taken
    hot.taken_by_unison(["a"], t0)
    assert not hot.classify("a", t0 + 0.1)  # once soon after one sync: a second save
    hot.taken_by_unison(["a"], t0 + 1.0)
    hot.taken_by_unison(["a"], t0 + 1.0)  # the other replica's CHANGES in the same cycle
    assert hot.classify("a", t0 + 1.1)  # soon after two syncs in a row: hot
    hot.taken_by_unison(["a"], t0 + 2.0)
    assert not hot.classify("a", t0 + 2.0 + HOT_SOON + 0.5)  # quiet after a sync: cold again
    hot.taken_by_unison(["a"], t0 + 5.0)
    assert not hot.classify("a", t0 + 5.1)
    assert not HotPaths(0.0).classify("a", t0)  # 0 = off


def test_held_paths_are_released_when_due_and_not_before(t0: float) -> None:
    hot = HotPaths(DELAY)
    hot.hold({("h2", "a")}, t0)
    hot.hold({("h2", "a"), ("h2", "b")}, t0 + 1.0)  # a keeps its first time
    assert hot.deadline() == t0 + DELAY
    assert hot.release_due(t0 + DELAY - 0.001) == set()
    assert hot.release_due(hot.deadline() or 0.0) == {("h2", "a")}
    assert hot.release_due(t0 + 1.0 + DELAY) == {("h2", "b")}
    assert hot.deadline() is None
