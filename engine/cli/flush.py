"""``native-sync flush``: ask the running fsmonitor for a full sync, wait for it."""

from __future__ import annotations

import os
import signal
import sys
import time

from engine import exits
from engine.config import Config
from engine.state import shared

POLL = 0.02


def flush(cfg: Config, timeout: float) -> int:
    """Signal the fsmonitor (SIGUSR1) and wait until a full sync has completed."""
    path = cfg.runtime_dir / shared.FSMONITOR_FILE
    before = shared.FsmonitorStatus.load(path)
    pid = before.pid
    if pid is None:
        print(
            "native-sync: nothing to flush: no sync is watching yet. "
            "`native-sync status` says where it is; the logs (docker logs) say why.",
            file=sys.stderr,
        )
        return exits.NOT_RUNNING
    started = time.monotonic()
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError:
        print(
            f"native-sync: the fsmonitor (pid {pid}) is gone: unison is restarting; try again in a few "
            "seconds, or see `native-sync status`",
            file=sys.stderr,
        )
        return exits.NOT_RUNNING
    deadline = started + timeout
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


def _what(pending: int) -> str:
    if pending == 0:
        return "no pending changes, everything checked"
    return f"{pending} pending change{'s' if pending != 1 else ''}"
