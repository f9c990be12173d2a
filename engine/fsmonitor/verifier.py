"""The drift verifier (``SYNC_VERIFY_INTERVAL``): the two trees compared, differences to unison.

A mount that never announces a change (bindfs, OSXFS on a bad day, WSL2's
``/mnt/c``) leaves the watcher blind; this is the safety net.  A background
thread (:class:`VerifierThread`) walks both replicas side by side
(:mod:`engine.fsmonitor.walker`: ignores as the watcher applies them, links
not followed) and compares type, permission bits (:data:`engine.paths.PERMS`),
size and link target; contents only for files whose stat (size, mtime, ctime,
inode) changed on either side since the previous pass; a folder unchanged on
the host since a pass that found it equal is not compared again.  The first
pass only takes that baseline: watch-mode unison has just scanned everything
itself.  What differs is compared again after
:data:`RECHECK_DELAY` (unison may be writing it right now) and posted to the
select loop through a queue and a wake-up pipe; the loop reports it like any
other change (:class:`engine.fsmonitor.drift.Drift` keeps the books).  The walk also finds unison's
temp files for :mod:`engine.litter`.

Pacing (``auto``): the pause after a pass aims at ``cpu / BUDGET``, the
pass's own CPU time spent at :data:`BUDGET` of a core (``cpu``: the mean of the
last :data:`COST_PASSES` passes, the first walk left out: it compares both
trees in full), but is cut to what keeps :data:`DRIFT_BOUND` for every pass,
not on average (issue 18: pauses of 28.6 and 37.3 s at 10k
files let a change arrive after 29.7 s): a change made just after the walk
passed it waits the rest of that pass, the pause, the next pass up to it, the
recheck and a unison cycle.  It never goes below ``cpu / MAX_SHARE`` (the
engine's 1% of a core) nor :data:`FLOOR` (a small tree is not walked all the
time).  The bound grows with the tree (:func:`drift_bound`: 30 s at 10k
files, 120 s at 400k); it holds while a pass costs up to ~0.25 s of CPU at
10k and ~1.1 s at 400k; a slow mount costs more per pass, and then the CPU
budget wins and passes come rarer.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

import structlog

from engine.fsmonitor.walker import Walker, differ
from engine.paths import PERMS

__all__ = ["Pass", "VerifierThread", "Walker", "drift_bound", "pause_for"]

BUDGET = 0.006  # auto: the verifier's CPU share of one core (the whole engine's budget is 1%)
FLOOR = 10.0  # auto: seconds between passes at the least
COST_PASSES = 3  # auto: a pass's cost is the mean CPU time of this many recent passes
RECHECK_DELAY = 1.0  # a difference must still be there this much later (unison may be writing it)
MAX_SHARE = 0.01  # auto: never more of a core than this (SPEC 5: at no more than 1% of a core)
DRIFT_BOUND = 30.0  # auto: seconds within which unannounced drift arrives (SPEC 5, at 10k files)
BIG_BOUND = 120.0  # ... and at 400k files (issue 24); in between it grows with the paths checked
SMALL_TREE, BIG_TREE = 10_000, 400_000
SYNC_CYCLE = 1.5  # a unison cycle after the report (stock 2.52.1 sleeps 1 s in watch mode)

log = structlog.get_logger("fsmonitor")


@dataclass(frozen=True)
class Pass:
    """What one walk found: paths that differ (still, after the recheck), temp files, costs."""

    differing: frozenset[str]
    temps: tuple[str, ...]
    checked: int
    seconds: float
    cpu_seconds: float
    pause: float
    at: float  # wall clock at the end of the pass
    baseline: bool = False  # the first pass: no contents compared
    clashes: frozenset[tuple[str, ...]] = frozenset()  # names a folding host cannot hold apart
    respelled: frozenset[tuple[str, str]] = frozenset()  # one name spelled otherwise on each side


def drift_bound(paths: int) -> float:
    """Seconds within which drift arrives in a tree of ``paths``: 30 s up to 10k, 120 s at 400k."""
    grown = (paths - SMALL_TREE) / (BIG_TREE - SMALL_TREE) * (BIG_BOUND - DRIFT_BOUND)
    return min(BIG_BOUND, DRIFT_BOUND + max(0.0, grown))


def pause_for(interval: float | None, cpu_seconds: float, pass_seconds: float = 0.0, paths: int = 0) -> float:
    """Seconds to wait after a pass that cost ``cpu_seconds`` of CPU and took ``pass_seconds``
    (the longest recent one) of wall time over ``paths``; ``interval`` None: auto."""
    if interval is not None:
        return interval
    ceiling = drift_bound(paths) - 2 * pass_seconds - RECHECK_DELAY - SYNC_CYCLE
    return max(FLOOR, min(cpu_seconds / BUDGET, ceiling), cpu_seconds / MAX_SHARE)


class VerifierThread(threading.Thread):
    """Walks the replicas in the background; passes go to :meth:`results` (wakes :meth:`fileno`).

    ``interval``: seconds between passes, None for auto, 0 for off (then one
    walk at start looks for temp files only).
    """

    def __init__(
        self,
        ignored: Callable[[str], bool],
        interval: float | None,
        fold: bool = False,
        perms: int = PERMS,
        host: str | None = None,
    ) -> None:
        super().__init__(name="verifier", daemon=True)
        self.walker = Walker(ignored, fold=fold, perms=perms)
        self.interval = interval
        self.host = host  # HOST_VOLUME: the side whose folders are listed every pass
        self.roots: tuple[str, str] | None = None  # set by the select loop once unison named both
        self.stop = threading.Event()
        self._queue: queue.SimpleQueue[Pass] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def host_first(self, first: str, second: str) -> tuple[str, str]:
        """unison's two roots, the host's first (the walker lists it in full, the other where it changed)."""
        if self.host is not None and os.path.realpath(second) == os.path.realpath(self.host):
            return second, first
        return first, second

    def fileno(self) -> int:
        """Readable when a pass is waiting in :meth:`results`."""
        return self._wake_r

    def results(self) -> list[Pass]:
        """The passes finished since the last call (drains the wake-up pipe)."""
        try:
            os.read(self._wake_r, 4096)
        except BlockingIOError:
            pass
        done = []
        while True:
            try:
                done.append(self._queue.get_nowait())
            except queue.Empty:
                return done

    def run(self) -> None:
        while self.roots is None:
            if self.stop.wait(0.1):
                return
        baseline = True
        costs: deque[float] = deque(maxlen=COST_PASSES)
        walls: deque[float] = deque(maxlen=COST_PASSES)
        while not self.stop.is_set():
            result = self.one_pass(contents=not baseline)
            if not baseline:  # the first walk compares both trees in full: not what a pass costs
                costs.append(result.cpu_seconds)
                walls.append(result.seconds)
            cost = sum(costs) / len(costs) if costs else 0.0  # none yet: the next pass soon, to learn it
            pause = pause_for(self.interval, cost, max(walls, default=0.0), result.checked)
            result = replace(result, baseline=baseline, pause=pause)
            if self.interval == 0:  # off: this walk looked for temp files only
                result = replace(result, differing=frozenset(), checked=0)
            self._post(result)
            if self.interval == 0:
                return
            baseline = False
            self.stop.wait(result.pause)

    def one_pass(self, contents: bool = True) -> Pass:
        """Walk once (and recheck what differs after RECHECK_DELAY)."""
        assert self.roots is not None
        a, b = self.roots
        started, cpu = time.monotonic(), time.thread_time()
        differing, temps, checked = self.walker.walk(a, b, contents and self.interval != 0)
        if differing and not self.stop.wait(RECHECK_DELAY):
            perms = self.walker.perms
            differing = {r for r in differing if differ(os.path.join(a, r), os.path.join(b, r), perms)}
        spent = time.thread_time() - cpu
        seconds = time.monotonic() - started
        return Pass(
            frozenset(differing),
            tuple(temps),
            checked,
            seconds - (RECHECK_DELAY if differing else 0.0),
            spent,
            pause_for(self.interval, spent, seconds, checked),
            time.time(),
            clashes=frozenset(self.walker.clashes),
            respelled=frozenset(self.walker.respelled),
        )

    def _post(self, result: Pass) -> None:
        self._queue.put(result)
        try:
            os.write(self._wake_w, b"v")
        except BlockingIOError:
            pass  # the pipe is full: the loop is already due to read
