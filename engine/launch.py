"""supervisord's ``unison`` program: tidy up, count the restart, become unison.

Runs before every (re)start of watch-mode unison: removes archive locks a
killed unison left behind (docker-sync #452, only when no unison of these
roots runs), records the start and why it happened in ``unison.json``, drops
to OWNER_UID:GROUP_ID and execs unison, so supervisord supervises unison
itself.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import psutil
import structlog

from engine import config as config_mod
from engine import ownership, program, status, unison

RESTART_REASON_FILE = "restart-reason"
QUICK_EXIT = 5.0  # a unison that dies sooner than this, before its fsmonitor ran, failed to start
MAX_DELAY = 30.0

log = structlog.get_logger("launch")


def unison_running(cfg: config_mod.Config) -> bool:
    """Is a unison on these two roots alive (other than this process)?"""
    roots = {str(r) for r in cfg.roots}
    name = os.path.basename(cfg.unison_bin)
    for proc in psutil.process_iter(["name", "cmdline", "pid"]):
        if proc.info["pid"] == os.getpid() or proc.info["name"] != name:
            continue
        if roots <= set(proc.info["cmdline"] or ()):
            return True
    return False


def clear_stale_locks(cfg: config_mod.Config) -> list[str]:
    """Remove unison's lock files when no unison of these roots runs."""
    locks = unison.lock_files(cfg)
    if not locks or unison_running(cfg):
        return []
    removed = []
    for lock in locks:
        try:
            lock.unlink()
            removed.append(lock.name)
        except FileNotFoundError:
            pass
    if removed:
        log.warning("unison.stale_locks_removed", locks=removed)
    return removed


def record_start(cfg: config_mod.Config) -> dict[str, object]:
    """Count this start; every start after the first is a restart with a reason.

    A unison that exited within QUICK_EXIT seconds without ever starting its
    fsmonitor could not start at all (a bad argument, an fsmonitor that cannot
    run): such starts are counted in ``quick_exits`` and delayed, doubling up
    to MAX_DELAY, so a broken setup does not spin; ``status`` reports
    ``failed`` from the third on.
    """
    path = cfg.runtime_dir / status.UNISON_FILE
    data = status.read_json(path)
    starts = int(data.get("starts", 0)) + 1
    now = time.time()
    quick_exits = 0
    if data.get("pid") is not None:
        monitor = status.read_json(cfg.runtime_dir / status.FSMONITOR_FILE)
        never_watched = monitor.get("unison_pid") != data.get("pid")
        if never_watched and now - float(data.get("started_at", 0)) < QUICK_EXIT:
            quick_exits = int(data.get("quick_exits", 0)) + 1
    fields: dict[str, object] = {"starts": starts, "quick_exits": quick_exits}
    if quick_exits:
        delay = min(MAX_DELAY, 0.25 * 2**quick_exits)
        log.error("unison.quick_exit", quick_exits=quick_exits, retry_in=delay)
        status.update_json(path, **fields)
        threading.Event().wait(delay)
    fields.update(pid=os.getpid(), started_at=time.time())
    if starts > 1:
        reason_file = cfg.runtime_dir / RESTART_REASON_FILE
        try:
            reason = reason_file.read_text(encoding="utf-8").strip() or "exit"
            reason_file.unlink()
        except FileNotFoundError:
            reason = "exit"
        fields["restarts"] = int(data.get("restarts", 0)) + 1
        fields["last_restart_reason"] = reason
        fields["last_restart_at"] = status.now_iso()
        log.warning("unison.restarted", reason=reason, restarts=fields["restarts"])
    return status.update_json(path, **fields)


def main() -> int:
    cfg = program.start("launch")
    clear_stale_locks(cfg)
    record_start(cfg)
    env = unison.environment(cfg)
    command = unison.watch_command(cfg)
    log.info("unison.exec", command=command, uid=cfg.owner_uid, gid=cfg.group_id)
    ownership.become(cfg.owner_uid, cfg.group_id)
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    sys.exit(main())
