"""``run`` and ``precopy``: prepare, initial sync, supervise, flush at stop.

``run``: check the volumes and the mass-deletion guard; a one-shot unison
brings APP_VOLUME to the host's content (a quick scan on a warm start, with
archives kept in UNISON) and sets its owner; then supervisord runs watch-mode
unison and the watchdog, and ``state.json`` says ``watching`` as soon as
unison runs (its first scan finds nothing left to do, and anything changed
meanwhile is in that scan or in the fsmonitor's watches).  SIGTERM stops
unison, runs one more unison pass (the flush) and exits 0.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import structlog

from engine import coldstart, fastcopy, launch, ownership, safety, status, supervisord, unison
from engine.config import Config

STARTUP_FAILURE = 3
OWNER_MARK = "native-sync.owner"  # in UNISON: the owner APP_VOLUME was last given
POLL = 0.05  # until healthy
WATCH_POLL = 0.5  # while healthy
FLUSH_TIMEOUT = 6.0
FSMONITOR_WAIT = 10.0  # after indexing: seconds ``watching`` may wait for unison's fsmonitor

log = structlog.get_logger("native-sync")

_TRANSFERRED = re.compile(rb"\((\d+) items? transferred, (\d+) skipped, (\d+) failed\)")


class SyncFailed(Exception):
    """A one-shot unison run failed (unison's exit status 3, or it could not run)."""


def prepare(cfg: Config) -> None:
    """Runtime folders, the fsmonitor executable, UNISON, owned where they must be."""
    for folder in (cfg.runtime_dir, cfg.runtime_dir / "bin", cfg.runtime_dir / status.FSMONITOR_DIR):
        folder.mkdir(parents=True, exist_ok=True)
    os.chmod(cfg.runtime_dir, 0o755)
    wrapper = cfg.runtime_dir / "bin" / "unison-fsmonitor"
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(supervisord.CODE_DIR)!r})\n"
        "from engine.fsmonitor import main\n"
        "sys.exit(main())\n",
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    used = unison.fsmonitor_dir(cfg)
    if used != wrapper.parent:
        log.info("fsmonitor.from_path", reason=f"{cfg.runtime_dir} is mounted noexec", using=str(used))
    cfg.unison_dir.mkdir(parents=True, exist_ok=True)
    if ownership.can_switch(cfg.owner_uid, cfg.group_id):
        for path in (cfg.unison_dir, cfg.runtime_dir / status.FSMONITOR_DIR, cfg.unison_dest):
            os.chown(path, cfg.owner_uid, cfg.group_id)
    for stale in (status.FSMONITOR_FILE, status.UNISON_FILE, launch.RESTART_REASON_FILE, status.HEALTHY_FILE):
        (cfg.runtime_dir / stale).unlink(missing_ok=True)


def set_inotify_limit(cfg: Config) -> None:
    """Raise ``fs.inotify.max_user_watches`` to MAX_INOTIFY_WATCHES if allowed."""
    if cfg.max_inotify_watches is None:
        return
    knob = Path("/proc/sys/fs/inotify/max_user_watches")
    try:
        current = int(knob.read_text())
        if current >= cfg.max_inotify_watches:
            return
        knob.write_text(str(cfg.max_inotify_watches))
        log.info("inotify.limit_raised", before=current, after=cfg.max_inotify_watches)
    except (OSError, ValueError) as e:
        log.warning(
            "inotify.limit_unchanged",
            wanted=cfg.max_inotify_watches,
            error=str(e),
            hint="MAX_INOTIFY_WATCHES needs a privileged container (or set it on the host)",
        )


def sync_once(cfg: Config, purpose: str) -> int:
    """One unison pass over both roots; returns the number of items transferred."""
    started = time.monotonic()
    command = unison.once_command(cfg)
    try:
        done = subprocess.run(
            command,
            env=unison.one_shot_environment(cfg),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=None if purpose != "flush" else FLUSH_TIMEOUT,
            **ownership.subprocess_ids(cfg.owner_uid, cfg.group_id),
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SyncFailed(f"{purpose}: unison did not run: {e}") from e
    output = done.stdout + done.stderr
    match = _TRANSFERRED.search(output)
    items = int(match.group(1)) if match else 0
    if done.returncode >= 3 or (done.returncode and not match):
        tail = output.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise SyncFailed(f"{purpose}: unison exited {done.returncode}: {' | '.join(tail)}")
    log.info(
        f"{purpose}.done",
        items=items,
        failed=int(match.group(3)) if match else 0,
        seconds=round(time.monotonic() - started, 3),
        exit=done.returncode,
    )
    return items


def initial_sync(cfg: Config) -> None:
    """The one-shot initial sync, then ownership of APP_VOLUME.

    The ownership walk runs when the owner is not known to be right already:
    on a cold start (no archive) or after OWNER_UID/GROUP_ID changed.
    """
    started = time.monotonic()
    cold = not unison.has_archive(cfg)
    log.info("initial_sync.start", src=str(cfg.unison_src), dest=str(cfg.unison_dest), cold=cold)
    items = sync_once(cfg, "initial_sync.unison")
    owner_file = cfg.unison_dir / OWNER_MARK
    owner = f"{cfg.owner_uid}:{cfg.group_id} {cfg.unison_dest}"
    files = 0
    if cold or _read(owner_file) != owner:
        files = ownership.chown_tree(cfg.unison_dest, cfg.owner_uid, cfg.group_id)
        record_owner(cfg)
    log.info(
        "initial_sync.done",
        items=items,
        owner_checked=files,
        seconds=round(time.monotonic() - started, 3),
    )


def record_owner(cfg: Config) -> None:
    """Note in UNISON the owner APP_VOLUME has now (the next start skips the walk)."""
    try:
        (cfg.unison_dir / OWNER_MARK).write_text(
            f"{cfg.owner_uid}:{cfg.group_id} {cfg.unison_dest}", encoding="utf-8"
        )
    except OSError as e:
        log.warning("initial_sync.owner_not_recorded", error=str(e))


def cold_start(cfg: Config, stop: threading.Event, usable: Callable[[], None]) -> None:
    """Issue 13: a fast copy makes the volume usable, then unison indexes (engine/coldstart.py).

    The copy gives every entry its owner, so no ownership walk follows.
    """
    started = time.monotonic()
    log.info(
        "initial_sync.start", src=str(cfg.unison_src), dest=str(cfg.unison_dest), cold=True, fast_copy=True
    )
    files = coldstart.run(cfg, stop, usable)
    record_owner(cfg)
    log.info("initial_sync.done", items=files, seconds=round(time.monotonic() - started, 3), fast_copy=True)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def precopy(cfg: Config) -> int:
    """docker-sync's ``precopy_appsync``: the initial sync alone."""
    prepare(cfg)
    try:
        safety.check(cfg)
        if coldstart.wanted(cfg):
            cold_start(cfg, threading.Event(), lambda: None)
        else:
            initial_sync(cfg)
    except (safety.MassDeletionRefused, SyncFailed, coldstart.ColdStartFailed) as e:
        log.error("precopy.failed", error=str(e))
        return STARTUP_FAILURE
    return 0


class Runner:
    """The life of ``run``: one instance, driven from :meth:`run`."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.stop = threading.Event()
        self.state_file = cfg.runtime_dir / status.STATE_FILE
        self.supervisor: subprocess.Popen[bytes] | None = None
        self.client = supervisord.Client(cfg.supervisor_socket)
        self.healthy = False
        self.indexing = False  # a cold start made the volume usable: healthy before watching
        self.unison_seen: float | None = None  # when watch-mode unison was first seen running

    def _signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop.set()

    def set_state(self, state: str, **fields: object) -> None:
        status.update_json(self.state_file, state=state, **fields)

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._signal)
        cfg = self.cfg
        prepare(cfg)
        status.write_json(
            self.state_file, {"state": "starting", "pid": os.getpid(), "initial_sync_done": False}
        )
        log.info(
            "start", src=str(cfg.unison_src), dest=str(cfg.unison_dest), uid=cfg.owner_uid, gid=cfg.group_id
        )
        set_inotify_limit(cfg)
        started = time.monotonic()
        try:
            safety.check(cfg)
            self.set_state("initial-sync")
            launch.clear_stale_locks(cfg)
            if coldstart.wanted(cfg):
                cold_start(cfg, self.stop, self._usable)
            else:
                initial_sync(cfg)
                self.set_state("initial-sync", initial_sync_done=True, initial_sync_at=status.now_iso())
        except fastcopy.Stopped:
            return self._finish(flush=False)
        except (safety.MassDeletionRefused, SyncFailed, coldstart.ColdStartFailed) as e:
            log.error("start.failed", error=str(e))
            self.set_state("failed", error=str(e))
            return STARTUP_FAILURE
        if self.stop.is_set():
            return self._finish(flush=False)
        supervisord.write(cfg)
        self.supervisor = supervisord.spawn(cfg)
        try:
            return self._supervise(started)
        except BaseException:
            # supervisord runs in its own session: never leave it (and unison) behind
            log.exception("run.crashed")
            self.set_state("failed", error="native-sync crashed: see the logs")
            self._stop_supervisor()
            raise

    def _usable(self) -> None:
        """The cold start's copy is complete: healthy, ``indexing`` until changes flow."""
        self.indexing = True
        self.set_state("indexing", initial_sync_done=True, initial_sync_at=status.now_iso())
        self._mark_health()

    def _supervise(self, started: float) -> int:
        watching = False
        while not self.stop.wait(WATCH_POLL if watching and self.healthy else POLL):  # fast until healthy
            assert self.supervisor is not None
            if self.supervisor.poll() is not None:
                log.error("supervisord.exited", status=self.supervisor.returncode)
                self.set_state("failed", error="supervisord exited")
                return 1
            if not watching and self._unison_running() and self._changes_flow():
                watching = True
                self.set_state("watching")
                log.info("watching", seconds_to_ready=round(time.monotonic() - started, 3))
            if watching:
                self._mark_health()
        return self._finish(flush=True)

    def _mark_health(self) -> None:
        """Keep ``SYNC_RUNTIME_DIR/healthy`` present exactly while ``health`` would pass.

        The image's HEALTHCHECK tests that file instead of starting Python
        every few seconds; each change is logged.
        """
        now_healthy = status.healthy(status.collect(self.cfg.runtime_dir))
        if now_healthy == self.healthy:
            return
        self.healthy = now_healthy
        marker = self.cfg.runtime_dir / status.HEALTHY_FILE
        if now_healthy:
            marker.touch()
        else:
            marker.unlink(missing_ok=True)
        log.info("health", healthy=now_healthy)

    def _changes_flow(self) -> bool:
        """After ``indexing`` (healthy already), ``watching`` waits for the fsmonitor too: no flapping.

        Not for ever: a unison whose fsmonitor does not come within
        FSMONITOR_WAIT s is ``watching`` and unhealthy, as after a warm start.
        """
        if not self.indexing:
            return True
        if self.unison_seen is None:
            self.unison_seen = time.monotonic()
        if time.monotonic() - self.unison_seen > FSMONITOR_WAIT:
            return True
        return bool(status.collect(self.cfg.runtime_dir)["fsmonitor"])

    def _unison_running(self) -> bool:
        """supervisord runs unison, and the launcher has recorded it (status shows its pid)."""
        try:
            info = self.client.info("unison")
        except supervisord.SupervisorError:
            return False  # not listening yet
        recorded = status.read_json(self.cfg.runtime_dir / status.UNISON_FILE).get("pid")
        return info.get("statename") == "RUNNING" and recorded == info.get("pid")

    def _finish(self, flush: bool) -> int:
        """SIGTERM: stop unison, flush both ways, stop supervisord. Each step logged."""
        self.set_state("stopping")
        (self.cfg.runtime_dir / status.HEALTHY_FILE).unlink(missing_ok=True)
        log.info("stop.begin")
        if self.supervisor is not None:
            try:
                if self.cfg.monit_enable:
                    self.client.stop("watchdog")
                self.client.stop("unison")
                log.info("stop.unison_stopped")
            except supervisord.SupervisorError as e:
                log.warning("stop.unison_not_stopped", error=str(e))
        status_code = 0
        if flush:
            launch.clear_stale_locks(self.cfg)
            try:
                sync_once(self.cfg, "stop.flush")
            except SyncFailed as e:
                log.error("stop.flush_failed", error=str(e))
                status_code = 1
        if self.supervisor is not None:
            self._stop_supervisor()
        if status_code:
            self.set_state("failed", error="the flush at stop failed")
        log.info("stop.done", status=status_code)
        return status_code

    def _stop_supervisor(self) -> None:
        assert self.supervisor is not None
        self.supervisor.send_signal(signal.SIGTERM)
        try:
            self.supervisor.wait(timeout=3)
        except subprocess.TimeoutExpired:
            log.warning("stop.supervisord_killed")
            self.supervisor.kill()
            self.supervisor.wait()
