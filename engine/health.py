"""Where health is decided: the status object over the shared files, and :func:`healthy`.

``native-sync status`` prints :func:`collect`; ``native-sync health`` and the
``healthy`` marker that ``run`` keeps for the image's HEALTHCHECK
(:class:`Marker`) both ask :func:`is_healthy`, so they cannot disagree.
Read-only and light (a HEALTHCHECK may run it every few seconds): it reads
the files of :mod:`engine.state.shared` and checks that the processes they name
are alive.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import structlog

from engine.fs.casefold import clash_message
from engine.state import progress
from engine.state.shared import (
    FSMONITOR_FILE,
    HEALTHY_FILE,
    FsmonitorStatus,
    Problem,
    Problems,
    Roots,
    RunState,
    State,
    UnisonStatus,
)
from engine.unison import conflicts, reasons

QUICK_EXITS_FAILED = 3  # this many failed starts in a row: `failed`
RECENT_CONFLICTS = 10  # kept copies listed in ``conflicts.recent`` (mutagen lists ten)
UNREPAIRED = "still differs after the drift verifier handed it to unison repeatedly"

log = structlog.get_logger("native-sync")


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def collect(runtime_dir: Path, unison_dir: Path | None = None, run: RunState | None = None) -> dict[str, Any]:
    """The status object ``status --json`` prints, from the files in ``runtime_dir``.

    With ``unison_dir``, the conflicts kept across restarts (:mod:`engine.unison.conflicts`)
    are in it too: ``conflicts.list`` and in ``count``/``recent``.  ``run``: the
    state ``run`` holds in memory (the marker's caller), instead of reading
    ``state.json`` back.
    """
    run = run or RunState.load(runtime_dir)
    unison = UnisonStatus.load(runtime_dir)
    monitor = FsmonitorStatus.load(runtime_dir / FSMONITOR_FILE)
    stored = Problems.load(runtime_dir)
    known = stored.items
    problems = _clashes(monitor)  # they name every path of a clash: unison's own report names one
    for more in (known, _unrepaired(monitor)):
        listed = {p.path for p in problems}
        problems += [p for p in more if p.path not in listed]
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
    pid = unison.pid
    watched = _watched(unison, monitor)
    return {
        "state": state.value,
        "initial_sync_done": run.initial_sync_done,
        "last_sync_at": monitor.last_sync_at or run.initial_sync_at,
        "pending_changes": monitor.pending_changes,
        "unison": {
            "pid": pid if _alive(pid) else None,
            "restarts": unison.restarts,
            "last_restart_reason": unison.last_restart_reason,
        },
        "conflicts": _conflicts(monitor, unison_dir),
        "rescans": monitor.rescans,
        "problems": [asdict(p) for p in problems],
        "skipped": [asdict(p) for p in stored.skipped],
        "warnings": list(run.warnings),
        "roots_error": run.roots_error,
        "fsmonitor": watched,
        "error": error,
        "verifier": _verifier(monitor),
        "initial_sync_progress": (
            progress.load(runtime_dir) if state in (State.INITIAL_SYNC, State.INDEXING) else None
        ),
        "roots": _roots(Roots.load(runtime_dir)),
    }


def _conflicts(monitor: FsmonitorStatus, unison_dir: Path | None) -> dict[str, Any]:
    """Conflicts whose losing copy is kept (the list in UNISON), and any copy unison left in the tree.

    ``count`` and ``recent`` (paths of kept copies, newest first) are the keys
    status has always had; ``list`` names each by its original path.
    """
    kept = conflicts.Record.load(unison_dir).current().entries if unison_dir is not None else ()
    recent = [e.kept for e in kept] + list(monitor.recent_conflicts)
    return {
        "count": len(kept) + monitor.conflicts,
        "recent": recent[:RECENT_CONFLICTS],
        "list": [asdict(e) for e in kept],
    }


def _roots(roots: Roots) -> dict[str, Any]:
    """Each root as probed at start: does it fold case, Unicode normalization; keep permissions."""
    return {"host": asdict(roots.host), "app": asdict(roots.app)}


def _verifier(monitor: FsmonitorStatus) -> dict[str, Any]:
    """The drift verifier's last pass, what it handed to unison, what stayed different."""
    return {
        "last_pass_at": monitor.verify_last_at,
        "seconds": monitor.verify_seconds,
        "cpu_seconds": monitor.verify_cpu_seconds,
        "paths_checked": monitor.verify_checked,
        "pause": monitor.verify_pause,
        "passes": monitor.verify_passes,
        "drift_repaired": monitor.drift_repaired,
        "drift_unrepaired": list(monitor.drift_unrepaired),
        "litter_removed": monitor.litter_removed,
    }


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
        Problem(
            path=path,
            side="both",
            reason=UNREPAIRED,
            since=monitor.verify_last_at or "",
        )
        for path in monitor.drift_unrepaired
    ]


def standing_failure(status: dict[str, Any]) -> str | None:
    """What fails ``health`` for as long as it stands, or None: the one rule (issue 26).

    - a path that has not synced for a reason that needs the user
      (:func:`engine.unison.reasons.needs_user`: no space, read-only, permission, a
      name the host cannot hold), or a root unison cannot scan (path ``.``).
      The reason sticks to the path until it syncs or is gone, whatever unison
      printed about it since (:mod:`engine.unison.standing`), so health does not follow
      unison's last message (a full volume's next try often ends "modified
      during synchronization") nor the root probe (a full volume passes it each
      time unison has removed its aborted temp file);
    - a path the drift verifier gave up on (``drift_unrepaired``) with no named
      problem to explain it: unsynced, and nobody can say why.

    Any other problem (a reason unison gave that names no cause the user must
    fix; a transient one that outlived its bound) leaves health passing and the
    state ``degraded``: ``status`` and the logs name the path.  Special files
    skipped by rule (``skipped``) are no problem at all.
    """
    named = [p for p in status["problems"] if p["reason"] != UNREPAIRED]
    for p in named:
        if p["path"] == "." or reasons.needs_user(p["reason"]):
            return f"{p['path']} cannot sync until fixed ({p['side']} side): {p['reason']}"
    explained = {p["path"] for p in named}
    for path in status["verifier"]["drift_unrepaired"]:
        if path not in explained:
            return f"{path}: {UNREPAIRED}"
    return None


def healthy(status: dict[str, Any]) -> bool:
    """Watching (problems that need no user allowed), both roots usable, a live unison whose
    fsmonitor runs, no :func:`standing_failure`; or indexing: a cold start's copy made the
    volume complete, unison builds its archive (issue 13)."""
    if status["state"] == State.INDEXING:
        return status["roots_error"] is None and standing_failure(status) is None
    return (
        status["state"] in (State.WATCHING, State.DEGRADED)
        and status["roots_error"] is None
        and status["unison"]["pid"] is not None
        and status["fsmonitor"]
        and standing_failure(status) is None
    )


def is_healthy(runtime_dir: Path, run: RunState | None = None) -> bool:
    """The one health decision: ``native-sync health``'s exit status and the marker's presence."""
    return healthy(collect(runtime_dir, run=run))


def first_cycle_done(runtime_dir: Path) -> bool:
    """The running unison's fsmonitor runs and has seen unison's first cycle end (two files read)."""
    monitor = FsmonitorStatus.load(runtime_dir / FSMONITOR_FILE)
    return _watched(UnisonStatus.load(runtime_dir), monitor) and monitor.first_sync_at is not None


def _watched(unison: UnisonStatus, monitor: FsmonitorStatus) -> bool:
    pid = unison.pid
    return pid is not None and monitor.unison_pid == pid and _alive(monitor.pid)


class Marker:
    """``SYNC_RUNTIME_DIR/healthy``: present exactly while :func:`is_healthy` holds (``run`` keeps it).

    The image's HEALTHCHECK tests that file instead of starting Python every
    few seconds; each change is logged.
    """

    def __init__(self, runtime_dir: Path) -> None:
        self.runtime_dir = runtime_dir
        self.path = runtime_dir / HEALTHY_FILE
        self.healthy = False

    def update(self, run: RunState) -> None:
        """Decide again, with ``run``'s state as it holds it."""
        now_healthy = is_healthy(self.runtime_dir, run)
        if now_healthy == self.healthy:
            return
        self.healthy = now_healthy
        if now_healthy:
            self.path.touch()
        else:
            self.path.unlink(missing_ok=True)
        log.info("health", healthy=now_healthy)

    def clear(self) -> None:
        """Stopping: not healthy from now on, whatever the files say."""
        self.path.unlink(missing_ok=True)
