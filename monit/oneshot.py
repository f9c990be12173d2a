"""One-shot unison runs, watched by the watchdog's rules: the initial sync, ``precopy``, the flush at stop.

:func:`sync_once` runs unison once over both roots, restarts it when it burns
CPU without reading or writing anything (docker-sync #497), reads its summary line and hands what it failed,
skipped or transferred to :mod:`engine.unison.reports`.
"""

from __future__ import annotations

import math
import os
import re
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence

import psutil
import structlog

from engine.config import Config
from engine.fs import owners
from engine.state.scancost import ScanCost
from engine.state.trust import TrustedArchive
from engine.unison import reasons, reports
from engine.unison.launch import (
    RootEmptied,
    SyncFailed,
    clear_stale_locks,
    once_command,
    one_shot_environment,
    sweep_litter,
)
from monit.sampler import TreeCpu
from monit.watchdog import Sample, Watchdog

log = structlog.get_logger("native-sync")

STOP_POLL = 0.05  # how often a stoppable one-shot looks at its stop event

# unison's summary: "(3 items transferred, 0 skipped, 1 failed)"
_TRANSFERRED = re.compile(rb"\((\d+) items? transferred, (\d+) skipped, (\d+) failed\)")
# its confirmbigdel check (src/uicommon.ml dangerousPathMsg), before it aborts with exit 3
_EMPTIED = re.compile(rb"(?:has|have) been completely emptied")


class Interrupted(Exception):
    """A one-shot run was stopped by its ``stop`` event (SIGTERM): unison was killed."""


def sync_once(
    cfg: Config,
    purpose: str,
    timeout: float | None = None,
    events: Callable[[list[reports.Event]], None] | None = None,
    extra_args: Sequence[str] = (),
    stop: threading.Event | None = None,
) -> int:
    """One unison pass over both roots; returns the number of items transferred.

    Logs ``<purpose>.done``; raises :class:`SyncFailed` when unison fails,
    cannot run, or takes longer than ``timeout`` seconds.  What unison failed,
    skipped or transferred goes to ``events`` (:mod:`engine.unison.reports`).  With
    the watchdog on, a unison that burns CPU is restarted by its rules
    (docker-sync #497).  ``extra_args`` go after the usual ones; a set
    ``stop`` kills unison and raises :class:`Interrupted`.  A pass with no
    failure leaves a :class:`TrustedArchive`: the watch-mode unison started
    next may skip its first scan (patch 0006), and the pass's CPU in UNISON
    (:mod:`engine.state.scancost`): what a full scan costs, the pace of watch
    mode's periodic rescans when its first cycle scans nothing.
    """
    started, began, cpu_before = time.monotonic(), time.time(), _children_cpu()
    TrustedArchive.take(cfg.runtime_dir)  # an earlier pass's, if any: this one decides
    deadline = None if timeout is None else started + timeout
    dog = Watchdog.for_config(cfg, stall_after=math.inf)  # a one-shot reports no pending changes
    restarted = False
    while True:
        output, returncode = _run_watched(
            cfg, purpose, deadline, dog, [*once_command(cfg), *extra_args], stop
        )
        if returncode is not None:
            break
        restarted = True
        dog.restarted(time.monotonic())
    text = output.decode("utf-8", "replace")
    owners.after_one_shot(cfg, output.decode("utf-8", "surrogateescape"))  # the app side: OWNER_UID:GROUP_ID
    reader = reports.Reader((str(cfg.unison_src), str(cfg.unison_dest)))
    reported = reports.merge(reader.feed_all(text))
    if events is not None:
        events(reported)
    match = _TRANSFERRED.search(output)
    items = int(match.group(1)) if match else 0
    if items or returncode or restarted:
        # unison wrote, failed or was killed: its temp files may be left.  A run that changed
        # nothing wrote none, and the names-only walk of both trees costs ~1 s at 400k files
        # on a warm start (issue 24); older litter is the watch mode's (the verifier's first walk)
        sweep_litter(cfg)
    if returncode >= 3 or (returncode and not match):
        tail = text.strip().splitlines()[-5:]
        if returncode >= 3 and _EMPTIED.search(output):
            raise RootEmptied(f"{purpose}: unison found a root emptied: {' | '.join(tail)}")
        raise SyncFailed(f"{purpose}: unison exited {returncode}: {' | '.join(tail)}")
    failed = sorted(
        {e.path for e in reported if isinstance(e, reports.Report) and not reasons.special(e.reason)}
    )
    (log.warning if failed else log.info)(
        f"{purpose}.done",
        items=items,
        failed=int(match.group(3)) if match else 0,
        skipped=int(match.group(2)) if match else 0,
        paths=failed[:20],
        seconds=round(time.monotonic() - started, 3),
        exit=returncode,
    )
    if returncode == 0 and not restarted:  # every path synced: the archive holds both trees
        try:
            TrustedArchive(began).save(cfg.runtime_dir)
        except OSError as e:  # no runtime folder yet: watch mode scans in full, as stock
            log.debug("trusted_archive.unwritten", error=str(e))
        ScanCost(max(0.0, _children_cpu() - cpu_before)).save(cfg.unison_dir)
    return items


def _children_cpu() -> float:
    """The CPU seconds (user and system) of the child processes this process has waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_watched(
    cfg: Config,
    purpose: str,
    deadline: float | None,
    dog: Watchdog,
    command: list[str],
    stop: threading.Event | None,
) -> tuple[bytes, int | None]:
    """One one-shot unison: (stdout + stderr, exit status), or (b"", None) after a restart for CPU."""
    try:
        proc = subprocess.Popen(
            command,
            env=one_shot_environment(cfg),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # killed with its whole group on a restart
        )
    except OSError as e:
        raise SyncFailed(f"{purpose}: unison did not run: {e}") from e
    cpu, io = TreeCpu(), TreeIo()
    cpu.measure(proc.pid)
    io.progressed(proc.pid)
    next_sample = time.monotonic() + cfg.monit_interval
    while True:
        waits = [STOP_POLL] if stop is not None else []
        if cfg.monit_enable:
            waits.append(max(0.0, next_sample - time.monotonic()))
        if deadline is not None:
            waits.append(max(0.0, deadline - time.monotonic()))
        try:
            out, err = proc.communicate(timeout=min(waits) if waits else None)
            # stderr first: its [BGN] lines tell the side of stdout's `Failed [path]` lines
            return err + b"\n" + out, proc.returncode
        except subprocess.TimeoutExpired:
            pass
        if stop is not None and stop.is_set():
            _kill(proc)
            raise Interrupted(f"{purpose}: stopped")
        if deadline is not None and time.monotonic() >= deadline:
            _kill(proc)
            raise SyncFailed(f"{purpose}: unison did not finish in time (killed)")
        if not cfg.monit_enable or time.monotonic() < next_sample:
            continue
        next_sample = time.monotonic() + cfg.monit_interval
        busy = cpu.measure(proc.pid)
        if io.progressed(proc.pid):
            busy = 0.0  # reading and writing: a big tree's scan at full speed, not a stuck unison
        verdict = dog.step(time.monotonic(), Sample(cpu=busy))
        if verdict is not None:
            log.warning(
                "unison.restarted",
                reason=verdict.reason,
                during=purpose,
                samples=[round(x, 1) for x in verdict.samples],
                pid=proc.pid,
            )
            _kill(proc)
            clear_stale_locks(cfg)
            return b"", None


class TreeIo:
    """Did a process tree read or write anything since the last call (``/proc/PID/io``)?

    A one-shot over a big tree burns a core for as long as its scan takes (400k
    files, no archive yet: a minute); the CPU rule restarted it again and again
    (issue 24).  docker-sync #497's unison spins without doing any I/O: that one
    is still restarted.
    """

    def __init__(self) -> None:
        self._last: tuple[int, int] | None = None  # (pid, the tree's counters summed)

    def progressed(self, pid: int) -> bool:
        total = 0
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return False
        for one in procs:
            try:
                c = one.io_counters()
            except (psutil.Error, AttributeError):
                continue
            total += c.read_count + c.write_count + c.read_chars + c.write_chars
        last, self._last = self._last, (pid, total)
        return last is not None and last[0] == pid and total > last[1]


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()
