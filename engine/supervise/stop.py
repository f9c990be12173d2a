"""The stop sequence of ``run`` (SIGTERM, docker stop): each step logged, all within one budget.

The watchdog thread first (joined for at most ``monit.loop.JOIN_TIMEOUT``),
then unison (supervisord waits ``UNISON_STOPWAITSECS`` before SIGKILL), one
more unison pass both ways (the flush, at most FLUSH_TIMEOUT of what is left,
keeping SUPERVISORD_KEEP), and supervisord itself (the rest): together within
STOP_BUDGET, before docker stop's SIGKILL at 10 s.  A supervisord that does not
answer yet (a stop right after the start) is stopped before the flush instead:
it might start unison after it.  Whatever supervisord leaves in its session is
killed (:func:`engine.supervisord.kill_session`).  Before the flush both trees
are signed, and after a clean one the signatures are kept for the next warm
start (:mod:`engine.unison.stopmark`: 0.5 s at 400k files).
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

from engine import exits, supervisord
from engine.config import Config
from engine.deadline import Deadline
from engine.state import trust
from engine.supervise.watching import Watching
from engine.unison import emptied, launch, stopmark

STOP_BUDGET = 9.0
FLUSH_TIMEOUT = 6.0
SUPERVISORD_KEEP = 1.0
SUPERVISORD_WAIT = 3.0
SIGN_TIMEOUT = 2.0  # the trees signed for the next warm start: only from what the flush does not need

log = structlog.get_logger("native-sync")


class WatchdogHandle(Protocol):
    """The running watchdog as ``run`` holds it (:class:`monit.loop.WatchdogThread`; a fake in tests)."""

    def stop(self, timeout: float = ...) -> bool: ...


@dataclass
class StopSequence:
    """Stops what ``run`` started; ``sync`` runs the flush (:func:`monit.oneshot.sync_once`)."""

    cfg: Config
    client: supervisord.SupervisorClient
    observer: Watching
    sync: Callable[..., int]
    clock: Callable[[], float]
    sign: Callable[[Config, float], stopmark.Signed | None] = stopmark.sign  # both trees, before the flush

    def run(
        self, supervisor: supervisord.SupervisordProcess | None, watchdog: WatchdogHandle | None, flush: bool
    ) -> int:
        """Watchdog, unison, the flush (when ``flush``), supervisord. Returns the exit status."""
        deadline = Deadline(STOP_BUDGET, self.clock)
        log.info("stop.begin", budget=STOP_BUDGET)
        if supervisor is not None:
            try:
                if watchdog is not None:
                    stopped = watchdog.stop()
                    log.info("stop.watchdog_stopped", ended=stopped, remaining=round(deadline.remaining(), 3))
                self.client.stop("unison")
                log.info("stop.unison_stopped", remaining=round(deadline.remaining(), 3))
            except supervisord.SupervisorError as e:
                # not answering yet (a stop just after the start): it may still start unison, so
                # it goes first, and the flush is the last pass, with no unison left beside it
                log.warning("stop.unison_not_stopped", error=str(e))
                self.stop_supervisord(
                    supervisor, deadline.share(SUPERVISORD_WAIT, keep=FLUSH_TIMEOUT), last=False
                )
                supervisor = None
        code = exits.OK
        self.observer.follow(rest=True)
        if flush:
            signed = self.sign(self.cfg, deadline.share(SIGN_TIMEOUT, keep=FLUSH_TIMEOUT + SUPERVISORD_KEEP))
            code = self.flush(deadline.share(FLUSH_TIMEOUT, keep=SUPERVISORD_KEEP))
            if signed is not None and code == exits.OK and trust.TrustedArchive.take(self.cfg.runtime_dir):
                stopmark.save(self.cfg, signed)  # the flush synced every path: the archive holds both
        if supervisor is not None:
            self.stop_supervisord(supervisor, deadline.share(SUPERVISORD_WAIT))
        else:
            self.observer.close()
        log.info("stop.done", status=code, remaining=round(deadline.remaining(), 3))
        return code

    def flush(self, timeout: float) -> int:
        """One more unison pass, so nothing changed before the stop is left behind (a root
        emptied in place too: engine/unison/emptied.py)."""
        launch.clear_stale_locks(self.cfg)
        confirm = emptied.unison_args(self.cfg)
        try:
            self.sync(self.cfg, "stop.flush", timeout=timeout, events=self.observer.take, extra_args=confirm)
        except launch.SyncFailed as e:
            log.error("stop.flush_failed", error=str(e), timeout=round(timeout, 3))
            return exits.FAILED
        return exits.OK

    def stop_supervisord(
        self, supervisor: supervisord.SupervisordProcess, timeout: float, last: bool = True
    ) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` s, and what it left in its session; what unison
        said as it stopped is followed (``last``: and no more after it)."""
        supervisor.send_signal(signal.SIGTERM)
        try:
            supervisor.wait(timeout=timeout)
            log.info("stop.supervisord_stopped")
        except subprocess.TimeoutExpired:
            log.warning("stop.supervisord_killed", waited=round(timeout, 3))
            supervisor.kill()
            supervisor.wait()
        left = supervisord.kill_session(supervisor.pid)
        if left:
            log.warning("stop.leftovers_killed", pids=left)
        self.observer.follow(rest=True)
        if last:
            self.observer.close()
