"""The fuzzer's rig: one running engine the examples share, and what it has done so far.

The host folder belongs to a user and the engine gives the app side another
owner (:mod:`tests.fuzz.owners`) when the fuzzer runs as root.  Between
examples both trees are emptied through the sync itself; a rig that cannot be
emptied is replaced.  :func:`converged` is the first half of every quiescent
point: nothing pending and equal trees.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.state.shared import FSMONITOR_FILE, FsmonitorStatus
from engine.unison.conflicts import STORE
from tests.fuzz import owners
from tests.helpers import Engine, make_engine, snapshot, wait_for

CONVERGE = 60.0  # seconds the trees may take to become equal at a quiescent point (a restart included)
FLUSH = 60.0  # seconds `native-sync flush` may take


@dataclass
class Stats:
    """What the fuzzer did and found across examples (tests/test_fuzz.py reports it)."""

    steps: int = 0
    examples: int = 0
    settles: int = 0
    conflicts: int = 0
    drift_repaired: int = 0
    kills: dict[str, int] = field(default_factory=dict)  # "unison:now", "engine:mid_transfer", ...
    races: int = 0  # edits that raced a delete on the other side
    owner_waits: int = 0  # quiescent points where an owner was still wrong at first look
    # conflict copies the model let pass (tests/fuzz/model.py): of a sync a kill left unrecorded,
    # and of a write caught in progress by a concurrent save
    unrecorded_conflicts: int = 0
    caught_in_progress: int = 0
    notes: list[str] = field(default_factory=list)
    violations: list[dict[str, Any]] = field(default_factory=list)  # the first report of each


STATS = Stats()


class Rig:
    """One running engine the examples share; ``env`` extra engine environment."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = {**owners.engine_env(), **(env or {})}
        self.base = Path(tempfile.mkdtemp(prefix="ns-fuzz-"))
        self.engine: Engine | None = None
        self.generation = 0

    def fresh(self) -> Engine:
        """A watching engine on two empty folders."""
        if self.engine is not None and self.engine.proc is not None and self.engine.proc.poll() is not None:
            STATS.notes.append(f"rig replaced: the engine had exited {self.engine.proc.returncode}")
            self.replace()
        if self.engine is not None:
            try:
                self._empty(self.engine)
                return self.engine
            except (AssertionError, OSError) as e:  # not emptied in time, or the sync raced the rig
                STATS.notes.append(f"rig replaced: {type(e).__name__}: {(str(e).splitlines() or [''])[0]}")
                self.replace()
        self.generation += 1
        engine = make_engine(self.base / f"e{self.generation}", **self.env)
        owners.give(engine.host, owners.HOST_OWNER)
        engine.start().wait_watching()
        engine.wait_first_watch_cycle()
        self.engine = engine
        return engine

    def replace(self) -> None:
        """Stop this engine; the next example starts a new one (after a failure)."""
        if self.engine is not None:
            engine, self.engine = self.engine, None
            engine.close()

    def _empty(self, engine: Engine) -> None:
        # The sync still runs while the rig deletes: it may recreate an entry, or turn a file
        # into a folder, between a listing and the removal (seed 8118: IsADirectoryError).
        wait_for(
            lambda: _emptied(engine.host) & _emptied(engine.app),
            CONVERGE,
            "both trees emptied",
            interval=0.05,
        )
        # Equal (empty) trees are not enough: unison must have recorded the deletions, or the
        # next example's first create of a name is a conflict with its stale archive.
        wait_for(lambda: converged(engine), CONVERGE, "both trees empty after an example")
        flush(engine)
        wait_for(lambda: converged(engine), CONVERGE, "both trees empty after the flush")

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
        shutil.rmtree(self.base, ignore_errors=True)


def _emptied(side: Path) -> bool:
    """Remove what ``side`` holds, whatever each entry is by then; True when it held nothing."""
    entries = list(side.iterdir())
    for entry in entries:
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:
            continue
        except OSError:  # changed under us (a folder now, or not empty yet): the next round
            continue
    return not entries


def flush(engine: Engine) -> None:
    """``native-sync flush``, then until the engine's log has all unison reported up to its end.

    ``run`` reads unison's output every half second: the log is complete up to a flush once it
    holds the fsmonitor's ``sync.cycle flush=N`` line that ended it (what unison reported before
    that line is logged before it: engine/supervise/watching.py).  The fuzzer reads the log's
    transfers to tell a race's order (:func:`tests.fuzz.races.crossed`); read earlier, it
    missed the transfer of an edit the other side then deleted, and took it for a loss.
    """
    mark = engine.log.stat().st_size
    done = engine.cli("flush", "--timeout", str(FLUSH), timeout=FLUSH + 10)
    assert done.returncode == 0, f"flush failed: {done.stdout}{done.stderr}"
    flushes = FsmonitorStatus.load(engine.runtime / FSMONITOR_FILE).flushes
    wait_for(
        lambda: flushes in _flushes_logged(engine, mark),
        FLUSH,
        f"the end of flush {flushes} in the engine's log",
        detail=lambda: engine.logs()[-3000:],
    )


def _flushes_logged(engine: Engine, mark: int) -> set[int]:
    """The ``flush=N`` of the fsmonitor's ``sync.cycle`` lines in the engine's log after ``mark``."""
    with open(engine.log, "rb") as f:
        f.seek(mark)
        lines = f.read().decode("utf-8", "replace").splitlines()
    found = set()
    for line in lines:
        if '"sync.cycle"' in line and '"flush"' in line:
            try:
                found.add(int(json.loads(line)["flush"]))
            except (ValueError, KeyError, TypeError):
                continue
    return found


def pending(engine: Engine) -> int:
    try:
        data = json.loads((engine.runtime / "fsmonitor" / "fsmonitor.json").read_text())
    except (OSError, ValueError):
        return -1
    return int(data.get("pending_changes", 0))


def in_store(rel: str) -> bool:
    return rel == STORE or rel.startswith(STORE + "/")


def converged(engine: Engine) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Both snapshots when nothing is pending and the trees (temp files included, the conflict
    store on the host side left out) are equal."""
    if pending(engine) != 0:
        return None
    host = snapshot(engine.host, skip=in_store, keep_temps=True)
    app = snapshot(engine.app, keep_temps=True)
    return (host, app) if host == app and pending(engine) == 0 else None
