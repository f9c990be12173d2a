"""examples/compose.yml with docker-compose (1.29, Debian's): the app starts once
the sync service is healthy, sees the synced files, and `down -v` cleans up."""

from __future__ import annotations

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


class Compose:
    def __init__(self, workdir: Path, project: str, image: str) -> None:
        self.workdir = workdir
        self.project = project
        self.env = {**os.environ, "NATIVE_SYNC_IMAGE": image}

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["docker-compose", "-p", self.project, "-f", str(self.workdir / "compose.yml"), *args],
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
                f"docker-compose {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc


@pytest.fixture
def compose(docker: Docker, tmp_path: Path) -> Iterator[Compose]:
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is missing (bash scripts/ensure-docker.sh installs it)")
    # A copy, so that the example's ./project in the repository is never written to.
    shutil.copy(EXAMPLES / "compose.yml", tmp_path / "compose.yml")
    shutil.copytree(EXAMPLES / "project", tmp_path / "project")
    (tmp_path / "project" / ".git").mkdir()  # ignored by the example's UNISON_ARGS
    (tmp_path / "project" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    c = Compose(tmp_path, f"nstest{uuid.uuid4().hex[:10]}", docker.image)
    yield c
    c("down", "-v", "--remove-orphans", "--timeout", "10", check=False)


def test_compose_example(compose: Compose, docker: Docker, poll: Callable[..., Any]) -> None:
    start = time.monotonic()
    compose("up", "-d")  # returns once sync is healthy and app has started
    print(f"compose up (sync healthy, app started): {time.monotonic() - start:.1f} s")
    assert "healthy" in docker.health(f"{compose.project}_sync_1")

    def app_lists(path: str) -> bool:
        return path in compose("logs", "--no-color", "app").stdout

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
