"""What the fsmonitor asks of the case guard (:mod:`.caseguard`); with none, everything passes.

Against a host that keeps names apart (Linux, today's default) there is no
guard: :class:`CaseScreen` then hands every path on unchanged, so the
:class:`~engine.fsmonitor.monitor.Monitor` and the outbox never test for one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from engine.fs.paths import Key
from engine.fsmonitor.caseguard import CaseGuard
from engine.fsmonitor.verifier import Pass
from engine.state.shared import Clash, FsmonitorStatus


@dataclass
class CaseScreen:
    """The case guard's screen, rename queue, verifier findings and clashes, for the Monitor."""

    changed: Callable[[], None]  # a clash appeared or cleared: fsmonitor.json is behind
    guard: CaseGuard | None = None  # None: the host keeps names apart

    def screen(self, keys: set[Key], may_rename: bool) -> set[Key]:
        """The keys to hand on (case-only renames done or deferred, clashes kept back)."""
        if self.guard is None:
            return keys
        before = set(self.guard.clashes)
        passed = self.guard.screen(keys, may_rename)
        if set(self.guard.clashes) != before:
            self.changed()
        return passed

    def folders(self) -> set[str]:
        """Folders where a name was respelled: unison must list them again."""
        return set() if self.guard is None else self.guard.folders_to_rescan()

    def waiting(self) -> set[Key]:
        """The renames that waited for unison's sync, screened now (call when calm)."""
        waiting = set() if self.guard is None else self.guard.deferred()
        return self.screen(waiting, True) if waiting else set()

    def verified(self, result: Pass) -> None:
        """A verifier pass's clashes and respelled names."""
        if self.guard is not None:
            self.guard.found_by_verifier(set(result.clashes), set(result.respelled), result.walked)

    def stamp(self, snapshot: FsmonitorStatus) -> FsmonitorStatus:
        """``snapshot`` with the clashes that stand."""
        if self.guard is None:
            return snapshot
        clashes = tuple(Clash(group, since) for group, since in sorted(self.guard.clashes.items()))
        return dataclasses.replace(snapshot, clashes=clashes)
