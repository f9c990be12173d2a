"""Between sync cycles: the verifier's differences and unison's abandoned temp files.

What the drift verifier found (:mod:`.drift`) and the temp files unison left
behind (:mod:`engine.unison.litter`) wait here until the fsmonitor is calm (nothing
settling, no sync running, nothing pending), then go to unison or away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from engine.fsmonitor.drift import Drift
from engine.fsmonitor.verifier import Pass
from engine.state.shared import FsmonitorStatus
from engine.unison import litter

LITTER_RETRY = 5.0  # a temp file still held open is looked at again this much later


@dataclass
class Hygiene:
    """The drift to report and the temp files to remove, and when to look at them again."""

    drift: Drift = field(default_factory=Drift)
    litter: litter.Candidates = field(default_factory=litter.Candidates)
    _litter_at: float = 0.0  # no litter sweep before this time

    def saw_temps(self, paths: Iterable[str]) -> None:
        self.litter.saw(paths)

    def passed(self, result: Pass) -> None:
        """A verifier pass: its differences and the temp files it met."""
        self.drift.passed(result)
        self.litter.saw(result.temps)

    def deadline(self, now: float) -> float | None:
        """A held temp file is retried; calm itself always comes with a command from unison."""
        return self._litter_at if self.litter.paths and self._litter_at > now else None

    def sweep(self, now: float) -> int:
        """Remove the abandoned temp files, at most every LITTER_RETRY s; how many went."""
        if not self.litter.paths or now < self._litter_at:
            return 0
        self._litter_at = now + LITTER_RETRY
        return self.litter.sweep()

    def drift_to_report(self, differs_now: Callable[[str], bool]) -> set[str]:
        """The verifier's differences that still differ now (each taken once)."""
        if not self.drift.to_report:
            return set()
        return self.drift.take(differs_now)

    def stamp(self, snapshot: FsmonitorStatus) -> FsmonitorStatus:
        return self.drift.stamp(snapshot)
