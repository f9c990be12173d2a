"""engine/cli/view.py and the CLI around it: the status a person reads (recorded status objects,
and a real terminal through tmux), help, --help, flush and conflicts with nothing running."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import entrypoint
from engine import exits
from engine.cli import monitor, view
from engine.config import Config
from engine.state import shared
from engine.unison import conflicts
from tests.helpers import REPO, folders_config, wait_for

DATA = REPO / "tests" / "data" / "status"
NOW = datetime(2026, 12, 2, 10, 0, 12, tzinfo=UTC)


def recorded(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return result


def render(name: str, colour: bool = False) -> str:
    return view.render(recorded(name), "/host_sync", "/app_sync", NOW, colour=colour)


def test_a_watching_engine_reads_in_words() -> None:
    text = render("watching")
    assert text.splitlines()[0] == "native-sync  watching: changes sync both ways"
    assert "  host       /host_sync\n  app        /app_sync\n" in text
    assert "last sync  2026-12-02 10:00:00 UTC (12 s ago)" in text
    assert "pending    nothing" in text
    assert "verifier   last pass 22 s ago: 10234 paths in 0.21 s, no drift" in text
    assert "Problems" not in text and "Conflicts" not in text and "\033[" not in text


def test_a_host_that_folds_names_says_so_and_a_plain_one_says_nothing() -> None:
    status = recorded("watching")
    status["roots"] = {
        "host": {"case_insensitive": True, "normalization_insensitive": True, "permissions": False},
        "app": {"case_insensitive": False, "normalization_insensitive": False, "permissions": True},
    }
    text = view.render(status, "/host_sync", "/app_sync", NOW)
    assert "  host       /host_sync  (ignores case and Unicode form in names; keeps no permissions)\n" in text
    assert "  app        /app_sync\n" in text


def test_a_degraded_engine_names_each_problem_and_warning() -> None:
    text = render("degraded")
    assert text.startswith("native-sync  degraded: watching, but something cannot sync (below)\n")
    assert "pending    2 changes waiting for unison" in text
    assert "restarted 1 time (last: cpu)" in text
    assert "Problems (2): these paths do not sync" in text
    assert "  secret.txt  host  Error in digesting /host_sync/secret.txt" in text
    assert "  big.bin     app   Error in readWriteBounded: No space left on device  (since 42 s ago)" in text
    assert "Warnings (1):\n  /host_sync is not a mount" in text


def test_a_conflicted_engine_names_the_original_the_kept_copy_the_winner_and_how_to_resolve() -> None:
    text = render("conflicted")
    assert "1 conflict to look at (below)" in text.splitlines()[0]
    assert (
        "  src/app.py  host won (5 min ago); app's version: "
        "/host_sync/.native-sync/conflicts/2026-12-02T09.55.00Z/src/app.py"
    ) in text
    assert "resolve: native-sync conflicts keep host|app PATH" in text


def test_colour_only_when_asked() -> None:
    assert "\033[32mwatching" in render("watching", colour=True)
    assert "\033[33mdegraded" in render("degraded", colour=True)


def test_cold_start_progress_in_the_view() -> None:
    status = {**recorded("watching"), "state": "initial-sync", "last_sync_at": None}
    status["initial_sync_progress"] = {
        "files": 40000, "files_total": 100000, "bytes": 2e8, "bytes_total": 5e8,
        "files_per_second": 20000.0, "mb_per_second": 100.0, "eta_seconds": 3.0,
    }  # fmt: skip
    text = view.render(status, "/h", "/a", NOW)
    assert "initial sync: bringing the app folder to the host's content" in text
    assert "copying    40000 of 100000 files, 200.0 MB of 500.0 MB (20000.0 files/s, 100.0 MB/s" in text
    assert "about 3 s left" in text


# --- the commands, in this process ---------------------------------------------------------


def test_help_lists_every_command_on_one_line_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert entrypoint.main(["help"]) == 0
    out = capsys.readouterr().out
    for name, text in entrypoint.COMMANDS.items():
        assert f"    {name.ljust(14)}{text}\n" in out
    assert "native-sync conflicts keep app src/a.py" in out
    with pytest.raises(SystemExit) as done:
        entrypoint.main(["--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out == out


def test_a_wrong_command_says_where_the_list_is(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        entrypoint.main(["stauts"])
    assert done.value.code == 2
    assert "`native-sync help` lists the commands" in capsys.readouterr().err


def env_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    runtime = tmp_path / "run"
    runtime.mkdir()
    (tmp_path / "unison").mkdir()
    monkeypatch.setenv("SYNC_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("UNISON", str(tmp_path / "unison"))
    monkeypatch.setenv("HOST_VOLUME", str(tmp_path / "host"))
    monkeypatch.setenv("APP_VOLUME", str(tmp_path / "app"))
    return runtime


def test_flush_with_nothing_running_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env_for(tmp_path, monkeypatch)
    assert entrypoint.main(["flush"]) == exits.NOT_RUNNING
    assert "nothing to flush: no sync is watching yet. `native-sync status` says where it is" in (
        capsys.readouterr().err
    )


def test_status_json_keeps_its_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env_for(tmp_path, monkeypatch)
    assert entrypoint.main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    for key in (
        "state", "initial_sync_done", "last_sync_at", "pending_changes", "unison", "conflicts",
        "rescans", "problems", "warnings", "roots_error", "fsmonitor", "error", "verifier",
    ):  # fmt: skip
        assert key in status
    assert set(status["conflicts"]) >= {"count", "recent"}
    assert set(status["unison"]) == {"pid", "restarts", "last_restart_reason"}


def test_conflicts_with_none_and_keep_of_an_unknown_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env_for(tmp_path, monkeypatch)
    assert entrypoint.main(["conflicts"]) == 0
    assert capsys.readouterr().out == "No conflicts: nothing to resolve.\n"
    assert entrypoint.main(["conflicts", "keep", "app", "nope.txt"]) == 1
    assert (
        "no conflict of 'nope.txt' is listed; `native-sync conflicts` lists them" in capsys.readouterr().err
    )


# --- a real terminal ------------------------------------------------------------------------


def record(runtime: Path, unison_dir: Path, name: str) -> None:
    """The state files of a running engine whose status is the recorded one (this process runs)."""
    status = recorded(name)
    state = shared.State(status["state"]) if status["state"] != "degraded" else shared.State.WATCHING
    shared.RunState(
        state=state, pid=os.getpid(), initial_sync_done=True, warnings=tuple(status["warnings"])
    ).save(runtime)
    shared.UnisonStatus(pid=os.getpid(), starts=1).save(runtime)
    (runtime / shared.FSMONITOR_DIR).mkdir(exist_ok=True)
    shared.FsmonitorStatus(
        pid=os.getpid(), unison_pid=os.getpid(), last_sync_at=str(status["last_sync_at"])
    ).save(runtime / shared.FSMONITOR_FILE)
    problems = [shared.Problem(**p) for p in status["problems"]]
    shared.Problems(tuple(problems)).save(runtime)
    listed = status["conflicts"]["list"]
    entries = []
    for c in listed:
        kept = runtime.parent / "host" / ".native-sync" / "conflicts" / "t" / c["path"]
        kept.parent.mkdir(parents=True)
        kept.write_text("the app's version\n")
        entries.append(conflicts.Entry(c["path"], str(kept), c["at"], c["winner"], c["loser"]))
    conflicts.Record(tuple(entries)).save(unison_dir)


@pytest.mark.skipif(
    shutil.which("tmux") is None and not os.environ.get("CI"), reason="no tmux (make system-deps)"
)
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("watching", ["watching: changes sync both ways", "pending    nothing"]),
        (
            "degraded",
            ["degraded: watching, but", "Problems (2): these paths do not sync", "secret.txt  host"],
        ),
        ("conflicted", ["1 conflict to look at", "src/app.py  host won", "keep host|app PATH"]),
    ],
)
def test_status_in_a_real_terminal(tmp_path: Path, name: str, expected: list[str]) -> None:
    runtime, unison_dir = tmp_path / "run", tmp_path / "unison"
    runtime.mkdir()
    unison_dir.mkdir()
    (tmp_path / "host").mkdir()
    record(runtime, unison_dir, name)
    session = f"ns-{uuid.uuid4().hex[:8]}"
    env = f"SYNC_RUNTIME_DIR={runtime} UNISON={unison_dir} HOST_VOLUME={tmp_path / 'host'}"
    command = f"env {env} {sys.executable} {REPO / 'entrypoint.py'} status; echo END-OF-STATUS; sleep 60"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "50", command], check=True, timeout=30
    )
    try:

        def screen(escapes: bool = False) -> str:
            args = ["tmux", "capture-pane", "-p", "-t", session, *(["-e"] if escapes else [])]
            return subprocess.run(args, capture_output=True, text=True, check=True, timeout=30).stdout

        wait_for(lambda: "END-OF-STATUS" in screen(), 30, "status in tmux", detail=screen)
        plain = screen()
        for text in expected:
            assert text in plain, plain
        assert "\033[" in screen(escapes=True)  # a terminal: colour
        print(plain)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, timeout=30)


# --- engine/cli/monitor.py: the view of a state folder, once or live -------------------------


def state_folder(tmp_path: Path, name: str) -> Config:
    """A Config whose runtime and UNISON folders hold the state of the recorded status ``name``."""
    cfg = folders_config(tmp_path, HOST_VOLUME="/host_sync", APP_VOLUME="/app_sync")
    record(cfg.runtime_dir, cfg.unison_dir, name)
    return cfg


SHOWN = {
    "watching": ["native-sync  watching: changes sync both ways", "  pending    nothing"],
    "degraded": ["degraded: watching, but", "Problems (2): these paths do not sync", "secret.txt  host"],
    "conflicted": ["1 conflict to look at", "src/app.py  host won", "keep host|app PATH"],
}


@pytest.mark.parametrize("name", sorted(SHOWN))
def test_status_shows_the_view_of_the_state_folder(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = state_folder(tmp_path, name)
    assert monitor.run(cfg, live=False, clock=lambda: NOW) == exits.OK
    shown = capsys.readouterr().out
    assert "\033[" not in shown  # not a terminal: no colour
    lines = shown.splitlines()
    assert lines[1:3] == ["  host       /host_sync", "  app        /app_sync"]
    assert "  last sync  2026-12-02 10:00:00 UTC (12 s ago)" in lines  # ages from the clock given
    for text in SHOWN[name]:
        assert text in shown, shown


def test_monitor_redraws_until_ctrl_c(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = state_folder(tmp_path, "watching")
    times = iter([NOW, NOW.replace(second=14), NOW.replace(second=16)])
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 3:
            raise KeyboardInterrupt
        (cfg.runtime_dir / shared.STATE_FILE).write_text("{}")  # the engine stopped between views

    assert monitor.run(cfg, live=True, interval=2, clock=lambda: next(times), pause=pause) == exits.OK
    out = capsys.readouterr().out
    assert pauses == [2, 2, 2]
    views = out.split("\nnative-sync  ")[1:]  # not a terminal: views follow each other, no clearing
    assert "\033[" not in out and len(views) == 3 and out.endswith("Ctrl-C to leave\n\n")
    assert views[0].startswith("watching: changes sync both ways")
    assert "10:00:12 UTC, every 2 s; Ctrl-C to leave" in views[0]
    assert not views[1].startswith("watching") and "10:00:14 UTC, every 2 s" in views[1]
    assert "10:00:16 UTC" in views[2]
