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
- ``trusted-archive.json``: a one-shot unison -> the unison program (:mod:`engine.state.trust`);
- ``fsmonitor/fsmonitor.json``: the fsmonitor: syncs, pending changes,
  conflicts, rescans (its folder belongs to the uid unison runs as), and
  beside it the cycles it has begun (:mod:`engine.state.begun`);
- ``problems.json`` (:class:`Problems`): ``run``: the paths unison failed or
  skipped (:mod:`engine.unison.reports`);
- ``roots.json`` (:class:`Roots`): ``run`` and ``precopy`` at start: what each
  root's folder folds (case, normalization) and keeps (permissions)
  (:mod:`engine.fs.casefold`);
- ``healthy``: present while ``health`` would pass (kept by ``run``).

The ``status`` view of them is :mod:`engine.status` (health is decided on it in
:mod:`engine.health`); how a file is replaced and read is
:mod:`engine.state.jsonfile`.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.fs.casefold import UNPROBED, Folding
from engine.state import begun
from engine.state.jsonfile import (
    number,
    pid_field,
    read_json,
    real,
    take_json,
    text,
    texts,
    typed,
    write_json,
)

STATE_FILE = "state.json"
UNISON_FILE = "unison.json"
RESTART_REASON_FILE = "restart-reason.json"
FSMONITOR_DIR = "fsmonitor"
FSMONITOR_FILE = "fsmonitor/fsmonitor.json"
PROBLEMS_FILE = "problems.json"
ROOTS_FILE = "roots.json"
HEALTHY_FILE = "healthy"  # present while healthy (kept by `run`, for a cheap HEALTHCHECK)


class State(enum.StrEnum):
    """The states of ``run`` as ``status`` prints them (each is documented in README.md)."""

    STARTING = "starting"
    INITIAL_SYNC = "initial-sync"
    INDEXING = "indexing"  # a fast first copy done, unison still building its archive (issue 13)
    WATCHING = "watching"
    DEGRADED = "degraded"  # watching, but some path cannot sync (problems per path)
    STOPPING = "stopping"
    FAILED = "failed"


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
            pid=pid_field(data),
            initial_sync_done=data.get("initial_sync_done") is True,
            initial_sync_at=text(data, "initial_sync_at"),
            error=text(data, "error"),
            warnings=texts(data, "warnings"),
            roots_error=text(data, "roots_error"),
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
            pid=pid_field(data),
            started_at=number(data, "started_at", 0.0),
            starts=typed(data, "starts", int, 0),
            quick_exits=typed(data, "quick_exits", int, 0),
            restarts=typed(data, "restarts", int, 0),
            last_restart_reason=text(data, "last_restart_reason"),
            last_restart_at=text(data, "last_restart_at"),
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
        reason = text(take_json(runtime_dir / RESTART_REASON_FILE), "reason")
        return cls(reason) if reason else None

    def save(self, runtime_dir: Path) -> None:
        write_json(runtime_dir / RESTART_REASON_FILE, dataclasses.asdict(self))


# --- fsmonitor/fsmonitor.json (written by the fsmonitor only) ----------------------


@dataclass(frozen=True)
class Clash:
    """Two or more app-side paths the host's folder cannot hold apart (case, normalization)."""

    paths: tuple[str, ...]
    since: str


def _clashes(data: dict[str, Any]) -> tuple[Clash, ...]:
    found = []
    for entry in typed(data, "clashes", list, []):
        if not isinstance(entry, dict):
            continue
        paths, since = entry.get("paths"), entry.get("since")
        if isinstance(paths, list) and all(isinstance(p, str) for p in paths) and isinstance(since, str):
            found.append(Clash(tuple(paths), since))
    return tuple(found)


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
    litter_removed: int = 0  # unison temp files removed (engine/unison/litter.py)
    # app-side names the host cannot hold apart (engine/fsmonitor/caseguard.py)
    clashes: tuple[Clash, ...] = ()
    cycles_begun: int = 0  # in begun.PID before unison hears the answer that begins one (syncs: ended)

    @classmethod
    def load(cls, path: Path) -> FsmonitorStatus:
        """The file's contents; missing or unreadable fields take their defaults."""
        data = read_json(path)
        pid = typed(data, "pid", int, None)
        return cls(
            pid=pid,
            unison_pid=typed(data, "unison_pid", int, None),
            syncs=typed(data, "syncs", int, 0),
            first_sync_at=text(data, "first_sync_at"),
            last_sync_at=text(data, "last_sync_at"),
            pending_changes=typed(data, "pending_changes", int, 0),
            pending_since=real(data, "pending_since"),
            conflicts=typed(data, "conflicts", int, 0),
            rescans=typed(data, "rescans", int, 0),
            watches=typed(data, "watches", int, 0),
            flushes=typed(data, "flushes", int, 0),
            recent_conflicts=texts(data, "recent_conflicts"),
            verify_passes=typed(data, "verify_passes", int, 0),
            verify_last_at=text(data, "verify_last_at"),
            verify_seconds=real(data, "verify_seconds"),
            verify_cpu_seconds=real(data, "verify_cpu_seconds"),
            verify_checked=typed(data, "verify_checked", int, 0),
            verify_pause=real(data, "verify_pause"),
            drift_repaired=typed(data, "drift_repaired", int, 0),
            drift_unrepaired=texts(data, "drift_unrepaired"),
            litter_removed=typed(data, "litter_removed", int, 0),
            clashes=_clashes(data),
            cycles_begun=max(typed(data, "cycles_begun", int, 0), begun.read(path.parent, pid)),
        )

    def save(self, path: Path) -> None:
        """Replace the file atomically."""
        write_json(path, asdict(self))


# --- problems.json: `run` (engine.unison.standing.Tracker) --------------------------------


@dataclass(frozen=True)
class Problem:
    """A path unison failed or skipped: which side, unison's reason, since when (ISO time)."""

    path: str
    side: str  # host | app | both
    reason: str
    since: str


@dataclass(frozen=True)
class Problems:
    """``problems.json``: every path that cannot sync now, and the special files skipped by
    rule (``run`` is the only writer)."""

    items: tuple[Problem, ...] = ()
    skipped: tuple[Problem, ...] = ()

    @classmethod
    def load(cls, runtime_dir: Path) -> Problems:
        data = read_json(runtime_dir / PROBLEMS_FILE)
        return cls(*(_problems(typed(data, key, list, [])) for key in ("problems", "skipped")))

    def save(self, runtime_dir: Path) -> None:
        write_json(
            runtime_dir / PROBLEMS_FILE,
            {"problems": [asdict(p) for p in self.items], "skipped": [asdict(p) for p in self.skipped]},
        )


def _problems(raw: list[Any]) -> tuple[Problem, ...]:
    return tuple(
        Problem(*(entry[k] for k in _PROBLEM_KEYS))
        for entry in raw
        if isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in _PROBLEM_KEYS)
    )


_PROBLEM_KEYS = ("path", "side", "reason", "since")


# --- roots.json: `run` and `precopy` (engine.startup.probe) ------------------------------


def _folding(data: object) -> Folding:
    if not isinstance(data, dict):
        return Folding()
    values = [data.get(f.name) for f in dataclasses.fields(Folding)]
    return Folding(*(v if isinstance(v, bool) else None for v in values))


@dataclass(frozen=True)
class Roots:
    """``roots.json``: each root's folder as probed at start (unknown until probed)."""

    host: Folding = UNPROBED
    app: Folding = UNPROBED

    @property
    def host_insensitive(self) -> bool:
        """Does the host fold names the app holds apart (unison's ``-ignorecase true``)?"""
        return self.host.insensitive and not self.app.insensitive

    @classmethod
    def load(cls, runtime_dir: Path) -> Roots:
        data = read_json(runtime_dir / ROOTS_FILE)
        return cls(host=_folding(data.get("host")), app=_folding(data.get("app")))

    def save(self, runtime_dir: Path) -> None:
        write_json(runtime_dir / ROOTS_FILE, asdict(self))
