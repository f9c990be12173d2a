"""The docker-sync sequence (tests/docker/sequence.py), step for step, against the linux/arm64
image (Apple Silicon's), built here by `make image PLATFORM=linux/arm64` and run
under qemu-user-static.

Runs in CI (CI set) or when NATIVE_SYNC_TEST_ARM64=1; NATIVE_SYNC_TEST_IMAGE_ARM64
names an arm64 image to test instead of building one. scripts/ci-setup.sh (as
root) installs the emulation: qemu-user-static, binfmt-support, binfmt_misc.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.docker.conftest import REPO, Docker, run
from tests.docker.sequence import DockerSyncSequence

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

ARM64_TEST_IMAGE = "native-sync:test-arm64"


@pytest.fixture(scope="module")
def arm64_image(image: str) -> str:
    """The arm64 image: given, or built once (`image` first: the engine answers)."""
    if not (os.environ.get("CI") or os.environ.get("NATIVE_SYNC_TEST_ARM64") == "1"):
        pytest.skip("the arm64 image is tested in CI or with NATIVE_SYNC_TEST_ARM64=1")
    given = os.environ.get("NATIVE_SYNC_TEST_IMAGE_ARM64")
    if given:
        return given
    run("make", "-C", str(REPO), "image", f"IMAGE={ARM64_TEST_IMAGE}", "PLATFORM=linux/arm64", timeout=1800)
    return ARM64_TEST_IMAGE


@pytest.fixture(scope="module")
def module_docker(arm64_image: str) -> Iterator[Docker]:
    d = Docker(arm64_image)
    yield d
    d.cleanup()


def test_image_is_arm64(module_docker: Docker) -> None:
    """The image and what runs in it are aarch64."""
    d = module_docker
    assert d("image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", d.image).stdout.strip() == "linux/arm64"
    assert d("run", "--rm", "--network", "none", d.image, "uname", "-m").stdout.strip() == "aarch64"
    assert d("run", "--rm", "--network", "none", d.image, "unison", "-version").returncode == 0


class TestDockerSyncArm64(DockerSyncSequence):
    """The sequence on this module's module_docker: the arm64 image (after test_image_is_arm64)."""
