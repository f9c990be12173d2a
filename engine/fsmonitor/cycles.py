"""Sync-cycle bookkeeping: what ``fsmonitor.json`` reports, and writing it.

A cycle runs from unison's first ``CHANGES`` (or ``START``, its scan) to its
next ``WAIT``.  Counted here: cycles, paths, rescans, completed full-sync
requests, conflict copies unison made, and since when reported changes wait.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import structlog

from engine.state import jsonfile
from engine.state.shared import FsmonitorStatus

# unison's Path.addToFinalName: "name (conflict #2_on_2026-11-25).ext"
CONFLICT_COPY = re.compile(r" \(conflict( #\d+)?_on_\d{4}-\d{2}-\d{2}(_was_deleted)?\)(\.[^/.]*)?$")

RECENT_CONFLICTS = 10  # conflict copies listed in status (mutagen lists ten)

log = structlog.get_logger("fsmonitor")


@dataclass
class Cycles:
    """Counts sync cycles and what they did; ``wall`` is the wall clock (time.time)."""

    wall: Callable[[], float]
    totals: FsmonitorStatus = field(default_factory=FsmonitorStatus)
    syncing_since: float | None = None
    sync_paths: int = 0
    pending_since: float | None = None
    last_sync_done: float = 0.0
    conflict_names: set[str] = field(default_factory=set)

    @classmethod
    def resume(cls, previous: FsmonitorStatus, wall: Callable[[], float]) -> Cycles:
        """Start counting for this process; last sync, conflicts and rescans carry over."""
        totals = FsmonitorStatus(
            pid=os.getpid(),
            unison_pid=os.getppid(),
            last_sync_at=previous.last_sync_at,
            conflicts=previous.conflicts,
            recent_conflicts=previous.recent_conflicts,
            rescans=previous.rescans,
            drift_repaired=previous.drift_repaired,
            litter_removed=previous.litter_removed,
        )
        return cls(wall=wall, totals=totals)

    def scan_started(self, now: float) -> bool:
        """unison scans a replica (``START``): that is part of a cycle; True if it began one."""
        began = self.syncing_since is None
        if began:
            self._begin(now)
        return began

    def changes_taken(self, paths: int, now: float) -> bool:
        """unison took ``paths`` changes; True if that began a cycle."""
        began = self.syncing_since is None
        if began:
            self._begin(now)
        self.sync_paths += paths
        return began

    def _begin(self, now: float) -> None:
        self.syncing_since = now
        self.totals = replace(self.totals, cycles_begun=self.totals.cycles_begun + 1)

    def cycle_ended(self, now: float, pending: int, full_sync: bool) -> None:
        """unison waits again after a cycle; ``pending`` changes are already waiting."""
        assert self.syncing_since is not None
        first = self.totals.first_sync_at is None
        at = jsonfile.now_iso(self.wall())
        self.totals = replace(
            self.totals,
            syncs=self.totals.syncs + 1,
            last_sync_at=at,
            first_sync_at=at if first else self.totals.first_sync_at,
            flushes=self.totals.flushes + (1 if full_sync else 0),
        )
        # the cycle that completes a full sync says which (``flushes`` in fsmonitor.json): a
        # reader of the log knows what unison reported up to that flush is before this line
        done = {"flush": self.totals.flushes} if full_sync else {}
        log.info(
            "sync.cycle",
            first=first,
            paths=self.sync_paths,
            # from unison's question to its next WAIT, which includes its 1 s sleep
            cycle_ms=round((now - self.syncing_since) * 1000, 1),
            **done,
        )
        self.syncing_since = None
        self.sync_paths = 0
        self.last_sync_done = now
        self.pending_since = now if pending else None

    @property
    def syncing(self) -> bool:
        return self.syncing_since is not None

    def reported(self, now: float) -> None:
        """Changes were handed to unison: they wait from now, if nothing waited before."""
        if self.pending_since is None:
            self.pending_since = now

    def rescanned(self) -> None:
        self.totals = replace(self.totals, rescans=self.totals.rescans + 1)

    def drift_reported(self, paths: int) -> None:
        """The verifier found ``paths`` differences and they went to unison."""
        self.totals = replace(self.totals, drift_repaired=self.totals.drift_repaired + paths)

    def litter_removed(self, files: int) -> None:
        """``files`` temp files unison abandoned were removed."""
        self.totals = replace(self.totals, litter_removed=self.totals.litter_removed + files)

    def saw(self, rel: str, present: Callable[[str], bool] = lambda rel: True) -> None:
        """A changed path: a conflict copy unison made is counted once while it lasts.

        ``present`` tells whether a conflict copy is still there: one the user removed
        is forgotten, so unison's next copy of the same name (same path, same day) counts
        again (the fuzzer found two conflicts counted as one).
        """
        if not CONFLICT_COPY.search(rel):
            return
        if not present(rel):
            self.conflict_names.discard(rel)
        elif rel not in self.conflict_names:
            self.conflict_names.add(rel)
            recent = (rel, *(c for c in self.totals.recent_conflicts if c != rel))[:RECENT_CONFLICTS]
            self.totals = replace(self.totals, conflicts=self.totals.conflicts + 1, recent_conflicts=recent)
            log.warning("conflict", kept=rel)

    def snapshot(self, now: float, pending: int, watches: int) -> FsmonitorStatus:
        """The status at monotonic time ``now`` (``pending_since`` in wall-clock time)."""
        since = None if self.pending_since is None else self.wall() - (now - self.pending_since)
        return replace(self.totals, pending_changes=pending, pending_since=since, watches=watches)


@dataclass
class Publisher:
    """Writes ``fsmonitor.json`` and knows when it is behind; gives up (with one warning) if it cannot.

    Built first: whatever changes what the file shows (a command from unison,
    a clash, a report) is given :meth:`changed`; the select loop writes the
    file once at the end of its round if :attr:`behind`.
    """

    path: Path | None  # None: no status folder, nothing written
    behind: bool = False  # something the file shows changed since it was last written
    urgent: bool = False  # and it must be written before unison hears the answer (a cycle began)

    def changed(self) -> None:
        """Something ``fsmonitor.json`` shows changed."""
        self.behind = True

    def before_answer(self) -> None:
        """A cycle began: the file shows it before unison gets the answer that starts it."""
        self.behind = self.urgent = True

    def publish(self, snapshot: FsmonitorStatus) -> None:
        """Write ``snapshot``: the file is up to date."""
        self.behind = self.urgent = False
        if self.path is None:
            return
        try:
            snapshot.save(self.path)
        except OSError as e:
            log.warning("status.unwritable", path=str(self.path), error=str(e))
            self.path = None
