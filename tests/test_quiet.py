"""End-to-end (issue 26): what is no problem stays quiet.  A git checkout storm and an
``rm -rf`` of a folder being synced are retried quietly (unison's "No such file or
directory", "modified during synchronization": transient, engine/unison/reasons.py); a FIFO and a
socket are skipped by rule, listed in ``status``, never ``degraded``, never drift."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Engine, same_trees, tree_diff, wait_for

pytestmark = [pytest.mark.engine, pytest.mark.timeout(300)]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, timeout=60)


def make_repo(repo: Path, files: int) -> None:
    """``files`` files on ``main``; ``other`` drops half of them, edits a quarter, adds new ones."""
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "test@example.invalid")
    git(repo, "config", "user.name", "test")
    for i in range(files):
        path = repo / f"d{i % 20}" / f"f{i}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"main {i}\n" * (1 + i % 7))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "main")
    git(repo, "checkout", "-qb", "other")
    for i in range(0, files, 2):
        (repo / f"d{i % 20}" / f"f{i}.txt").unlink()
    for i in range(1, files, 4):
        (repo / f"d{i % 20}" / f"f{i}.txt").write_text(f"other {i}\n")
    for i in range(files // 2):
        path = repo / f"e{i % 10}" / f"g{i}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"new {i}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "other")


def settled(engine: Engine) -> bool:
    """Every path the tracker retried is done with: its last word is not ``problem.retrying``."""
    last: dict[str, str] = {}
    for event in engine.events():
        if event.get("event") in ("problem.retrying", "problem.retried", "problem"):
            last[str(event.get("path"))] = str(event["event"])
    return "problem.retrying" not in last.values()


def quiet_after(engine: Engine, what: str) -> None:
    """Trees equal, every retry done with, and not one ``problem``: never degraded."""
    wait_for(
        lambda: same_trees(engine.host, engine.app),
        90,
        f"identical trees after {what}",
        0.2,
        detail=lambda: tree_diff(engine.host, engine.app),
    )
    # a retry ends when unison carries the path or a recheck (every CHECK_EVERY s) finds it
    # equal or gone; one that still differed after TRANSIENT_BOUND would be a `problem`
    wait_for(lambda: settled(engine), 60, "every retry done with", 0.5, detail=lambda: engine.logs()[-3000:])
    problems = engine.events("problem")
    assert problems == [], problems
    assert engine.events(level="warning") == [], engine.events(level="warning")
    assert engine.status()["state"] == "watching"


@pytest.fixture
def debug_engine(engine_factory: Any) -> Iterator[Engine]:
    """An engine that logs the tracker's quiet retries (debug) for :func:`settled` to read."""
    engine: Engine = engine_factory(LOG_LEVEL="debug")
    yield engine


def test_ten_quick_branch_switches_of_a_600_file_repo_are_no_problem(debug_engine: Engine) -> None:
    """Before: 77 `[warning] problem` lines (`Error in copying locally: ... No such file or
    directory`) and `degraded` for 3.5 s for nine switches of a 598-file repo."""
    engine = debug_engine
    engine.start().wait_watching()
    engine.wait_first_watch_cycle()
    repo = engine.host / "repo"
    make_repo(repo, 600)
    wait_for(lambda: same_trees(engine.host, engine.app), 90, "the repo synced", 0.2)
    for i in range(10):
        git(repo, "checkout", "-q", "main" if i % 2 == 0 else "other")
    quiet_after(engine, "ten branch switches")


def test_an_rm_rf_of_a_2000_file_folder_being_synced_is_no_problem(debug_engine: Engine) -> None:
    """Before: 58 `[warning] problem` lines for the files unison was copying."""
    engine = debug_engine
    engine.start().wait_watching()
    engine.wait_first_watch_cycle()
    tree = engine.host / "build"
    for i in range(2000):
        path = tree / f"s{i % 40}" / f"x{i}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x" * (100 + i % 300))
    wait_for(lambda: (engine.app / "build").exists(), 30, "unison copying the folder", 0.005)
    shutil.rmtree(tree)
    quiet_after(engine, "the rm -rf")
    assert not (engine.app / "build").exists()


def test_a_fifo_and_a_socket_are_skipped_by_rule_never_degraded_never_drift(
    engine_factory: Any, tmp_path: Path
) -> None:
    """Before: `degraded` while they existed, and `drift_repaired` grew on every verifier pass."""
    engine: Engine = engine_factory(SYNC_VERIFY_INTERVAL="1")
    (engine.host / "early.fifo").parent.mkdir(exist_ok=True)
    subprocess.run(["mkfifo", str(engine.host / "early.fifo")], check=True)  # there at the start
    engine.start().wait_watching()
    engine.wait_first_watch_cycle()
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(engine.host / "db.sock"))  # a database's socket in the project
        subprocess.run(["mkfifo", str(engine.host / "pipe")], check=True)
        (engine.host / "after.txt").write_text("still syncs\n")

        def three_skipped() -> list[dict[str, str]] | None:
            skipped: list[dict[str, str]] = engine.status()["skipped"]
            return skipped if len(skipped) == 3 else None

        listed = wait_for(
            three_skipped,
            30,
            "the FIFOs and the socket listed as skipped",
            0.2,
            detail=lambda: str(engine.status()),
        )
        assert sorted(p["path"] for p in listed) == ["db.sock", "early.fifo", "pipe"]
        assert all(p["side"] == "host" and "special file" in p["reason"] for p in listed), listed
        passes = engine.status()["verifier"]["passes"]
        wait_for(
            lambda: engine.status()["verifier"]["passes"] >= passes + 3, 60, "three verifier passes", 0.5
        )
        current = engine.status()
        assert current["state"] == "watching", current
        assert current["problems"] == []
        assert current["verifier"]["drift_repaired"] == 0
        assert current["verifier"]["drift_unrepaired"] == []
        assert (engine.app / "after.txt").read_text() == "still syncs\n"
        assert not (engine.app / "db.sock").exists() and not (engine.app / "pipe").exists()
        view = engine.cli("status").stdout
        assert "Skipped (3)" in view and "db.sock" in view, view
        assert engine.events("problem") == [] and engine.events(level="warning") == []
        assert len(engine.events("skipped", path="db.sock")) == 1  # said once
        assert engine.cli("health").returncode == 0
    finally:
        server.close()
    (engine.host / "db.sock").unlink()
    wait_for(lambda: len(engine.status()["skipped"]) == 2, 30, "the socket gone from the list", 0.2)
