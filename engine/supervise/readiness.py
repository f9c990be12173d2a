"""When ``run`` may say ``watching``: watch-mode unison runs and its fsmonitor has seen its first cycle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine import status, supervisord
from engine.config import Config
from engine.state import shared

FSMONITOR_WAIT = 10.0  # seconds ``watching`` may wait for the first cycle of unison's fsmonitor


@dataclass
class Readiness:
    """Asked every poll until it says yes."""

    cfg: Config
    client: supervisord.SupervisorClient
    clock: Callable[[], float]
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
        """unison's first cycle is over: every folder is watched, so an edit made from now on is seen.

        Until then an edit waits for that cycle (a full scan, or after a
        one-shot the archive's folders handed to the fsmonitor: patch 0006),
        or, made before its folder is watched, for the verifier's first pass.
        Not for ever: a unison whose fsmonitor has not finished a cycle within
        FSMONITOR_WAIT s is ``watching`` (and unhealthy while its fsmonitor
        does not run).
        """
        if self.unison_seen is None:
            self.unison_seen = self.clock()
        if self.clock() - self.unison_seen > FSMONITOR_WAIT:
            return True
        return status.first_cycle_done(self.cfg.runtime_dir)
