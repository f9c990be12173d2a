"""examples/compose.yml with the machine's compose (`docker compose` v2 when the
plugin answers, else Debian's docker-compose 1.29): the app starts once the sync
service is healthy, sees the synced files, and `down -v` cleans up."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.docker.conftest import Docker

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def compose_command() -> list[str] | None:
    """`docker compose` (v2) if the plugin answers, else `docker-compose` (v1), else None."""
    try:
        v2 = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30, check=False)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        v2 = None
    if v2 is not None and v2.returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


class Compose:
    def __init__(self, command: list[str], workdir: Path, project: str, image: str) -> None:
        self.command = command
        self.workdir = workdir
        self.project = project
        self.env = {**os.environ, "NATIVE_SYNC_IMAGE": image}

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*self.command, "-p", self.project, "-f", str(self.workdir / "compose.yml"), *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if check and proc.returncode != 0:
            pytest.fail(
                f"{' '.join([*self.command, *args])} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc


@pytest.fixture
def compose(docker: Docker, tmp_path: Path) -> Iterator[Compose]:
    command = compose_command()
    if command is None:
        pytest.fail("no compose: neither `docker compose` nor docker-compose (scripts/ci-setup.sh)")
    # A copy, so that the example's ./project in the repository is never written to.
    shutil.copy(EXAMPLES / "compose.yml", tmp_path / "compose.yml")
    shutil.copytree(EXAMPLES / "project", tmp_path / "project")
    (tmp_path / "project" / ".git").mkdir()  # ignored by the example's UNISON_ARGS
    (tmp_path / "project" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    c = Compose(command, tmp_path, f"nstest{uuid.uuid4().hex[:10]}", docker.image)
    yield c
    c("down", "-v", "--remove-orphans", "--timeout", "10", check=False)


def test_compose_example(compose: Compose, docker: Docker, poll: Callable[..., Any]) -> None:
    start = time.monotonic()
    compose("up", "-d")  # returns once sync is healthy and app has started
    print(f"compose up (sync healthy, app started): {time.monotonic() - start:.1f} s")
    print(f"compose: {' '.join(compose.command)}")
    sync_id = compose("ps", "-q", "sync").stdout.strip()
    assert sync_id, "no sync container"
    assert docker.health(sync_id) == "healthy"
    # unison's state is in the named volume (no anonymous volume): warm across down/up
    mounts = json.loads(docker("inspect", "-f", "{{json .Mounts}}", sync_id).stdout)
    unison = [m for m in mounts if m["Destination"] == "/unison"]
    assert [(m["Type"], m["Name"]) for m in unison] == [("volume", f"{compose.project}_unison")]
    assert all(m["Type"] == "bind" or m.get("Name", "").startswith(compose.project) for m in mounts), mounts

    def app_lists(path: str) -> bool:
        return path in compose("logs", "--no-color", "app").stdout

    # the stand-in app has a healthcheck of its own (it reads the synced volume), not the image's
    # HEALTHCHECK, which is the sync's and would fail in it after its 10-minute start period
    app_id = compose("ps", "-q", "app").stdout.strip()
    check = json.loads(docker("inspect", "-f", "{{json .Config.Healthcheck.Test}}", app_id).stdout)
    assert check == ["CMD", "test", "-r", "/app/src/index.html"]
    poll(lambda: docker.health(app_id) == "healthy", 60, "the app healthy", interval=0.5)
    poll(lambda: app_lists("/app/src/index.html"), 30, "the app to list the synced files", interval=0.5)
    assert not app_lists("/app/.git")

    (compose.workdir / "project" / "later.txt").write_text("edited on the host\n")
    poll(lambda: app_lists("/app/later.txt"), 30, "the app to see a later host edit", interval=0.5)

    compose("down", "-v", "--timeout", "10")
    leftovers = docker(
        "ps", "-a", "-q", "--filter", f"label=com.docker.compose.project={compose.project}"
    ).stdout
    assert leftovers.strip() == ""
    volumes = docker(
        "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={compose.project}"
    ).stdout
    assert volumes.strip() == ""
