"""``status`` and ``health``: the view of SPEC section 5 over the shared files.

Read-only and light (a HEALTHCHECK may run it every few seconds): it reads
the files of :mod:`engine.status` and checks that the processes they name
are alive.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from engine.status import FSMONITOR_FILE, RunState, State, UnisonStatus, read_json

QUICK_EXITS_FAILED = 3  # this many failed starts in a row: `failed`


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


def collect(runtime_dir: Path) -> dict[str, Any]:
    """The status object of SPEC section 5, from the files in ``runtime_dir``."""
    run = RunState.load(runtime_dir)
    unison = UnisonStatus.load(runtime_dir)
    monitor = read_json(runtime_dir / FSMONITOR_FILE)
    state, error = run.state, run.error
    if state is State.WATCHING and not _alive(run.pid):
        state, error = State.FAILED, "native-sync is not running"
    if state in (State.INITIAL_SYNC, State.WATCHING) and unison.quick_exits >= QUICK_EXITS_FAILED:
        state = State.FAILED
        error = f"unison exits right after starting ({unison.quick_exits} times in a row): see the logs"
    pid = unison.pid
    watched = pid is not None and monitor.get("unison_pid") == pid and _alive(monitor.get("pid"))
    return {
        "state": state.value,
        "initial_sync_done": run.initial_sync_done,
        "last_sync_at": monitor.get("last_sync_at") or run.initial_sync_at,
        "pending_changes": int(monitor.get("pending_changes", 0)),
        "unison": {
            "pid": pid if _alive(pid) else None,
            "restarts": unison.restarts,
            "last_restart_reason": unison.last_restart_reason,
        },
        "conflicts": int(monitor.get("conflicts", 0)),
        "rescans": int(monitor.get("rescans", 0)),
        "fsmonitor": watched,
        "error": error,
        "verifier": _verifier(monitor),
    }


def _verifier(monitor: dict[str, Any]) -> dict[str, Any]:
    """The drift verifier's last pass, what it handed to unison, what stayed different."""
    return {
        "last_pass_at": monitor.get("verify_last_at"),
        "seconds": monitor.get("verify_seconds"),
        "cpu_seconds": monitor.get("verify_cpu_seconds"),
        "paths_checked": int(monitor.get("verify_checked", 0)),
        "pause": monitor.get("verify_pause"),
        "passes": int(monitor.get("verify_passes", 0)),
        "drift_repaired": int(monitor.get("drift_repaired", 0)),
        "drift_unrepaired": list(monitor.get("drift_unrepaired") or []),
        "litter_removed": int(monitor.get("litter_removed", 0)),
    }


def healthy(status: dict[str, Any]) -> bool:
    """Watching, with a live unison whose fsmonitor runs."""
    return status["state"] == State.WATCHING and status["unison"]["pid"] is not None and status["fsmonitor"]
