"""The watchdog loop: sample every MONIT_INTERVAL s, restart unison through supervisord.

It runs as a thread of ``run`` (:class:`WatchdogThread`; a second interpreter
cost about 28 MB of RSS), talking to supervisord over its own XML-RPC
connection, so it restarts unison whether unison, its fsmonitor or ``run``'s
main loop are stuck.  ``python -m monit`` runs the same loop alone.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import structlog

from engine import program
from engine.config import Config
from engine.state import shared
from engine.supervisord import Client, SupervisorError
from monit.sampler import TreeCpu, sample
from monit.watchdog import Sample, Watchdog

log = structlog.get_logger("watchdog").bind(process="watchdog")
JOIN_TIMEOUT = 1.0  # the loop ends at once on stop: it waits on the event, never sleeps


class SupervisorClient(Protocol):
    """What the watchdog asks of supervisord (:class:`engine.supervisord.Client`; a fake in tests)."""

    def info(self, name: str) -> dict[str, object]: ...

    def restart(self, name: str) -> None: ...


class Stop(Protocol):
    """A stop event: ``threading.Event`` (a fake in tests)."""

    def wait(self, timeout: float | None = None) -> bool: ...


def unison_pid(client: SupervisorClient) -> int | None:
    """The pid of supervisord's running ``unison`` program, if it runs."""
    info = client.info("unison")
    pid = info.get("pid")
    return pid if info.get("statename") == "RUNNING" and isinstance(pid, int) and pid > 0 else None


def watch(
    dog: Watchdog,
    client: SupervisorClient,
    observe: Callable[[int | None], Sample],
    runtime_dir: Path,
    interval: float,
    stop: Stop,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Every ``interval`` s until ``stop``: observe unison, restart it when ``dog`` says so.

    The reason is recorded (``restart-reason.json``) before the restart, so
    the unison program that starts next reports it.
    """
    while not stop.wait(interval):
        try:
            pid = unison_pid(client)
        except SupervisorError as e:
            log.warning("watchdog.supervisor_unreachable", error=str(e))
            continue
        observed = observe(pid)
        spared = len(dog.spared)
        verdict = dog.step(clock(), observed)
        if len(dog.spared) > spared:  # a full scan's busy sample, not counted
            log.info("watchdog.scan", cpu=round(dog.spared[-1], 1), spared=len(dog.spared), pid=pid)
        if verdict is None:
            continue
        log.warning(
            "unison.restart",
            reason=verdict.reason,
            samples=[round(s, 1) for s in verdict.samples],
            pending_for=observed.pending_for,
            pid=pid,
        )
        shared.RestartReason(verdict.reason).save(runtime_dir)
        try:
            client.restart("unison")
        except SupervisorError as e:
            log.error("unison.restart_failed", error=str(e))
        grace = dog.restarted(clock())
        log.info("watchdog.backoff", seconds=grace, recent_restarts=dog.recent_restarts)


def run_watchdog(cfg: Config, stop: Stop) -> None:
    """The watchdog until ``stop`` is set."""
    client = Client(cfg.supervisor_socket)
    dog = Watchdog.for_config(cfg)
    cpu = TreeCpu()
    log.info(
        "watchdog.start",
        interval=cfg.monit_interval,
        threshold=cfg.monit_cpu_threshold,
        cycles=cfg.monit_high_cpu_cycles,
        stall_after=cfg.monit_stall_seconds,
    )
    try:
        cpu.measure(unison_pid(client))  # the baseline of the first cycle
    except SupervisorError:
        pass
    watch(
        dog,
        client,
        lambda pid: sample(cpu, pid, cfg.runtime_dir, cfg.unison_dir),
        cfg.runtime_dir,
        cfg.monit_interval,
        stop,
    )


class WatchdogThread:
    """The watchdog as a thread of ``run``: :meth:`start` it, :meth:`stop` it."""

    def __init__(self, cfg: Config) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=run_watchdog, args=(cfg, self._stop), name="watchdog", daemon=True
        )

    @classmethod
    def start(cls, cfg: Config) -> WatchdogThread:
        running = cls(cfg)
        running._thread.start()
        return running

    def stop(self, timeout: float = JOIN_TIMEOUT) -> bool:
        """Ask the loop to end; True if it did within ``timeout`` s."""
        self._stop.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()


def main() -> int:
    """``python -m monit``: the loop alone, until SIGTERM or SIGINT."""
    cfg = program.start("watchdog")
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    run_watchdog(cfg, stop)
    return 0
