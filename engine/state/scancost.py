"""``native-sync.scan-cost.json`` in UNISON: what unison's last full scan cost, kept across restarts.

The fsmonitor paces the periodic rescan by the CPU a full scan costs unison
(:mod:`engine.fsmonitor.rescan`).  A start whose first cycle scans nothing
(the archive trusted, patch 0006) measures no scan: without this record its
first periodic rescan would come ``SYNC_RESCAN_INTERVAL`` after every start,
however dear (a 400k-file rescan 300 s after each start).  Kept in UNISON
beside the archives, so a restart that finds them finds it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import structlog

from engine.state.jsonfile import read_json, real, write_json

SCAN_COST_FILE = "native-sync.scan-cost.json"

log = structlog.get_logger("native-sync")


@dataclass(frozen=True)
class ScanCost:
    """``cpu_seconds``: unison's CPU over the last full scan measured."""

    cpu_seconds: float

    @classmethod
    def load(cls, unison_dir: Path) -> ScanCost | None:
        seconds = real(read_json(unison_dir / SCAN_COST_FILE), "cpu_seconds")
        return None if seconds is None or seconds < 0 else cls(seconds)

    def save(self, unison_dir: Path) -> None:
        """Written atomically; a folder that cannot take it only loses the pace of the next start."""
        try:
            write_json(unison_dir / SCAN_COST_FILE, {"cpu_seconds": self.cpu_seconds})
        except OSError as e:
            log.debug("scan_cost.unwritten", error=str(e))
