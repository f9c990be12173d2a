"""The files native-sync's processes share in ``SYNC_RUNTIME_DIR``, typed.

Each file is replaced atomically (readers never see half a file), is one
frozen dataclass here with ``load``/``save``, and has one writer, except
``restart-reason.json``, which has two (both replace the whole file, and its
one reader removes it):

- ``state.json`` (:class:`RunState`): ``entrypoint.py run``: the state, the
  initial sync;
- ``unison.json`` (:class:`UnisonStatus`): supervisord's unison program
  (:mod:`engine.supervise.unison_program`): pid, starts, restarts and their reason;
- ``restart-reason.json`` (:class:`RestartReason`): the watchdog, just before
  it restarts unison, and the image's ``supervisorctl`` wrapper
  (``scripts/image/supervisorctl``: ``requested``) before a restart someone
  asked for; the unison program consumes it;
- ``fsmonitor/fsmonitor.json``: the fsmonitor: syncs, pending changes,
  conflicts, rescans (its folder belongs to the uid unison runs as);
- ``problems.json`` (:class:`Problems`): ``run``: the paths unison failed or
  skipped (:mod:`engine.problems`);
- ``healthy``: present while ``health`` would pass (kept by ``run``).

The ``status``/``health`` view of them is :mod:`engine.health`; how a file is
replaced and read is :mod:`engine.jsonfile`.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from engine.jsonfile import read_json, write_json

STATE_FILE = "state.json"
UNISON_FILE = "unison.json"
RESTART_REASON_FILE = "restart-reason.json"
FSMONITOR_DIR = "fsmonitor"
FSMONITOR_FILE = "fsmonitor/fsmonitor.json"
PROBLEMS_FILE = "problems.json"
HEALTHY_FILE = "healthy"  # present while healthy (kept by `run`, for a cheap HEALTHCHECK)

T = TypeVar("T")


class State(enum.StrEnum):
    """The states of ``run`` as ``status`` prints them (each is documented in README.md)."""

    STARTING = "starting"
    INITIAL_SYNC = "initial-sync"
    INDEXING = "indexing"  # a fast first copy done, unison still building its archive (issue 13)
    WATCHING = "watching"
    DEGRADED = "degraded"  # watching, but some path cannot sync (problems per path)
    STOPPING = "stopping"
    FAILED = "failed"


# --- typed fields of the JSON files ------------------------------------------------


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


def _real(data: dict[str, Any], name: str) -> float | None:
    value = _typed(data, name, (int, float), None)
    return None if value is None else float(value)


def _texts(data: dict[str, Any], name: str) -> tuple[str, ...]:
    return tuple(v for v in _typed(data, name, list, []) if isinstance(v, str))


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
            warnings=_texts(data, "warnings"),
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


# --- restart-reason.json: the watchdog (or the supervisorctl wrapper) -> the unison program ---


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
    # the drift verifier (engine/fsmonitor/verifier.py): its last pass and what it found
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
            pid=_typed(data, "pid", int, None),
            unison_pid=_typed(data, "unison_pid", int, None),
            syncs=_typed(data, "syncs", int, 0),
            first_sync_at=_text(data, "first_sync_at"),
            last_sync_at=_text(data, "last_sync_at"),
            pending_changes=_typed(data, "pending_changes", int, 0),
            pending_since=_real(data, "pending_since"),
            conflicts=_typed(data, "conflicts", int, 0),
            rescans=_typed(data, "rescans", int, 0),
            watches=_typed(data, "watches", int, 0),
            flushes=_typed(data, "flushes", int, 0),
            recent_conflicts=_texts(data, "recent_conflicts"),
            verify_passes=_typed(data, "verify_passes", int, 0),
            verify_last_at=_text(data, "verify_last_at"),
            verify_seconds=_real(data, "verify_seconds"),
            verify_cpu_seconds=_real(data, "verify_cpu_seconds"),
            verify_checked=_typed(data, "verify_checked", int, 0),
            verify_pause=_real(data, "verify_pause"),
            drift_repaired=_typed(data, "drift_repaired", int, 0),
            drift_unrepaired=_texts(data, "drift_unrepaired"),
            litter_removed=_typed(data, "litter_removed", int, 0),
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
