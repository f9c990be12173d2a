"""``native-sync flush``: ask the running fsmonitor for a full sync, wait for it."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from engine import status
from engine.config import Config

NOT_RUNNING = 1
TIMED_OUT = 4


def flush(cfg: Config, timeout: float) -> int:
    """Signal the fsmonitor (SIGUSR1) and wait until a full sync has completed."""
    path = cfg.runtime_dir / status.FSMONITOR_FILE
    before = status.FsmonitorStatus.load(path)
    pid = before.pid
    if pid is None:
        print("native-sync: no fsmonitor is running (is `native-sync run` watching?)", file=sys.stderr)
        return NOT_RUNNING
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError:
        print(f"native-sync: the fsmonitor (pid {pid}) is gone", file=sys.stderr)
        return NOT_RUNNING
    deadline = time.monotonic() + timeout
    waiter = threading.Event()
    while time.monotonic() < deadline:
        now = status.FsmonitorStatus.load(path)
        if now.pid == pid and now.flushes > before.flushes:
            return 0
        waiter.wait(0.02)
    print(f"native-sync: no full sync completed within {timeout:g} s", file=sys.stderr)
    return TIMED_OUT
