"""engine/supervise/run.py's Runner with a fake supervisord: the stop sequence's order and budget."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from engine import exits, health, supervisord
from engine.config import Config, load
from engine.startup import coldstart
from engine.state import shared, trust
from engine.supervise import readiness, run, stop
from engine.unison import launch, stopmark
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

    def sign(cfg: Config, timeout: float) -> stopmark.Signed | None:
        calls.append(("sign", f"{timeout:g}"))
        return None

    runner.stopper.sign = sign
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
        ("sign", f"{stop.SIGN_TIMEOUT:g}"),  # the trees for the next warm start, before the flush
        ("sync", "stop.flush"),
        ("signal", "SIGTERM"),
        ("wait", "supervisord"),
    ]
    assert shared.RunState.load(runner.cfg.runtime_dir).state is shared.State.STOPPING


def test_without_the_watchdog_only_unison_is_stopped(tmp_path: Path) -> None:
    runner, calls, _ = rig(tmp_path, MONIT_ENABLE="false")
    runner._finish(flush=True)
    assert calls[:3] == [("stop", "unison"), ("sign", f"{stop.SIGN_TIMEOUT:g}"), ("sync", "stop.flush")]


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


def test_an_unreachable_supervisord_is_stopped_before_the_flush(tmp_path: Path) -> None:
    """Not answering yet (a stop right after the start), it might start unison after the flush:
    it is stopped first, once, and the flush still runs."""
    runner, calls, _ = rig(tmp_path)
    assert isinstance(runner.client, FakeSupervisorClient)
    runner.client.failing.add("stop")
    assert runner._finish(flush=True) == exits.OK
    assert calls[-4:] == [
        ("signal", "SIGTERM"),
        ("wait", "supervisord"),
        ("sign", f"{stop.SIGN_TIMEOUT:g}"),
        ("sync", "stop.flush"),
    ]


@pytest.mark.parametrize("clean", [True, False])
def test_the_trees_signed_before_the_flush_are_kept_only_after_a_clean_one(
    tmp_path: Path, clean: bool
) -> None:
    """A flush that synced every path leaves a TrustedArchive (monit/oneshot.py): only then does the
    archive hold both trees as signed, and the next warm start may trust it (engine/unison/stopmark.py)."""
    runner, _, _ = rig(tmp_path)
    signed = stopmark.Signed(123.0, {"": 1, "d": 2}, {"": 3, "d": None})
    runner.stopper.sign = lambda cfg, timeout: signed

    def flush(
        cfg: Config, purpose: str, timeout: float | None = None, events: Any = None, extra_args: Any = ()
    ) -> int:
        if clean:
            trust.TrustedArchive(124.0).save(cfg.runtime_dir)
        return 0

    runner.stopper.sync = flush
    runner.cfg.unison_dir.mkdir()
    assert runner._finish(flush=True) == exits.OK
    kept = runner.cfg.unison_dir / stopmark.STOPPED_FILE
    assert kept.exists() is clean
    if clean:
        data = json.loads(kept.read_text())
        assert (data["at"], data["host"], data["app"]) == (
            123.0,
            {"": "0" * 15 + "1", "d": "0" * 15 + "2"},
            {"": "0" * 15 + "3", "d": None},
        )
        assert data["key"] == stopmark.key(runner.cfg)


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
    runner.set_state(shared.State.INITIAL_SYNC, initial_sync_done=True)  # where a warm start leaves it
    return runner, process, stop_after


def fsmonitor_runs(runner: run.Runner, first_cycle_done: bool = True) -> None:
    pid = os.getpid()
    status = shared.FsmonitorStatus(pid=pid, unison_pid=pid, first_sync_at="2026-12-04T09:00:00.000Z")
    if not first_cycle_done:
        status = dataclasses.replace(status, first_sync_at=None)
    status.save(runner.cfg.runtime_dir / shared.FSMONITOR_FILE)


def test_supervise_says_watching_once_unison_runs_then_polls_slower_while_healthy(tmp_path: Path) -> None:
    clock = FakeClock(1000.0)
    runner, _, stop_after = supervised(tmp_path, clock, waits=4)
    fsmonitor_runs(runner)
    with capture_logs() as logs:
        assert runner._supervise() == exits.OK
    (watching,) = [e for e in logs if e["event"] == "watching"]
    assert watching["seconds_to_ready"] == pytest.approx(run.READY_POLL)  # one poll: the Runner's clock
    assert {"event": "health", "healthy": True, "log_level": "info"} in logs
    assert stop_after.intervals == [run.READY_POLL] + [run.WATCH_POLL] * 4
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
    waits = int(readiness.FSMONITOR_WAIT / run.READY_POLL) + 3
    runner, _, stop_after = supervised(tmp_path, clock, waits=waits)
    with capture_logs() as logs:
        runner._supervise()
    assert [e["event"] for e in logs].count("watching") == 1
    assert not [e for e in logs if e["event"] == "health"]  # never healthy: no marker, nothing to log
    assert set(stop_after.intervals) == {run.READY_POLL, run.POLL}  # still polling fast: not healthy yet
    assert stop_after.intervals[-1] == run.POLL  # watching: a little slower


def test_watching_waits_for_unisons_first_cycle_but_not_for_ever(tmp_path: Path) -> None:
    """Before its first cycle ends, unison has not handed every folder to the fsmonitor: an edit
    made then waits for a scan (or, started from the archive, for the verifier's first pass)."""
    clock = FakeClock(50.0)
    waits = int(readiness.FSMONITOR_WAIT / run.READY_POLL) + 5
    runner, _, _ = supervised(tmp_path, clock, waits=waits)
    fsmonitor_runs(runner, first_cycle_done=False)
    with capture_logs() as logs:
        runner._supervise()
    (watching,) = [e for e in logs if e["event"] == "watching"]
    wait = readiness.FSMONITOR_WAIT
    assert wait < watching["seconds_to_ready"] <= wait + 2 * run.READY_POLL


def test_a_warm_start_left_to_watch_mode_is_watching_once_its_first_cycle_synced(tmp_path: Path) -> None:
    """Issue 24: no one-shot ran, so that cycle is the initial sync; ``watching`` (and health) wait for it
    past FSMONITOR_WAIT, then the initial sync is done."""
    for first_cycle_done in (False, True):
        clock, waits = FakeClock(50.0), int(readiness.FSMONITOR_WAIT / run.READY_POLL) + 5
        runner, _, _ = supervised(_folder(tmp_path / str(first_cycle_done)), clock, waits=waits)
        runner.note(initial_sync_done=False)
        runner.readiness.defer()
        fsmonitor_runs(runner, first_cycle_done=first_cycle_done)
        with capture_logs() as logs:
            runner._supervise()
        names = [e["event"] for e in logs]
        if not first_cycle_done:
            assert "watching" not in names and "health" not in names
            assert not shared.RunState.load(runner.cfg.runtime_dir).initial_sync_done
            continue
        assert names.index("initial_sync.done") < names.index("watching")
        (done,) = [e for e in logs if e["event"] == "initial_sync.done"]
        assert (done["in_watch_mode"], done["owner_checked"]) == (True, 0)
        assert runner.state.initial_sync_done and runner.state.initial_sync_at


def test_a_warm_start_left_to_watch_mode_asks_supervisord_until_unison_runs_then_at_its_first_cycles_end(
    tmp_path: Path,
) -> None:
    """Issue 24: that cycle lasts seconds at 400k files, while unison loads and scans on 2 cores.
    supervisord is asked (an XML-RPC call) until it runs unison, as our calls wake its loop, which
    then starts unison sooner; then the polls read the status files, and supervisord is asked once
    more when the cycle ended."""
    clock = FakeClock(50.0)
    runner, _, _ = supervised(tmp_path, clock, waits=40)
    runner.note(initial_sync_done=False)
    runner.readiness.defer()
    fsmonitor_runs(runner, first_cycle_done=False)
    client = runner.readiness.client
    assert isinstance(client, FakeSupervisorClient)
    client.programs["unison"]["statename"] = "STARTING"
    asked: list[int] = []
    polls = [0]
    info, follow = client.info, runner.observer.follow

    def counted_info(name: str) -> dict[str, object]:
        asked.append(polls[0])
        return info(name)

    def poll(rest: bool = False) -> None:  # the loop follows unison's output once a poll, before readiness
        polls[0] += 1
        if polls[0] == 3:
            client.programs["unison"]["statename"] = "RUNNING"
        if polls[0] == 20:
            fsmonitor_runs(runner, first_cycle_done=True)
        follow(rest)

    client.info = counted_info  # type: ignore[method-assign]
    runner.observer.follow = poll  # type: ignore[method-assign]
    runner._supervise()
    assert asked == [1, 2, 3, 20]
    assert runner.state.initial_sync_done


def test_a_supervisord_that_exits_fails_the_run(tmp_path: Path) -> None:
    runner, process, _ = supervised(tmp_path, FakeClock(0.0), waits=3)
    process.returncode = 1
    with capture_logs() as logs:
        assert runner._supervise() == exits.FAILED
    assert {"event": "supervisord.exited", "status": 1, "log_level": "error"} in logs
    saved = shared.RunState.load(runner.cfg.runtime_dir)
    assert (saved.state, saved.error) == (shared.State.FAILED, "supervisord exited")


# --- run(): every way out takes the `healthy` marker away ---------------------------------


def started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cold: bool
) -> tuple[run.Runner, FakeSupervisord]:
    """A Runner whose ``run()`` starts for real but for unison: the start-up is a fake
    ``bring_up`` (cold: the copy is complete, ``indexing``, healthy; warm: the one-shot done)."""
    clock = FakeClock(0.0)
    runner, process, _ = supervised(tmp_path, clock, waits=50)
    runner.supervisor = None  # run() spawns it
    runner.state = shared.RunState(pid=os.getpid())  # and starts from the start
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # the test keeps its handlers
    monkeypatch.setattr(supervisord, "write", lambda cfg: None)

    def spawn(cfg: Config) -> FakeSupervisord:
        """supervisord starts unison, whose fsmonitor runs (the start removed their old files)."""
        shared.UnisonStatus(pid=os.getpid()).save(cfg.runtime_dir)
        fsmonitor_runs(runner)
        return process

    monkeypatch.setattr(supervisord, "spawn", spawn)

    def bring_up(cfg: Config, stop: Any, usable: Any, checked: Any, synced: Any, **_: Any) -> list[Any]:
        checked()
        usable() if cold else synced()
        return []

    monkeypatch.setattr(run, "bring_up", bring_up)
    return runner, process


def marker_seen(runner: run.Runner) -> list[bool]:
    """The marker's presence after each of its updates, so a test knows it was set."""
    update = runner.marker.update
    seen: list[bool] = []

    def recording(run: shared.RunState) -> None:
        update(run)
        seen.append(runner.marker.path.exists())

    runner.marker.update = recording  # type: ignore[method-assign]
    return seen


def test_an_exception_in_the_watching_loop_takes_the_marker_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, process = started(tmp_path, monkeypatch, cold=False)
    seen = marker_seen(runner)
    follow = runner.observer.follow

    def failing(rest: bool = False) -> None:
        if runner.marker.path.exists():  # the next turn of the loop after it became healthy
            raise RuntimeError("a bug in the loop")
        follow(rest)

    runner.observer.follow = failing  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="a bug in the loop"), capture_logs() as logs:
        runner.run()
    assert True in seen
    assert not runner.marker.path.exists()
    assert "run.crashed" in [e["event"] for e in logs]
    assert shared.RunState.load(runner.cfg.runtime_dir).state is shared.State.FAILED
    assert ("signal", "SIGTERM") in process.calls  # supervisord is not left behind


def test_a_start_that_fails_after_the_volume_was_usable_takes_the_marker_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold start is healthy once its copy is complete (``indexing``); its indexing may still fail."""
    runner, _ = started(tmp_path, monkeypatch, cold=True)
    marked: list[bool] = []

    def bring_up(cfg: Config, stop: Any, usable: Any, checked: Any, synced: Any, **_: Any) -> list[Any]:
        checked()
        usable()
        marked.append(runner.marker.path.exists())
        raise coldstart.ColdStartFailed("the indexing unison exited 3")

    monkeypatch.setattr(run, "bring_up", bring_up)
    assert runner.run() == exits.STARTUP_FAILURE
    assert marked == [True]
    assert not runner.marker.path.exists()
    saved = shared.RunState.load(runner.cfg.runtime_dir)
    assert (saved.state, saved.error) == (shared.State.FAILED, "the indexing unison exited 3")


def test_a_supervisord_that_exits_while_healthy_takes_the_marker_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, process = started(tmp_path, monkeypatch, cold=False)
    update = runner.marker.update

    def then_exit(run: shared.RunState) -> None:
        update(run)
        if runner.marker.path.exists():
            process.returncode = 1  # supervisord dies after the marker was set

    runner.marker.update = then_exit  # type: ignore[method-assign]
    assert runner.run() == exits.FAILED
    assert process.returncode == 1
    assert not runner.marker.path.exists()


@pytest.mark.parametrize("cold", [True, False])
def test_a_stop_takes_the_marker_away_and_moves_only_as_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cold: bool
) -> None:
    """Cold (starting, initial-sync, indexing, watching, stopping) and warm (no indexing)."""
    runner, _ = started(tmp_path, monkeypatch, cold=cold)
    moves: list[shared.State] = []
    set_state = runner.set_state

    def recording(state: shared.State, **fields: Any) -> None:
        set_state(state, **fields)
        moves.append(state)

    runner.set_state = recording  # type: ignore[method-assign]
    seen = marker_seen(runner)
    assert runner.run() == exits.OK
    assert True in seen
    assert not runner.marker.path.exists()
    S = shared.State
    assert moves == [S.INITIAL_SYNC, *([S.INDEXING] if cold else []), S.WATCHING, S.STOPPING]


def _folder(path: Path) -> Path:
    path.mkdir()
    return path
