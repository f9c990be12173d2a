"""The status object, typed: what ``status --json`` prints, built from the shared files.

:func:`collect` reads the files of :mod:`engine.state.shared` (and the cold
start's progress, the kept conflicts) into a :class:`Status` of frozen
dataclasses, checking that the processes they name are alive; health is
decided on its fields (:mod:`engine.health`), and :meth:`Status.json` renders
the one JSON object whose keys are stable (SPEC section 5: never renamed or
removed).  Read-only: ``status``, ``monitor``, ``health`` and ``run``'s
marker all read it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.fs.casefold import clash_message
from engine.state import progress
from engine.state.shared import (
    FSMONITOR_FILE,
    FsmonitorStatus,
    Problem,
    Problems,
    Roots,
    RunState,
    State,
    UnisonStatus,
)
from engine.unison import conflicts

QUICK_EXITS_FAILED = 3  # this many failed starts in a row: `failed`
RECENT_CONFLICTS = 10  # kept copies listed in ``conflicts.recent`` (mutagen lists ten)
UNREPAIRED = "still differs after the drift verifier handed it to unison repeatedly"


@dataclass(frozen=True)
class Unison:
    """The watch-mode unison: its pid while it lives, its restarts and the last one's reason."""

    pid: int | None
    restarts: int
    last_restart_reason: str | None

    def json(self) -> dict[str, Any]:
        return {"pid": self.pid, "restarts": self.restarts, "last_restart_reason": self.last_restart_reason}


@dataclass(frozen=True)
class Conflicts:
    """Conflicts whose losing copy is kept (``kept``, by original path), and any copy unison left
    in the tree: ``count`` counts both, ``recent`` names the newest copies."""

    count: int
    recent: tuple[str, ...]
    kept: tuple[conflicts.Entry, ...]

    def json(self) -> dict[str, Any]:
        return {"count": self.count, "recent": list(self.recent), "list": [asdict(e) for e in self.kept]}


@dataclass(frozen=True)
class Verifier:
    """The drift verifier's last pass, what it handed to unison, what stayed different."""

    last_pass_at: str | None
    seconds: float | None
    cpu_seconds: float | None
    paths_checked: int
    pause: float | None
    passes: int
    drift_repaired: int
    drift_unrepaired: tuple[str, ...]
    litter_removed: int

    def json(self) -> dict[str, Any]:
        return {**asdict(self), "drift_unrepaired": list(self.drift_unrepaired)}


@dataclass(frozen=True)
class Status:
    """What native-sync is doing, as ``status --json`` prints it (each field is one of its keys).

    ``state`` is ``run``'s, corrected by what the files show (``failed`` when
    ``run`` is gone or unison keeps dying at start, ``degraded`` when watching
    with problems or an unusable root); ``fsmonitor``: the running unison's
    fsmonitor runs.
    """

    state: State
    initial_sync_done: bool
    last_sync_at: str | None
    pending_changes: int
    unison: Unison
    conflicts: Conflicts
    rescans: int
    problems: tuple[Problem, ...]
    skipped: tuple[Problem, ...]
    warnings: tuple[str, ...]
    roots_error: str | None
    fsmonitor: bool
    error: str | None
    verifier: Verifier
    initial_sync_progress: progress.Report | None
    roots: Roots

    def json(self) -> dict[str, Any]:
        """The JSON object, its keys in their documented order."""
        report = self.initial_sync_progress
        return {
            "state": self.state.value,
            "initial_sync_done": self.initial_sync_done,
            "last_sync_at": self.last_sync_at,
            "pending_changes": self.pending_changes,
            "unison": self.unison.json(),
            "conflicts": self.conflicts.json(),
            "rescans": self.rescans,
            "problems": [asdict(p) for p in self.problems],
            "skipped": [asdict(p) for p in self.skipped],
            "warnings": list(self.warnings),
            "roots_error": self.roots_error,
            "fsmonitor": self.fsmonitor,
            "error": self.error,
            "verifier": self.verifier.json(),
            "initial_sync_progress": None if report is None else asdict(report),
            "roots": {"host": asdict(self.roots.host), "app": asdict(self.roots.app)},
        }


def collect(runtime_dir: Path, unison_dir: Path | None = None, run: RunState | None = None) -> Status:
    """The status, from the files in ``runtime_dir``.

    With ``unison_dir``, the conflicts kept across restarts (:mod:`engine.unison.conflicts`)
    are in it too: ``conflicts.kept`` and in ``count``/``recent``.  ``run``: the
    state ``run`` holds in memory (the marker's caller), instead of reading
    ``state.json`` back.
    """
    run = run or RunState.load(runtime_dir)
    unison = UnisonStatus.load(runtime_dir)
    monitor = FsmonitorStatus.load(runtime_dir / FSMONITOR_FILE)
    stored = Problems.load(runtime_dir)
    problems = _clashes(monitor)  # they name every path of a clash: unison's own report names one
    for more in (stored.items, _unrepaired(monitor)):
        listed = {p.path for p in problems}
        problems += [p for p in more if p.path not in listed]
    state, error = _state(run, unison, bool(problems))
    copying = state in (State.INITIAL_SYNC, State.INDEXING)
    return Status(
        state=state,
        initial_sync_done=run.initial_sync_done,
        last_sync_at=monitor.last_sync_at or run.initial_sync_at,
        pending_changes=monitor.pending_changes,
        unison=Unison(
            pid=unison.pid if _alive(unison.pid) else None,
            restarts=unison.restarts,
            last_restart_reason=unison.last_restart_reason,
        ),
        conflicts=_conflicts(monitor, unison_dir),
        rescans=monitor.rescans,
        problems=tuple(problems),
        skipped=stored.skipped,
        warnings=run.warnings,
        roots_error=run.roots_error,
        fsmonitor=_watched(unison, monitor),
        error=error,
        verifier=_verifier(monitor),
        initial_sync_progress=progress.Report.load(runtime_dir) if copying else None,
        roots=Roots.load(runtime_dir),
    )


def first_cycle_done(runtime_dir: Path) -> bool:
    """The running unison's fsmonitor runs and has seen unison's first cycle end (two files read)."""
    monitor = FsmonitorStatus.load(runtime_dir / FSMONITOR_FILE)
    return _watched(UnisonStatus.load(runtime_dir), monitor) and monitor.first_sync_at is not None


def _state(run: RunState, unison: UnisonStatus, problems: bool) -> tuple[State, str | None]:
    """``run``'s state and error, as the files show them now."""
    state, error = run.state, run.error
    if state in (State.INDEXING, State.WATCHING) and not _alive(run.pid):
        state, error = State.FAILED, "native-sync is not running"
    if (
        state in (State.INITIAL_SYNC, State.INDEXING, State.WATCHING)
        and unison.quick_exits >= QUICK_EXITS_FAILED
    ):
        state = State.FAILED
        error = f"unison exits right after starting ({unison.quick_exits} times in a row): see the logs"
    if state is State.WATCHING and (problems or run.roots_error):
        state = State.DEGRADED  # watching, but some path (or a root) cannot sync
    return state, error


def _alive(pid: int | None) -> bool:
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watched(unison: UnisonStatus, monitor: FsmonitorStatus) -> bool:
    pid = unison.pid
    return pid is not None and monitor.unison_pid == pid and _alive(monitor.pid)


def _conflicts(monitor: FsmonitorStatus, unison_dir: Path | None) -> Conflicts:
    """The kept conflicts (the list in UNISON) first, then the copies unison left in the tree."""
    kept = conflicts.Record.load(unison_dir).current().entries if unison_dir is not None else ()
    recent = [e.kept for e in kept] + list(monitor.recent_conflicts)
    return Conflicts(count=len(kept) + monitor.conflicts, recent=tuple(recent[:RECENT_CONFLICTS]), kept=kept)


def _verifier(monitor: FsmonitorStatus) -> Verifier:
    return Verifier(
        last_pass_at=monitor.verify_last_at,
        seconds=monitor.verify_seconds,
        cpu_seconds=monitor.verify_cpu_seconds,
        paths_checked=monitor.verify_checked,
        pause=monitor.verify_pause,
        passes=monitor.verify_passes,
        drift_repaired=monitor.drift_repaired,
        drift_unrepaired=monitor.drift_unrepaired,
        litter_removed=monitor.litter_removed,
    )


def _clashes(monitor: FsmonitorStatus) -> list[Problem]:
    """App-side names the host cannot hold apart: each path of a clash is a problem naming all."""
    return [
        Problem(path=path, side="app", reason=clash_message(clash.paths), since=clash.since)
        for clash in monitor.clashes
        for path in clash.paths
    ]


def _unrepaired(monitor: FsmonitorStatus) -> list[Problem]:
    """Drift the verifier handed to unison again and again without effect: problems too."""
    return [
        Problem(path=path, side="both", reason=UNREPAIRED, since=monitor.verify_last_at or "")
        for path in monitor.drift_unrepaired
    ]
