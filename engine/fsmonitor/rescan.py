"""Full rescans: when the whole root of every replica is reported instead of paths.

Four reasons, one log event (``rescan``): the inotify queue overflowed
(``overflow``), ``SYNC_RESCAN_INTERVAL`` passed (``interval``), ``native-sync
flush`` asked for a full sync (``flush``), or too many recent paths to
recheck one by one (``recheck``).

The periodic rescan is paced by what a full scan costs unison (issue 24): a
full scan (watch mode's first, or any rescan) is measured in unison's CPU
time from its start to unison's next ``WAIT`` (``rescan.cost``), and the next
periodic one waits ``SYNC_RESCAN_INTERVAL`` or ``cost / RESCAN_BUDGET``,
whichever is longer, unless ``SYNC_RESCAN_INTERVAL`` was set (then it is kept:
the user chose that cost).  At 10k files a scan costs a few hundredths of a second
and the interval holds; at 400k it costs seconds, and an idle engine would
otherwise spend ~1% of a core on rescans alone, beside the drift verifier,
which compares both trees within its own budget anyway.  Overflows, flushes
and rechecks are never delayed.  The cost measured is kept in UNISON
(:mod:`engine.state.scancost`): a start whose first cycle scans nothing (the
archive trusted, patch 0006) paces its first periodic rescan by the last
run's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

# the reasons, as the ``rescan`` log event names them
OVERFLOW = "overflow"
INTERVAL = "interval"
FULL_SYNC = "flush"  # SIGUSR1 (``native-sync flush``)
RECHECK = "recheck"

# The periodic rescan's share of one core, on average over its interval (the
# whole idle engine's budget is 1%: the drift verifier 0.6%, the rest its loops).
RESCAN_BUDGET = 0.001

log = structlog.get_logger("fsmonitor")


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user and system) process ``pid`` has used, or None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        fields = stat[stat.rindex(b")") + 2 :].split()  # after the command's name, from field 3 on
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def unison_cpu() -> float | None:
    """The CPU seconds of unison, this fsmonitor's parent."""
    return process_cpu(os.getppid())


@dataclass
class Rescans:
    """The periodic rescan's schedule (``interval`` 0: none), paced by its cost, and the log of
    every rescan.  ``cpu`` says how much CPU unison has used so far (a seam for tests)."""

    interval: float = 0.0
    next_at: float | None = None
    paced: bool = True  # False: SYNC_RESCAN_INTERVAL was set, and is kept whatever a scan costs
    cpu: Callable[[], float | None] = field(default=unison_cpu)
    cost: float = 0.0  # unison's CPU seconds over the last full scan measured (or the last run's)
    trusted: bool = False  # the first cycle scans nothing (patch 0006): it sets no cost
    remember: Callable[[float], None] = field(default=lambda cost: None)  # a cost measured, for the next run
    scan_began: float | None = None  # unison's CPU when the full scan under way began
    last_full: float | None = None  # when that full scan began (monotonic)

    def pause(self) -> float:
        """Seconds from a full scan to the next periodic one."""
        return max(self.interval, self.cost / RESCAN_BUDGET) if self.paced else self.interval

    def _full_scan(self, now: float) -> None:
        if self.scan_began is None and not self.trusted:
            self.scan_began = self.cpu()
            self.last_full = now
        if self.interval > 0:
            self.next_at = now + self.pause()

    def root_watched(self, now: float) -> None:
        """unison (re)scans a root: the interval counts from now."""
        self._full_scan(now)

    def due(self, now: float, full_sync_requested: bool) -> str | None:
        """The reason a rescan is due at ``now``, if one is."""
        if full_sync_requested:
            return FULL_SYNC
        if self.next_at is not None and now >= self.next_at:
            return INTERVAL
        return None

    def deadline(self, now: float, full_sync_requested: bool) -> float | None:
        """When :meth:`due` next returns a reason."""
        return now if full_sync_requested else self.next_at

    def done(self, reason: str, replicas: int, now: float) -> None:
        """A rescan was reported: the next periodic one is an interval later (or its cost's pace)."""
        log.info("rescan", reason=reason, replicas=replicas)
        self._full_scan(now)

    def cycle_ended(self, now: float) -> None:
        """unison waits again: a full scan under way is over, its cost sets the pace (and is remembered)."""
        self.trusted = False  # a trusted first cycle is over: what unison scans from now on is measured
        if self.scan_began is None or self.last_full is None:
            return
        spent = self.cpu()
        if spent is not None:
            self.cost = max(0.0, spent - self.scan_began)
            if self.interval > 0:
                self.next_at = self.last_full + self.pause()
            log.info("rescan.cost", cpu_seconds=round(self.cost, 3), next_in=round(self.pause(), 1))
            self.remember(self.cost)
        self.scan_began = self.last_full = None
