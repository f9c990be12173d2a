"""engine/startup/initial_sync.py: the start-up sequence with stand-in steps, and the one-shot's owner walk
with real unison on tmp_path."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from engine import exits
from engine.config import Config
from engine.fs import access
from engine.startup import coldstart, fastcopy, initial_sync, safety
from engine.startup.initial_sync import OWNER_MARK, Steps, bring_up, precopy
from engine.state import trust
from engine.unison import launch, reports
from monit import oneshot
from tests.helpers import folders_config, owners_of, same_trees, write

FIFO = "skipping file x: has unknown file type"
FAILED = reports.Report("src/a.txt", "app", "Permission denied")


class StandIns:
    """Stand-ins for every step of :func:`bring_up`, each noting its name in ``done`` when run."""

    def __init__(
        self,
        cold: bool = False,
        reported: list[reports.Event] | None = None,
        watch_syncs: bool = False,
        deferred: bool = False,
    ) -> None:
        self.done: list[str] = []
        self.deferred = deferred
        self.cold = cold
        self.watch_syncs = watch_syncs
        self.reported = reported or []
        self.stops: list[threading.Event | None] = []

    def step(self, name: str, fails: Exception | None = None) -> Callable[..., None]:
        def run(*args: object) -> None:
            self.done.append(name)
            if fails is not None:
                raise fails

        return run

    def recorded(self, name: str, fails: Exception | None = None) -> Callable[[Config], bool]:
        def run(cfg: Config) -> bool:
            self.done.append(name)
            if fails is not None:
                raise fails
            return False

        return run

    def steps(self, **failing: Exception) -> Steps:
        def cold_start(cfg: Config, stop: threading.Event, usable: Callable[[], None]) -> list[reports.Event]:
            self.done.append("cold_start")
            self.stops.append(stop)
            usable()
            return self.reported

        def one_shot(cfg: Config, stop: threading.Event | None, bare_at_start: bool) -> list[reports.Event]:
            self.done.append("one_shot")
            self.stops.append(stop)
            if "one_shot" in failing:
                raise failing["one_shot"]
            return self.reported

        def cold_wanted(cfg: Config) -> bool:
            self.done.append("cold_wanted")
            return self.cold

        def watch_syncs(cfg: Config, bare_at_start: bool) -> bool:
            self.done.append("watch_syncs")
            return self.watch_syncs

        return Steps(
            watch_syncs=watch_syncs,
            check_access=self.step("check_access", failing.get("check_access")),
            record_roots=self.recorded("record_roots", failing.get("record_roots")),
            probe_roots=self.step("probe_roots"),
            cold_wanted=cold_wanted,
            cold_start=cold_start,
            one_shot=one_shot,
        )

    def bring_up(self, cfg: Config, stop: threading.Event, **failing: Exception) -> list[reports.Event]:
        return bring_up(
            cfg,
            stop,
            usable=lambda: self.done.append("usable"),
            checked=lambda: self.done.append("checked"),
            synced=lambda: self.done.append("synced"),
            steps=self.steps(**failing),
            deferred=(lambda: self.done.append("deferred")) if self.deferred else None,
        )


CHECKS = ["check_access", "record_roots", "probe_roots", "checked", "cold_wanted"]


def test_a_warm_start_checks_then_runs_unisons_one_shot(tmp_path: Path) -> None:
    run = StandIns(reported=[FAILED])
    stop = threading.Event()
    assert run.bring_up(folders_config(tmp_path), stop) == [FAILED]
    assert run.done == [*CHECKS, "one_shot", "synced"]
    assert run.stops == [stop]  # a stop reaches unison's one-shot


def test_a_warm_start_may_leave_the_initial_sync_to_watch_mode(tmp_path: Path) -> None:
    """Issue 24: ``run`` (``deferred`` given) runs no one-shot when the warm start allows it; a trusted
    archive an earlier run left is dropped (watch mode must scan)."""
    cfg = folders_config(tmp_path)
    cfg.runtime_dir.mkdir(parents=True, exist_ok=True)
    trust.TrustedArchive(1.0).save(cfg.runtime_dir)
    run = StandIns(watch_syncs=True, deferred=True)
    assert run.bring_up(cfg, threading.Event()) == []
    assert run.done == [*CHECKS, "watch_syncs", "deferred"]
    assert trust.TrustedArchive.take(cfg.runtime_dir) is None
    for deferred, allowed in ((True, False), (False, True)):  # not allowed, or precopy: the one-shot
        run = StandIns(watch_syncs=allowed, deferred=deferred)
        run.bring_up(cfg, threading.Event())
        assert "one_shot" in run.done and "deferred" not in run.done


def test_a_warm_start_keeps_the_one_shot_for_the_guard_and_the_owner_walk(tmp_path: Path) -> None:
    cfg = folders_config(tmp_path)
    assert not initial_sync.left_to_watch_mode(cfg, bare_at_start=False)  # no archive: not warm
    (cfg.unison_dir / "ar0123").write_text("archive")
    assert not initial_sync.left_to_watch_mode(cfg, bare_at_start=False)  # the owner never recorded
    initial_sync.record_owner(cfg)
    assert initial_sync.left_to_watch_mode(cfg, bare_at_start=False)
    assert not initial_sync.left_to_watch_mode(cfg, bare_at_start=True)  # a root is empty: the guard asks
    (cfg.unison_dir / OWNER_MARK).write_text("1:1 /elsewhere", encoding="utf-8")
    assert not initial_sync.left_to_watch_mode(cfg, bare_at_start=False)  # the owner changed: the walk


def test_a_cold_start_checks_then_copies(tmp_path: Path) -> None:
    run = StandIns(cold=True, reported=[FAILED])
    stop = threading.Event()
    assert run.bring_up(folders_config(tmp_path), stop) == [FAILED]
    assert run.done == [*CHECKS, "cold_start", "usable"]  # usable is the copy's to say; no one-shot
    assert run.stops == [stop]


@pytest.mark.parametrize(
    ("step", "failure", "done"),
    [
        ("check_access", access.Misconfigured("APP_VOLUME: not writable"), ["check_access"]),
        ("record_roots", OSError("APP_VOLUME: cannot stat"), ["check_access", "record_roots"]),
        ("one_shot", safety.MassDeletionRefused("/app_sync is empty"), [*CHECKS, "one_shot"]),
        ("one_shot", oneshot.Interrupted(), [*CHECKS, "one_shot"]),
    ],
)
def test_a_step_that_fails_stops_the_sequence_there(
    tmp_path: Path, step: str, failure: Exception, done: list[str]
) -> None:
    run = StandIns()
    with pytest.raises(type(failure)):
        run.bring_up(folders_config(tmp_path), threading.Event(), **{step: failure})
    assert run.done == done


# --- precopy: the sequence alone, its exit status --------------------------------------


def test_precopy_prepares_the_runtime_folder_then_syncs(tmp_path: Path) -> None:
    cfg = folders_config(tmp_path)
    run = StandIns(reported=[reports.Synced("a"), reports.Report("fifo", "host", FIFO)])
    seen: list[bool] = []
    steps = run.steps()
    prepared = Steps(
        check_access=lambda cfg: seen.append((cfg.runtime_dir / "bin" / "unison-fsmonitor").exists()),
        record_roots=steps.record_roots,
        probe_roots=steps.probe_roots,
        cold_wanted=steps.cold_wanted,
        cold_start=steps.cold_start,
        one_shot=steps.one_shot,
    )
    assert precopy(cfg, prepared) == exits.OK  # a FIFO skipped by rule is no failure
    assert seen == [True]
    assert run.done == ["record_roots", "probe_roots", "cold_wanted", "one_shot"]


def test_precopy_names_the_paths_it_could_not_sync(tmp_path: Path) -> None:
    failed: list[reports.Event] = [
        FAILED,
        reports.Report("src/a.txt", "host", "No space left"),
        reports.Report("b", "app", "x"),
    ]
    with capture_logs() as logs:
        status = precopy(folders_config(tmp_path), StandIns(reported=failed).steps())
    assert status == exits.SYNC_INCOMPLETE
    assert [(e["event"], e.get("path")) for e in logs if e["log_level"] == "error"] == [
        ("problem", "src/a.txt"),
        ("problem", "src/a.txt"),
        ("problem", "b"),
        ("precopy.incomplete", None),
    ]
    assert logs[-1]["paths"] == ["b", "src/a.txt"]


@pytest.mark.parametrize(
    "failure",
    [
        safety.MassDeletionRefused("/app_sync would be emptied"),
        launch.SyncFailed("unison exited 3"),
        access.Misconfigured("HOST_VOLUME: not readable"),
        coldstart.ColdStartFailed("copy failed"),
        fastcopy.Stopped("a"),
    ],
)
def test_precopy_says_why_a_start_failed_and_exits_startup_failure(
    tmp_path: Path, failure: Exception
) -> None:
    with capture_logs() as logs:
        status = precopy(folders_config(tmp_path), StandIns().steps(one_shot=failure))
    assert status == exits.STARTUP_FAILURE
    assert [(e["event"], e["error"]) for e in logs if e["log_level"] == "error"] == [
        ("precopy.failed", str(failure))
    ]


# --- the one-shot and the owner walk: real unison ----------------------------------------

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving an owner needs root")


def checked_owners(cfg: Config) -> int:
    with capture_logs() as logs:
        initial_sync.initial_sync(cfg)
    (done,) = [e for e in logs if e["event"] == "initial_sync.done"]
    return int(done["owner_checked"])


@as_root
def test_the_owner_walk_runs_on_a_cold_start_and_when_the_owner_changes(tmp_path: Path) -> None:
    cfg = folders_config(tmp_path, OWNER_UID="1234", GROUP_ID="5678")
    write(cfg.unison_src / "src" / "main.py", "print('host')\n")
    write(cfg.unison_src / "same.txt", "on both sides already\n")
    write(cfg.unison_dest / "same.txt", "on both sides already\n")  # unison transfers nothing for it
    assert checked_owners(cfg) > 0  # no archive: a cold start walks
    assert same_trees(cfg.unison_src, cfg.unison_dest)
    assert set(owners_of(cfg.unison_dest).values()) == {(1234, 5678)}
    assert (cfg.unison_dir / OWNER_MARK).read_text() == f"1234:5678 {cfg.unison_dest}"

    os.chown(cfg.unison_dest / "same.txt", 0, 0)  # not the walk's to see again: the owner is known
    assert checked_owners(cfg) == 0
    assert owners_of(cfg.unison_dest)["same.txt"] == (0, 0)

    moved = folders_config(tmp_path, OWNER_UID="2345", GROUP_ID="2345")
    assert checked_owners(moved) > 0
    assert set(owners_of(cfg.unison_dest).values()) == {(2345, 2345)}
    assert (cfg.unison_dir / OWNER_MARK).read_text() == f"2345:2345 {cfg.unison_dest}"


def test_an_owner_that_cannot_be_recorded_is_a_warning(tmp_path: Path) -> None:
    cfg = folders_config(tmp_path)
    cfg.unison_dir.rmdir()
    with capture_logs() as logs:
        initial_sync.record_owner(cfg)
    assert [(e["event"], e["log_level"]) for e in logs] == [("initial_sync.owner_not_recorded", "warning")]
