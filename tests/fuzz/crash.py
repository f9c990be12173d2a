"""Crashes for the fuzzer: ``kill -9`` of watch-mode unison, or of the whole engine and a restart.

A whole-engine kill stops every process of the engine first (``entrypoint.py
run``, supervisord, unison, its fsmonitor, a one-shot unison), so none of
them sees another die and reacts, then kills them all, as a crash of the
container would; the engine then starts again on the same folders (``UNISON``,
the runtime folder), as docker's restart policy would.  A unison kill leaves
the rest running: supervisord starts unison again.
"""

from __future__ import annotations

import signal
from pathlib import Path

import psutil

from engine.fs.paths import is_unison_temp
from engine.state import shared
from tests.helpers import Engine, wait_for

KINDS = ("unison", "engine")
UP = 60.0  # seconds a unison may take to run again (a restart's initial sync included)


def _gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _monitor(engine: Engine) -> shared.FsmonitorStatus:
    return shared.FsmonitorStatus.load(engine.runtime / shared.FSMONITOR_FILE)


def watching_unison(engine: Engine) -> int | None:
    """The pid of watch-mode unison once its fsmonitor runs (it has started properly), else None."""
    pid = shared.UnisonStatus.load(engine.runtime).pid
    if pid is None or _monitor(engine).unison_pid != pid:
        return None
    try:
        proc = psutil.Process(pid)
        return pid if proc.name().startswith("unison") and not _gone(proc) else None
    except psutil.NoSuchProcess:
        return None


def syncs(engine: Engine) -> tuple[int | None, int]:
    """(the fsmonitor's unison, the sync cycles it has completed): a cycle ends once unison has
    written its archives and waits for changes again.  A file that arrived was not
    necessarily carried by the last cycle to end: see :func:`cycle_ended`."""
    monitor = _monitor(engine)
    return monitor.unison_pid, monitor.syncs


def cycle_under_way(engine: Engine) -> tuple[int | None, int]:
    """Read once a sync's effect is seen (a file arrived): (the fsmonitor's unison, the cycles
    begun), which counts the cycle that made it (the fsmonitor writes a cycle's beginning
    before unison hears the answer that begins it)."""
    monitor = _monitor(engine)
    return monitor.unison_pid, monitor.cycles_begun


def cycle_ended(engine: Engine, under_way: tuple[int | None, int]) -> bool:
    """The cycle ``under_way`` (:func:`cycle_under_way`) has ended: unison has recorded what
    it synced (archive or journal) and waits again; or that unison is gone."""
    pid, begun = syncs(engine)
    return pid != under_way[0] or begun >= under_way[1]


def kill_unison(engine: Engine) -> int:
    """``kill -9`` the watch-mode unison (once it runs); its pid."""
    pid = wait_for(lambda: watching_unison(engine), UP, "a running watch-mode unison to kill")
    proc = psutil.Process(pid)
    proc.send_signal(signal.SIGKILL)
    wait_for(lambda: _gone(proc), 10, f"unison {pid} gone after kill -9")
    return pid


def kill_engine(engine: Engine) -> int:
    """Every process of the engine stopped, then killed (``kill -9``); how many there were.

    0 (and nothing killed, everything running on) when exactly one root is empty then: the
    start after the crash may refuse to run (the mass-deletion guard)."""
    assert engine.proc is not None
    root = psutil.Process(engine.proc.pid)
    frozen: dict[int, psutil.Process] = {}
    while True:  # stopped from the top down, until the tree holds nothing that still runs
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        fresh = [p for p in tree if p.pid not in frozen]
        if not fresh:
            break
        for proc in fresh:
            try:
                proc.send_signal(signal.SIGSTOP)
            except psutil.NoSuchProcess:
                pass
            frozen[proc.pid] = proc
    if empty(engine.host) != empty(engine.app):
        # the mass-deletion guard may refuse the restart (engine/startup/safety.py: a root
        # emptied that unison's archive knew files in), as it should: no crash this time
        for proc in frozen.values():
            try:
                proc.send_signal(signal.SIGCONT)
            except psutil.NoSuchProcess:
                pass
        return 0
    for proc in frozen.values():
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    engine.proc.wait(timeout=10)
    wait_for(lambda: all(_gone(p) for p in frozen.values()), 10, "every engine process gone after kill -9")
    return len(frozen)


def empty(root: Path) -> bool:
    """Nothing in ``root`` but unison's temp files (a transfer under way: the start after the
    crash removes them, and the guard then finds the root empty; seed 4204)."""
    return all(is_unison_temp(p.name) for p in root.iterdir())


def restart(engine: Engine) -> None:
    """Start the engine again on the same folders after a crash (it makes itself ready).

    Returns once the start has looked at the roots (the mass-deletion guard asks whether a
    root is empty at that moment: a rule's deletion made before it would be refused, as a
    volume that did not come up, and one made after it is carried) or the engine has exited.
    """
    begun = len(engine.events("initial_sync.start"))
    engine.start()
    assert engine.proc is not None
    proc = engine.proc
    wait_for(
        lambda: len(engine.events("initial_sync.start")) > begun or proc.poll() is not None,
        UP,
        "the restarted engine past its guard",
    )


def transfer_begun(root: Path) -> bool:
    """unison writes a file into ``root`` (one of its temp files is there)."""
    return any(is_unison_temp(p.name) for p in root.rglob(".unison.*"))
