"""``native-sync flush``: ask the running fsmonitor for a full sync, wait for it."""

from __future__ import annotations

import os
import signal
import sys
import time

from engine import exits, statefiles
from engine.config import Config

POLL = 0.02


def flush(cfg: Config, timeout: float) -> int:
    """Signal the fsmonitor (SIGUSR1) and wait until a full sync has completed."""
    path = cfg.runtime_dir / statefiles.FSMONITOR_FILE
    before = statefiles.FsmonitorStatus.load(path)
    pid = before.pid
    if pid is None:
        print("native-sync: no fsmonitor is running (is `native-sync run` watching?)", file=sys.stderr)
        return exits.NOT_RUNNING
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError:
        print(f"native-sync: the fsmonitor (pid {pid}) is gone", file=sys.stderr)
        return exits.NOT_RUNNING
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = statefiles.FsmonitorStatus.load(path)
        if now.pid == pid and now.flushes > before.flushes:
            return exits.OK
        time.sleep(POLL)  # a short-lived command: nothing to stop it but the deadline
    print(f"native-sync: no full sync completed within {timeout:g} s", file=sys.stderr)
    return exits.TIMED_OUT
