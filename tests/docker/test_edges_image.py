"""Issue 18 in the image: what a new user hit (--user with a fresh named volume, an
unreadable folder under --user, a full app volume)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from engine.supervise.watching import CHECK_EVERY
from tests.docker.test_health_image import USER, app_folder, host_folder, no_traceback, status, wait_running

if TYPE_CHECKING:
    from tests.docker.conftest import Docker

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]


def holds(
    check: Callable[[], bool], seconds: float, what: str, detail: Callable[[], str] = lambda: ""
) -> None:
    """``check`` is true at every probe for ``seconds`` (it flipped within CHECK_EVERY before)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        assert check(), f"{what} stopped holding after {time.monotonic() - started:.1f} s\n{detail()}"


def test_user_1000_with_a_fresh_named_volume_just_works(
    docker: Docker, poll: Callable[..., Any], tmp_path: Path
) -> None:
    """Docker copies the image's /app_sync (now 1777) into the empty volume at every mount."""
    host = host_folder(tmp_path)
    volume = docker.volume()
    name = docker.container()
    docker(
        "run", "-d", "--name", name, "--network", "none", "--user", USER,
        "-v", f"{host}:/host_sync", "-v", f"{volume}:/app_sync", docker.image,
    )  # fmt: skip
    docker.wait_healthy(name)
    # a cold start is healthy while unison indexes (issue 13): watching follows (under load: seconds)
    poll(lambda: status(docker, name)["state"] == "watching", 60, "watching")
    current = status(docker, name)
    assert current["problems"] == []
    assert docker("exec", name, "cat", "/app_sync/a.txt").stdout == "a\n"
    docker("exec", name, "sh", "-c", "echo from-app > /app_sync/b.txt")
    poll(
        lambda: (host / "b.txt").exists() and (host / "b.txt").read_text() == "from-app\n", 30, "app -> host"
    )
    assert os.stat(host / "b.txt").st_uid == 1000
    no_traceback(docker.logs_tail(name))


def test_an_unreadable_folder_stays_a_problem_while_its_files_cannot_sync(
    docker: Docker, poll: Callable[..., Any], tmp_path: Path
) -> None:
    """Before: `problem.cleared why=resolved` 5 s later, `status` watching, the files never synced."""
    host = host_folder(tmp_path)
    closed = host / "closed"
    closed.mkdir(mode=0o700)  # root's, as the test runs as root
    (closed / "in.txt").write_text("inside\n")
    app = app_folder(tmp_path)
    name = docker.container()
    docker(
        "run", "-d", "--name", name, "--network", "none", "--user", USER,
        "-v", f"{host}:/host_sync", "-v", f"{app}:/app_sync", docker.image,
    )  # fmt: skip
    wait_running(docker, name)  # not healthy: closed cannot sync for a reason that needs the user

    def named() -> bool:
        return "closed" in {p["path"] for p in status(docker, name)["problems"]}

    poll(named, 30, "closed named as a problem")
    holds(named, 3 * CHECK_EVERY, "the problem on closed")
    assert status(docker, name)["state"] == "degraded"
    assert docker("exec", name, "native-sync", "health", check=False).returncode == 1  # issue 26
    closed.chmod(0o755)  # the user's fix
    poll(
        lambda: docker("exec", name, "cat", "/app_sync/closed/in.txt", check=False).stdout == "inside\n",
        30,
        "closed/in.txt synced once readable",
    )
    poll(lambda: status(docker, name)["problems"] == [], 30, "the problem cleared")
    poll(lambda: docker("exec", name, "native-sync", "health", check=False).returncode == 0, 30, "healthy")


def test_a_full_app_volume_is_unhealthy_until_fixed(
    docker: Docker, poll: Callable[..., Any], tmp_path: Path
) -> None:
    """Before: health flipped every 5-10 s (`docker ps` said healthy), and passed for good once
    the verifier gave up on the file."""
    host = host_folder(tmp_path)
    name = docker.container()
    docker(
        "run", "-d", "--name", name, "--network", "none",
        "-v", f"{host}:/host_sync", "--tmpfs", "/app_sync:size=5m,mode=1777", docker.image,
    )  # fmt: skip
    docker.wait_healthy(name)
    (host / "big.bin").write_bytes(os.urandom(10 << 20))

    def health() -> int:
        return docker("exec", name, "native-sync", "health", check=False).returncode

    poll(lambda: health() == 1, 60, "health failing")
    holds(
        lambda: health() == 1,
        4 * CHECK_EVERY,
        "failing health",
        lambda: json.dumps(status(docker, name)) + docker.logs_tail(name),
    )
    current = status(docker, name)
    assert current["state"] == "degraded"
    assert any("No space left on device" in p["reason"] for p in current["problems"]), json.dumps(current)
    (host / "big.bin").unlink()  # the user's fix
    poll(lambda: health() == 0, 60, "healthy again")
