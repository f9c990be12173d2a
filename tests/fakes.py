"""Fakes shared by the tests (one home, as supervisor's ``tests/base.py``)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from inotify_simple import Event

from engine.supervisord import SupervisorError

# --- the fsmonitor's seams: protocol backend, inotify, clock -------------------------------

# Values the monotonic clock may start at: a test whose result depends on which
# one it got is a flaky test (float sums such as t + SETTLE round differently).
_seeded = random.Random(8)
CLOCK_STARTS = [
    0.0,
    1e-9,
    0.1,
    1.0,
    12345.678,
    2**33 + 0.3,
    *(_seeded.uniform(0, 10**k) for k in (1, 3, 5, 7, 9)),
]


@dataclass
class FakeBackend:
    """Records what the protocol asks of the watcher."""

    calls: list[tuple[str, ...]] = field(default_factory=list)
    waited: list[tuple[str, int]] = field(default_factory=list)  # (replica, changes pending)
    taken: list[tuple[str, list[str]]] = field(default_factory=list)

    def start(self, replica: str, root: str, path: str) -> None:
        self.calls.append(("start", replica, root, path))

    def watch_dir(self, replica: str, path: str) -> None:
        self.calls.append(("dir", replica, path))

    def follow_link(self, replica: str, path: str) -> None:
        self.calls.append(("link", replica, path))

    def reset(self, replica: str) -> None:
        self.calls.append(("reset", replica))

    def waiting(self, replica: str, pending: int) -> None:
        self.waited.append((replica, pending))

    def changes_taken(self, replica: str, paths: list[str]) -> None:
        self.taken.append((replica, paths))


class FakeINotify:
    """Just enough of inotify_simple.INotify: scripted events, refused watches."""

    def __init__(self, events: list[Event] | None = None, add_error: int | None = None) -> None:
        self.events = events or []
        self.add_error = add_error
        self.next_wd = 1
        self.added: list[tuple[str, int]] = []  # (path, mask) of every watch made
        self.removed: list[int] = []

    def fileno(self) -> int:
        return -1

    def add_watch(self, path: str, mask: int) -> int:
        if self.add_error is not None:
            raise OSError(self.add_error, os.strerror(self.add_error), path)
        self.added.append((path, mask))
        self.next_wd += 1
        return self.next_wd - 1

    def rm_watch(self, wd: int) -> None:
        self.removed.append(wd)

    def read(self, timeout: Any = None) -> list[Event]:
        events, self.events = self.events, []
        return events


class FakeClock:
    """A clock that moves only when told: ``clock()`` is now, ``advance(dt)`` moves it."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


# --- supervisord: the XML-RPC client, the process, a stop event -------------------------


@dataclass
class FakeWatchdog:
    """The watchdog thread (monit.loop.WatchdogThread): its stop is recorded in ``calls``;
    ``before_stop`` runs first (to move a clock by what the join may take)."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    before_stop: Callable[[float], None] | None = None
    started: int = 0

    def start(self, cfg: object) -> FakeWatchdog:
        self.started += 1
        return self

    def stop(self, timeout: float = 1.0) -> bool:
        if self.before_stop is not None:
            self.before_stop(timeout)
        self.calls.append(("stop", "watchdog"))
        return True


@dataclass
class FakeSupervisorClient:
    """supervisord's client (engine/supervisord.Client) over programs held in memory.

    Every command (stop/start/restart) is appended to ``calls`` (share one list
    with :class:`FakeSupervisord` to see the order of everything); ``before``
    runs just before a command takes effect (to look at files at that moment);
    a method named in ``failing`` raises SupervisorError.
    """

    programs: dict[str, dict[str, object]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    before: Callable[[str, str], None] | None = None
    failing: set[str] = field(default_factory=set)

    def running(self, name: str, pid: int) -> FakeSupervisorClient:
        self.programs[name] = {"name": name, "statename": "RUNNING", "pid": pid}
        return self

    def _command(self, method: str, name: str) -> None:
        if self.before is not None:
            self.before(method, name)
        self.calls.append((method, name))
        if method in self.failing:
            raise SupervisorError(f"{method} {name}: supervisord not answering (fake)")

    def info(self, name: str) -> dict[str, object]:
        if "info" in self.failing:
            raise SupervisorError(f"getProcessInfo({name}): supervisord not answering (fake)")
        return dict(self.programs.get(name, {"name": name, "statename": "STOPPED", "pid": 0}))

    def stop(self, name: str) -> None:
        self._command("stop", name)
        self.programs.setdefault(name, {"name": name}).update(statename="STOPPED", pid=0)

    def start(self, name: str) -> None:
        self._command("start", name)
        self.programs.setdefault(name, {"name": name})["statename"] = "RUNNING"

    def restart(self, name: str) -> None:
        self._command("restart", name)
        self.programs.setdefault(name, {"name": name})["statename"] = "RUNNING"


@dataclass
class FakeSupervisord:
    """The supervisord process (a ``subprocess.Popen``) as ``run`` drives it at stop.

    ``exits_on_term``: False plays a supervisord that ignores SIGTERM (its
    ``wait`` times out, so it gets killed).
    """

    calls: list[tuple[str, str]] = field(default_factory=list)
    exits_on_term: bool = True
    pid: int = -1  # no session: engine.supervisord.kill_session kills nothing
    returncode: int | None = None
    waited: list[float | None] = field(default_factory=list)
    on_wait: Callable[[float | None], None] | None = None

    def poll(self) -> int | None:
        return self.returncode

    def send_signal(self, signum: int) -> None:
        self.calls.append(("signal", signal.Signals(signum).name))
        if signum == signal.SIGTERM and self.exits_on_term:
            self.returncode = 0

    def wait(self, timeout: float | None = None) -> int:
        self.calls.append(("wait", "supervisord"))
        self.waited.append(timeout)
        if self.on_wait is not None:
            self.on_wait(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired("supervisord", timeout or 0.0)
        return self.returncode

    def kill(self) -> None:
        self.calls.append(("signal", "SIGKILL"))
        self.returncode = -9


class StopAfter:
    """A stop event (``threading.Event``'s ``wait``/``set``/``is_set``) set after ``waits`` waits.

    Loops written as ``while not stop.wait(interval)`` run exactly ``waits``
    times, without sleeping.
    """

    def __init__(self, waits: int) -> None:
        self.left = waits
        self.intervals: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.intervals.append(timeout)
        self.left -= 1
        return self.left < 0

    def set(self) -> None:
        self.left = -1

    def is_set(self) -> bool:
        return self.left < 0


class TickingStop(StopAfter):
    """A :class:`StopAfter` whose every wait moves ``clock`` on by the interval waited."""

    def __init__(self, waits: int, clock: FakeClock) -> None:
        super().__init__(waits)
        self.clock = clock

    def wait(self, timeout: float | None = None) -> bool:
        self.clock.advance(timeout or 0.0)
        return super().wait(timeout)
