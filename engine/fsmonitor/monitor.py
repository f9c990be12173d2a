"""The fsmonitor's coordinator: :class:`Monitor` hands what arrives through the rooms of this package.

It is the backend of unison's protocol (:mod:`.protocol`) and the target of
the select loop (:mod:`.select_loop`); the rooms return data and it decides
what goes to unison.  ``fsmonitor.json`` is written once per round of the
loop (:meth:`Monitor.publish_changes`), whatever changed in it, and once a
sync cycle (at its end: :class:`~engine.fsmonitor.cycles.Publisher`).  Against a
host that folds case or normalization, the case guard (:mod:`.caseguard`)
screens every batch: case-only renames are mirrored, clashing app-side names
kept from unison.
"""

from __future__ import annotations

import functools
import os
import time
import typing
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

import structlog

from engine.fs.paths import Key
from engine.fsmonitor.caseguard import CaseGuard
from engine.fsmonitor.casescreen import CaseScreen
from engine.fsmonitor.commands import Commands
from engine.fsmonitor.copyhold import CopyHold
from engine.fsmonitor.cycles import Cycles, Publisher
from engine.fsmonitor.differ import StillDiffers, TooManyToRecheck
from engine.fsmonitor.fullsync import FullSyncRequest
from engine.fsmonitor.hygiene import Hygiene
from engine.fsmonitor.inotify import Batch, Watcher
from engine.fsmonitor.outbox import Outbox
from engine.fsmonitor.protocol import Protocol
from engine.fsmonitor.rescan import FULL_SYNC, OVERFLOW, RECHECK, Rescans, unison_cpu
from engine.fsmonitor.settle import Settler
from engine.fsmonitor.verifier import Pass, VerifierThread
from engine.state import shared
from engine.state.scans import Marker

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

    Its rooms are given complete (:func:`build_monitor` builds them in order).
    Times are arguments (monotonic seconds).
    """

    watcher: Watcher
    settler: Settler
    still_differs: StillDiffers
    rescans: Rescans
    full_sync: FullSyncRequest
    cycles: Cycles
    hygiene: Hygiene
    case: CaseScreen  # a host that folds names: the case guard
    commands: Commands  # the protocol's backend
    protocol: Protocol
    outbox: Outbox
    publisher: Publisher
    listeners: Sequence[SettledListener] = ()  # e.g. owners, when root
    stopped_changes: tuple[str, ...] = ()  # a trusted warm start: folders changed while stopped

    def command(self, line: str, now: float) -> list[str]:
        """Answer one command line from unison, received at ``now``."""
        self.commands.now = now
        out = self.protocol.handle(line)
        if self.cycles.handed_over:  # a trusted start's first cycle is over: now what changed while stopped
            self.cycles.hold_first = self.cycles.handed_over = False
            changed, self.stopped_changes = set(self.stopped_changes), ()
            out += self.outbox.report(changed, now)
        return out

    # --- the select loop's other inputs -----------------------------------------------------

    def events(self, batch: Batch, now: float) -> list[str]:
        """Take what the watcher read; an overflow asks for a full rescan."""
        self.settler.add(set() if batch.overflow else batch.changed, now, batch.writing, batch.written)
        self.hygiene.saw_temps(batch.temps)
        self.outbox.copies.saw(batch.copies, now)
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
            self.outbox.copies.deadline(now),
            self.publisher.deadline(self.cycles.syncing_since),  # fsmonitor.json, held for a cycle
        ]
        return min((t for t in times if t is not None), default=None)

    def tick(self, now: float) -> list[str]:
        """Run a due rescan, report settled changes, recheck after a calm."""
        out = self.outbox.release(now)
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

    def verified(self, passes: list[Pass], now: float) -> None:
        """The verifier's ``passes``: their differences wait for calm (:meth:`tick`), temp files too."""
        for result in passes:
            self.hygiene.passed(result)
            self.case.verified(result)
        self.publisher.changed()

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


def build_monitor(
    watcher: Watcher,
    differs: Callable[[str, str], bool],
    *,
    rescan_interval: float = 0.0,
    rescan_paced: bool = True,
    carried_cost: float = 0.0,
    trusted: bool = False,
    remember: Callable[[float], None] = lambda cost: None,
    unison_cpu: Callable[[], float | None] = unison_cpu,
    status_file: Path | None = None,
    wall: Callable[[], float] = time.time,
    listeners: Sequence[SettledListener] = (),
    verifier: VerifierThread | None = None,
    guard: CaseGuard | None = None,
    stopped_changes: tuple[str, ...] = (),
) -> Monitor:
    """A :class:`Monitor` whose rooms are built in order, each given what it uses.

    ``status_file``: ``fsmonitor.json`` (its counts carry over from the last
    one); ``wall`` the wall clock for its timestamps; ``verifier`` is told the
    roots once unison named both; ``guard``: a host that folds names;
    ``unison_cpu`` unison's CPU seconds, the pace of the periodic rescans when
    ``rescan_paced`` (SYNC_RESCAN_INTERVAL unset), starting from the last
    run's ``carried_cost`` (``remember`` keeps each one measured; ``trusted``:
    the first cycle scans nothing, patch 0006); ``stopped_changes``: the folders
    a trusted warm start found changed while stopped, reported when that
    first cycle is over (:mod:`engine.unison.stopmark`).
    """
    publisher = Publisher(status_file)  # first: the others tell it what changed
    previous = shared.FsmonitorStatus.load(status_file) if status_file else None
    cycles = Cycles.resume(previous or shared.FsmonitorStatus(), wall)
    cycles.hold_first = bool(stopped_changes)
    settler, still_differs, hygiene = Settler(), StillDiffers(watcher.roots, differs), Hygiene()
    rescans = Rescans(
        rescan_interval,
        paced=rescan_paced,
        cpu=unison_cpu,
        cost=carried_cost,
        trusted=trusted,
        remember=remember,
    )
    full_sync = FullSyncRequest()
    case = CaseScreen(publisher.changed, guard)
    commands = Commands(
        watcher, settler, rescans, full_sync, cycles, verifier, publisher.changed, publisher.before_answer
    )
    # a full scan under way, for the watchdog (engine/state/scans.py)
    commands.scans = Marker(None if status_file is None else status_file.parent, os.getppid())
    protocol = Protocol(commands)
    copies = CopyHold(lambda rel: present(watcher.roots, rel))
    outbox = Outbox(watcher, settler, still_differs, cycles, hygiene, case, protocol, publisher, copies)
    rooms = (watcher, settler, still_differs, rescans, full_sync, cycles, hygiene, case, commands, protocol)
    return Monitor(*rooms, outbox, publisher, listeners, stopped_changes)
