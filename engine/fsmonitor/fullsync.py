"""The full-sync request (SIGUSR1, ``native-sync flush``) as a state machine.

A request is answered with a full rescan; the sync cycle that takes the
rescan (the next first ``CHANGES``) carries the request, and when that cycle
ends the full sync counts as done (``flushes`` in ``fsmonitor.json``, which
``native-sync flush`` waits for).  A request that arrives while a carried
cycle runs waits for its own rescan and its own cycle.

Not to be confused with reporting settled changes (:meth:`Monitor.report_settled`)
or with the stop sequence's last sync in ``run.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class RequestState(Enum):
    IDLE = "idle"
    REQUESTED = "requested"  # a rescan is due
    RESCANNED = "rescanned"  # the rescan is reported; unison has not taken it yet
    SYNCING = "syncing"  # the cycle that took the rescan runs
    SYNCING_REQUESTED = "syncing-requested"  # ... and another request came meanwhile
    SYNCING_RESCANNED = "syncing-rescanned"  # ... whose rescan is reported


S = RequestState
_REQUESTED = {
    S.IDLE: S.REQUESTED,  # IDLE -> REQUESTED
    S.SYNCING: S.SYNCING_REQUESTED,  # SYNCING -> SYNCING_REQUESTED
}
_RESCANNED = {
    S.REQUESTED: S.RESCANNED,  # REQUESTED -> RESCANNED
    S.SYNCING_REQUESTED: S.SYNCING_RESCANNED,  # SYNCING_REQUESTED -> SYNCING_RESCANNED
}
_CYCLE_STARTED = {
    S.RESCANNED: S.SYNCING,  # RESCANNED -> SYNCING: this cycle carries the request
}
_CYCLE_ENDED = {  # the carried cycle is done: one full sync completed
    S.SYNCING: S.IDLE,  # SYNCING -> IDLE
    S.SYNCING_REQUESTED: S.REQUESTED,  # SYNCING_REQUESTED -> REQUESTED
    S.SYNCING_RESCANNED: S.RESCANNED,  # SYNCING_RESCANNED -> RESCANNED
}


@dataclass
class FullSyncRequest:
    """Where the latest full-sync request stands; every other event leaves the state as it is."""

    state: RequestState = RequestState.IDLE

    def request(self) -> None:
        """SIGUSR1 arrived (a request already waiting for its rescan or cycle absorbs it)."""
        self.state = _REQUESTED.get(self.state, self.state)

    @property
    def rescan_due(self) -> bool:
        return self.state in (S.REQUESTED, S.SYNCING_REQUESTED)

    def rescanned(self) -> None:
        """The full rescan for the request was reported."""
        self.state = _RESCANNED.get(self.state, self.state)

    def cycle_started(self) -> None:
        """unison took changes: a sync cycle begins."""
        self.state = _CYCLE_STARTED.get(self.state, self.state)

    def cycle_ended(self) -> bool:
        """unison waits again; True if this completed a requested full sync."""
        done = self.state in _CYCLE_ENDED
        self.state = _CYCLE_ENDED.get(self.state, self.state)
        return done
