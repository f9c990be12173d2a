"""The fsmonitor's coordinator: :class:`Monitor` hands what arrives through the rooms of this package.

It is the backend of unison's protocol (:mod:`.protocol`) and the target of
the select loop (:mod:`.select_loop`); the rooms return data and it decides
what goes to unison.  ``fsmonitor.json`` is written once per round of the
loop (:meth:`Monitor.publish_changes`), whatever changed in it.  Against a
host that folds case or normalization, the case guard (:mod:`.caseguard`)
screens every batch: case-only renames are mirrored, clashing app-side names
kept from unison.
"""

from __future__ import annotations

import functools
import os
import time
import typing
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from engine.fs.paths import Key
from engine.fsmonitor.casescreen import CaseScreen
from engine.fsmonitor.commands import Commands
from engine.fsmonitor.cycles import Cycles, Publisher
from engine.fsmonitor.differ import StillDiffers, TooManyToRecheck
from engine.fsmonitor.fullsync import FullSyncRequest
from engine.fsmonitor.hygiene import Hygiene
from engine.fsmonitor.inotify import Batch, Watcher
from engine.fsmonitor.outbox import Outbox
from engine.fsmonitor.protocol import Protocol
from engine.fsmonitor.rescan import FULL_SYNC, OVERFLOW, RECHECK, Rescans
from engine.fsmonitor.settle import Settler
from engine.fsmonitor.verifier import VerifierThread
from engine.state import shared

log = structlog.get_logger("fsmonitor")


def present(roots: Mapping[str, str], rel: str) -> bool:
    """``rel`` is there in some replica."""
    return any(os.path.lexists(os.path.join(root, rel)) for root in roots.values())


class SettledListener(typing.Protocol):
    """Told what settled (:class:`engine.fs.owners.Owners` gives the app's files their owner)."""

    def settled(self, roots: Mapping[str, str], batch: AbstractSet[Key]) -> int: ...

    def events_lost(self) -> int: ...


@dataclass
class Monitor:
    """Hands unison's commands, events and verifier passes through the rooms; answers with the results.

    Times are arguments (monotonic seconds); ``wall`` is the wall clock, for
    the timestamps in ``fsmonitor.json``.
    """

    watcher: Watcher
    differs: Callable[[str, str], bool]
    rescan_interval: float = 0.0
    status_file: Path | None = None
    wall: Callable[[], float] = time.time
    listeners: list[SettledListener] = field(default_factory=list)  # e.g. owners, when root
    protocol: Protocol = field(init=False)
    settler: Settler = field(default_factory=Settler)

    still_differs: StillDiffers = field(init=False)
    rescans: Rescans = field(init=False)
    full_sync: FullSyncRequest = field(default_factory=FullSyncRequest)
    cycles: Cycles = field(init=False)
    outbox: Outbox = field(init=False)
    verifier: VerifierThread | None = None  # the drift verifier (SYNC_VERIFY_INTERVAL), if any
    hygiene: Hygiene = field(default_factory=Hygiene)
    commands: Commands = field(init=False)  # the protocol's backend
    case: CaseScreen = field(default_factory=CaseScreen)  # a host that folds names: the case guard

    def __post_init__(self) -> None:
        self.still_differs = StillDiffers(self.watcher.roots, self.differs)
        self.rescans = Rescans(self.rescan_interval)
        previous = shared.FsmonitorStatus.load(self.status_file) if self.status_file else None
        self.cycles = Cycles.resume(previous or shared.FsmonitorStatus(), self.wall)
        publisher = Publisher(self.status_file)
        inputs = (self.watcher, self.settler)
        self.outbox = Outbox(*inputs, self.still_differs, self.cycles, self.hygiene, publisher, self.case)
        self.case.changed = self.outbox.changed
        rooms = (*inputs, self.rescans, self.full_sync, self.cycles, self.verifier)
        self.commands = Commands(*rooms, self._pending, self.outbox.changed, self.outbox.publish)
        self.protocol = self.outbox.protocol = Protocol(self.commands)

    def _pending(self) -> int:
        return self.protocol.pending_count()

    def command(self, line: str, now: float) -> list[str]:
        """Answer one command line from unison, received at ``now``."""
        self.commands.now = now
        return self.protocol.handle(line)

    # --- the select loop's other inputs -----------------------------------------------------

    def events(self, batch: Batch, now: float) -> list[str]:
        """Take what the watcher read; an overflow asks for a full rescan."""
        self.settler.add(set() if batch.overflow else batch.changed, now, batch.writing, batch.written)
        self.hygiene.saw_temps(batch.temps)
        if batch.overflow:
            return self.rescan(OVERFLOW, now)
        return []

    def request_full_sync(self) -> None:
        """SIGUSR1 (``native-sync flush``): a full rescan, counted when synced."""
        self.full_sync.request()

    def deadline(self, now: float) -> float | None:
        """When :meth:`tick` next has something to do."""
        # not calm: what ends that (an event, unison's next command) wakes the loop anyway
        recheck = self.still_differs.recheck_at(self._quiet_since()) if self._calm() else None
        times = [
            self.settler.deadline(now),
            self.rescans.deadline(now, self.full_sync.rescan_due),
            None if recheck is None else max(recheck, now),
            self.hygiene.deadline(now),
        ]
        return min((t for t in times if t is not None), default=None)

    def tick(self, now: float) -> list[str]:
        """Run a due rescan, report settled changes, recheck after a calm."""
        out: list[str] = []
        reason = self.rescans.due(now, self.full_sync.rescan_due)
        if reason is not None:
            out += self.rescan(reason, now)
        if self.settler.settled(now):
            out += self.report_settled(now)

        recheck = self.still_differs.recheck_at(self._quiet_since())
        if self._calm() and recheck is not None and now >= recheck:
            out += self.recheck(now)
        if self._calm():
            waiting = self.case.waiting()  # case-only renames that waited for unison's sync
            if waiting:
                out += self.outbox.report(self.still_differs.filter(waiting) | self.case.folders(), now)
            out += self.outbox.between_cycles(now)
        return out

    def verified(self, now: float) -> None:
        """The verifier finished passes: their differences wait for calm (:meth:`tick`), temp files too."""
        assert self.verifier is not None
        for result in self.verifier.results():
            self.hygiene.passed(result)
            self.case.verified(result, self.verifier.roots)
        self.outbox.changed()

    def _calm(self) -> bool:
        return not self.settler.dirty and not self.cycles.syncing and not self.protocol.pending_count()

    def _quiet_since(self) -> float:
        return max(self.settler.last_event, self.cycles.last_sync_done)

    # --- what goes to unison ------------------------------------------------------------------

    def report_settled(self, now: float) -> list[str]:
        """Report the settled paths that still differ from the other replica."""
        batch = self.case.screen(self.settler.take(now), not self.cycles.syncing)  # renames wait for a sync
        for _, rel in batch:
            self.cycles.saw(rel, functools.partial(present, self.watcher.roots))
        differing = self.still_differs.filter(batch) | self.case.folders()
        for listener in self.listeners:
            listener.settled(self.watcher.roots, batch)
        return self.outbox.report(differing, now)

    def recheck(self, now: float) -> list[str]:
        """Compare recently touched paths again; report those that still differ."""
        try:
            differing = self.still_differs.recheck()
        except TooManyToRecheck:
            return self.rescan(RECHECK, now)
        return self.outbox.report(differing, now)

    def rescan(self, reason: str, now: float) -> list[str]:
        """Report every replica's root: unison rescans everything."""
        self.settler.forget()
        if reason == OVERFLOW:
            for listener in self.listeners:
                listener.events_lost()
        self.cycles.rescanned()
        self.rescans.done(reason, len(self.watcher.roots), now)
        if reason == FULL_SYNC:
            self.full_sync.rescanned()
        return self.outbox.report({""}, now, always=True)

    def publish_changes(self, now: float) -> None:
        """Write ``fsmonitor.json`` if anything in it changed (the select loop's end of round)."""
        self.outbox.publish_changes(now)

    def publish(self, now: float) -> None:
        """Write ``fsmonitor.json`` as of ``now``."""
        self.outbox.publish(now)
