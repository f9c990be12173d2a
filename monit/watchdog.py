"""The watchdog's state machine, driven by time and samples passed in.

    OK ──cpu high──▶ HOT ──cpu high for N cycles──▶ RESTARTING ──restarted──▶ BACKOFF
    ▲                 │                                 ▲                        │
    └────cpu low──────┘        OK/HOT ──stall──────────┘      grace over ──▶ OK

While in BACKOFF (unison's first scan after a restart may rightly be busy)
samples are not judged; each restart soon after another doubles the grace.
While unison is in a full scan (its first cycle, a rescan: :mod:`engine.state.scans`)
its CPU is not counted either, up to a bound: the stall bound or
``SCAN_COST_FACTOR`` times what the last full scan cost, whichever is longer
(issue 24: a 400k-file scan wants a core for well over two samples on a
loaded machine).  A scan past its bound, or a spin outside a scan (docker-sync
#497: in ordinary cycles), is judged as above; stalls are judged always.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.config import Config

OK = "OK"
HOT = "HOT"
RESTARTING = "RESTARTING"
BACKOFF = "BACKOFF"

MAX_GRACE = 300.0
SCAN_COST_FACTOR = 10.0  # a full scan may take this many times the CPU seconds the last one did, in wall time
CALM_RESET = 600.0  # this long without a restart forgets earlier ones


@dataclass(frozen=True)
class Sample:
    """One cycle's observation of the unison program."""

    cpu: float | None  # percent of one core the process tree ran or waited to run; None: not running
    pending_for: float | None = None  # seconds changes have waited for a sync
    scan: tuple[int, int] | None = None  # the full scan unison is in: (unison's pid, its number); None: none
    scan_cost: float = 0.0  # CPU seconds the last full scan measured cost (0: unknown)


@dataclass(frozen=True)
class Restart:
    """The watchdog's verdict: restart unison, and why."""

    reason: str  # "cpu" or "stall"
    samples: tuple[float, ...]


@dataclass
class Watchdog:
    threshold: float = 50.0
    cycles: int = 2
    stall_after: float = 60.0
    base_grace: float = 10.0
    state: str = OK
    hot: list[float] = field(default_factory=list)
    grace_until: float = 0.0
    recent_restarts: int = 0
    last_restart: float | None = None
    scan: tuple[int, int] | None = None  # the full scan seen under way ...
    scan_since: float = 0.0  # ... since then
    spared: list[float] = field(default_factory=list)  # its samples above the threshold, not counted

    @classmethod
    def for_config(cls, cfg: Config, stall_after: float | None = None) -> Watchdog:
        """The MONIT_* rules; ``stall_after`` overrides MONIT_STALL_SECONDS (a one-shot has no stalls)."""
        return cls(
            threshold=cfg.monit_cpu_threshold,
            cycles=cfg.monit_high_cpu_cycles,
            stall_after=cfg.monit_stall_seconds if stall_after is None else stall_after,
            base_grace=max(10.0, 2 * cfg.monit_interval),
        )

    def step(self, now: float, sample: Sample) -> Restart | None:
        """Advance one cycle; returns a Restart when unison must be restarted."""
        if self.state == RESTARTING:
            return None
        if self.state == BACKOFF:
            if now < self.grace_until:
                return None
            self.state = OK  # BACKOFF -> OK
        if sample.pending_for is not None and sample.pending_for > self.stall_after:
            return self._restart("stall", now)  # OK/HOT -> RESTARTING
        scanning = self._scanning(now, sample)
        if sample.cpu is None or sample.cpu <= self.threshold:
            self.state, self.hot = OK, []  # HOT -> OK
            return None
        if scanning:
            self.spared.append(sample.cpu)
            self.state, self.hot = OK, []  # HOT -> OK: a full scan's CPU does not count
            return None
        self.hot.append(sample.cpu)
        self.state = HOT  # OK -> HOT
        if len(self.hot) >= self.cycles:
            return self._restart("cpu", now)  # HOT -> RESTARTING
        return None

    def scan_bound(self, cost: float) -> float:
        """Seconds a full scan may be busy whose last one cost ``cost`` CPU seconds."""
        return max(self.stall_after, SCAN_COST_FACTOR * cost)

    def _scanning(self, now: float, sample: Sample) -> bool:
        """Is unison in a full scan that is within its bound?  (The bound counts from the
        first sample that saw the scan.)"""
        if sample.scan != self.scan:
            self.scan, self.scan_since, self.spared = sample.scan, now, []
        return self.scan is not None and now - self.scan_since <= self.scan_bound(sample.scan_cost)

    def restarted(self, now: float) -> float:
        """The restart is done: RESTARTING -> BACKOFF. Returns the grace in seconds."""
        grace = min(MAX_GRACE, self.base_grace * 2.0 ** (self.recent_restarts - 1))
        self.state = BACKOFF
        self.grace_until = now + grace
        return grace

    def _restart(self, reason: str, now: float) -> Restart:
        if self.last_restart is not None and now - self.last_restart > CALM_RESET:
            self.recent_restarts = 0
        self.recent_restarts += 1
        self.last_restart = now
        samples = tuple(self.hot)
        self.state, self.hot = RESTARTING, []
        return Restart(reason, samples)
