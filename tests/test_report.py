"""engine/status.py, engine/health.py: degraded, problems, warnings, conflicts, health over the shared files;
engine/unison/transcript.py: following the bounded unison log; a requested restart is no crash."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import mypy.api
import pytest
from structlog.testing import capture_logs

from engine import health
from engine.config import load
from engine.fs.casefold import clash_message
from engine.state import jsonfile, progress, shared
from engine.status import collect
from engine.supervise.unison_program import record_start
from engine.unison import transcript
from tests.fakes import FakeClock


def watching(runtime: Path, **fields: object) -> None:
    """`run` (this process) watches; unison (this process too) runs with its fsmonitor."""
    shared.RunState(state=shared.State.WATCHING, pid=os.getpid(), **fields).save(runtime)  # type: ignore[arg-type]
    shared.UnisonStatus(pid=os.getpid(), starts=1).save(runtime)
    (runtime / shared.FSMONITOR_DIR).mkdir(exist_ok=True)
    shared.FsmonitorStatus(
        pid=os.getpid(), unison_pid=os.getpid(), conflicts=3, recent_conflicts=("b (conflict_on_2026-11-25)",)
    ).save(runtime / shared.FSMONITOR_FILE)


def test_watching_without_problems_is_healthy(tmp_path: Path) -> None:
    watching(tmp_path)
    status = collect(tmp_path)
    current = status.json()
    assert current["state"] == "watching"
    assert current["problems"] == [] and current["warnings"] == []
    assert current["conflicts"] == {"count": 3, "recent": ["b (conflict_on_2026-11-25)"], "list": []}
    assert health.healthy(status)


def test_a_problem_makes_it_degraded_but_still_healthy(tmp_path: Path) -> None:
    """A reason that names no cause the user must fix: degraded, health passes."""
    watching(tmp_path, warnings=("/host_sync is not a mount: add -v /path/to/project:/host_sync",))
    reason = "failed (unison gave no reason)"
    problem = shared.Problem("odd.txt", "host", reason, "T")
    shared.Problems((problem,)).save(tmp_path)
    status = collect(tmp_path)
    current = status.json()
    assert current["state"] == "degraded"
    assert current["problems"] == [{"path": "odd.txt", "side": "host", "reason": reason, "since": "T"}]
    assert current["warnings"] == ["/host_sync is not a mount: add -v /path/to/project:/host_sync"]
    assert health.healthy(status)
    given_up = replace(status.verifier, drift_unrepaired=("odd.txt",))  # given up, but explained
    status = replace(status, verifier=given_up)
    assert health.healthy(status)


@pytest.mark.parametrize(
    "reason",
    [
        "Error in readWriteBounded: No space left on device",
        "Error in copying locally: Disk quota exceeded",
        "Error in copying locally: /app_sync/ro/new.txt: Read-only file system",
        "Error in digesting /host_sync/secret.txt: /host_sync/secret.txt: Permission denied",
        "Error in setting permissions: Operation not permitted",
        "Error in copying locally: File name too long",
        clash_message(("Foo.txt", "foo.txt")),
    ],
)
def test_a_reason_that_needs_the_user_fails_health_while_it_stands(tmp_path: Path, reason: str) -> None:
    """issue 26: no space, read-only, permission, a name the host cannot hold."""
    watching(tmp_path)
    shared.Problems((shared.Problem("x", "app", reason, "T"),)).save(tmp_path)
    status = collect(tmp_path)
    current = status.json()
    assert current["state"] == "degraded"
    assert not health.healthy(status)
    assert reason in str(health.standing_failure(status))


def test_skipped_special_files_are_listed_and_no_problem(tmp_path: Path) -> None:
    watching(tmp_path)
    sock = shared.Problem("db.sock", "host", "a special file", "T")
    shared.Problems((), (sock,)).save(tmp_path)
    status = collect(tmp_path)
    current = status.json()
    assert current["state"] == "watching" and current["problems"] == []
    assert current["skipped"] == [
        {"path": "db.sock", "side": "host", "reason": "a special file", "since": "T"}
    ]
    assert health.healthy(status)


def test_a_full_volume_fails_health_while_its_problem_stands(tmp_path: Path) -> None:
    """issue 18: the root probe passes between unison's tries; the problem does not."""
    watching(tmp_path)
    problem = shared.Problem("big.bin", "app", "Error in readWriteBounded: No space left on device", "T")
    shared.Problems((problem,)).save(tmp_path)
    status = collect(tmp_path)
    current = status.json()
    assert current["state"] == "degraded" and current["roots_error"] is None
    assert not health.healthy(status)
    assert "cannot sync until fixed (app side)" in str(health.standing_failure(status))


def test_a_path_the_verifier_gave_up_on_without_a_reason_fails_health(tmp_path: Path) -> None:
    watching(tmp_path)
    status = collect(tmp_path)
    assert health.healthy(status)
    status = replace(status, verifier=replace(status.verifier, drift_unrepaired=("lost.txt",)))
    assert not health.healthy(status)


def test_an_unusable_root_fails_health(tmp_path: Path) -> None:
    watching(tmp_path, roots_error="APP_VOLUME: /app_sync is full (no space left on its volume)")
    status = collect(tmp_path)
    current = status.json()
    assert current["state"] == "degraded"
    assert current["roots_error"].startswith("APP_VOLUME")
    assert not health.healthy(status)


def test_status_json_keeps_its_keys_in_their_order(tmp_path: Path) -> None:
    """SPEC section 5: keys are never renamed or removed; the order is what scripts have seen."""
    watching(tmp_path)
    current = collect(tmp_path).json()
    assert list(current) == [
        "state",
        "initial_sync_done",
        "last_sync_at",
        "pending_changes",
        "unison",
        "conflicts",
        "rescans",
        "problems",
        "skipped",
        "warnings",
        "roots_error",
        "fsmonitor",
        "error",
        "verifier",
        "initial_sync_progress",
        "roots",
    ]
    assert list(current["unison"]) == ["pid", "restarts", "last_restart_reason"]
    assert list(current["conflicts"]) == ["count", "recent", "list"]
    assert list(current["verifier"]) == [
        "last_pass_at",
        "seconds",
        "cpu_seconds",
        "paths_checked",
        "pause",
        "passes",
        "drift_repaired",
        "drift_unrepaired",
        "litter_removed",
    ]
    assert current["roots"]["host"] == {
        "case_insensitive": None,
        "normalization_insensitive": None,
        "permissions": None,
    }


def test_the_cold_starts_progress_is_in_the_status_as_written(tmp_path: Path) -> None:
    shared.RunState(state=shared.State.INDEXING, pid=os.getpid()).save(tmp_path)
    clock = FakeClock(100.0)
    counting = progress.Progress(tmp_path, clock)
    clock.advance(4.0)
    counting.report(40, 4_000_000, phase="copying")
    written = jsonfile.read_json(tmp_path / progress.FILE)
    assert list(collect(tmp_path).json()["initial_sync_progress"].items()) == list(written.items())
    assert written["files_per_second"] == 10.0 and written["mb_per_second"] == 1.0
    assert written["files_total"] is None and written["eta_seconds"] is None  # not counted yet


def test_mypy_sees_a_typo_in_a_status_field(tmp_path: Path) -> None:
    """The status is typed: a misspelt field fails the lint (a misspelt key of the dict passed it)."""
    snippet = tmp_path / "typo.py"
    snippet.write_text(
        "from engine.status import Status\n\n\n"
        "def unrepaired(status: Status) -> object:\n"
        "    return status.verifier.drift_unrepaird\n"
    )
    out, _, code = mypy.api.run(["--strict", "--config-file", "", "--no-error-summary", str(snippet)])
    assert code == 1 and '"Verifier" has no attribute "drift_unrepaird"' in out


def test_the_follower_reads_whole_lines_across_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / transcript.FILE
    follower = transcript.Follower(path)
    assert follower.lines() == []
    path.write_bytes(b"one\ntw")
    assert follower.lines() == [b"one\n"]
    with open(path, "ab") as f:
        f.write(b"o\n")
    assert follower.lines() == [b"two\n"]
    path.rename(tmp_path / (transcript.FILE + ".1"))  # what supervisord does at MAX_BYTES
    path.write_bytes(b"three\nlast")
    assert follower.lines() == [b"three\n"]
    assert follower.rest() == [b"last\n"]
    follower.close()


def test_a_requested_restart_is_logged_at_info(tmp_path: Path) -> None:
    cfg = load({"SYNC_RUNTIME_DIR": str(tmp_path)})
    (tmp_path / shared.FSMONITOR_DIR).mkdir()
    first = record_start(cfg)
    jsonfile.write_json(tmp_path / shared.FSMONITOR_FILE, {"unison_pid": first.pid})
    shared.RestartReason("requested").save(tmp_path)  # what the image's supervisorctl writes
    with capture_logs() as logs:
        second = record_start(cfg)
    assert second.last_restart_reason == "requested"
    [restarted] = [e for e in logs if e["event"] == "unison.restarted"]
    assert restarted["log_level"] == "info" and restarted["reason"] == "requested"
