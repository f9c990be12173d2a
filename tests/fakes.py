"""Fakes shared by the tests (one home, as supervisor's ``tests/base.py``)."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any

from inotify_simple import Event

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
    waited: list[str] = field(default_factory=list)
    taken: list[tuple[str, list[str]]] = field(default_factory=list)

    def start(self, replica: str, root: str, path: str) -> None:
        self.calls.append(("start", replica, root, path))

    def watch_dir(self, replica: str, path: str) -> None:
        self.calls.append(("dir", replica, path))

    def follow_link(self, replica: str, path: str) -> None:
        self.calls.append(("link", replica, path))

    def reset(self, replica: str) -> None:
        self.calls.append(("reset", replica))

    def waiting(self, replica: str) -> None:
        self.waited.append(replica)

    def changes_taken(self, replica: str, paths: list[str]) -> None:
        self.taken.append((replica, paths))


class FakeINotify:
    """Just enough of inotify_simple.INotify: scripted events, refused watches."""

    def __init__(self, events: list[Event] | None = None, add_error: int | None = None) -> None:
        self.events = events or []
        self.add_error = add_error
        self.next_wd = 1
        self.removed: list[int] = []

    def fileno(self) -> int:
        return -1

    def add_watch(self, path: str, mask: int) -> int:
        if self.add_error is not None:
            raise OSError(self.add_error, os.strerror(self.add_error), path)
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
