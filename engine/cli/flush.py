"""``native-sync flush``: ask the running fsmonitor for a full sync, wait for it."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from engine import exits
from engine.config import Config
from engine.state import shared

POLL = 0.02


def flush(cfg: Config, timeout: float) -> int:
    """Signal the fsmonitor (SIGUSR1) and wait until a full sync has completed."""
    path = cfg.runtime_dir / shared.FSMONITOR_FILE
    started = time.monotonic()
    deadline = started + timeout
    before = _fsmonitor(cfg, path, deadline)
    pid = before.pid
    if pid is None and (still := _on_its_way(cfg)) is not None:
        print(
            f"native-sync: no full sync completed within {timeout:g} s: the sync is still {still}; "
            "`native-sync status` shows it, `--timeout SECONDS` waits longer",
            file=sys.stderr,
        )
        return exits.TIMED_OUT
    if pid is None:
        print(
            "native-sync: nothing to flush: no sync is watching yet. "
            "`native-sync status` says where it is; the logs (docker logs) say why.",
            file=sys.stderr,
        )
        return exits.NOT_RUNNING
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError:
        print(
            f"native-sync: the fsmonitor (pid {pid}) is gone: unison is restarting; try again in a few "
            "seconds, or see `native-sync status`",
            file=sys.stderr,
        )
        return exits.NOT_RUNNING
    while time.monotonic() < deadline:
        now = shared.FsmonitorStatus.load(path)
        if now.pid == pid and now.flushes > before.flushes:
            print(
                f"native-sync: flushed: {_what(before.pending_changes)} both ways "
                f"(a full sync of {cfg.unison_src} and {cfg.unison_dest}) in "
                f"{time.monotonic() - started:.2f} s"
            )
            return exits.OK
        time.sleep(POLL)  # a short-lived command: nothing to stop it but the deadline
    print(
        f"native-sync: no full sync completed within {timeout:g} s; it may still be running: "
        "`native-sync status` shows it, `--timeout SECONDS` waits longer",
        file=sys.stderr,
    )
    return exits.TIMED_OUT


def _fsmonitor(cfg: Config, path: Path, deadline: float) -> shared.FsmonitorStatus:
    """The fsmonitor's status; while ``run`` is on its way to watching, its fsmonitor waited for.

    A cold start is healthy while unison indexes (issue 13): a flush right after
    ``docker compose up`` said healthy waits for the watch (within its timeout)
    instead of saying that nothing watches.
    """
    while True:
        found = shared.FsmonitorStatus.load(path)
        if found.pid is not None or time.monotonic() >= deadline or _on_its_way(cfg) is None:
            return found
        time.sleep(POLL)


def _on_its_way(cfg: Config) -> str | None:
    """The state of a live ``run`` that has not reached watching yet (``indexing``), else None."""
    run = shared.RunState.load(cfg.runtime_dir)
    if run.state not in (shared.State.STARTING, shared.State.INITIAL_SYNC, shared.State.INDEXING):
        return None
    if run.pid is None:
        return None
    try:
        os.kill(run.pid, 0)
    except ProcessLookupError:
        return None  # a state file left by a run that is gone
    except PermissionError:
        pass  # alive, another user's
    return run.state.value


def _what(pending: int) -> str:
    if pending == 0:
        return "no pending changes, everything checked"
    return f"{pending} pending change{'s' if pending != 1 else ''}"
