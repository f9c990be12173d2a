"""Issue 20 in the image: help and --help, flush says what it did, a conflict's losing version
in the store (not in the tree, not in git), `conflicts` lists it across a restart and `conflicts
keep` settles it; the status view; the ownership warning under --user names the running user."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.docker.test_health_image import (
    USER,
    app_folder,
    host_folder,
    no_traceback,
    status,
    wait_running,
)
from tests.helpers import wait_for

if TYPE_CHECKING:
    from tests.docker.conftest import Docker

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]


def start(docker: Docker, tmp_path: Path, *extra: str) -> tuple[str, Path, Path]:
    host, app = host_folder(tmp_path), app_folder(tmp_path)
    name = docker.container()
    docker(
        "run", "-d", "--name", name, "--network", "none", *extra,
        "-v", f"{host}:/host_sync", "-v", f"{app}:/app_sync", docker.image,
    )  # fmt: skip
    docker.wait_healthy(name)
    return name, host, app


def test_help_and_dash_dash_help(docker: Docker) -> None:
    helped = docker("run", "--rm", "--network", "none", docker.image, "help").stdout
    assert docker("run", "--rm", "--network", "none", docker.image, "--help").stdout == helped
    for line in (
        "    status        what the sync does",
        "    conflicts     the conflicts and their kept copies",
        "    flush         sync both ways now",
        "native-sync conflicts keep app src/a.py",
    ):
        assert line in helped, helped
    wrong = docker("run", "--rm", "--network", "none", docker.image, "stauts", check=False)
    assert wrong.returncode == 2 and "`native-sync help` lists the commands" in wrong.stderr


def test_flush_status_and_a_conflict_across_a_restart(
    docker: Docker, tmp_path: Path, poll: Callable[..., Any]
) -> None:
    name, host, app = start(docker, tmp_path)
    flushed = docker("exec", name, "native-sync", "flush")
    assert flushed.stdout.startswith("native-sync: flushed: "), flushed
    assert " both ways (a full sync of /host_sync and /app_sync) in " in flushed.stdout
    view = docker("exec", name, "native-sync", "status").stdout
    assert view.startswith("native-sync  watching: changes sync both ways\n"), view
    assert "\033[" not in view  # no terminal, no colour

    (host / "src").mkdir()
    (host / "src" / "a.py").write_text("v1\n")
    poll(lambda: (app / "src" / "a.py").exists(), 30, "src/a.py in the app")
    docker("stop", name)
    (host / "src" / "a.py").write_text("the host's v2\n")
    (app / "src" / "a.py").write_text("the app's v2\n")
    docker("start", name)
    docker.wait_healthy(name)
    listed = docker("exec", name, "native-sync", "conflicts").stdout
    assert "1 conflict (newest first):\n  src/a.py\n      host won, " in listed, listed
    assert "app's version is kept in /host_sync/.native-sync/conflicts/" in listed
    current = status(docker, name)
    assert current["conflicts"]["count"] == 1 and current["conflicts"]["list"][0]["path"] == "src/a.py"
    kept = [p for p in (host / ".native-sync" / "conflicts").rglob("a.py")]
    assert [p.read_text() for p in kept] == ["the app's v2\n"]
    assert sorted(p.name for p in (app / "src").iterdir()) == ["a.py"]  # nothing in the app's tree
    assert sorted(p.name for p in (host / "src").iterdir()) == ["a.py"]
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", str(host)], check=True)
        dirty = subprocess.run(
            ["git", "-c", f"safe.directory={host}", "-C", str(host), "status", "--porcelain", "-uall"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert ".native-sync" not in dirty, dirty

    docker("restart", name)  # the list survives a restart
    docker.wait_healthy(name)
    assert status(docker, name)["conflicts"]["count"] == 1
    assert "1 conflict to look at" in docker("exec", name, "native-sync", "status").stdout

    kept_app = docker("exec", name, "native-sync", "conflicts", "keep", "app", "src/a.py")
    assert "restored the app version of src/a.py" in kept_app.stdout, kept_app
    poll(lambda: (host / "src" / "a.py").read_text() == "the app's v2\n", 30, "the app's version on the host")
    poll(lambda: status(docker, name)["conflicts"]["count"] == 0, 30, "the conflict to be gone from status")
    logs = docker.logs_tail(name)
    assert "conflict " in logs and "path=src/a.py" in logs
    no_traceback(logs)


def test_status_in_a_real_terminal_over_docker_exec(docker: Docker, tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (apt-get install tmux)")
    name, _, _ = start(docker, tmp_path)
    wait_running(docker, name)  # a cold start is healthy while unison indexes (issue 13)
    session = f"ns-{uuid.uuid4().hex[:8]}"
    command = f"docker exec -t {name} native-sync status; echo END-OF-STATUS; sleep 60"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "40", command], check=True)
    try:

        def screen(*flags: str) -> str:
            done = subprocess.run(
                ["tmux", "capture-pane", "-p", *flags, "-t", session], capture_output=True, text=True
            )
            return done.stdout

        wait_for(lambda: "END-OF-STATUS" in screen(), 30, "status in tmux", detail=screen)
        assert "native-sync  watching: changes sync both ways" in screen()
        assert "  host       /host_sync" in screen()
        assert "\033[32m" in screen("-e") or "\033[32mwatching" in screen("-e")
        print(screen())
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def test_the_ownership_warning_under_user_names_the_running_user(docker: Docker, tmp_path: Path) -> None:
    name, _, _ = start(docker, tmp_path, "--user", USER)
    logs = docker.logs_tail(name)
    if "ownership.skipped" in logs:
        assert "running_uid=1000" in logs and "wanted_uid=0" in logs, logs
        assert "OWNER_UID=1000 GROUP_ID=1000" in logs
