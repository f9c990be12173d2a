"""supervisord's ``unison`` program: tidy up, count the restart, become unison.

Runs before every (re)start of watch-mode unison: removes archive locks a
killed unison left behind (docker-sync #452, only when no unison of these
roots runs), records the start and why it happened in ``unison.json``, lets
the first start after a one-shot skip unison's first scan
(:mod:`engine.state.trust`) and execs unison, so supervisord supervises
unison itself.  A root emptied since the start (engine/unison/emptied.py): in
place, unison is told the deletion is meant (``-confirmbigdel=false``);
another folder or none (a volume that went away), unison is not started until
the folder is back, so supervisord does not start it again and again while
``run`` says why in ``status``.  unison runs as the container's user: as root
it reads and writes both roots whatever their modes, and creates what it
writes as its owner (patch 0005, engine/fs/owners.py).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import time

import structlog

from engine import config as config_mod
from engine import program
from engine.state import jsonfile, shared, trust
from engine.unison import emptied, launch

QUICK_EXIT = 5.0  # a unison that dies sooner than this, before its fsmonitor ran, failed to start
MAX_DELAY = 30.0
HOLD_POLL = 2.0  # seconds between looks at a root that is not the folder run started on
REQUESTED = "requested"  # the reason the image's supervisorctl records before it restarts unison

log = structlog.get_logger("unison-program")


def record_start(cfg: config_mod.Config) -> shared.UnisonStatus:
    """Count this start; every start after the first is a restart with a reason.

    A unison that exited within QUICK_EXIT seconds without ever starting its
    fsmonitor could not start at all (a bad argument, an fsmonitor that cannot
    run): such starts are counted in ``quick_exits`` and delayed, doubling up
    to MAX_DELAY, so a broken setup does not spin; ``status`` reports
    ``failed`` from the third on.
    """
    last = shared.UnisonStatus.load(cfg.runtime_dir)
    record = dataclasses.replace(last, starts=last.starts + 1, quick_exits=0)
    if last.pid is not None:
        monitor = jsonfile.read_json(cfg.runtime_dir / shared.FSMONITOR_FILE)
        never_watched = monitor.get("unison_pid") != last.pid
        if never_watched and time.time() - last.started_at < QUICK_EXIT:
            record = dataclasses.replace(record, quick_exits=last.quick_exits + 1)
    if record.quick_exits:
        delay = min(MAX_DELAY, 0.25 * 2**record.quick_exits)
        log.error("unison.quick_exit", quick_exits=record.quick_exits, retry_in=delay)
        record.save(cfg.runtime_dir)
        # Nothing here waits for a signal: supervisord's SIGTERM ends this process as it sleeps.
        time.sleep(delay)
    record = dataclasses.replace(record, pid=os.getpid(), started_at=time.time())
    if record.starts > 1:
        told = shared.RestartReason.take(cfg.runtime_dir)
        reason = told.reason if told else "exit"
        record = dataclasses.replace(
            record,
            restarts=last.restarts + 1,
            last_restart_reason=reason,
            last_restart_at=jsonfile.now_iso(),
        )
        # `supervisorctl restart unison` (docker-sync does it at every start) is no crash
        (log.info if reason == REQUESTED else log.warning)(
            "unison.restarted", reason=reason, restarts=record.restarts
        )
    record.save(cfg.runtime_dir)
    return record


def hold(cfg: config_mod.Config) -> bool:
    """Wait while a root is emptied and not the folder ``run`` started on; False if stopped meanwhile.

    ``run`` says why in ``status`` (its roots check asks :func:`emptied.refusal` too).
    """
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    log.info("unison.held", hint="see status: a root is not the folder native-sync started on")
    while emptied.refusal(cfg) is not None:
        if stop.wait(HOLD_POLL):
            return False
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    log.info("unison.released")
    return True


def main() -> int:
    cfg = program.start("launch")
    launch.clear_stale_locks(cfg)
    record = record_start(cfg)
    if emptied.refusal(cfg) is not None:
        if not hold(cfg):
            return 0
        dataclasses.replace(record, started_at=time.time()).save(cfg.runtime_dir)  # unison starts now
    env = launch.environment(cfg)
    trusted = trust.TrustedArchive.take(cfg.runtime_dir)
    trust.TrustedChanges.take(cfg.runtime_dir)  # an earlier start's, if its unison never ran
    if trusted is not None and cfg.verify_interval != 0:  # the verifier's first pass finds the gap
        env = launch.trusting(env, trusted.since)
        if trusted.changed:  # a warm start: what changed while stopped, for the fsmonitor to report
            trust.TrustedChanges(trusted.changed).save(cfg.runtime_dir)
        log.info("unison.trusts_archive", since=jsonfile.now_iso(trusted.since), changed=len(trusted.changed))
    command = [*launch.watch_command(cfg), *emptied.unison_args(cfg)]
    log.info("unison.exec", command=command, uid=os.geteuid(), gid=os.getegid())
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    sys.exit(main())
