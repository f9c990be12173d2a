"""``trusted-archive.json``: a one-shot unison committed the archives; watch mode may start from them.

Written by :func:`monit.oneshot.sync_once` when a one-shot unison succeeded,
taken (read and removed) by the next start of watch-mode unison
(:mod:`engine.supervise.unison_program`), which then skips its first full
scan (our unison patch 0006, ``UNISON_WATCH_TRUST_ARCHIVE``) and tells its
fsmonitor since when to look for changes the watches came too late for
(:mod:`engine.fsmonitor.walker`).  Taken once: a unison restarted later scans
in full, as stock.

A warm start whose last stop left its trees' signatures
(:mod:`engine.unison.stopmark`) writes one too, with ``changed``: the
folders that changed while it was stopped, which the fsmonitor reports
once the trusted first cycle is over (``trusted-changes.json``,
:class:`TrustedChanges`): unison scans them in the cycle after it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from engine.state.jsonfile import real, take_json, write_json

TRUSTED_ARCHIVE_FILE = "trusted-archive.json"
TRUSTED_CHANGES_FILE = "trusted-changes.json"


@dataclass(frozen=True)
class TrustedArchive:
    """``since``: time.time() just before the one-shot unison started (its scan began later), or
    before a warm start signed its trees; ``changed``: what that signing found changed since the stop."""

    since: float
    changed: tuple[str, ...] = ()

    @classmethod
    def take(cls, runtime_dir: Path) -> TrustedArchive | None:
        """The record, removed: it serves one start of watch-mode unison only."""
        data = take_json(runtime_dir / TRUSTED_ARCHIVE_FILE)
        since = real(data, "since")
        return None if since is None else cls(since, _paths(data.get("changed")))

    def save(self, runtime_dir: Path) -> None:
        write_json(runtime_dir / TRUSTED_ARCHIVE_FILE, dataclasses.asdict(self))


@dataclass(frozen=True)
class TrustedChanges:
    """What changed while the engine was stopped: unison's program hands it to its fsmonitor."""

    changed: tuple[str, ...]

    @classmethod
    def take(cls, runtime_dir: Path) -> TrustedChanges:
        """The record, removed (none: nothing to report)."""
        return cls(_paths(take_json(runtime_dir / TRUSTED_CHANGES_FILE).get("changed")))

    def save(self, runtime_dir: Path) -> None:
        write_json(runtime_dir / TRUSTED_CHANGES_FILE, dataclasses.asdict(self))


def _paths(value: object) -> tuple[str, ...]:
    return tuple(p for p in value if isinstance(p, str)) if isinstance(value, list) else ()
