"""Issue 25 in the image: one folder at both roots, docker stop during the indexing of a big tree,
and ``--read-only``."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.docker.test_health_image import status
from tests.helpers import owners_of, snapshot, user_tree

if TYPE_CHECKING:
    from tests.docker.conftest import Docker

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

PREFIX = "stops-roots"


def test_one_folder_mounted_at_both_roots_is_refused_and_left_alone(docker: Docker, tmp_path: Path) -> None:
    """Issue 25: accepted, healthy, and the user's folder chowned to root, recursively."""
    same = tmp_path / "same"
    user_tree(same)
    before, owned = snapshot(same), owners_of(same)
    name = docker.container(PREFIX)
    done = docker(
        "run", "--name", name, "--network", "none",
        "-v", f"{same}:/host_sync", "-v", f"{same}:/app_sync", docker.image,
        check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = done.stderr.splitlines()
    assert "HOST_VOLUME" in line and "APP_VOLUME" in line and "one folder" in line
    assert "/host_sync" in line and "/app_sync" in line
    assert snapshot(same) == before
    assert owners_of(same) == owned


def test_one_named_volume_at_both_roots_is_refused(docker: Docker) -> None:
    volume = docker.volume(PREFIX)
    name = docker.container(PREFIX)  # named: removed at the end even if it wrongly keeps running
    done = docker(
        "run", "--name", name, "--network", "none",
        "-v", f"{volume}:/host_sync", "-v", f"{volume}:/app_sync", docker.image,
        check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = done.stderr.splitlines()
    assert "one folder" in line


FILES = 40000


def test_docker_stop_during_the_indexing_carries_the_app_write_to_the_host(
    docker: Docker, poll: Callable[..., Any], tmp_path: Path
) -> None:
    """Issue 25: with a 55k-file tree, an app write during the indexing never reached the host."""
    host = tmp_path / "host"
    for i in range(FILES):
        path = host / f"d{i // 500}" / f"f{i:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"host {i}\n")
    volume = docker.volume(PREFIX)
    name = docker.container(PREFIX)
    docker(
        "run", "-d", "--name", name, "--network", "none", "-e", "LOG_FORMAT=json",
        "-v", f"{host}:/host_sync", "-v", f"{volume}:/app_sync", docker.image,
    )  # fmt: skip
    poll(
        lambda: status(docker, name)["state"] == "indexing",
        300,
        "the indexing",
        detail=lambda: docker.logs_tail(name),
    )
    poll(lambda: "unison" in docker("top", name).stdout, 60, "the indexing unison")
    docker("exec", name, "sh", "-c", "echo 'app write during the indexing' > /app_sync/d3/f01600.txt")
    (host / "d5" / "f02600.txt").write_text("host write during the indexing\n")
    started = time.monotonic()
    docker("stop", name, timeout=60)
    took = time.monotonic() - started
    logs = docker("logs", name).stderr
    assert docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == "0", logs[-3000:]
    assert took < 10, f"docker stop took {took:.1f} s (SIGKILL at 10)"
    assert (host / "d3" / "f01600.txt").read_text() == "app write during the indexing\n"
    on_app = docker.on_volume(volume, "cat /app_sync/d5/f02600.txt")
    assert on_app == "host write during the indexing\n"
    assert '"stop.carried"' in logs or '"stop.flush.done"' in logs, logs[-3000:]


def test_read_only_says_the_flags_that_work_and_they_do(
    docker: Docker, poll: Callable[..., Any], tmp_path: Path
) -> None:
    """Issue 25: the message advised running as root (it was root) and /tmp (read-only too)."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "a.txt").write_text("a\n")
    app = docker.volume(PREFIX)
    done = docker(
        "run", "--rm", "--read-only", "--network", "none", "-e", "LOG_FORMAT=json",
        "-v", f"{host}:/host_sync", "-v", f"{app}:/app_sync", docker.image,
        check=False,
    )  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr
    failed = [line for line in done.stderr.splitlines() if '"start.failed"' in line]
    assert len(failed) == 1, done.stderr
    assert "--tmpfs /run --tmpfs /tmp -v native-sync-unison:/unison" in failed[0]
    assert "as root" not in failed[0]

    unison = docker.volume(PREFIX)
    name = docker.container(PREFIX)
    docker(
        "run", "-d", "--name", name, "--read-only", "--network", "none",
        "--tmpfs", "/run", "--tmpfs", "/tmp", "-v", f"{unison}:/unison",
        "-v", f"{host}:/host_sync", "-v", f"{app}:/app_sync", docker.image,
    )  # fmt: skip
    docker.wait_healthy(name)
    docker("exec", name, "sh", "-c", "echo from-app > /app_sync/b.txt")
    arrived = host / "b.txt"
    poll(lambda: arrived.exists() and arrived.read_text() == "from-app\n", 30, "app -> host")
