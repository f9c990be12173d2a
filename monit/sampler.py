"""What the watchdog observes: how busy the unison program's process tree is (CPU used or awaited),
stalls, and whether unison is in a full scan (:mod:`engine.state.scans`)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil

from engine.state import scans, shared
from engine.state.scancost import ScanCost
from monit.watchdog import Sample


class TreeCpu:
    """How busy a process and all its children were between two calls, in % of one core.

    Busy is the time the tree ran plus the time it was ready to run and waited for a
    core (the kernel's run-queue delay, ``/proc/PID/task/TID/schedstat``).  A unison
    that spins is ready to run all the time: 100 % a spinning thread whether it got
    the whole core or, on a loaded machine, a fifth of it (issue 26: two spinning
    processes measured 25-40 % of CPU at load 9 on two cores, and a stuck one-shot
    ran 71 s before two samples in a row passed 50 %).  A unison that waits for
    its fsmonitor or the disk is not ready to run: that time does not count.
    Without schedstat (a kernel built without it) only the CPU used counts.
    """

    def __init__(self) -> None:
        self._last: tuple[int, float, float] | None = None  # (pid, wall, busy seconds)

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
                total += times.user + times.system + run_queue_wait(proc.pid)
            except psutil.Error:
                continue
        wall = time.monotonic()
        last, self._last = self._last, (pid, wall, total)
        if last is None or last[0] != pid or wall <= last[1]:
            return None
        return max(0.0, (total - last[2]) / (wall - last[1]) * 100.0)


def run_queue_wait(pid: int) -> float:
    """Seconds the threads of ``pid`` that still run have waited for a core; 0.0 if unknown."""
    waited = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                waited += int(f.read().split()[1])  # on cpu, waiting on a run queue, slices: ns
        except (OSError, ValueError, IndexError):
            continue
    return waited / 1e9


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


def full_scan(runtime_dir: Path, unison_dir: Path, pid: int | None) -> tuple[tuple[int, int] | None, float]:
    """The full scan unison ``pid`` is in, as ``(pid, its number)`` (None: none), and what the
    last one measured cost in CPU seconds (0.0: unknown; read only while one is under way)."""
    number = None if pid is None else scans.under_way(runtime_dir / shared.FSMONITOR_DIR, pid)
    if pid is None or number is None:
        return None, 0.0
    cost = ScanCost.load(unison_dir)
    return (pid, number), 0.0 if cost is None else cost.cpu_seconds


def sample(cpu: TreeCpu, pid: int | None, runtime_dir: Path, unison_dir: Path) -> Sample:
    scan, cost = full_scan(runtime_dir, unison_dir, pid)
    return Sample(
        cpu=cpu.measure(pid),
        pending_for=pending_for(runtime_dir, time.time(), pid),
        scan=scan,
        scan_cost=cost,
    )
