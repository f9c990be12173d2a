"""The problems that stand: unison's reports of :mod:`engine.problems` kept in ``problems.json``.

A path unison failed or skipped is a problem until it syncs or a recheck finds
it gone or equal; a retry unison makes anyway (a file that changed while it
was copied) is one only when it persists past :data:`TRANSIENT_BOUND`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import structlog

from engine import jsonfile, statefiles
from engine.problems import GENERIC, MAX_PROBLEMS, Event, Report, Synced
from engine.statefiles import Problem

HOLD = 2.0  # seconds after unison reported a path before a recheck may clear it
# unison retries a path that changed while it copied it ("modified during synchronization");
# such a report becomes a problem only when the path still differs this long after the first
# one (checked every few seconds by ``recheck``): a retry that succeeds is no problem
TRANSIENT_BOUND = 10.0
_TRANSIENT = re.compile(
    r"modified during synchronization|Destination updated during synchronization"
    # deleted while unison read it, on the source side or (unison checks it before it writes)
    # on the destination side (both found by the fuzzer)
    r"|^(Could not check destination: )?Error in digesting .*: No such file or directory$"
)

log = structlog.get_logger("native-sync")


class Tracker:
    """The current problems: added from unison's reports, cleared when gone or synced.

    ``still`` tells whether a problem still stands (the path still differs
    between the roots, or the root still cannot be scanned); it is asked for
    each problem at most every ``recheck`` call, once ``HOLD`` seconds have
    passed since unison last reported it.  Every change is saved to
    ``runtime_dir/problems.json`` (this tracker is its only writer).
    """

    def __init__(
        self,
        runtime_dir: Path | None,
        still: Callable[[Problem], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runtime_dir = runtime_dir
        self.still = still
        self.clock = clock
        self.problems: dict[str, Problem] = {}
        self._reported: dict[str, float] = {}
        self._retrying: dict[str, tuple[float, Report]] = {}  # transient reports: since when

    def take(self, events: Iterable[Event]) -> None:
        """Add what unison reported; a transferred path's problem is cleared."""
        changed = False
        for event in events:
            if isinstance(event, Synced):
                self._retrying.pop(event.path, None)
                changed |= self._clear(event.path, "synced")
                continue
            if not isinstance(event, Report):
                continue
            self._reported[event.path] = self.clock()
            known = self.problems.get(event.path)
            if known is None and _TRANSIENT.search(event.reason):
                first = self._retrying.get(event.path, (self.clock(), event))[0]
                self._retrying[event.path] = (first, event)
                log.debug("problem.retrying", path=event.path, reason=event.reason)
                continue
            if known is not None:
                if known.reason != event.reason and not event.reason.startswith(GENERIC):
                    self.problems[event.path] = replace(known, reason=event.reason, side=event.side)
                    changed = True
                continue
            changed |= self._add(event)
        if changed:
            self.save()

    def recheck(self) -> None:
        """Clear every problem that no longer stands."""
        now = self.clock()
        changed = False
        for path, (first, report) in list(self._retrying.items()):
            if not self.still(Problem(path, report.side, report.reason, "")):
                del self._retrying[path]
            elif now - first >= TRANSIENT_BOUND:
                del self._retrying[path]
                self._reported[path] = now
                changed |= self._add(report)  # a retry that keeps failing: a problem after all
        for problem in list(self.problems.values()):
            if now - self._reported.get(problem.path, 0.0) < HOLD:
                continue
            if not self.still(problem):
                changed |= self._clear(problem.path, "resolved")
        if changed:
            self.save()

    def _add(self, event: Report) -> bool:
        if len(self.problems) >= MAX_PROBLEMS:
            log.warning("problem", path=event.path, side=event.side, reason=event.reason, listed=False)
            return False
        self.problems[event.path] = Problem(event.path, event.side, event.reason, jsonfile.now_iso())
        log.warning("problem", path=event.path, side=event.side, reason=event.reason)
        return True

    def _clear(self, path: str, why: str) -> bool:
        problem = self.problems.pop(path, None)
        self._reported.pop(path, None)
        if problem is None:
            return False
        log.info("problem.cleared", path=path, side=problem.side, why=why)
        return True

    def save(self) -> None:
        if self.runtime_dir is not None:
            statefiles.Problems(tuple(self.problems.values())).save(self.runtime_dir)
