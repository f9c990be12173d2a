"""Fixtures for the end-to-end tests of the image: a real dockerd, a real image.

The image is built once per session with `make image IMAGE=native-sync:test`
(or taken as it is from NATIVE_SYNC_TEST_IMAGE, to iterate on the tests). Every
container and volume a test makes has a unique name and is removed in a
finalizer. Containers run with `--network none`.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import wait_for

REPO = Path(__file__).resolve().parents[2]
TEST_IMAGE = "native-sync:test"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "docker: end-to-end tests against a real Docker engine and the built image"
    )


def run(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output as text, and fail with that output."""
    proc = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if check and proc.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


# NATIVE_SYNC_TEST_PREFIX: the first word of every container and volume name (default ns-test),
# so runs that share a dockerd can tell theirs apart
NAME_PREFIX = os.environ.get("NATIVE_SYNC_TEST_PREFIX", "ns-test")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Docker:
    """The docker CLI, with a record of what to remove at the end of a test."""

    image: str
    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return run("docker", *args, check=check, timeout=timeout)

    def container(self, prefix: str = NAME_PREFIX) -> str:
        name = unique(prefix)
        self.containers.append(name)
        return name

    def volume(self, prefix: str = NAME_PREFIX) -> str:
        name = unique(prefix)
        self.volumes.append(name)
        return name

    def on_volume(self, volume: str, script: str, *, user: str = "0:0") -> str:
        """Run `sh -c script` in a throwaway container that mounts `volume` at /app_sync."""
        return self(
            "run",
            "--rm",
            "--network",
            "none",
            "--user",
            user,
            "-v",
            f"{volume}:/app_sync",
            self.image,
            "sh",
            "-c",
            script,
        ).stdout

    def health(self, name: str) -> str:
        out = self("inspect", "-f", "{{json .State}}", name, check=False)
        if out.returncode != 0:
            return "gone"
        state = json.loads(out.stdout)
        if not state.get("Running"):
            return f"exited {state.get('ExitCode')}"
        return str((state.get("Health") or {}).get("Status", "none"))

    def logs_tail(self, name: str) -> str:
        logs = self("logs", "--tail", "60", name, check=False)
        return f"{logs.stdout}\n{logs.stderr}"

    def wait_healthy(self, name: str, timeout: float = 90) -> float:
        """Wait until `name` is healthy; the seconds it took. Fails early if it exits."""
        start = time.monotonic()

        def healthy() -> bool:
            status = self.health(name)
            if status.startswith("exited") or status in ("gone", "unhealthy"):
                waited = time.monotonic() - start
                pytest.fail(f"{name} is {status} after {waited:.0f} s:\n{self.logs_tail(name)}")
            return status == "healthy"

        wait_for(healthy, timeout, f"{name} to be healthy", 0.2, detail=lambda: self.logs_tail(name))
        return time.monotonic() - start

    def cleanup(self) -> None:
        for name in reversed(self.containers):
            self("rm", "-f", "-v", name, check=False)
        for volume in reversed(self.volumes):
            self("volume", "rm", "-f", volume, check=False)


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return run("docker", "info", check=False, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@pytest.fixture(scope="session")
def poll() -> Callable[..., object]:
    """tests/helpers.wait_for as a fixture, polling at docker's pace (each probe runs `docker`)."""
    return functools.partial(wait_for, interval=0.1)


@pytest.fixture(scope="session")
def image() -> str:
    """The image under test, built once: `make image IMAGE=native-sync:test`."""
    if not _docker_answers():
        message = "no Docker engine answers (run: bash scripts/ensure-docker.sh as root)"
        if os.environ.get("CI"):
            pytest.fail(message)  # in CI a missing engine is a failure, not a skip
        pytest.skip(message)
    given = os.environ.get("NATIVE_SYNC_TEST_IMAGE")
    if given:
        return given
    run("make", "-C", str(REPO), "image", f"IMAGE={TEST_IMAGE}", timeout=900)
    return TEST_IMAGE


@pytest.fixture
def docker(image: str) -> Iterator[Docker]:
    d = Docker(image)
    yield d
    d.cleanup()


@pytest.fixture(scope="module")
def module_docker(image: str) -> Iterator[Docker]:
    d = Docker(image)
    yield d
    d.cleanup()
