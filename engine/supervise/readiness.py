"""When ``run`` may say ``watching``: watch-mode unison runs and its fsmonitor has seen its first cycle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from engine import status, supervisord
from engine.config import Config
from engine.state import shared
from engine.state.jsonfile import now_iso

log = structlog.get_logger("native-sync")

FSMONITOR_WAIT = 10.0  # seconds ``watching`` may wait for the first cycle of unison's fsmonitor


@dataclass
class Readiness:
    """Asked every poll until it says yes."""

    cfg: Config
    client: supervisord.SupervisorClient
    clock: Callable[[], float]
    caught_up: Callable[[], None] = lambda: None  # unison's output read so far (the first cycle's copies)
    unison_seen: float | None = None  # when watch-mode unison was first seen running
    first_cycle_syncs: bool = False  # a warm start without a one-shot: the first cycle is the initial sync

    def defer(self) -> None:
        """A warm start left its initial sync to watch mode: ``watching`` waits for all of its first cycle."""
        self.first_cycle_syncs = True

    def ready(self, seconds: float) -> dict[str, Any]:
        """``watching``, ``seconds`` after the start, logged; what ``state.json`` gains with it: the
        initial sync done, when it was watch mode's first cycle."""
        self.caught_up()
        seconds = round(seconds, 3)
        fields: dict[str, Any] = {}
        if self.first_cycle_syncs:
            log.info("initial_sync.done", owner_checked=0, seconds=seconds, in_watch_mode=True)
            fields = {"initial_sync_done": True, "initial_sync_at": now_iso()}
        log.info("watching", seconds_to_ready=seconds)
        return fields

    def watching(self) -> bool:
        """unison runs and its first cycle is over (:meth:`changes_flow`); asked at every poll."""
        if self.first_cycle_syncs and self.unison_seen is not None:
            # unison runs: the files until its first cycle ends (seconds at 400k files), then supervisord
            # once more; not an XML-RPC call at every poll while unison loads and scans on 2 cores
            return status.first_cycle_done(self.cfg.runtime_dir) and self.unison_running()
        # supervisord is asked until it runs unison: our calls wake its loop, which starts unison
        # sooner (without them, ~1 s later: its loop waits up to a second between looks)
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
        does not run).  When that cycle is the initial sync itself (a warm
        start left it to watch mode), ``watching`` waits for it however long.
        """
        if self.unison_seen is None:
            self.unison_seen = self.clock()
        if self.first_cycle_syncs:
            return status.first_cycle_done(self.cfg.runtime_dir)
        if self.clock() - self.unison_seen > FSMONITOR_WAIT:
            return True
        return status.first_cycle_done(self.cfg.runtime_dir)
