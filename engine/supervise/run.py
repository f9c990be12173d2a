"""``run``: prepare, initial sync, supervise, flush at stop.

Check the volumes and the mass-deletion guard; a one-shot unison brings
APP_VOLUME to the host's content and sets its owner (:mod:`engine.startup`;
a warm start, with archives kept in UNISON, mostly leaves that to watch
mode's first cycle, which ``watching`` then waits for); then
supervisord runs watch-mode unison, ``run`` starts the watchdog thread, and
``state.json`` says ``watching`` as soon as unison runs (its first scan finds
nothing left to do, and anything changed meanwhile is in that scan or in the
fsmonitor's watches).  While it runs, ``run`` follows unison's output and
checks the roots (:mod:`engine.supervise.watching`) and keeps the
``healthy`` marker (:class:`engine.health.Marker`), gone whichever way ``run``
ends.  SIGTERM runs the stop sequence (:mod:`engine.supervise.stop`) and
exits 0.  ``state.json`` moves only as :mod:`engine.supervise.transitions` allows.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import structlog

from engine import exits, health, supervisord
from engine.config import RETIRED, Config
from engine.fs import access
from engine.startup import fastcopy, runtime
from engine.startup.initial_sync import START_FAILURES, bring_up
from engine.state import shared
from engine.state.jsonfile import now_iso
from engine.supervise import transitions
from engine.supervise.readiness import Readiness
from engine.supervise.stop import SUPERVISORD_WAIT, StopSequence, WatchdogHandle
from engine.supervise.watching import Watching
from engine.unison import launch, leftovers
from monit import oneshot
from monit.loop import WatchdogThread

READY_POLL = 0.02  # until watching: unison's first cycle ends, ``watching`` follows within this
POLL = 0.05  # watching, until healthy
WATCH_POLL = 0.5  # while healthy

log = structlog.get_logger("native-sync")


class Runner:
    """The life of ``run``: one instance, driven from :meth:`run`.

    ``client``, ``sync``, ``clock`` and ``watchdog`` are seams for tests
    (default: supervisord's XML-RPC client on ``cfg.supervisor_socket``,
    :func:`oneshot.sync_once`, ``time.monotonic``, the watchdog thread).
    """

    def __init__(
        self,
        cfg: Config,
        client: supervisord.SupervisorClient | None = None,
        sync: Callable[..., int] = oneshot.sync_once,
        clock: Callable[[], float] = time.monotonic,
        watchdog: Callable[[Config], WatchdogHandle] | None = None,
    ) -> None:
        self.cfg = cfg
        self.stop = threading.Event()
        self.supervisor: supervisord.SupervisordProcess | None = None
        self.client: supervisord.SupervisorClient = client or supervisord.Client(cfg.supervisor_socket)
        self.clock = clock
        self.state = shared.RunState(pid=os.getpid())
        self.observer = Watching(cfg, clock)
        self.marker = health.Marker(cfg.runtime_dir)
        self.stopper = StopSequence(cfg, self.client, self.observer, sync, clock)
        self.started = clock()  # when the start-up sequence began (seconds_to_ready counts from here)
        self.readiness = Readiness(cfg, self.client, clock, caught_up=self.observer.follow)
        # the watchdog: a thread of this process (monit/loop.py), started with supervisord
        self.start_watchdog = watchdog or WatchdogThread.start
        self.watchdog: WatchdogHandle | None = None

    def _signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop.set()

    def set_state(self, state: shared.State, **fields: Any) -> None:
        """``state.json`` says ``state`` from now on (a move not in :data:`transitions.ALLOWED` raises)."""
        transitions.check(self.state.state, state)
        self.note(state=state, **fields)

    def note(self, **fields: Any) -> None:
        """``state.json`` says ``fields`` too, in the same state (warnings, a root's error)."""
        self.state = dataclasses.replace(self.state, **fields)
        self.state.save(self.cfg.runtime_dir)

    def run(self) -> int:
        """Start, watch, stop; whichever way it ends, the ``healthy`` marker is gone."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._signal)
        try:
            return self._run()
        except BaseException:
            log.exception("run.crashed")
            if self.state.state is not shared.State.FAILED:
                self.set_state(shared.State.FAILED, error="native-sync crashed: see the logs")
            if self.supervisor is not None:  # in its own session: never left behind, nor unison
                self.stopper.stop_supervisord(self.supervisor, SUPERVISORD_WAIT)
            raise
        finally:
            self.marker.clear()  # a start that failed, supervisord gone, a stop, a crash

    def _run(self) -> int:
        code = self._start()
        if code is not None:
            return code
        supervisord.write(self.cfg)
        self.supervisor = supervisord.spawn(self.cfg)
        if self.cfg.monit_enable:
            self.watchdog = self.start_watchdog(self.cfg)
        return self._supervise()

    def _start(self) -> int | None:
        """Prepare and bring APP_VOLUME up to date; an exit status when ``run`` ends here."""
        cfg = self.cfg
        try:
            runtime.prepare(cfg)
        except access.Misconfigured as e:
            log.error("start.failed", error=str(e))
            return exits.STARTUP_FAILURE
        self.note(warnings=_announce(cfg))
        runtime.set_inotify_limit(cfg)
        self.started = self.clock()
        crashed = leftovers.begin(cfg)  # the run before did not stop: what its unison left is looked for
        try:
            up = functools.partial(bring_up, deferred=self.readiness.defer)  # run may leave it to watch mode
            self.observer.take(up(cfg, self.stop, self._usable, self._checked, self._synced))
        except fastcopy.Stopped:  # the cold start said what it carried and what the next start resumes
            return self._finish(flush=False)
        except oneshot.Interrupted:  # the warm start's one-shot: the flush is that pass again
            return self._finish(flush=True)
        except START_FAILURES as e:
            log.error("start.failed", error=str(e))
            self.set_state(shared.State.FAILED, error=str(e))
            return exits.STARTUP_FAILURE
        if crashed:
            self.observer.recover()
        if self.stop.is_set():  # the initial sync is done: the flush carries what changed since
            return self._finish(flush=True)
        return None

    def _checked(self) -> None:
        """Preflight passed: the initial sync begins."""
        self.set_state(shared.State.INITIAL_SYNC)
        launch.clear_stale_locks(self.cfg)

    def _synced(self) -> None:
        self.note(initial_sync_done=True, initial_sync_at=now_iso())

    def _usable(self) -> None:
        """The cold start's copy is complete: healthy, ``indexing`` until changes flow."""
        self.set_state(shared.State.INDEXING, initial_sync_done=True, initial_sync_at=now_iso())
        self.marker.update(self.state)

    def _supervise(self) -> int:
        watching = False
        while not self.stop.wait(_poll(watching, self.marker.healthy)):
            assert self.supervisor is not None
            self.observer.follow()
            if self.supervisor.poll() is not None:
                log.error("supervisord.exited", status=self.supervisor.returncode)
                self.set_state(shared.State.FAILED, error="supervisord exited")
                return exits.FAILED
            if not watching and (watching := self.readiness.watching()):
                self.set_state(shared.State.WATCHING, **self.readiness.ready(self.clock() - self.started))
            if watching:
                self._check()
                self.marker.update(self.state)
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
        self.note(roots_error=error)

    def _finish(self, flush: bool) -> int:
        """SIGTERM: ``stopping``, unhealthy, the stop sequence; ``failed`` if its flush failed."""
        self.set_state(shared.State.STOPPING)
        self.marker.clear()
        code = self.stopper.run(self.supervisor, self.watchdog, flush)
        if code == exits.OK:
            leftovers.ended(self.cfg)
        if code:
            self.set_state(shared.State.FAILED, error="the flush at stop failed")
        return code


def _poll(watching: bool, healthy: bool) -> float:
    """Seconds to the next look: fast until watching, then until healthy, then slow."""
    if not watching:
        return READY_POLL
    return WATCH_POLL if healthy else POLL


def _announce(cfg: Config) -> tuple[str, ...]:
    """The start logged: the folders and owner, a mount that is missing, a retired setting; the warnings."""
    warnings = tuple(access.mount_warnings(cfg))
    uid, gid = cfg.owner
    log.info("start", src=str(cfg.unison_src), dest=str(cfg.unison_dest), uid=uid, gid=gid)
    for warning in warnings:
        log.warning("mount.missing", warning=warning)
    for name in cfg.retired:
        log.warning("config.retired", variable=name, why=RETIRED[name])
    return warnings
