"""``unison-fsmonitor`` in Python: the helper unison runs for ``-repeat watch``.

One thread, one ``select`` over unison's commands (stdin) and the inotify
queue (:func:`engine.fsmonitor.select_loop.serve`, the only writer to stdout).  :class:`Monitor` is the
protocol's backend and coordinates the rooms that do the work:

- :mod:`engine.fsmonitor.protocol`: unison's commands and answers (no I/O);
- :mod:`engine.fsmonitor.inotify`: the watches, events as replica-relative paths;
- :mod:`engine.fsmonitor.settle`: changed paths settle for a few milliseconds;
- :mod:`engine.fsmonitor.hot`: a path that keeps changing waits to ride along (``SYNC_HOT_DELAY``);
- :mod:`engine.fsmonitor.differ`: only paths that still differ between the replicas are
  reported (for both replicas), and recently touched ones are rechecked;
- :mod:`engine.fsmonitor.rescan`: full rescans (queue overflow, ``SYNC_RESCAN_INTERVAL``,
  ``native-sync flush``);
- :mod:`engine.fsmonitor.fullsync`: the full-sync request (SIGUSR1) as a state machine;
- :mod:`engine.owners`: what unison wrote gets its owner (per side);
- :mod:`engine.fsmonitor.cycles`: sync cycles counted and written to
  ``SYNC_RUNTIME_DIR/fsmonitor/fsmonitor.json`` for ``status`` and the watchdog;
- :mod:`engine.fsmonitor.verifier`: the drift verifier's thread walks both trees;
  :mod:`engine.fsmonitor.drift`: its differences are reported when things are calm;
- :mod:`engine.litter`: unison's abandoned temp files, removed between cycles;
- :mod:`engine.fsmonitor.caseguard`: against a host that folds case or normalization,
  case-only renames are mirrored and clashing app-side names kept from unison.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from engine import litter, program, statefiles
from engine.fsmonitor.caseguard import CaseGuard
from engine.fsmonitor.cycles import Cycles, Publisher
from engine.fsmonitor.differ import StillDiffers, TooManyToRecheck
from engine.fsmonitor.drift import Drift
from engine.fsmonitor.fullsync import FullSyncRequest
from engine.fsmonitor.hot import HotPaths
from engine.fsmonitor.inotify import Batch, Watcher
from engine.fsmonitor.protocol import Protocol, quote
from engine.fsmonitor.rescan import FULL_SYNC, OVERFLOW, RECHECK, Rescans
from engine.fsmonitor.select_loop import serve, write_lines
from engine.fsmonitor.settle import Key, Settler
from engine.fsmonitor.verifier import VerifierThread
from engine.ignore import IgnoreMatcher
from engine.owners import Owners

LITTER_RETRY = 5.0  # a temp file still held open is looked at again this much later

log = structlog.get_logger("fsmonitor")


@dataclass
class Monitor:
    """The protocol's backend: hands events through the rooms, answers with their results.

    Times are arguments (monotonic seconds); ``wall`` is the wall clock, for
    the timestamps in ``fsmonitor.json``.  The backend callbacks run inside
    :meth:`command` and use its time.
    """

    watcher: Watcher
    differs: Callable[[str, str], bool]
    rescan_interval: float = 0.0
    status_file: Path | None = None
    wall: Callable[[], float] = time.time
    owners: Owners | None = None  # ownership hook (engine/owners.py): None when not root
    protocol: Protocol = field(init=False)
    settler: Settler = field(default_factory=Settler)
    hot: HotPaths = field(default_factory=lambda: HotPaths(0.0))
    still_differs: StillDiffers = field(init=False)
    rescans: Rescans = field(init=False)
    full_sync: FullSyncRequest = field(default_factory=FullSyncRequest)
    cycles: Cycles = field(init=False)
    publisher: Publisher = field(init=False)
    verifier: VerifierThread | None = None  # the drift verifier (SYNC_VERIFY_INTERVAL), if any
    drift: Drift = field(default_factory=Drift)
    litter: litter.Candidates = field(default_factory=litter.Candidates)
    case_guard: CaseGuard | None = None  # a host that folds names (engine/casefold.py), else None
    _litter_at: float = 0.0  # no litter sweep before this time
    _now: float = 0.0  # the time of the command being handled

    def __post_init__(self) -> None:
        self.protocol = Protocol(self)
        self.still_differs = StillDiffers(self.watcher.roots, self.differs)
        self.rescans = Rescans(self.rescan_interval)
        previous = statefiles.FsmonitorStatus.load(self.status_file) if self.status_file else None
        self.cycles = Cycles.resume(previous or statefiles.FsmonitorStatus(), self.wall)
        self.publisher = Publisher(self.status_file)

    # --- unison's commands (the protocol's backend) ------------------------------------

    def command(self, line: str, now: float) -> list[str]:
        """Answer one command line from unison, received at ``now``."""
        self._now = now
        return self.protocol.handle(line)

    def start(self, replica: str, root: str, path: str) -> None:
        if replica not in self.watcher.roots:
            self.watcher.add_root(replica, root)
            if self.verifier is not None and len(self.watcher.roots) == 2:
                first, second = self.watcher.roots.values()
                self.verifier.roots = (first, second)
        self.watcher.watch(replica, path)
        self.cycles.scan_started(self._now)
        if path == "":
            self.rescans.root_watched(self._now)

    def watch_dir(self, replica: str, path: str) -> None:
        self.watcher.watch(replica, path)

    def follow_link(self, replica: str, path: str) -> None:
        self.watcher.watch(replica, path, follow=True)

    def reset(self, replica: str) -> None:
        self.settler.forget(replica)

    def waiting(self, replica: str) -> None:
        if self.cycles.syncing:
            full_sync = self.full_sync.cycle_ended()
            self.cycles.cycle_ended(self._now, self.protocol.pending_count(), full_sync)
            self.publish(self._now)

    def changes_taken(self, replica: str, paths: list[str]) -> None:
        if self.cycles.changes_taken(len(paths), self._now):
            self.full_sync.cycle_started()
        self.hot.taken_by_unison(paths, self._now)

    # --- the select loop's other inputs -----------------------------------------------------

    def events(self, batch: Batch, now: float) -> list[str]:
        """Take what the watcher read; an overflow asks for a full rescan."""
        self.settler.add(set() if batch.overflow else batch.changed, now, batch.writing, batch.written)
        self.litter.saw(batch.temps)
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
            self.hot.deadline(),
            None if recheck is None else max(recheck, now),
            # a held temp file is retried; calm itself always comes with a command from unison
            self._litter_at if self.litter.paths and self._litter_at > now else None,
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
        due = self.hot.release_due(now)
        if due:  # held hot paths whose delay is up go alone
            out += self._report(self.still_differs.filter(due), now)
        recheck = self.still_differs.recheck_at(self._quiet_since())
        if self._calm() and recheck is not None and now >= recheck:
            out += self.recheck(now)
        if self._calm():
            out += self.case_renames(now)
            out += self.hygiene(now)
        return out

    def verified(self, now: float) -> None:
        """The verifier finished passes: their differences wait for calm (:meth:`tick`), temp files too."""
        assert self.verifier is not None
        for result in self.verifier.results():
            self.drift.passed(result)
            if self.case_guard is not None and self.verifier.roots is not None:
                found = set(result.clashes), set(result.respelled)
                self.case_guard.found_by_verifier(*found, self.verifier.roots)
            self.litter.saw(result.temps)
        self.publish(now)

    def hygiene(self, now: float) -> list[str]:
        """Between cycles: report the verifier's differences, remove abandoned temp files."""
        if self.litter.paths and now >= self._litter_at:
            removed = self.litter.sweep()
            if removed:
                self.cycles.litter_removed(removed)
                self.publish(now)
            self._litter_at = now + LITTER_RETRY
        if not self.drift.to_report or len(self.watcher.roots) != 2:
            return []
        replica = next(iter(self.watcher.roots))
        found = self.drift.take(lambda rel: self.still_differs.differs_now(replica, rel))
        if self.case_guard is not None:
            found = {rel for _, rel in self._screen({(replica, rel) for rel in found}, True, now)}
            found |= self.case_guard.folders_to_rescan()
        self.cycles.drift_reported(len(found))
        return self._report(found, now)

    def _calm(self) -> bool:
        return not self.settler.dirty and not self.cycles.syncing and not self.protocol.pending_count()

    def _present(self, rel: str) -> bool:
        """``rel`` is there in some replica."""
        return any(os.path.lexists(os.path.join(root, rel)) for root in self.watcher.roots.values())

    def _quiet_since(self) -> float:
        return max(self.settler.last_event, self.cycles.last_sync_done)

    # --- what goes to unison ------------------------------------------------------------------

    def report_settled(self, now: float) -> list[str]:
        """Report the settled paths that still differ from the other replica."""
        batch = self.settler.take(now)
        batch = self._screen(batch, not self.cycles.syncing, now)  # renames wait while unison syncs
        for _, rel in batch:
            self.cycles.saw(rel, self._present)
        cold, hot = self.hot.split(batch, now)
        if self.protocol.pending_count():  # a sync comes anyway: nothing to wait for
            cold, hot = batch, set()
        differing = self.still_differs.filter(cold)
        if self.case_guard is not None:
            differing |= self.case_guard.folders_to_rescan()
        hot_differing = self.still_differs.filter(hot)
        hot = {key for key in hot if key[1] in hot_differing}  # unison's own echo is not held
        if self.owners is not None:  # unison's copies get their owners (engine/owners.py)
            alike = self.still_differs.alike(batch)  # reported, yet no difference for the owners
            self.owners.settled(self.watcher.roots, batch, (differing | hot_differing) - alike)
        if self.hot.hold(hot, now):
            self.publish(now)  # held paths count in pending_changes
        return self._report(differing, now)

    def case_renames(self, now: float) -> list[str]:
        """When calm: the case-only renames that waited for unison's sync, and what still differs."""
        waiting = self.case_guard.deferred() if self.case_guard is not None else set()
        if not waiting:
            return []
        assert self.case_guard is not None
        differing = self.still_differs.filter(self._screen(waiting, True, now))
        return self._report(differing | self.case_guard.folders_to_rescan(), now)

    def _screen(self, keys: set[Key], may_rename: bool, now: float) -> set[Key]:
        """The case guard's screen (engine/fsmonitor/caseguard.py); a new or cleared clash is published."""
        if self.case_guard is None:
            return keys
        before = set(self.case_guard.clashes)
        passed = self.case_guard.screen(keys, may_rename)
        if set(self.case_guard.clashes) != before:
            self.publish(now)
        return passed

    def recheck(self, now: float) -> list[str]:
        """Compare recently touched paths again; report those that still differ."""
        try:
            differing = self.still_differs.recheck()
        except TooManyToRecheck:
            return self.rescan(RECHECK, now)
        return self._report(differing, now)

    def rescan(self, reason: str, now: float) -> list[str]:
        """Report every replica's root: unison rescans everything."""
        self.settler.forget()
        if self.owners is not None and reason == OVERFLOW:  # events lost: owners walk (engine/owners.py)
            self.owners.events_lost()
        self.cycles.rescanned()
        self.rescans.done(reason, len(self.watcher.roots), now)
        if reason == FULL_SYNC:
            self.full_sync.rescanned()
        return self._report({""}, now, always=True)

    def _report(self, paths: set[str], now: float, always: bool = False) -> list[str]:
        """Hand ``paths`` to unison for both replicas."""
        if not paths and not always:
            return []
        held = self.hot.release_all()  # held hot paths ride along (a rescan covers them)
        if held and "" not in paths:
            paths = paths | self.still_differs.filter(held)
        out: list[str] = []
        for replica in self.watcher.roots:
            out += self.protocol.add_changes(replica, paths)
        self.cycles.reported(now)
        self.publish(now)
        return out

    def publish(self, now: float) -> None:
        """Write ``fsmonitor.json`` as of ``now``."""
        pending = self.protocol.pending_count() + len(self.settler.dirty) + len(self.hot)
        snapshot = self.drift.stamp(self.cycles.snapshot(now, pending, self.watcher.watch_count))
        if self.case_guard is not None:
            clashes = tuple(statefiles.Clash(g, t) for g, t in sorted(self.case_guard.clashes.items()))
            snapshot = dataclasses.replace(snapshot, clashes=clashes)
        self.publisher.publish(snapshot)


def main() -> int:
    """Entry point of the ``unison-fsmonitor`` executable."""
    cfg = program.start("fsmonitor", say=lambda message: write_lines(1, [f"ERROR {quote(message)}"]))
    from engine.compare import PERMS, differs

    patterns = cfg.ignores  # validated by the config: unison and this filter agree
    ignored = IgnoreMatcher(patterns).ignored
    roots = statefiles.Roots.load(cfg.runtime_dir)  # probed at start (engine/startup/probe.py)
    perms = 0 if roots.host.permissions is False else PERMS
    if perms != PERMS:
        differs = functools.partial(differs, perms=0)
    status_dir = cfg.runtime_dir / statefiles.FSMONITOR_DIR
    watcher = Watcher(ignored)
    monitor = Monitor(
        watcher=watcher,
        differs=differs,
        rescan_interval=cfg.rescan_interval,
        hot=HotPaths(cfg.hot_delay),
        status_file=status_dir / "fsmonitor.json" if status_dir.is_dir() else None,
        owners=Owners.for_config(cfg),
        verifier=VerifierThread(ignored, cfg.verify_interval, fold=roots.host_insensitive, perms=perms),
        case_guard=CaseGuard(watcher.roots, str(cfg.unison_src)) if roots.host_insensitive else None,
    )
    assert monitor.verifier is not None
    monitor.verifier.start()  # off (0): one walk for temp files, then it ends
    log.info("fsmonitor.start", unison_pid=os.getppid(), ignores=len(patterns))
    monitor.publish(time.monotonic())  # tells status that this unison's fsmonitor runs
    try:
        return serve(monitor)
    except KeyboardInterrupt:
        return 0
