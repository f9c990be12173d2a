"""The image's own promises: what is on the PATH, its size, bad settings, a
read-only root, and owners that have no name in the image."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.docker.conftest import Docker

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

MAX_IMAGE_MB = 180
SYNC_TIMEOUT = 30.0


def test_commands_and_defaults(docker: Docker) -> None:
    script = (
        "for c in native-sync precopy_appsync supervisorctl unison-fsmonitor unison native-sync-treesig;"
        " do command -v $c; done;"
        " test -x /usr/local/bin/precopy_appsync && echo precopy-ok;"
        " printf '\\0' | native-sync-treesig /host_sync"  # the verifier's helper, built for this platform
    )
    out = docker("run", "--rm", "--network", "none", docker.image, "sh", "-c", script).stdout
    assert "/usr/local/bin/precopy_appsync" in out
    assert "precopy-ok" in out
    assert re.search(r"^[0-9a-f]{16}$", out, re.MULTILINE), f"native-sync-treesig signed nothing: {out}"
    for command in ("native-sync", "supervisorctl", "unison-fsmonitor", "unison", "native-sync-treesig"):
        assert f"/{command}\n" in out, f"{command} is not on the PATH: {out}"

    config = json.loads(docker("image", "inspect", "-f", "{{json .Config}}", docker.image).stdout)
    assert config["Cmd"] == ["run"]
    assert not config.get("Volumes")  # no anonymous /unison volume to leak (test_image_release)
    assert config["Healthcheck"]["Test"][-1] == "health"
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["HOST_VOLUME"] == "/host_sync"
    assert env["APP_VOLUME"] == "/app_sync"
    assert env["UNISON"] == "/unison"
    assert env["SYNC_RUNTIME_DIR"] == "/run/native-sync"


def test_image_size(docker: Docker) -> None:
    size = int(docker("image", "inspect", "-f", "{{.Size}}", docker.image).stdout)
    print(f"image size: {size / 1e6:.0f} MB")
    assert size <= MAX_IMAGE_MB * 1_000_000


def test_bad_variable_exits_2_and_touches_nothing(docker: Docker, tmp_path: Path) -> None:
    (tmp_path / "kept.txt").write_text("host file\n")
    volume = docker.volume()
    out = docker(
        "run",
        "--rm",
        "--network",
        "none",
        "-e",
        "MONIT_INTERVAL=abc",
        "-v",
        f"{tmp_path}:/host_sync",
        "-v",
        f"{volume}:/app_sync",
        docker.image,
        check=False,
    )
    assert out.returncode == 2, out
    assert "MONIT_INTERVAL" in out.stderr
    assert "abc" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, f"one line expected: {out.stderr!r}"
    assert docker.on_volume(volume, "ls -A /app_sync") == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt"]


@pytest.mark.parametrize("owner", [33, 501], ids=["uid33-www-data", "uid501-no-name"])
def test_read_only_container_syncs(
    docker: Docker, poll: Callable[..., Any], tmp_path: Path, owner: int
) -> None:
    """--read-only with tmpfs /run and /tmp; OWNER_UID 33 (has a name in the image)
    and 501 (a Mac's first user: has none)."""
    host = tmp_path / "host"
    (host / "src").mkdir(parents=True)
    (host / "src" / "a.txt").write_text("a\n")
    # As a Mac's host mount would present it: writable by OWNER_UID (see tests/docker/sequence.py).
    for path in [host, *host.rglob("*")]:
        os.chown(path, owner, owner)
    volume = docker.volume()
    name = docker.container()
    docker(
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "none",
        "--read-only",
        "--tmpfs",
        "/run",
        "--tmpfs",
        "/tmp",
        "-e",
        f"OWNER_UID={owner}",
        "-e",
        f"GROUP_ID={owner}",
        "-v",
        f"{host}:/host_sync",
        "-v",
        f"{volume}:/app_sync",
        "-v",  # the image has no VOLUME: a read-only container mounts one for unison's state
        f"{docker.volume()}:/unison",
        docker.image,
    )
    print(f"read-only, uid {owner}: healthy after {docker.wait_healthy(name, timeout=60):.1f} s")

    owners = docker("exec", name, "sh", "-c", "find /app_sync -printf '%U:%G\\n' | sort -u").stdout
    assert owners.split() == [f"{owner}:{owner}"]
    (host / "src" / "b.txt").write_text("b\n")
    poll(
        lambda: docker("exec", name, "cat", "/app_sync/src/b.txt", check=False).stdout == "b\n",
        SYNC_TIMEOUT,
        "the host file in /app_sync",
    )
    docker("exec", "-u", f"{owner}:{owner}", name, "sh", "-c", "echo c > /app_sync/src/c.txt")
    poll(lambda: (host / "src" / "c.txt").exists(), SYNC_TIMEOUT, "the app's file on the host")
    assert docker("exec", name, "supervisorctl", "status").returncode == 0

    start = time.monotonic()
    docker("stop", name, timeout=60)
    assert time.monotonic() - start < 10
    assert docker("wait", name).stdout.strip() == "0"
