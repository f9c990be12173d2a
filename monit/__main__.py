"""supervisord's ``watchdog`` program: sample every MONIT_INTERVAL s, restart unison."""

from __future__ import annotations

import signal
import sys
import threading
import time
from types import FrameType

import structlog

from engine import launch, program
from engine.supervisord import Client, SupervisorError
from monit.sampler import TreeCpu, sample
from monit.watchdog import Watchdog

log = structlog.get_logger("watchdog")


def unison_pid(client: Client) -> int | None:
    """The pid of supervisord's running ``unison`` program, if it runs."""
    info = client.info("unison")
    pid = info.get("pid")
    return pid if info.get("statename") == "RUNNING" and isinstance(pid, int) and pid > 0 else None


def main() -> int:
    cfg = program.start("watchdog")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    client = Client(cfg.supervisor_socket)
    dog = Watchdog(
        threshold=cfg.monit_cpu_threshold,
        cycles=cfg.monit_high_cpu_cycles,
        stall_after=cfg.monit_stall_seconds,
        base_grace=max(10.0, 2 * cfg.monit_interval),
    )
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
    while not stop.wait(cfg.monit_interval):
        try:
            pid = unison_pid(client)
        except SupervisorError as e:
            log.warning("watchdog.supervisor_unreachable", error=str(e))
            continue
        observed = sample(cpu, pid, cfg.runtime_dir)
        verdict = dog.step(time.monotonic(), observed)
        if verdict is None:
            continue
        log.warning(
            "unison.restart",
            reason=verdict.reason,
            samples=[round(s, 1) for s in verdict.samples],
            pending_for=observed.pending_for,
            pid=pid,
        )
        (cfg.runtime_dir / launch.RESTART_REASON_FILE).write_text(verdict.reason, encoding="utf-8")
        try:
            client.restart("unison")
        except SupervisorError as e:
            log.error("unison.restart_failed", error=str(e))
        grace = dog.restarted(time.monotonic())
        log.info("watchdog.backoff", seconds=grace, recent_restarts=dog.recent_restarts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
