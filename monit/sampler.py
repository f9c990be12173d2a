"""What the watchdog observes: CPU of the unison program's process tree, stalls."""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from engine.state import shared
from monit.watchdog import Sample


class TreeCpu:
    """CPU use of a process and all its children between two calls, in % of one core."""

    def __init__(self) -> None:
        self._last: tuple[int, float, float] | None = None  # (pid, wall, cpu seconds)

    def measure(self, pid: int | None) -> float | None:
        if not pid:
            self._last = None
            return None
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            self._last = None
            return None
        total = 0.0
        for proc in procs:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                continue
        wall = time.monotonic()
        last, self._last = self._last, (pid, wall, total)
        if last is None or last[0] != pid or wall <= last[1]:
            return None
        return max(0.0, (total - last[2]) / (wall - last[1]) * 100.0)


def pending_for(runtime_dir: Path, now: float, pid: int | None = None) -> float | None:
    """Seconds the fsmonitor's reported changes have waited for a completed sync.

    With ``pid`` (unison's, as supervisord knows it): only an fsmonitor that serves that
    unison counts; the file a dead one left (unison held while a root is not the folder it
    was: engine/unison/emptied.py) says nothing about the unison that runs now.
    """
    monitor = shared.FsmonitorStatus.load(runtime_dir / shared.FSMONITOR_FILE)
    if monitor.pending_since is None or (pid is not None and monitor.unison_pid != pid):
        return None
    return max(0.0, now - monitor.pending_since)


def sample(cpu: TreeCpu, pid: int | None, runtime_dir: Path) -> Sample:
    return Sample(cpu=cpu.measure(pid), pending_for=pending_for(runtime_dir, time.time(), pid))
