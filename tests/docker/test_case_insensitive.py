"""Issue 19 in the image: the host folder on a real case-insensitive filesystem (exFAT) as /host_sync."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.docker.conftest import Docker

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]


def status(docker: Docker, name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(docker("exec", name, "native-sync", "status", "--json").stdout)
    return result


def app_names(docker: Docker, name: str, folder: str) -> list[str]:
    return sorted(docker("exec", name, "ls", "-A", f"/app_sync/{folder}", check=False).stdout.split())


def test_renames_and_a_clash_against_an_exfat_host(
    exfat_dir: Path, docker: Docker, poll: Callable[..., Any]
) -> None:
    host = exfat_dir
    (host / "lib").mkdir()
    (host / "lib/util.js").write_text("util\n")
    (host / "docs").mkdir()
    (host / "docs/Guide.md").write_text("guide\n")
    (host / "README.md").write_text("host readme\n")
    name, volume = docker.container(), docker.volume()
    docker(
        "run", "-d", "--name", name, "--network", "none",
        "-v", f"{host}:/host_sync", "-v", f"{volume}:/app_sync", docker.image,
    )  # fmt: skip
    docker.wait_healthy(name)
    poll(lambda: status(docker, name)["state"] == "watching", 30, "watching")
    roots = status(docker, name)["roots"]
    assert roots["host"]["case_insensitive"] is True and roots["app"]["case_insensitive"] is False

    os.rename(host / "lib/util.js", host / "lib/Util.js")
    poll(lambda: app_names(docker, name, "lib") == ["Util.js"], 10, "host rename -> app")

    docker("exec", name, "mv", "/app_sync/docs/Guide.md", "/app_sync/docs/GUIDE.md")
    poll(lambda: sorted(os.listdir(host / "docs")) == ["GUIDE.md"], 10, "app rename -> host")
    assert (host / "docs/GUIDE.md").read_text() == "guide\n"

    docker("exec", name, "sh", "-c", "echo 'app readme' > /app_sync/readme.md")

    def clash() -> set[str]:
        return {
            p["path"] for p in status(docker, name)["problems"] if "cannot hold them apart" in p["reason"]
        }

    poll(lambda: clash() == {"README.md", "readme.md"}, 10, "the clash in status")
    assert (host / "README.md").read_text() == "host readme\n"
    assert docker("exec", name, "cat", "/app_sync/readme.md").stdout == "app readme\n"
    assert docker("exec", name, "cat", "/app_sync/README.md").stdout == "host readme\n"
    docker("exec", name, "rm", "/app_sync/readme.md")
    poll(lambda: not clash(), 10, "the clash cleared")
    assert status(docker, name)["unison"]["restarts"] == 0
    docker("stop", name, timeout=30)  # flushed and stopped before the host folder goes
