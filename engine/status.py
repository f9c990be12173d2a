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
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STATES = ("starting", "initial-sync", "watching", "stopping", "failed")

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
    if name == "watching" and not _alive(state.get("pid")):
        name, error = "failed", "native-sync is not running"
    if name in ("initial-sync", "watching") and int(unison.get("quick_exits", 0)) >= 3:
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
    """Watching, with a live unison whose fsmonitor runs."""
    return status["state"] == "watching" and status["unison"]["pid"] is not None and status["fsmonitor"]


# --- fsmonitor/fsmonitor.json (written by the fsmonitor only) ----------------------


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float_or_none(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class FsmonitorStatus:
    """``fsmonitor/fsmonitor.json``: what the fsmonitor of the running unison reports.

    ``pending_since`` is wall-clock time (seconds since the epoch) since when
    reported changes have waited for a completed sync; ``flushes`` counts the
    full syncs asked for by SIGUSR1 (``native-sync flush``) that completed.
    """

    pid: int | None = None
    unison_pid: int | None = None
    syncs: int = 0
    first_sync_at: str | None = None
    last_sync_at: str | None = None
    pending_changes: int = 0
    pending_since: float | None = None
    conflicts: int = 0
    rescans: int = 0
    watches: int = 0
    flushes: int = 0

    @classmethod
    def load(cls, path: Path) -> FsmonitorStatus:
        """The file's contents; missing or unreadable fields take their defaults."""
        data = read_json(path)
        return cls(
            pid=_int_or_none(data.get("pid")),
            unison_pid=_int_or_none(data.get("unison_pid")),
            syncs=_int_or_none(data.get("syncs")) or 0,
            first_sync_at=_str_or_none(data.get("first_sync_at")),
            last_sync_at=_str_or_none(data.get("last_sync_at")),
            pending_changes=_int_or_none(data.get("pending_changes")) or 0,
            pending_since=_float_or_none(data.get("pending_since")),
            conflicts=_int_or_none(data.get("conflicts")) or 0,
            rescans=_int_or_none(data.get("rescans")) or 0,
            watches=_int_or_none(data.get("watches")) or 0,
            flushes=_int_or_none(data.get("flushes")) or 0,
        )

    def save(self, path: Path) -> None:
        """Replace the file atomically."""
        write_json(path, asdict(self))
