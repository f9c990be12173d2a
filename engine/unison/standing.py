"""The problems that stand: unison's reports of :mod:`engine.unison.reports` kept in ``problems.json``.

A path unison failed or skipped is a problem until it syncs or a recheck finds
it gone or equal.  What unison's reason means is decided by its family
(:mod:`engine.unison.reasons`): a transient one (the source vanished, changed during
the transfer, the transfer stopped by us) is retried quietly and becomes a
problem only when the path still differs :data:`TRANSIENT_BOUND` s after the
first report; a reason that needs the user sticks to the path until it syncs
or is gone, whatever unison says about it since; a file unison cannot sync by
its nature (FIFO, socket, device) is listed as skipped, never a problem.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import structlog

from engine.state import jsonfile, shared
from engine.state.shared import Problem
from engine.unison import reasons
from engine.unison.reports import GENERIC, MAX_PROBLEMS, Event, Report, Synced

HOLD = 2.0  # seconds after unison reported a path before a recheck may clear it
# a transient report (engine.unison.reasons.TRANSIENT) becomes a problem only when the path still
# differs this long after the first one (checked every few seconds by ``recheck``): a retry
# that succeeds, or a path that is gone, is no problem
TRANSIENT_BOUND = 10.0

log = structlog.get_logger("native-sync")


class Tracker:
    """The current problems: added from unison's reports, cleared when gone or synced.

    ``still`` tells whether a problem still stands (the path still differs
    between the roots, or the root still cannot be scanned); it is asked for
    each problem at most every ``recheck`` call, once ``HOLD`` seconds have
    passed since unison last reported it.  ``special`` tells whether a skipped
    path is still a file unison cannot sync by its nature.  Every change is
    saved to ``runtime_dir/problems.json`` (this tracker is its only writer).
    """

    def __init__(
        self,
        runtime_dir: Path | None,
        still: Callable[[Problem], bool],
        special: Callable[[str], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runtime_dir = runtime_dir
        self.still = still
        self.special = special
        self.clock = clock
        self.problems: dict[str, Problem] = {}
        self.skipped: dict[str, Problem] = {}  # special files, by rule
        self._reported: dict[str, float] = {}
        self._retrying: dict[str, tuple[float, Report]] = {}  # transient reports: since when

    def take(self, events: Iterable[Event]) -> None:
        """Add what unison reported; a transferred path's problem is cleared."""
        changed = False
        for event in events:
            if isinstance(event, Synced):
                if self._retrying.pop(event.path, None) is not None:
                    log.debug("problem.retried", path=event.path, why="synced")
                changed |= self._clear(event.path, "synced")
                continue
            if isinstance(event, Report):
                changed |= self._report(event)
        if changed:
            self.save()

    def _report(self, event: Report) -> bool:
        """One report of unison's, by its family (:mod:`engine.unison.reasons`); True if the books changed."""
        if reasons.special(event.reason):
            return self._skip(event)
        self._reported[event.path] = self.clock()
        known = self.problems.get(event.path)
        if known is not None:
            if reasons.needs_user(known.reason) and not reasons.needs_user(event.reason):
                log.debug("problem.still", path=event.path, reason=known.reason, unison=event.reason)
                return False  # e.g. "modified during synchronization" after "No space left on device"
            if known.reason == event.reason or event.reason.startswith(GENERIC):
                return False
            self.problems[event.path] = replace(known, reason=event.reason, side=event.side)
            return True
        family = reasons.transient(event.reason)
        if family is not None:
            first = self._retrying.get(event.path, (self.clock(), event))[0]
            self._retrying[event.path] = (first, event)
            log.debug("problem.retrying", path=event.path, family=family, reason=event.reason)
            return False
        self._retrying.pop(event.path, None)
        return self._add(event)

    def _skip(self, event: Report) -> bool:
        """A file unison cannot sync by its nature: listed once, never a problem."""
        if event.path in self.skipped:
            return False
        self._retrying.pop(event.path, None)
        self.problems.pop(event.path, None)
        reason = "a special file (FIFO, socket or device): unison cannot sync it"
        self.skipped[event.path] = Problem(event.path, event.side, reason, jsonfile.now_iso())
        log.info("skipped", path=event.path, side=event.side, reason=reason)
        return True

    def recheck(self) -> None:
        """Clear every problem that no longer stands."""
        now = self.clock()
        changed = False
        for path, (first, report) in list(self._retrying.items()):
            if not self.still(Problem(path, report.side, report.reason, "")):
                del self._retrying[path]
                log.debug("problem.retried", path=path, why="resolved")
            elif now - first >= TRANSIENT_BOUND:
                del self._retrying[path]
                self._reported[path] = now
                changed |= self._add(report)  # a retry that keeps failing: a problem after all
        for problem in list(self.problems.values()):
            if now - self._reported.get(problem.path, 0.0) < HOLD:
                continue
            if not self.still(problem):
                changed |= self._clear(problem.path, "resolved")
        for path in [p for p in self.skipped if not self.special(p)]:
            del self.skipped[path]
            log.info("skipped.cleared", path=path)
            changed = True
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
            shared.Problems(tuple(self.problems.values()), tuple(self.skipped.values())).save(
                self.runtime_dir
            )
