"""What a published image promises: its version (`--version` = the label =
pyproject.toml's) and no anonymous volume (docker-sync's `clean` removes the
container without -v, so one would leak on every clean)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.docker.conftest import Docker

pytestmark = [pytest.mark.docker]

REPO = Path(__file__).resolve().parents[2]


def test_version_and_label_agree(docker: Docker) -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    printed = docker("run", "--rm", "--network", "none", docker.image, "--version").stdout.strip()
    label = docker(
        "image", "inspect", "-f", '{{index .Config.Labels "org.opencontainers.image.version"}}', docker.image
    ).stdout.strip()
    assert (printed, label) == (version, version)


def test_no_anonymous_volume(docker: Docker, tmp_path: Path) -> None:
    assert docker("image", "inspect", "-f", "{{json .Config.Volumes}}", docker.image).stdout.strip() == "null"
    app = docker.volume()
    name = docker.container()
    docker("run", "-d", "--name", name, "--network", "none",
           "-v", f"{tmp_path}:/host_sync", "-v", f"{app}:/app_sync", docker.image)  # fmt: skip
    docker.wait_healthy(name)
    mounts = json.loads(docker("inspect", "-f", "{{json .Mounts}}", name).stdout)
    kinds = sorted((m["Type"], m["Destination"]) for m in mounts)
    assert kinds == [("bind", "/host_sync"), ("volume", "/app_sync")]
    # unison's archives are in the container's own layer: a stop/start (docker-sync's
    # restart) keeps them, so the next start is warm.
    archives = docker("exec", name, "sh", "-c", "ls /unison").stdout.split()
    assert archives, "unison wrote no archive to /unison"
    docker("stop", name, timeout=60)
    docker("start", name)
    docker.wait_healthy(name)
    assert set(archives) <= set(docker("exec", name, "sh", "-c", "ls /unison").stdout.split())
