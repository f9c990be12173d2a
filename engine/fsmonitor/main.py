"""``unison-fsmonitor``: the process watch-mode unison starts; builds the rooms and serves.

:func:`wire` builds, from the Config and the probed roots, the watcher
(:mod:`.inotify`), the drift verifier's thread (:mod:`.verifier`), the
ownership hook (:mod:`engine.fs.owners`, when root), the case guard (a host
that folds names) and the :class:`~engine.fsmonitor.monitor.Monitor` over
them; :func:`main` starts the verifier and runs the select loop
(:mod:`.select_loop`) until unison closes our stdin.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import structlog

from engine import program
from engine.config import Config
from engine.fs.compare import differs
from engine.fs.owners import Owners
from engine.fs.paths import PERMS
from engine.fsmonitor.caseguard import CaseGuard
from engine.fsmonitor.inotify import Watcher
from engine.fsmonitor.monitor import Monitor, build_monitor
from engine.fsmonitor.protocol import quote
from engine.fsmonitor.select_loop import serve, write_lines
from engine.fsmonitor.verifier import VerifierThread
from engine.state import shared, trust
from engine.state.scancost import ScanCost

log = structlog.get_logger("fsmonitor")


@dataclass(frozen=True)
class Wired:
    """What the select loop reads from: the monitor, the watcher, the verifier (not started)."""

    monitor: Monitor
    watcher: Watcher
    verifier: VerifierThread


def wire(cfg: Config, roots: shared.Roots) -> Wired:
    """The rooms for ``cfg``, against roots as probed at start (:mod:`engine.startup.probe`)."""
    ignored = cfg.ignore.ignored  # validated by the config: unison and this filter agree
    perms = 0 if roots.host.permissions is False else PERMS  # a host that keeps no modes
    status_dir = cfg.runtime_dir / shared.FSMONITOR_DIR
    owners = Owners.for_config(cfg)
    watcher = Watcher(ignored)
    host, fold = str(cfg.unison_src), roots.host_insensitive
    verifier = VerifierThread(
        ignored, cfg.verify_interval, fold=fold, perms=perms, host=host, since=cfg.trusted_since
    )
    carried = ScanCost.load(cfg.unison_dir)
    monitor = build_monitor(
        watcher,
        differs if perms == PERMS else functools.partial(differs, perms=perms),
        rescan_interval=cfg.rescan_interval,
        rescan_paced=cfg.rescan_paced,
        carried_cost=0.0 if carried is None else carried.cpu_seconds,
        trusted=cfg.trusted_since is not None,
        remember=lambda cost: ScanCost(cost).save(cfg.unison_dir),
        status_file=status_dir / "fsmonitor.json" if status_dir.is_dir() else None,
        listeners=() if owners is None else (owners,),
        verifier=verifier,
        guard=CaseGuard(watcher.roots, host) if fold else None,
        stopped_changes=trust.TrustedChanges.take(cfg.runtime_dir).changed if cfg.trusted_since else (),
    )
    return Wired(monitor, watcher, verifier)


def main() -> int:
    """Entry point of the ``unison-fsmonitor`` executable."""
    cfg = program.start("fsmonitor", say=lambda message: write_lines(1, [f"ERROR {quote(message)}"]))
    wired = wire(cfg, shared.Roots.load(cfg.runtime_dir))
    wired.verifier.start()  # off (0): one walk for temp files, then it ends
    log.info("fsmonitor.start", unison_pid=os.getppid(), ignores=len(cfg.ignores))
    try:
        return serve(wired.monitor, wired.watcher, wired.verifier)
    except KeyboardInterrupt:
        return 0
