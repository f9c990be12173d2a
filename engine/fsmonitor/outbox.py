"""What leaves the fsmonitor: changed paths to unison, and ``fsmonitor.json`` for ``status``.

:meth:`Outbox.report` hands paths to the protocol for both replicas; between
cycles the verifier's differences go too, and the temp files unison abandoned
go away (:meth:`Outbox.between_cycles`).  Whatever changes what the status
file shows tells the :class:`~engine.fsmonitor.cycles.Publisher`, and the
select loop writes the file once at the end of its round
(:meth:`Outbox.publish_changes`), however many things changed in it; a report
that woke unison, and a cycle, are written at the end of that cycle
(:class:`~engine.fsmonitor.cycles.Publisher`).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.fsmonitor.casescreen import CaseScreen
from engine.fsmonitor.copyhold import CopyHold
from engine.fsmonitor.cycles import Cycles, Publisher
from engine.fsmonitor.differ import StillDiffers
from engine.fsmonitor.hygiene import Hygiene
from engine.fsmonitor.inotify import Watcher
from engine.fsmonitor.protocol import Protocol
from engine.fsmonitor.settle import Settler


@dataclass
class Outbox:
    """The two ways out: the protocol's pending changes and the status file."""

    watcher: Watcher
    settler: Settler

    still_differs: StillDiffers
    cycles: Cycles
    hygiene: Hygiene
    case: CaseScreen  # clashes stay away from unison
    protocol: Protocol
    publisher: Publisher
    copies: CopyHold  # a conflict copy still in a replica holds what would go to unison

    def report(self, paths: set[str], now: float, always: bool = False) -> list[str]:
        """Hand ``paths`` to unison for both replicas, unless a conflict copy holds them."""
        if not paths and not always:
            return []
        if self.copies.holding(now):
            self.copies.hold(paths, always)
            self.publisher.changed()
            return []

        out: list[str] = []
        for replica in self.watcher.roots:
            out += self.protocol.add_changes(replica, paths)
        self.cycles.reported(now)
        if out:  # unison was woken: written with the cycle it begins
            self.publisher.soon(now)
        else:
            self.publisher.changed()
        return out

    def release(self, now: float) -> list[str]:
        """What a conflict copy held, once it is gone (moved to the store) or held long enough."""
        released = self.copies.release(now)
        return [] if released is None else self.report(released[0], now, released[1])

    def between_cycles(self, now: float) -> list[str]:
        """When calm: remove abandoned temp files, report the verifier's differences."""
        removed = self.hygiene.sweep(now)
        if removed:
            self.cycles.litter_removed(removed)
            self.publisher.changed()
        if len(self.watcher.roots) != 2:
            return []
        replica = next(iter(self.watcher.roots))
        found = self.hygiene.drift_to_report(lambda rel: self.still_differs.differs_now(replica, rel))
        found = {rel for _, rel in self.case.screen({(replica, rel) for rel in found}, True)}
        found |= self.case.folders()
        if not found:
            return []
        self.cycles.drift_reported(len(found))
        return self.report(found, now)

    def publish_changes(self, now: float) -> None:
        """Write ``fsmonitor.json`` if anything in it changed since it was last written and
        nothing holds it (a cycle under way, or about to begin: :meth:`Publisher.overdue`)."""
        if self.publisher.overdue(now, self.cycles.syncing_since):
            self.publish(now)

    def publish(self, now: float) -> None:
        """Write ``fsmonitor.json`` as of ``now``."""
        pending = self.protocol.pending_count() + len(self.settler.dirty) + len(self.copies.held)
        snapshot = self.hygiene.stamp(self.cycles.snapshot(now, pending, self.watcher.watch_count))
        self.publisher.publish(self.case.stamp(snapshot))
