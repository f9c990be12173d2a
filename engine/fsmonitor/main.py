"""``unison-fsmonitor``: the process watch-mode unison starts; builds the rooms and serves.

Wires the :class:`~engine.fsmonitor.monitor.Monitor` to the watcher
(:mod:`.inotify`), the drift verifier's thread (:mod:`.verifier`) and the
ownership hook (:mod:`engine.fs.owners`, when root), then runs the select loop
(:mod:`.select_loop`) until unison closes our stdin.
"""

from __future__ import annotations

import functools
import os
import time

import structlog

from engine import program
from engine.fs.owners import Owners
from engine.fs.paths import PERMS
from engine.fsmonitor.caseguard import CaseGuard
from engine.fsmonitor.casescreen import CaseScreen
from engine.fsmonitor.inotify import Watcher
from engine.fsmonitor.monitor import Monitor
from engine.fsmonitor.protocol import quote
from engine.fsmonitor.select_loop import serve, write_lines
from engine.fsmonitor.verifier import VerifierThread
from engine.state import shared

log = structlog.get_logger("fsmonitor")


def main() -> int:
    """Entry point of the ``unison-fsmonitor`` executable."""
    cfg = program.start("fsmonitor", say=lambda message: write_lines(1, [f"ERROR {quote(message)}"]))
    from engine.fs.compare import differs

    ignored = cfg.ignore.ignored  # validated by the config: unison and this filter agree
    roots = shared.Roots.load(cfg.runtime_dir)  # probed at start (engine/startup/probe.py)
    perms = 0 if roots.host.permissions is False else PERMS
    if perms != PERMS:
        differs = functools.partial(differs, perms=0)
    status_dir = cfg.runtime_dir / shared.FSMONITOR_DIR
    owners = Owners.for_config(cfg)
    watcher = Watcher(ignored)
    verifier = VerifierThread(
        ignored,
        cfg.verify_interval,
        fold=roots.host_insensitive,
        perms=perms,
        host=str(cfg.unison_src),
        since=cfg.trusted_since,
    )
    monitor = Monitor(
        watcher=watcher,
        differs=differs,
        rescan_interval=cfg.rescan_interval,
        status_file=status_dir / "fsmonitor.json" if status_dir.is_dir() else None,
        listeners=[] if owners is None else [owners],
        verifier=verifier,
        case=CaseScreen(CaseGuard(watcher.roots, str(cfg.unison_src)) if roots.host_insensitive else None),
    )
    verifier.start()  # off (0): one walk for temp files, then it ends
    log.info("fsmonitor.start", unison_pid=os.getppid(), ignores=len(cfg.ignores))
    monitor.publish(time.monotonic())  # tells status that this unison's fsmonitor runs
    try:
        return serve(monitor, watcher, verifier)
    except KeyboardInterrupt:
        return 0
