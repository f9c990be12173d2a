"""The select loop's books on the drift verifier (:mod:`engine.fsmonitor.verifier`).

A pass's differences wait for a calm moment between unison's cycles; a path
unison still leaves different after :data:`UNREPAIRED_PASSES` reports is
given up, logged (``drift.unrepaired``) and shown in ``fsmonitor.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import structlog

from engine.fsmonitor.verifier import Pass
from engine.state import jsonfile, shared

UNREPAIRED_PASSES = 3  # a path still different after this many reports is given up (and shown)
SUMMARY_EVERY = 300.0  # seconds: at idle, one ``verify.summary`` at info at most this often
# ...and then handed to unison again only every this many passes: the user may have fixed the
# cause (freed space on a full volume); without it, only the rescan (300 s) would retry
UNREPAIRED_RETRY_EVERY = 6

log = structlog.get_logger("fsmonitor")


@dataclass
class Drift:
    """The select loop's books on the verifier: what to report, what unison could not fix."""

    strikes: dict[str, int] = field(default_factory=dict)
    unrepaired: set[str] = field(default_factory=set)
    to_report: set[str] = field(default_factory=set)
    last: Pass | None = None
    passes: int = 0
    summary_at: float | None = None  # wall clock (Pass.at) of the last info line about passes
    quiet_passes: int = 0  # passes since then that found nothing

    def passed(self, result: Pass) -> None:
        """A pass ended: its differences wait for a calm moment (:meth:`take`)."""
        self.last = result
        self.passes += 1
        for rel in [r for r in self.strikes if r not in result.differing]:
            del self.strikes[rel]
            if rel in self.unrepaired:
                self.unrepaired.discard(rel)
                log.info("drift.resolved", path=rel)
        for rel in result.differing:
            if rel in self.unrepaired:
                if self.passes % UNREPAIRED_RETRY_EVERY == 0:
                    self.to_report.add(rel)
                continue
            strikes = self.strikes.get(rel, 0) + 1
            self.strikes[rel] = strikes
            if strikes > UNREPAIRED_PASSES:
                self.unrepaired.add(rel)
                log.warning("drift.unrepaired", path=rel, passes=UNREPAIRED_PASSES)
                continue
            self.to_report.add(rel)
        self._log(result)

    def _log(self, result: Pass) -> None:
        """Every pass at debug; at info the first, one that found something, and a summary
        at most every SUMMARY_EVERY s (a quiet engine stays quiet: SPEC section 5)."""
        fields = {
            "checked": result.checked,
            "seconds": round(result.seconds, 3),
            "cpu_seconds": round(result.cpu_seconds, 3),
            "pause": round(result.pause, 1),
            "differing": len(result.differing),
            "temps": len(result.temps),
            "baseline": result.baseline,
        }
        if result.baseline or result.differing or result.temps:
            log.info("verify.pass", **fields)
            self.summary_at, self.quiet_passes = result.at, 0
            return
        log.debug("verify.pass", **fields)
        self.quiet_passes += 1
        if self.summary_at is None:
            self.summary_at = result.at
        elif result.at - self.summary_at >= SUMMARY_EVERY:
            log.info("verify.summary", passes=self.quiet_passes, differing=0, checked=result.checked)
            self.summary_at, self.quiet_passes = result.at, 0

    def take(self, still_differs: Callable[[str], bool]) -> set[str]:
        """The waiting differences that still differ now (the last of the two checks)."""
        found, self.to_report = self.to_report, set()
        found = {rel for rel in found if still_differs(rel)}
        if found:
            log.info("drift.found", paths=len(found), sample=sorted(found)[:5])
        return found

    def stamp(self, snapshot: shared.FsmonitorStatus) -> shared.FsmonitorStatus:
        """``snapshot`` with the verifier's last pass and what it could not repair."""
        last = self.last
        if last is None:
            return replace(snapshot, drift_unrepaired=tuple(sorted(self.unrepaired)))
        return replace(
            snapshot,
            verify_passes=self.passes,
            verify_last_at=jsonfile.now_iso(last.at),
            verify_seconds=round(last.seconds, 3),
            verify_cpu_seconds=round(last.cpu_seconds, 3),
            verify_checked=last.checked,
            verify_pause=round(last.pause, 1),
            drift_unrepaired=tuple(sorted(self.unrepaired)),
        )
