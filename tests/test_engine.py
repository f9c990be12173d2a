"""End-to-end: ``entrypoint.py run`` with real unison, supervisord and our fsmonitor."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import Engine, make_engine, read, same_trees, snapshot, wait_for, write

pytestmark = pytest.mark.engine

SYNC = 10.0  # seconds an edit may take to show on the other side in these tests


def tricky_tree(root: Path) -> None:
    """1,000 plain files and every kind of name and entry unison must carry."""
    for i in range(1000):
        write(root / f"bulk/d{i // 100}/file{i}.txt", f"content {i}\n")
    write(root / "with space.txt", "space")
    write(root / "unicodé ☃ 日本.txt", "unicode")
    write(root / "100% done %20.txt", "percent")
    write(root / "new\nline.txt", "newline")
    write(root / ("x" * 200), "long name")
    (root / "empty-dir" / "nested-empty").mkdir(parents=True)
    os.symlink("with space.txt", root / "link-to-file")
    os.symlink("bulk", root / "link-to-dir")
    os.symlink("does-not-exist", root / "dangling")
    script = root / "run.sh"
    write(script, "#!/bin/sh\necho hi\n")
    script.chmod(0o755)


def test_initial_sync_carries_every_kind_of_name_and_entry(engine: Engine) -> None:
    tricky_tree(engine.host)
    engine.start()
    status = engine.wait_watching()
    assert status["initial_sync_done"] is True
    assert snapshot(engine.app) == snapshot(engine.host)
    assert os.stat(engine.app / "run.sh").st_mode & 0o111 == 0o111
    assert os.readlink(engine.app / "link-to-dir") == "bulk"
    assert len([p for p in snapshot(engine.app) if p.startswith("bulk/") and p.endswith(".txt")]) == 1000
    (done,) = engine.events("initial_sync.done")
    assert done["items"] >= 1000 and done["seconds"] >= 0


def test_edits_creates_and_deletes_flow_both_ways(engine: Engine) -> None:
    write(engine.host / "keep.txt", "v1")
    write(engine.host / "tree/a/b.txt", "deep")
    engine.start().wait_watching()

    write(engine.host / "from-host.txt", "hello app")
    wait_for(lambda: read(engine.app / "from-host.txt") == "hello app", SYNC, "host create -> app")
    write(engine.app / "keep.txt", "v2 from app")
    wait_for(lambda: read(engine.host / "keep.txt") == "v2 from app", SYNC, "app edit -> host")
    write(engine.app / "new/dir/deep.txt", "made in app")
    wait_for(lambda: read(engine.host / "new/dir/deep.txt") == "made in app", SYNC, "app mkdir -p -> host")
    (engine.host / "from-host.txt").unlink()
    wait_for(lambda: not (engine.app / "from-host.txt").exists(), SYNC, "host delete -> app")
    (engine.app / "tree").rename(engine.app / "moved")
    wait_for(
        lambda: read(engine.host / "moved/a/b.txt") == "deep" and not (engine.host / "tree").exists(),
        SYNC,
        "app folder rename -> host",
    )
    (engine.host / "keep.txt").chmod(0o755)
    wait_for(lambda: os.stat(engine.app / "keep.txt").st_mode & 0o777 == 0o755, SYNC, "chmod -> app")
    # A file in a folder created after the start is watched too.
    write(engine.host / "moved/a/later.txt", "later")
    wait_for(lambda: read(engine.app / "moved/a/later.txt") == "later", SYNC, "edit in new folder")
    wait_for(lambda: same_trees(engine.host, engine.app), SYNC, "identical trees")


@pytest.mark.parametrize("side", ["host", "app"])
def test_file_created_and_deleted_within_20ms_is_gone_on_both_sides(engine: Engine, side: str) -> None:
    engine.start().wait_watching()
    here, there = (engine.host, engine.app) if side == "host" else (engine.app, engine.host)
    for i in range(20):
        blip = here / f"blip{i}.tmp"
        blip.write_text("short-lived")
        blip.unlink()
    write(here / "marker.txt", "after")
    wait_for(lambda: read(there / "marker.txt") == "after", SYNC, "marker synced")
    wait_for(lambda: same_trees(engine.host, engine.app), SYNC, "identical trees")
    assert not any(p.startswith("blip") for p in snapshot(engine.host) | snapshot(engine.app))


def test_conflict_keeps_both_versions_and_is_counted(engine: Engine) -> None:
    write(engine.host / "shared.txt", "original")
    engine.start().wait_watching()
    assert engine.terminate() == 0
    write(engine.host / "shared.txt", "host version")
    write(engine.app / "shared.txt", "app version")

    engine.start()
    wait_for(lambda: engine.status()["conflicts"]["count"] >= 1, 30, "conflict counted")
    assert read(engine.host / "shared.txt") == "host version"
    wait_for(lambda: read(engine.app / "shared.txt") == "host version", SYNC, "host wins")
    # the losing version is kept in the conflict store on the host (engine/unison/conflicts.py),
    # not next to the file: neither tree gets unison's "(conflict_on_...)" copy
    assert not [p for p in (*engine.app.iterdir(), *engine.host.iterdir()) if "conflict" in p.name]
    [listed] = engine.status()["conflicts"]["list"]
    assert (listed["path"], listed["winner"], listed["loser"]) == ("shared.txt", "host", "app")
    kept = Path(listed["kept"])
    assert kept.is_relative_to(engine.host / ".native-sync" / "conflicts") and kept.name == "shared.txt"
    assert kept.read_text() == "app version"
    assert engine.status()["conflicts"]["recent"] == [listed["kept"]]
    [logged] = engine.events("conflict", path="shared.txt")
    assert (logged["level"], logged["kept"], logged["winner"]) == ("warning", listed["kept"], "host")
    wait_for(lambda: same_trees(engine.host, engine.app), SYNC, "identical trees (the store aside)")


def test_sigterm_flushes_a_file_written_just_before(engine: Engine) -> None:
    engine.start().wait_watching()
    write(engine.app / "last-second.txt", "written right before stop")
    write(engine.host / "host-last.txt", "also this way")
    assert engine.terminate(timeout=10) == 0
    assert read(engine.host / "last-second.txt") == "written right before stop"
    assert read(engine.app / "host-last.txt") == "also this way"
    assert engine.events("stop.flush.done")


def test_empty_host_with_a_synced_archive_deletes_nothing(engine: Engine) -> None:
    for i in range(20):
        write(engine.host / f"f{i}.txt", str(i))
    engine.start().wait_watching()
    assert engine.terminate() == 0
    for path in engine.host.iterdir():
        path.unlink()  # the host mount "did not come up"
    before = snapshot(engine.app)

    engine.start()
    assert engine.proc is not None
    assert engine.proc.wait(timeout=30) == 3
    assert snapshot(engine.app) == before and len(before) == 20
    status = engine.status()
    assert status["state"] == "failed"
    assert "refusing to propagate the deletion" in status["error"]
    (failed,) = engine.events("start.failed")
    assert "refusing to propagate the deletion" in failed["error"]


def test_status_health_and_supervisorctl(engine: Engine) -> None:
    assert engine.cli("health").returncode == 1  # not started
    engine.start()
    status = engine.wait_watching()
    assert set(status) >= {
        "state",
        "initial_sync_done",
        "last_sync_at",
        "pending_changes",
        "unison",
        "conflicts",
        "rescans",
    }
    assert set(status["unison"]) >= {"pid", "restarts", "last_restart_reason"}
    assert isinstance(status["unison"]["pid"], int)
    # `watching` comes as unison runs; `health` also wants its fsmonitor running, a moment later
    wait_for(lambda: engine.cli("health").returncode == 0, 20, "health to pass (fsmonitor running)")
    conf = engine.runtime / "supervisord.conf"
    done = subprocess.run(
        [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(conf), "status", "unison"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert "RUNNING" in done.stdout, done.stdout + done.stderr
    assert oct((engine.runtime / "supervisor.sock").stat().st_mode & 0o777) == oct(0o700)


def test_supervisorctl_restart_keeps_syncing_and_counts_it(engine: Engine) -> None:
    engine.start().wait_watching()
    conf = str(engine.runtime / "supervisord.conf")
    python = sys.executable
    done = subprocess.run(
        [python, "-m", "supervisor.supervisorctl", "-c", conf, "restart", "unison"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    write(engine.host / "after-restart.txt", "still syncing")
    wait_for(lambda: read(engine.app / "after-restart.txt") == "still syncing", 20, "sync after restart")
    status = engine.status()
    assert status["unison"]["restarts"] == 1
    assert status["unison"]["last_restart_reason"] == "exit"


def test_ignores_from_unison_args_and_excludes(engine_factory: Callable[..., Engine]) -> None:
    engine = engine_factory(
        UNISON_ARGS="-ignore='Name .git' -numericids -auto -batch",
        UNISON_EXCLUDES="Name *.log\nBelowPath cache",
    )
    write(engine.host / ".git/HEAD", "ref")
    write(engine.host / "app.log", "log")
    write(engine.host / "cache/x/y", "cached")
    write(engine.host / "src/main.py", "print()")
    engine.start().wait_watching()
    assert read(engine.app / "src/main.py") == "print()"
    assert not (engine.app / ".git").exists()
    assert not (engine.app / "app.log").exists()
    assert not (engine.app / "cache").exists()
    write(engine.host / ".git/ORIG_HEAD", "x")
    write(engine.host / "src/second.py", "x")
    wait_for(lambda: read(engine.app / "src/second.py") == "x", SYNC, "edit synced")
    assert not (engine.app / ".git").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_app_volume_is_owned_by_owner_uid(tmp_path_factory: pytest.TempPathFactory) -> None:
    base = Path(tempfile.mkdtemp(prefix="ns-owner-"))
    base.chmod(0o755)
    engine = make_engine(base, OWNER_UID="4321", GROUP_ID="4322")
    try:
        check_ownership(engine)
    finally:
        engine.close()
        shutil.rmtree(base, ignore_errors=True)


def check_ownership(engine: Engine) -> None:
    write(engine.host / "a/b.txt", "x")
    os.chown(engine.host, 4321, 4322)  # unison runs as root; the owners are per side
    engine.start().wait_watching()
    for path in [engine.app, *engine.app.rglob("*")]:
        st = path.lstat()
        assert (st.st_uid, st.st_gid) == (4321, 4322), path
    write(engine.host / "a/new.txt", "new")
    wait_for(lambda: read(engine.app / "a/new.txt") == "new", SYNC, "new file synced")

    def owned() -> bool:
        st = (engine.app / "a/new.txt").stat()
        return (st.st_uid, st.st_gid) == (4321, 4322)

    wait_for(owned, SYNC, "the new file given to OWNER_UID:GROUP_ID (within a sync cycle)")


def test_precopy_syncs_once_honouring_ignores_and_exits(engine_factory: Callable[..., Engine]) -> None:
    engine = engine_factory()
    engine.env["UNISON_ARGS"] = f"-ignore='Name .git' -prefer {engine.host} -numericids -auto -batch"
    write(engine.host / ".git/config", "x")
    write(engine.host / "src/app.py", "print('hi')")
    done = engine.cli("precopy", timeout=60)
    assert done.returncode == 0, done.stderr
    assert read(engine.app / "src/app.py") == "print('hi')"
    assert not (engine.app / ".git").exists()
    assert "initial_sync.done" in done.stderr
    assert not (engine.runtime / "supervisor.sock").exists()


def test_json_logs_are_one_event_per_line(engine_factory: Callable[..., Engine]) -> None:
    engine = engine_factory(LOG_FORMAT="json")
    write(engine.host / "a.txt", "a")
    done = engine.cli("precopy", timeout=60)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    finished = [e for e in events if e["event"] == "initial_sync.done"]
    assert len(finished) == 1 and finished[0]["level"] == "info"
    assert isinstance(finished[0]["seconds"], float) and "timestamp" in finished[0]


def test_the_healthy_marker_follows_health(engine: Engine) -> None:
    marker = engine.runtime / "healthy"
    engine.start().wait_watching()
    wait_for(lambda: engine.cli("health").returncode == 0, 20, "healthy")
    wait_for(marker.exists, 5, "the marker")
    assert engine.terminate() == 0
    assert not marker.exists()
