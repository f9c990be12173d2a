"""When ``run`` may say ``watching``: watch-mode unison runs, and after a cold start its fsmonitor too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine import status, supervisord
from engine.config import Config
from engine.state import shared

FSMONITOR_WAIT = 10.0  # after indexing: seconds ``watching`` may wait for unison's fsmonitor


@dataclass
class Readiness:
    """Asked every poll until it says yes; ``indexing`` is set when a cold start made the volume usable."""

    cfg: Config
    client: supervisord.SupervisorClient
    clock: Callable[[], float]
    indexing: bool = False  # a cold start made the volume usable: healthy before watching
    unison_seen: float | None = None  # when watch-mode unison was first seen running

    def watching(self) -> bool:
        return self.unison_running() and self.changes_flow()

    def unison_running(self) -> bool:
        """supervisord runs unison, and its program has recorded it (status shows its pid)."""
        try:
            info = self.client.info("unison")
        except supervisord.SupervisorError:
            return False  # not listening yet
        recorded = shared.UnisonStatus.load(self.cfg.runtime_dir).pid
        return info.get("statename") == "RUNNING" and recorded == info.get("pid")

    def changes_flow(self) -> bool:
        """After ``indexing`` (healthy already), ``watching`` waits for the fsmonitor too: no flapping.

        Not for ever: a unison whose fsmonitor does not come within
        FSMONITOR_WAIT s is ``watching`` and unhealthy, as after a warm start.
        """
        if not self.indexing:
            return True
        if self.unison_seen is None:
            self.unison_seen = self.clock()
        if self.clock() - self.unison_seen > FSMONITOR_WAIT:
            return True
        return status.fsmonitor_runs(self.cfg.runtime_dir)
