"""Issue 9 in the image: misconfiguration said in one line, --user runs, problems per path,
mount warnings, /tmp/unison.log, and docker-sync's `supervisorctl restart unison` as a
requested restart."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.helpers import wait_for

if TYPE_CHECKING:
    from tests.docker.conftest import Docker

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

USER = "1000:1000"


def status(docker: Docker, name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(docker("exec", name, "native-sync", "status", "--json").stdout)
    return result


def host_folder(tmp_path: Path, owner: int = 1000) -> Path:
    host = tmp_path / "host"
    host.mkdir()
    os.chown(host, owner, owner)
    (host / "a.txt").write_text("a\n")
    os.chown(host / "a.txt", owner, owner)
    return host


def app_folder(tmp_path: Path, owner: int = 1000) -> Path:
    """The app side as a bind mount: docker gives an empty named volume the image's owner again
    at every mount (copy-up), so a chown of an empty volume does not last."""
    app = tmp_path / "app"
    app.mkdir()
    os.chown(app, owner, owner)
    return app


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def wait_running(docker: Docker, name: str, timeout: float = 90) -> dict[str, Any]:
    """The status once `name` watches, with or without problems (health may fail: issue 26)."""

    def running() -> dict[str, Any] | None:
        if docker.health(name).startswith("exited"):
            pytest.fail(f"{name} exited:\n{docker.logs_tail(name)}")
        done = docker("exec", name, "native-sync", "status", "--json", check=False)
        current: dict[str, Any] = json.loads(done.stdout) if done.returncode == 0 else {}
        return current if current.get("state") in ("watching", "degraded") else None

    found: dict[str, Any] = wait_for(
        running, timeout, f"{name} watching", 0.2, lambda: docker.logs_tail(name)
    )
    return found


def no_traceback(text: str) -> None:
    assert "Traceback" not in text, text


def test_a_host_folder_the_sync_user_cannot_read_stops_the_start_in_one_line(
    docker: Docker, tmp_path: Path
) -> None:
    """Issue 9 case 1: precopy and run say who, which folder, owner, mode and the fix; exit 3."""
    host = tmp_path / "host"
    host.mkdir(mode=0o700)
    (host / "secret.txt").write_text("not for uid 1000\n")
    app = app_folder(tmp_path)
    mounts = ("-v", f"{host}:/host_sync", "-v", f"{app}:/app_sync")
    base = ("run", "--rm", "--network", "none", "--user", USER, *mounts, docker.image)
    done = docker(*base, "/usr/local/bin/precopy_appsync", check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    no_traceback(output)
    failed = [line for line in output.splitlines() if "precopy.failed" in line]
    assert len(failed) == 1, output
    assert "user 1000:1000 cannot list and write /host_sync (owner 0:0, mode 0700)" in failed[0]
    assert "--user" in failed[0]
    assert listing(app) == []
    ran = docker(*base, check=False, timeout=120)
    assert ran.returncode == 3, ran.stdout + ran.stderr
    assert "cannot list and write /host_sync" in ran.stdout + ran.stderr
    assert listing(app) == []


def test_user_1000_runs_and_syncs(docker: Docker, poll: Callable[..., Any], tmp_path: Path) -> None:
    """Issue 9 case 5: `docker run --user 1000:1000` works with folders it can write."""
    host = host_folder(tmp_path)
    app = app_folder(tmp_path)
    name = docker.container()
    docker(
        "run", "-d", "--name", name, "--network", "none", "--user", USER,
        "-v", f"{host}:/host_sync", "-v", f"{app}:/app_sync", docker.image,
    )  # fmt: skip
    docker.wait_healthy(name)
    # a cold start is healthy while unison indexes (issue 13): watching follows (under load: seconds)
    poll(lambda: status(docker, name)["state"] == "watching", 60, "watching")
    (host / "later.txt").write_text("later\n")
    poll(
        lambda: docker("exec", name, "cat", "/app_sync/later.txt", check=False).stdout == "later\n",
        30,
        "sync",
    )
    no_traceback(docker.logs_tail(name))


def test_user_1000_without_a_writable_app_folder_says_how_to_run(docker: Docker, tmp_path: Path) -> None:
    """Issue 9 case 5: a root-owned app folder is one line naming it and the fix, never a traceback.
    (A fresh named volume is no such folder any more: test_edges_image.py.)"""
    host = host_folder(tmp_path)
    app = app_folder(tmp_path, owner=0)  # root 0755, as a bind mount keeps it
    done = docker(
        "run", "--rm", "--network", "none", "--user", USER,
        "-v", f"{host}:/host_sync", "-v", f"{app}:/app_sync", docker.image,
        check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    no_traceback(output)
    assert re.search(
        r"APP_VOLUME: the container's user 1000:1000 cannot list and write /app_sync \(owner 0:0", output
    )


def test_an_unreadable_file_is_named_by_precopy_and_in_status(
    docker: Docker, poll: Callable[..., Any], tmp_path: Path
) -> None:
    """Issue 9 case 6: precopy exits non-zero naming the file; `run` lists it as a problem."""
    host = host_folder(tmp_path)
    secret = host / "secret.txt"
    secret.write_text("root only\n")
    secret.chmod(0o600)
    app = app_folder(tmp_path)
    mounts = ("-v", f"{host}:/host_sync", "-v", f"{app}:/app_sync")
    done = docker(
        "run", "--rm", "--network", "none", "--user", USER, *mounts, docker.image,
        "/usr/local/bin/precopy_appsync", check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 5, output
    assert re.search(r"\[error\s*\] problem\s.*path=secret\.txt.*side=host", output), output
    assert (app / "a.txt").read_text() == "a\n"  # the rest is synced
    name = docker.container()
    docker("run", "-d", "--name", name, "--network", "none", "--user", USER, *mounts, docker.image)
    current = wait_running(docker, name)
    assert current["state"] == "degraded"  # never invisible...
    [problem] = current["problems"]
    assert problem["path"] == "secret.txt" and problem["side"] == "host"
    assert "Permission denied" in problem["reason"]
    # ...and a reason that needs the user fails health while the file stays unsynced (issue 26)
    assert docker("exec", name, "native-sync", "health", check=False).returncode == 1
    secret.chmod(0o644)  # the user's fix
    wait_for(
        lambda: docker("exec", name, "native-sync", "health", check=False).returncode == 0, 30, "healthy", 0.2
    )
    assert (app / "secret.txt").read_text() == "root only\n"
    assert status(docker, name)["problems"] == []


def test_no_mounts_is_a_warning(docker: Docker) -> None:
    """Issue 9 case 4: `docker run` with no -v at all is said, in the log and in status."""
    name = docker.container()
    docker("run", "-d", "--name", name, "--network", "none", docker.image)
    docker.wait_healthy(name)
    current = status(docker, name)
    assert current["warnings"] == [
        "/host_sync is not a mount: add -v /path/to/project:/host_sync",
        "/app_sync is not a mount: add -v app_sync:/app_sync",
    ]
    logs = docker("logs", name)
    assert "/host_sync is not a mount" in logs.stdout + logs.stderr


def test_unison_log_in_tmp_on_a_read_only_container(
    docker: Docker, poll: Callable[..., Any], tmp_path: Path
) -> None:
    """unison's output also goes to /tmp/unison.log (bounded), with --read-only and tmpfs /tmp, /run."""
    host = host_folder(tmp_path, owner=0)
    app = app_folder(tmp_path, owner=0)
    name = docker.container()
    docker(
        "run", "-d", "--name", name, "--network", "none", "--read-only",
        "--tmpfs", "/tmp", "--tmpfs", "/run", "--tmpfs", "/unison",
        "-v", f"{host}:/host_sync", "-v", f"{app}:/app_sync", docker.image,
    )  # fmt: skip
    docker.wait_healthy(name)
    assert status(docker, name)["warnings"] == []
    assert docker("exec", name, "readlink", "/tmp/unison.log").stdout.strip() == "/run/native-sync/unison.log"
    (host / "unreadable").mkdir(mode=0o000)  # unison (as root) reads it; make it say something
    (host / "new.txt").write_text("new\n")
    poll(lambda: (app / "new.txt").exists(), 30, "the sync")
    poll(
        lambda: "unison.exec" in docker("exec", name, "cat", "/tmp/unison.log", check=False).stdout,
        30,
        "unison's program output in /tmp/unison.log",
    )
    conf = docker("exec", name, "cat", "/run/native-sync/supervisord.conf").stdout
    assert "stdout_logfile=/run/native-sync/unison.log" in conf
    assert "stdout_logfile_maxbytes=1048576" in conf
    logs = docker("logs", name)
    assert "unison.exec" in logs.stdout + logs.stderr  # still forwarded to docker logs


def test_supervisorctl_restart_unison_is_a_requested_restart(
    docker: Docker, poll: Callable[..., Any], tmp_path: Path
) -> None:
    """docker-sync ends every start with `supervisorctl restart unison`: info, reason=requested."""
    host = host_folder(tmp_path, owner=0)
    volume = docker.volume()
    name = docker.container()
    docker("run", "-d", "--name", name, "--network", "none", "-v", f"{host}:/host_sync",
           "-v", f"{volume}:/app_sync", docker.image)  # fmt: skip
    docker.wait_healthy(name)
    docker("exec", name, "supervisorctl", "restart", "unison")
    # the new unison program records its start a moment after supervisord reports it running
    poll(lambda: status(docker, name)["unison"]["last_restart_reason"], 20, "the restart recorded")
    assert status(docker, name)["unison"]["last_restart_reason"] == "requested"

    def logs() -> str:
        done = docker("logs", name)
        return done.stdout + done.stderr

    # `run` forwards the unison program's lines from its log file (up to 0.5 s later)
    poll(lambda: re.search(r"\[info\s*\] unison\.restarted\s.*reason=requested", logs()), 20, "the log line")
    assert not re.search(r"\[warning\s*\] unison\.restarted", logs()), logs()
