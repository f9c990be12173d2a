"""Settling: changed paths wait until their events calm down, then go as one batch.

A batch is taken once no event came for ``SETTLE`` seconds, or once it is
``MAX_BATCH`` old (a steady stream such as a branch switch is still reported).
A file still being written (modified, not yet closed) holds the batch back for
up to ``WRITE_HOLD`` seconds.  Every time is a deadline compared as
``now >= deadline``, the same sum :meth:`Settler.deadline` wakes the loop for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SETTLE = 0.005  # quiet time before a batch of events is looked at
MAX_BATCH = 0.5  # a steady stream (a branch switch) is still reported this often
WRITE_HOLD = 1.0  # how long a file still being written may hold a batch back

Key = tuple[str, str]  # (replica, path relative to its root)


@dataclass
class Settler:
    """The dirty paths, when they were touched, and which files are still being written."""

    dirty: set[Key] = field(default_factory=set)
    writing: set[Key] = field(default_factory=set)
    first_event: float = 0.0
    last_event: float = 0.0

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
            self.dirty |= changed
            self.last_event = now

    def forget(self, replica: str | None = None) -> None:
        """Drop the dirty paths of ``replica`` (of every replica: a rescan covers them)."""
        self.dirty = {k for k in self.dirty if replica is not None and k[0] != replica}

    def deadline(self, now: float) -> float | None:
        """When the batch may next be settled (never earlier than ``now``)."""
        return max(self.last_event + SETTLE, now) if self.dirty else None

    def settled(self, now: float) -> bool:
        """Is there a batch to take at ``now``?"""
        if not self.dirty:
            return False
        if now < self.last_event + SETTLE and now < self.first_event + MAX_BATCH:
            return False
        still_written = any(k in self.writing for k in self.dirty)
        return not still_written or now >= self.first_event + WRITE_HOLD

    def take(self) -> set[Key]:
        """The batch; its files count as written from now on."""
        dirty, self.dirty = self.dirty, set()
        self.writing -= dirty
        return dirty
