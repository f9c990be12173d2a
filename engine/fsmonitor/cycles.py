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

from engine.state import begun, jsonfile
from engine.state.shared import FsmonitorStatus

# unison's Path.addToFinalName: "name (conflict #2_on_2026-11-25).ext"
CONFLICT_COPY = re.compile(r" \(conflict( #\d+)?_on_\d{4}-\d{2}-\d{2}(_was_deleted)?\)(\.[^/.]*)?$")

RECENT_CONFLICTS = 10  # conflict copies listed in status (mutagen lists ten)
SOON = 0.5  # a change that waits for the cycle unison was woken for is written after this at most
DURING_CYCLE = 1.0  # what changes while a cycle runs waits for its end, at most this long

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
    # a warm start trusted its archive and has folders that changed while stopped: its first
    # cycle only handed the folders over; the cycle that scans those is the first sync
    hold_first: bool = False
    handed_over: bool = False  # ... and that first cycle is over: the changes go to unison now

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
        first = self.totals.first_sync_at is None and not self.hold_first
        self.handed_over = self.hold_first
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
    file at the end of its round when :meth:`overdue`.  A sync cycle is written
    once, at its end: that it began is in ``begun.PID`` before unison hears the
    answer that starts it (:meth:`before_answer`, :mod:`engine.state.begun`),
    and what changes while it runs waits for its end (``DURING_CYCLE`` s at
    most).  Next to a log appended every 100 ms (~3.5 syncs a second) that is
    one file replacement per sync instead of three (issue 24).
    """

    path: Path | None  # None: no status folder, nothing written
    behind: bool = False  # something the file shows changed since it was last written
    due: float | None = None  # a change the cycle about to begin writes: by then at the latest
    counter: begun.Counter | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.path is not None:
            try:
                self.counter = begun.Counter(self.path.parent, os.getpid())
            except OSError:
                pass  # no status folder: said once, when the file cannot be written either

    def changed(self) -> None:
        """Something ``fsmonitor.json`` shows changed."""
        self.behind = True

    def soon(self, now: float) -> None:
        """Something the file shows changed, and unison was just woken: it is written with the
        cycle that begins a moment later (at its end); if none begins, ``SOON`` s from ``now``."""
        if self.due is None:
            self.due = now + SOON

    def overdue(self, now: float, cycle_since: float | None) -> bool:
        """Must the file be written now?  ``cycle_since``: when the cycle under way began (None: none)."""
        if self.due is not None and now >= self.due:
            return True
        return self.behind and (cycle_since is None or now >= cycle_since + DURING_CYCLE)

    def deadline(self, cycle_since: float | None) -> float | None:
        """When :meth:`overdue` comes true without anything else happening (None: never)."""
        times = [self.due, cycle_since + DURING_CYCLE if self.behind and cycle_since is not None else None]
        return min((t for t in times if t is not None), default=None)

    def before_answer(self, count: int) -> None:
        """A cycle began, the ``count``-th: said in ``begun.PID`` before unison gets the answer
        that starts it; the file follows at the cycle's end (a :meth:`soon` with it)."""
        self.behind = True
        self.due = None
        if self.counter is not None:
            try:
                self.counter.grow(count)
            except OSError as e:
                log.warning("status.unwritable", path=str(self.path), error=str(e))
                self.counter = None

    def publish(self, snapshot: FsmonitorStatus) -> None:
        """Write ``snapshot``: the file is up to date."""
        self.behind = False
        self.due = None
        if self.path is None:
            return
        try:
            snapshot.save(self.path)
        except OSError as e:
            log.warning("status.unwritable", path=str(self.path), error=str(e))
            self.path = None
