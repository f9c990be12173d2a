"""Full rescans: when the whole root of every replica is reported instead of paths.

Four reasons, one log event (``rescan``): the inotify queue overflowed
(``overflow``), ``SYNC_RESCAN_INTERVAL`` passed (``interval``), ``native-sync
flush`` asked for a full sync (``flush``), or too many recent paths to
recheck one by one (``recheck``).
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

# the reasons, as the ``rescan`` log event names them
OVERFLOW = "overflow"
INTERVAL = "interval"
FULL_SYNC = "flush"  # SIGUSR1 (``native-sync flush``)
RECHECK = "recheck"

log = structlog.get_logger("fsmonitor")


@dataclass
class Rescans:
    """The periodic rescan's schedule (``interval`` 0: none) and the log of every rescan."""

    interval: float = 0.0
    next_at: float | None = None

    def root_watched(self, now: float) -> None:
        """unison (re)scans a root: the interval counts from now."""
        if self.interval > 0:
            self.next_at = now + self.interval

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
        """A rescan was reported: the next periodic one is an interval later."""
        log.info("rescan", reason=reason, replicas=replicas)
        if self.interval > 0:
            self.next_at = now + self.interval
