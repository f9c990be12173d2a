"""``trusted-archive.json``: a one-shot unison committed the archives; watch mode may start from them.

Written by :func:`monit.oneshot.sync_once` when a one-shot unison succeeded,
taken (read and removed) by the next start of watch-mode unison
(:mod:`engine.supervise.unison_program`), which then skips its first full
scan (our unison patch 0006, ``UNISON_WATCH_TRUST_ARCHIVE``) and tells its
fsmonitor since when to look for changes the watches came too late for
(:mod:`engine.fsmonitor.walker`).  Taken once: a unison restarted later scans
in full, as stock.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from engine.state.jsonfile import real, take_json, write_json

TRUSTED_ARCHIVE_FILE = "trusted-archive.json"


@dataclass(frozen=True)
class TrustedArchive:
    """``since``: time.time() just before the one-shot unison started (its scan began later)."""

    since: float

    @classmethod
    def take(cls, runtime_dir: Path) -> TrustedArchive | None:
        """The record, removed: it serves one start of watch-mode unison only."""
        since = real(take_json(runtime_dir / TRUSTED_ARCHIVE_FILE), "since")
        return None if since is None else cls(since)

    def save(self, runtime_dir: Path) -> None:
        write_json(runtime_dir / TRUSTED_ARCHIVE_FILE, dataclasses.asdict(self))
