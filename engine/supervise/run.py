"""``run``: prepare, initial sync, supervise, flush at stop.

Check the volumes and the mass-deletion guard; a one-shot unison brings
APP_VOLUME to the host's content (a quick scan on a warm start, with
archives kept in UNISON) and sets its owner; then supervisord runs watch-mode
unison, ``run`` starts the watchdog thread, and ``state.json`` says ``watching`` as soon as
unison runs (its first scan finds nothing left to do, and anything changed
meanwhile is in that scan or in the fsmonitor's watches).  While it runs,
``run`` follows unison's output and checks the roots (:mod:`engine.supervise.watching`:
forwarded to its stdout, problems per path, roots unison can still use,
which ``health`` requires).  SIGTERM stops
the watchdog and unison, runs one more unison pass (the flush) and stops
supervisord, all within STOP_BUDGET seconds, and exits 0.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

import structlog

from engine import exits, health, statefiles, supervisord, unison
from engine.config import Config
from engine.deadline import Deadline
from engine.jsonfile import now_iso
from engine.startup import coldstart, fastcopy, oneshot, preflight, probe, runtime, safety
from engine.startup.initial_sync import cold_start, initial_sync
from engine.supervise.watching import Watching

POLL = 0.05  # until healthy
WATCH_POLL = 0.5  # while healthy
# The stop sequence fits docker stop's 10 s: the watchdog thread (joined for at
# most monit.loop.JOIN_TIMEOUT), unison (UNISON_STOPWAITSECS), the flush (at most
# FLUSH_TIMEOUT of what is left, keeping SUPERVISORD_KEEP), supervisord (the rest).
STOP_BUDGET = 9.0
FLUSH_TIMEOUT = 6.0
SUPERVISORD_KEEP = 1.0
SUPERVISORD_WAIT = 3.0
FSMONITOR_WAIT = 10.0  # after indexing: seconds ``watching`` may wait for unison's fsmonitor

log = structlog.get_logger("native-sync")


class Watchdog(Protocol):
    """The running watchdog (:class:`monit.loop.WatchdogThread`; a fake in tests)."""

    def stop(self, timeout: float = ...) -> bool: ...


def _watchdog_thread(cfg: Config) -> Watchdog:
    from monit.loop import WatchdogThread  # psutil is loaded only when the watchdog runs

    return WatchdogThread.start(cfg)


class Runner:
    """The life of ``run``: one instance, driven from :meth:`run`.

    ``client`` and ``sync`` are seams for tests (default: supervisord's
    XML-RPC client on ``cfg.supervisor_socket``, :func:`oneshot.sync_once`).
    """

    def __init__(
        self,
        cfg: Config,
        client: supervisord.SupervisorClient | None = None,
        sync: Callable[..., int] = oneshot.sync_once,
        clock: Callable[[], float] = time.monotonic,
        watchdog: Callable[[Config], Watchdog] | None = None,
    ) -> None:
        self.cfg = cfg
        self.stop = threading.Event()
        self.supervisor: supervisord.SupervisordProcess | None = None
        self.client: supervisord.SupervisorClient = client or supervisord.Client(cfg.supervisor_socket)
        self.sync = sync
        self.clock = clock
        self.healthy = False
        self.state = statefiles.RunState(pid=os.getpid())
        self.observer = Watching(cfg, clock)
        self.indexing = False  # a cold start made the volume usable: healthy before watching
        self.unison_seen: float | None = None  # when watch-mode unison was first seen running
        # the watchdog: a thread of this process (monit/loop.py), started with supervisord
        self.start_watchdog = watchdog or _watchdog_thread
        self.watchdog: Watchdog | None = None

    def _signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop.set()

    def set_state(self, state: statefiles.State, **fields: Any) -> None:
        """``state.json`` says ``state`` (and ``fields``), from now on."""
        self.state = dataclasses.replace(self.state, state=state, **fields)
        self.state.save(self.cfg.runtime_dir)

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._signal)
        cfg = self.cfg
        try:
            runtime.prepare(cfg)
        except preflight.Misconfigured as e:
            log.error("start.failed", error=str(e))
            return exits.STARTUP_FAILURE
        warnings = tuple(preflight.mount_warnings(cfg))
        self.state = dataclasses.replace(self.state, warnings=warnings)
        self.state.save(cfg.runtime_dir)
        log.info(
            "start", src=str(cfg.unison_src), dest=str(cfg.unison_dest), uid=cfg.owner_uid, gid=cfg.group_id
        )
        for warning in warnings:
            log.warning("mount.missing", warning=warning)
        runtime.set_inotify_limit(cfg)
        started = time.monotonic()
        try:
            preflight.check(cfg)
            safety.check(cfg)
            probe.probe_roots(cfg)
            self.set_state(statefiles.State.INITIAL_SYNC)
            unison.clear_stale_locks(cfg)
            if coldstart.wanted(cfg):
                self.observer.take(cold_start(cfg, self.stop, self._usable))
            else:
                self.observer.take(initial_sync(cfg))
                self.set_state(
                    statefiles.State.INITIAL_SYNC, initial_sync_done=True, initial_sync_at=now_iso()
                )
        except fastcopy.Stopped:
            return self._finish(flush=False)
        except (
            safety.MassDeletionRefused,
            unison.SyncFailed,
            preflight.Misconfigured,
            coldstart.ColdStartFailed,
        ) as e:
            log.error("start.failed", error=str(e))
            self.set_state(statefiles.State.FAILED, error=str(e))
            return exits.STARTUP_FAILURE
        if self.stop.is_set():
            return self._finish(flush=False)
        supervisord.write(cfg)
        self.supervisor = supervisord.spawn(cfg)
        if cfg.monit_enable:
            self.watchdog = self.start_watchdog(cfg)
        try:
            return self._supervise(started)
        except BaseException:
            # supervisord runs in its own session: never leave it (and unison) behind
            log.exception("run.crashed")
            self.set_state(statefiles.State.FAILED, error="native-sync crashed: see the logs")
            self._stop_supervisor(SUPERVISORD_WAIT)
            raise

    def _usable(self) -> None:
        """The cold start's copy is complete: healthy, ``indexing`` until changes flow."""
        self.indexing = True
        self.set_state(statefiles.State.INDEXING, initial_sync_done=True, initial_sync_at=now_iso())
        self._mark_health()

    def _supervise(self, started: float) -> int:
        watching = False
        while not self.stop.wait(WATCH_POLL if watching and self.healthy else POLL):  # fast until healthy
            assert self.supervisor is not None
            self.observer.follow()
            if self.supervisor.poll() is not None:
                log.error("supervisord.exited", status=self.supervisor.returncode)
                self.set_state(statefiles.State.FAILED, error="supervisord exited")
                return exits.FAILED
            if not watching and self._unison_running() and self._changes_flow():
                watching = True
                self.set_state(statefiles.State.WATCHING)
                log.info("watching", seconds_to_ready=round(time.monotonic() - started, 3))
            if watching:
                self._check()
                self._mark_health()
        return self._finish(flush=True)

    def _check(self) -> None:
        """Every few seconds: can unison still use both roots (``health`` needs it); problems rechecked."""
        checked, error = self.observer.check()
        if not checked or error == self.state.roots_error:
            return
        if error:
            log.warning("roots.unusable", error=error)
        else:
            log.info("roots.usable")
        self.set_state(self.state.state, roots_error=error)

    def _mark_health(self) -> None:
        """Keep ``SYNC_RUNTIME_DIR/healthy`` present exactly while ``health`` would pass.

        The image's HEALTHCHECK tests that file instead of starting Python
        every few seconds; each change is logged.
        """
        now_healthy = health.healthy(health.collect(self.cfg.runtime_dir))
        if now_healthy == self.healthy:
            return
        self.healthy = now_healthy
        marker = self.cfg.runtime_dir / statefiles.HEALTHY_FILE
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
        return bool(health.collect(self.cfg.runtime_dir)["fsmonitor"])

    def _unison_running(self) -> bool:
        """supervisord runs unison, and its program has recorded it (status shows its pid)."""
        try:
            info = self.client.info("unison")
        except supervisord.SupervisorError:
            return False  # not listening yet
        recorded = statefiles.UnisonStatus.load(self.cfg.runtime_dir).pid
        return info.get("statename") == "RUNNING" and recorded == info.get("pid")

    def _finish(self, flush: bool) -> int:
        """SIGTERM: stop the watchdog, then unison, flush both ways, stop supervisord.

        Each step is logged and takes its time from one STOP_BUDGET deadline,
        so the whole sequence ends before docker stop's SIGKILL.
        """
        deadline = Deadline(STOP_BUDGET, self.clock)
        self.set_state(statefiles.State.STOPPING)
        (self.cfg.runtime_dir / statefiles.HEALTHY_FILE).unlink(missing_ok=True)
        log.info("stop.begin", budget=STOP_BUDGET)
        if self.supervisor is not None:
            try:
                if self.watchdog is not None:
                    stopped = self.watchdog.stop()
                    log.info("stop.watchdog_stopped", ended=stopped, remaining=round(deadline.remaining(), 3))
                self.client.stop("unison")
                log.info("stop.unison_stopped", remaining=round(deadline.remaining(), 3))
            except supervisord.SupervisorError as e:
                log.warning("stop.unison_not_stopped", error=str(e))
        code = exits.OK
        self.observer.follow(rest=True)
        if flush:
            code = self._flush(deadline.share(FLUSH_TIMEOUT, keep=SUPERVISORD_KEEP))
        if self.supervisor is not None:
            self._stop_supervisor(deadline.share(SUPERVISORD_WAIT))
        if code:
            self.set_state(statefiles.State.FAILED, error="the flush at stop failed")
        log.info("stop.done", status=code, remaining=round(deadline.remaining(), 3))
        return code

    def _flush(self, timeout: float) -> int:
        """One more unison pass, so nothing changed before the stop is left behind."""
        unison.clear_stale_locks(self.cfg)
        try:
            self.sync(self.cfg, "stop.flush", timeout=timeout, events=self.observer.take)
        except unison.SyncFailed as e:
            log.error("stop.flush_failed", error=str(e), timeout=round(timeout, 3))
            return exits.FAILED
        return exits.OK

    def _stop_supervisor(self, timeout: float) -> None:
        assert self.supervisor is not None
        self.supervisor.send_signal(signal.SIGTERM)
        try:
            self.supervisor.wait(timeout=timeout)
            log.info("stop.supervisord_stopped")
        except subprocess.TimeoutExpired:
            log.warning("stop.supervisord_killed", waited=round(timeout, 3))
            self.supervisor.kill()
            self.supervisor.wait()
        self.observer.follow(rest=True)  # what unison said as it stopped
        self.observer.close()
