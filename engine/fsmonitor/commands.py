"""unison's commands as changes to the fsmonitor's state: the protocol's backend.

:class:`engine.fsmonitor.protocol.Protocol` parses a command and calls one of
these; each starts a watch, forgets settling paths, or marks a sync cycle's
start or end.  The time is that of the command being handled (``now``, set by
:meth:`engine.fsmonitor.monitor.Monitor.command`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from engine.fsmonitor.cycles import Cycles
from engine.fsmonitor.fullsync import FullSyncRequest
from engine.fsmonitor.inotify import Watcher
from engine.fsmonitor.rescan import Rescans
from engine.fsmonitor.settle import Settler
from engine.fsmonitor.verifier import VerifierThread
from engine.state.scans import Marker


@dataclass
class Commands:
    """What each of unison's commands does to the watcher, the settler, the cycle count."""

    watcher: Watcher
    settler: Settler

    rescans: Rescans
    full_sync: FullSyncRequest
    cycles: Cycles
    verifier: VerifierThread | None  # None: no drift verifier (a monitor driven by a test)
    changed: Callable[[], None]  # fsmonitor.json is behind (the publisher's)
    # a cycle began (the count of cycles begun): said before unison hears the answer, so
    # whoever sees what the cycle did also sees that it began (and can wait for its end)
    begun: Callable[[int], None]
    now: float = 0.0  # when the command being handled arrived
    # a full scan under way (the first cycle, a rescan), for the watchdog: engine/state/scans.py
    scans: Marker = field(default_factory=lambda: Marker(None, 0))

    def start(self, replica: str, root: str, path: str) -> None:
        if replica not in self.watcher.roots:
            self.watcher.add_root(replica, root)
        self.watcher.watch(replica, path)
        if self.cycles.scan_started(self.now):
            self.begun(self.cycles.totals.cycles_begun)
        self.scans.began()  # before unison hears OK and scans
        if path == "":
            self.rescans.root_watched(self.now)

    def watch_dir(self, replica: str, path: str) -> None:
        self.watcher.watch(replica, path)

    def follow_link(self, replica: str, path: str) -> None:
        self.watcher.watch(replica, path, follow=True)

    def reset(self, replica: str) -> None:
        self.settler.forget(replica)

    def waiting(self, replica: str, pending: int) -> None:
        self._verify_roots()
        if self.cycles.syncing:
            full_sync = self.full_sync.cycle_ended()
            self.cycles.cycle_ended(self.now, pending, full_sync)
            self.rescans.cycle_ended(self.now)
            self.scans.ended()
            self.changed()

    def changes_taken(self, replica: str, paths: list[str]) -> None:
        if self.cycles.changes_taken(len(paths), self.now):
            self.full_sync.cycle_started()
            self.begun(self.cycles.totals.cycles_begun)
        if "" in paths:  # a root: unison rescans the whole replica in this cycle
            self.scans.began()

    def _verify_roots(self) -> None:
        """unison waits: its first cycle has handed every folder to the watcher, the verifier may walk.

        Not earlier: a trusted start (patch 0006) has the verifier's first pass
        find what changed before the watches were up, so a folder must be
        watched before that pass reads it.
        """
        if self.verifier is not None and self.verifier.roots is None and len(self.watcher.roots) == 2:
            first, second = self.watcher.roots.values()
            self.verifier.roots = self.verifier.host_first(first, second)
