"""The files native-sync's processes share in ``SYNC_RUNTIME_DIR``, typed.

Each file has one writer, is replaced atomically (readers never see half a
file) and is one frozen dataclass here with ``load``/``save``:

- ``state.json`` (:class:`RunState`): ``entrypoint.py run``: the state, the
  initial sync;
- ``unison.json`` (:class:`UnisonStatus`): supervisord's unison program
  (:mod:`engine.unison_program`): pid, starts, restarts and their reason;
- ``restart-reason.json`` (:class:`RestartReason`): the watchdog, just before
  it restarts unison; the unison program consumes it;
- ``fsmonitor/fsmonitor.json``: the fsmonitor: syncs, pending changes,
  conflicts, rescans (its folder belongs to the uid unison runs as);
- ``problems.json`` (:class:`Problems`): ``run``: the paths unison failed or
  skipped (:mod:`engine.problems`);
- ``healthy``: present while ``health`` would pass (kept by ``run``).

The ``status``/``health`` view of them is :mod:`engine.report`.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

STATE_FILE = "state.json"
UNISON_FILE = "unison.json"
RESTART_REASON_FILE = "restart-reason.json"
FSMONITOR_DIR = "fsmonitor"
FSMONITOR_FILE = "fsmonitor/fsmonitor.json"
PROBLEMS_FILE = "problems.json"
HEALTHY_FILE = "healthy"  # present while healthy (kept by `run`, for a cheap HEALTHCHECK)

T = TypeVar("T")


class State(enum.StrEnum):
    """The states of SPEC section 5, as ``status`` prints them."""

    STARTING = "starting"
    INITIAL_SYNC = "initial-sync"
    INDEXING = "indexing"  # a fast first copy done, unison still building its archive (issue 13)
    WATCHING = "watching"
    DEGRADED = "degraded"  # watching, but some path cannot sync (problems per path)
    STOPPING = "stopping"
    FAILED = "failed"


# --- plain JSON files --------------------------------------------------------------


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
    """The JSON object at ``path``; ``{}`` when it is missing, unreadable or not an object."""
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


def _typed(data: dict[str, Any], name: str, kind: type[T] | tuple[type, ...], default: T) -> T:
    """``data[name]`` if it has the type the file promises, else ``default``."""
    value = data.get(name, default)
    if isinstance(value, bool) and not isinstance(default, bool):
        return default  # JSON true is no count
    return value if isinstance(value, kind) else default  # type: ignore[return-value]


def _number(data: dict[str, Any], name: str, default: float) -> float:
    return float(_typed(data, name, (int, float), default))


def _text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) else None


def _pid(data: dict[str, Any], name: str = "pid") -> int | None:
    value = _typed(data, name, int, 0)
    return value if value > 0 else None


# --- state.json: `run` ---------------------------------------------------------------


@dataclass(frozen=True)
class RunState:
    """``state.json``: where ``entrypoint.py run`` is (it is the only writer)."""

    state: State = State.STARTING
    pid: int | None = None  # of `run`: a `watching` whose process is gone is `failed`
    initial_sync_done: bool = False
    initial_sync_at: str | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()  # e.g. a root that is not a mount (a forgotten -v)
    roots_error: str | None = None  # a root unison cannot scan or write now: health fails

    @classmethod
    def load(cls, runtime_dir: Path) -> RunState:
        data = read_json(runtime_dir / STATE_FILE)
        try:
            state = State(data.get("state", State.STARTING))
        except ValueError:
            state = State.STARTING
        return cls(
            state=state,
            pid=_pid(data),
            initial_sync_done=data.get("initial_sync_done") is True,
            initial_sync_at=_text(data, "initial_sync_at"),
            error=_text(data, "error"),
            warnings=tuple(w for w in _typed(data, "warnings", list, []) if isinstance(w, str)),
            roots_error=_text(data, "roots_error"),
        )

    def save(self, runtime_dir: Path) -> None:
        write_json(runtime_dir / STATE_FILE, {**dataclasses.asdict(self), "state": self.state.value})


# --- unison.json: supervisord's unison program -------------------------------------------


@dataclass(frozen=True)
class UnisonStatus:
    """``unison.json``: the watch-mode unison supervisord runs, one record per start."""

    pid: int | None = None
    started_at: float = 0.0  # time.time() of the last start
    starts: int = 0
    quick_exits: int = 0  # starts in a row that died before their fsmonitor ran
    restarts: int = 0
    last_restart_reason: str | None = None
    last_restart_at: str | None = None

    @classmethod
    def load(cls, runtime_dir: Path) -> UnisonStatus:
        data = read_json(runtime_dir / UNISON_FILE)
        return cls(
            pid=_pid(data),
            started_at=_number(data, "started_at", 0.0),
            starts=_typed(data, "starts", int, 0),
            quick_exits=_typed(data, "quick_exits", int, 0),
            restarts=_typed(data, "restarts", int, 0),
            last_restart_reason=_text(data, "last_restart_reason"),
            last_restart_at=_text(data, "last_restart_at"),
        )

    def save(self, runtime_dir: Path) -> None:
        write_json(runtime_dir / UNISON_FILE, dataclasses.asdict(self))


# --- restart-reason.json: the watchdog -> the unison program -----------------------------


@dataclass(frozen=True)
class RestartReason:
    """Why the watchdog restarts unison (``cpu``, ``stall``); read once by the next start."""

    reason: str

    @classmethod
    def take(cls, runtime_dir: Path) -> RestartReason | None:
        """The recorded reason, removed so it explains one restart only."""
        path = runtime_dir / RESTART_REASON_FILE
        reason = _text(read_json(path), "reason")
        path.unlink(missing_ok=True)
        return cls(reason) if reason else None

    def save(self, runtime_dir: Path) -> None:
        write_json(runtime_dir / RESTART_REASON_FILE, dataclasses.asdict(self))


# --- fsmonitor/fsmonitor.json (written by the fsmonitor only) ----------------------


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float_or_none(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _str_tuple(value: object) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


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
    recent_conflicts: tuple[str, ...] = ()  # the newest conflict copies, newest first (at most 10)
    # the drift verifier (engine/verifier.py): its last pass and what it found
    verify_passes: int = 0
    verify_last_at: str | None = None
    verify_seconds: float | None = None
    verify_cpu_seconds: float | None = None
    verify_checked: int = 0
    verify_pause: float | None = None
    drift_repaired: int = 0
    drift_unrepaired: tuple[str, ...] = ()
    litter_removed: int = 0  # unison temp files removed (engine/litter.py)

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
            recent_conflicts=tuple(
                c for c in _typed(data, "recent_conflicts", list, []) if isinstance(c, str)
            ),
            verify_passes=_int_or_none(data.get("verify_passes")) or 0,
            verify_last_at=_str_or_none(data.get("verify_last_at")),
            verify_seconds=_float_or_none(data.get("verify_seconds")),
            verify_cpu_seconds=_float_or_none(data.get("verify_cpu_seconds")),
            verify_checked=_int_or_none(data.get("verify_checked")) or 0,
            verify_pause=_float_or_none(data.get("verify_pause")),
            drift_repaired=_int_or_none(data.get("drift_repaired")) or 0,
            drift_unrepaired=_str_tuple(data.get("drift_unrepaired")),
            litter_removed=_int_or_none(data.get("litter_removed")) or 0,
        )

    def save(self, path: Path) -> None:
        """Replace the file atomically."""
        write_json(path, asdict(self))


# --- problems.json: `run` (engine.problems.Tracker) --------------------------------


@dataclass(frozen=True)
class Problem:
    """A path unison failed or skipped: which side, unison's reason, since when (ISO time)."""

    path: str
    side: str  # host | app | both
    reason: str
    since: str


@dataclass(frozen=True)
class Problems:
    """``problems.json``: every path that cannot sync now (``run`` is the only writer)."""

    items: tuple[Problem, ...] = ()

    @classmethod
    def load(cls, runtime_dir: Path) -> Problems:
        raw = _typed(read_json(runtime_dir / PROBLEMS_FILE), "problems", list, [])
        items = []
        for entry in raw:
            if isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in _PROBLEM_KEYS):
                items.append(Problem(*(entry[k] for k in _PROBLEM_KEYS)))
        return cls(tuple(items))

    def save(self, runtime_dir: Path) -> None:
        write_json(runtime_dir / PROBLEMS_FILE, {"problems": [asdict(p) for p in self.items]})


_PROBLEM_KEYS = ("path", "side", "reason", "since")
