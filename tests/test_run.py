"""engine/supervise/run.py's Runner with a fake supervisord: the stop sequence's order and budget."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from engine import exits, health, supervisord
from engine.config import Config, load
from engine.state import shared
from engine.supervise import readiness, run, stop
from engine.unison import launch
from monit.loop import JOIN_TIMEOUT
from tests.fakes import FakeClock, FakeSupervisorClient, FakeSupervisord, FakeWatchdog, TickingStop


class Clock:
    """A monotonic clock that moves only when a fake step takes time."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def config(tmp_path: Path, **env: str) -> Config:
    runtime = tmp_path / "rt"
    runtime.mkdir()
    return load({"SYNC_RUNTIME_DIR": str(runtime), "UNISON": str(tmp_path / "unison"), **env})


def rig(
    tmp_path: Path, clock: Clock | None = None, **env: str
) -> tuple[run.Runner, list[tuple[str, str]], FakeSupervisord]:
    calls: list[tuple[str, str]] = []
    client = FakeSupervisorClient(calls=calls).running("unison", 42)

    def sync(
        cfg: Config, purpose: str, timeout: float | None = None, events: Any = None, extra_args: Any = ()
    ) -> int:
        calls.append(("sync", purpose))
        return 0

    watchdog = FakeWatchdog(calls=calls)
    runner = run.Runner(
        config(tmp_path, **env), client=client, sync=sync, clock=clock or Clock(0.0), watchdog=watchdog.start
    )
    if runner.cfg.monit_enable:
        runner.watchdog = watchdog.start(runner.cfg)  # as run() does once supervisord runs
    process = FakeSupervisord(calls=calls)
    runner.supervisor = process
    return runner, calls, process


def test_stop_order_watchdog_unison_flush_supervisord(tmp_path: Path) -> None:
    runner, calls, _ = rig(tmp_path)
    assert runner._finish(flush=True) == exits.OK
    assert calls == [
        ("stop", "watchdog"),
        ("stop", "unison"),
        ("sync", "stop.flush"),
        ("signal", "SIGTERM"),
        ("wait", "supervisord"),
    ]
    assert shared.RunState.load(runner.cfg.runtime_dir).state is shared.State.STOPPING


def test_without_the_watchdog_only_unison_is_stopped(tmp_path: Path) -> None:
    runner, calls, _ = rig(tmp_path, MONIT_ENABLE="false")
    runner._finish(flush=True)
    assert calls[:2] == [("stop", "unison"), ("sync", "stop.flush")]


def test_a_stop_before_supervisord_ran_neither_flushes_nor_stops_programs(tmp_path: Path) -> None:
    runner, calls, _ = rig(tmp_path)
    runner.supervisor = None
    assert runner._finish(flush=False) == exits.OK
    assert calls == []


def test_a_failed_flush_still_stops_supervisord_and_says_failed(tmp_path: Path) -> None:
    runner, calls, _ = rig(tmp_path)

    def failing(
        cfg: Config, purpose: str, timeout: float | None = None, events: Any = None, extra_args: Any = ()
    ) -> int:
        calls.append(("sync", purpose))
        raise launch.SyncFailed("stop.flush: unison exited 3")

    runner.stopper.sync = failing
    assert runner._finish(flush=True) == exits.FAILED
    assert calls[-2:] == [("signal", "SIGTERM"), ("wait", "supervisord")]
    saved = shared.RunState.load(runner.cfg.runtime_dir)
    assert saved.state is shared.State.FAILED
    assert saved.error == "the flush at stop failed"


def test_an_unreachable_supervisord_does_not_stop_the_flush(tmp_path: Path) -> None:
    runner, calls, _ = rig(tmp_path)
    assert isinstance(runner.client, FakeSupervisorClient)
    runner.client.failing.add("stop")
    assert runner._finish(flush=True) == exits.OK
    assert ("sync", "stop.flush") in calls


@pytest.mark.parametrize("start", [0.0, 1e9 + 0.3, 12345.678901])
def test_the_worst_case_stop_fits_the_budget(tmp_path: Path, start: float) -> None:
    """Every step takes all it may: the sum stays within STOP_BUDGET (docker stop: 10 s)."""
    clock = Clock(start)
    runner, calls, process = rig(tmp_path, clock)
    process.exits_on_term = False  # supervisord ignores SIGTERM: waited for, then killed
    stopwait = {"unison": supervisord.UNISON_STOPWAITSECS}
    assert isinstance(runner.watchdog, FakeWatchdog)
    runner.watchdog.before_stop = lambda timeout: setattr(clock, "now", clock.now + JOIN_TIMEOUT)
    client = runner.client
    assert isinstance(client, FakeSupervisorClient)

    def slow_stop(method: str, name: str) -> None:
        clock.now += stopwait[name]  # supervisord waits its stopwaitsecs, then kills

    client.before = slow_stop
    timeouts: dict[str, Any] = {}

    def slow_sync(
        cfg: Config, purpose: str, timeout: float | None = None, events: Any = None, extra_args: Any = ()
    ) -> int:
        assert timeout is not None
        timeouts["flush"] = timeout
        clock.now += timeout
        raise launch.SyncFailed(f"{purpose}: unison did not run: timed out")

    def slow_wait(timeout: float | None) -> None:
        if timeout is not None:  # the wait after SIGKILL is not bounded: the kernel ends it at once
            clock.now += timeout

    runner.stopper.sync = slow_sync
    process.on_wait = slow_wait
    runner._finish(flush=True)
    assert clock.now - start <= stop.STOP_BUDGET + 1e-9
    assert 0 < timeouts["flush"] <= stop.FLUSH_TIMEOUT
    assert calls[-2:] == [("signal", "SIGKILL"), ("wait", "supervisord")]


# --- _supervise: the loop that says `watching` and keeps the health marker -------------------


def supervised(
    tmp_path: Path, clock: FakeClock, waits: int
) -> tuple[run.Runner, FakeSupervisord, TickingStop]:
    """A Runner past its start: supervisord (fake) runs unison, both roots exist; ``waits`` polls."""
    for name in ("host", "app"):
        (tmp_path / name).mkdir()
    pid = os.getpid()  # a live pid: health checks that unison and the fsmonitor are alive
    runner = run.Runner(
        config(tmp_path, HOST_VOLUME=str(tmp_path / "host"), APP_VOLUME=str(tmp_path / "app")),
        client=FakeSupervisorClient().running("unison", pid),
        sync=lambda *args, **kw: 0,
        clock=clock,
        watchdog=FakeWatchdog().start,
    )
    runtime = runner.cfg.runtime_dir
    shared.UnisonStatus(pid=pid).save(runtime)
    (runtime / shared.FSMONITOR_DIR).mkdir()
    stop_after = TickingStop(waits, clock)
    runner.stop = stop_after  # type: ignore[assignment]
    runner.supervisor = process = FakeSupervisord()
    runner.started = clock()
    return runner, process, stop_after


def fsmonitor_runs(runner: run.Runner) -> None:
    pid = os.getpid()
    status = shared.FsmonitorStatus(pid=pid, unison_pid=pid)
    status.save(runner.cfg.runtime_dir / shared.FSMONITOR_FILE)


def test_supervise_says_watching_once_unison_runs_then_polls_slower_while_healthy(tmp_path: Path) -> None:
    clock = FakeClock(1000.0)
    runner, _, stop_after = supervised(tmp_path, clock, waits=4)
    fsmonitor_runs(runner)
    with capture_logs() as logs:
        assert runner._supervise() == exits.OK
    (watching,) = [e for e in logs if e["event"] == "watching"]
    assert watching["seconds_to_ready"] == pytest.approx(run.POLL)  # one poll: the clock is the Runner's
    assert {"event": "health", "healthy": True, "log_level": "info"} in logs
    assert stop_after.intervals == [run.POLL, run.WATCH_POLL, run.WATCH_POLL, run.WATCH_POLL, run.WATCH_POLL]
    assert not (runner.cfg.runtime_dir / shared.HEALTHY_FILE).exists()  # the stop took it away
    assert shared.RunState.load(runner.cfg.runtime_dir).state is shared.State.STOPPING


def test_supervise_keeps_the_marker_exactly_while_healthy(tmp_path: Path) -> None:
    clock = FakeClock(0.0)
    runner, _, _ = supervised(tmp_path, clock, waits=2)
    fsmonitor_runs(runner)
    marker = runner.cfg.runtime_dir / shared.HEALTHY_FILE
    seen: list[bool] = []
    finish = runner._finish

    def looking(flush: bool) -> int:
        seen.append(marker.exists())
        return finish(flush)

    runner._finish = looking  # type: ignore[method-assign]
    runner._supervise()
    assert seen == [True]
    assert health.is_healthy(runner.cfg.runtime_dir, runner.state) is False  # stopping


def test_supervise_without_the_fsmonitor_is_watching_but_not_healthy(tmp_path: Path) -> None:
    clock = FakeClock(0.0)
    runner, _, stop_after = supervised(tmp_path, clock, waits=3)
    with capture_logs() as logs:
        runner._supervise()
    assert [e["event"] for e in logs].count("watching") == 1
    assert not [e for e in logs if e["event"] == "health"]  # never healthy: no marker, nothing to log
    assert set(stop_after.intervals) == {run.POLL}  # still polling fast: not healthy yet


def test_after_indexing_watching_waits_for_the_fsmonitor_but_not_for_ever(tmp_path: Path) -> None:
    clock = FakeClock(50.0)
    waits = int(readiness.FSMONITOR_WAIT / run.POLL) + 5
    runner, _, _ = supervised(tmp_path, clock, waits=waits)
    runner.readiness.indexing = True
    with capture_logs() as logs:
        runner._supervise()
    (watching,) = [e for e in logs if e["event"] == "watching"]
    assert readiness.FSMONITOR_WAIT < watching["seconds_to_ready"] <= readiness.FSMONITOR_WAIT + 2 * run.POLL


def test_a_supervisord_that_exits_fails_the_run(tmp_path: Path) -> None:
    runner, process, _ = supervised(tmp_path, FakeClock(0.0), waits=3)
    process.returncode = 1
    with capture_logs() as logs:
        assert runner._supervise() == exits.FAILED
    assert {"event": "supervisord.exited", "status": 1, "log_level": "error"} in logs
    saved = shared.RunState.load(runner.cfg.runtime_dir)
    assert (saved.state, saved.error) == (shared.State.FAILED, "supervisord exited")
