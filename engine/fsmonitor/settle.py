"""Settling: changed paths wait until their events calm down, then go as one batch.

A batch is taken once no event came for ``SETTLE`` seconds, or once it is
``MAX_BATCH`` old (a steady stream such as a branch switch is still reported).
A file still being written (modified, not yet closed) stays behind for up to
``WRITE_HOLD`` seconds while the rest of the batch goes: a log that a server
keeps open must not hold back the edits next to it.  Every time is a deadline
compared as ``now >= deadline``, the same sum :meth:`Settler.deadline` wakes
the loop for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.fs.paths import Key

SETTLE = 0.005  # quiet time before a batch of events is looked at
MAX_BATCH = 0.5  # a steady stream (a branch switch) is still reported this often
# How long a file still being written may stay behind: a log a dev server keeps
# open and appends to every 100 ms travels every 250 ms (p50 0.16 s behind at
# 10k files), not with every line.  Each sync costs unison a rewrite of its
# archive: 0.15 s cut the lag to 0.10 s for 21% of a core, 0.25 s costs 14.5%
# (bench/NOTES.md, issue 17).
WRITE_HOLD = 0.25


@dataclass
class Settler:
    """The dirty paths, when they were touched, and which files are still being written."""

    dirty: set[Key] = field(default_factory=set)
    writing: set[Key] = field(default_factory=set)
    first_event: float = 0.0
    last_event: float = 0.0
    held_since: float | None = None  # since when only files still being written are dirty

    def add(
        self,
        changed: set[Key],
        now: float,
        writing: frozenset[Key] = frozenset(),
        written: frozenset[Key] = frozenset(),
    ) -> None:
        """Events were read at ``now``: ``changed`` paths, files opened/closed for writing."""
        self.writing -= written
        self.writing |= writing
        if changed:
            if not self.dirty:
                self.first_event = now
                self.held_since = None
            self.dirty |= changed
            self.last_event = now

    def forget(self, replica: str | None = None) -> None:
        """Drop the dirty paths of ``replica`` (of every replica: a rescan covers them)."""
        self.dirty = {k for k in self.dirty if replica is not None and k[0] != replica}

    def deadline(self, now: float) -> float | None:
        """When the batch may next be settled (never earlier than ``now``)."""
        if not self.dirty:
            return None
        if self._only_written():
            return max(self._write_hold_end(), now)
        return max(min(self.last_event + SETTLE, self.first_event + MAX_BATCH), now)

    def settled(self, now: float) -> bool:
        """Is there a batch to take at ``now``?"""
        if not self.dirty:
            return False
        if now < self.last_event + SETTLE and now < self.first_event + MAX_BATCH:
            return False
        return not self._only_written() or now >= self._write_hold_end()

    def take(self, now: float | None = None) -> set[Key]:
        """The batch: every dirty path but the files still being written (all of them once
        their hold is over); what is taken counts as written from now on."""
        if now is None or now >= self._write_hold_end() or not self.dirty & self.writing:
            batch, self.dirty = self.dirty, set()
        else:
            batch = self.dirty - self.writing
            self.dirty &= self.writing
            if self.held_since is None:
                self.held_since = self.first_event
        if self.dirty:
            self.first_event = now if now is not None else self.first_event
        self.writing -= batch
        return batch

    def _only_written(self) -> bool:
        return self.dirty <= self.writing

    def _write_hold_end(self) -> float:
        return (self.first_event if self.held_since is None else self.held_since) + WRITE_HOLD
