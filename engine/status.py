"""Status files in ``SYNC_RUNTIME_DIR`` and the ``status``/``health`` view of them.

Each process writes its own file (atomically), so ``status`` works from any
other process without talking to anyone:

- ``state.json``: the supervisor (``entrypoint.py run``): state, initial sync;
- ``fsmonitor/fsmonitor.json``: the fsmonitor: syncs, pending changes,
  conflicts, rescans (its folder belongs to the uid unison runs as);
- ``unison.json``: the unison launcher: pid, restarts, last restart reason.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STATES = ("starting", "initial-sync", "indexing", "watching", "stopping", "failed")

STATE_FILE = "state.json"
FSMONITOR_DIR = "fsmonitor"
FSMONITOR_FILE = "fsmonitor/fsmonitor.json"
UNISON_FILE = "unison.json"
HEALTHY_FILE = "healthy"  # present while healthy (kept by `run`, for a cheap HEALTHCHECK)


def now_iso(timestamp: float | None = None) -> str:
    moment = datetime.now(UTC) if timestamp is None else datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` atomically (readers never see half a file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_json(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def update_json(path: Path, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into the JSON object at ``path`` (single writer only)."""
    data = read_json(path)
    data.update(fields)
    write_json(path, data)
    return data


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
    state = read_json(runtime_dir / STATE_FILE)
    monitor = read_json(runtime_dir / FSMONITOR_FILE)
    unison = read_json(runtime_dir / UNISON_FILE)
    name = state.get("state", "starting")
    error = state.get("error")
    if name in ("indexing", "watching") and not _alive(state.get("pid")):
        name, error = "failed", "native-sync is not running"
    if name in ("initial-sync", "indexing", "watching") and int(unison.get("quick_exits", 0)) >= 3:
        name = "failed"
        error = f"unison exits right after starting ({unison['quick_exits']} times in a row): see the logs"
    pid = unison.get("pid")
    watched = pid is not None and monitor.get("unison_pid") == pid and _alive(monitor.get("pid"))
    return {
        "state": name,
        "initial_sync_done": bool(state.get("initial_sync_done")),
        "last_sync_at": monitor.get("last_sync_at") or state.get("initial_sync_at"),
        "pending_changes": int(monitor.get("pending_changes", 0)),
        "unison": {
            "pid": pid if _alive(pid) else None,
            "restarts": int(unison.get("restarts", 0)),
            "last_restart_reason": unison.get("last_restart_reason"),
        },
        "conflicts": int(monitor.get("conflicts", 0)),
        "rescans": int(monitor.get("rescans", 0)),
        "fsmonitor": watched,
        "error": error,
    }


def healthy(status: dict[str, Any]) -> bool:
    """Watching, with a live unison whose fsmonitor runs; or indexing (the volume is complete)."""
    if status["state"] == "indexing":
        return True
    return status["state"] == "watching" and status["unison"]["pid"] is not None and status["fsmonitor"]
