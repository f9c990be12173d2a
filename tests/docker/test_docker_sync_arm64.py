"""test_docker_sync's docker-sync sequence, step for step, against the linux/arm64
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

from tests.docker import test_docker_sync as sequence
from tests.docker.conftest import REPO, Docker, run

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

ARM64_TEST_IMAGE = "native-sync:test-arm64"

# The sequence, in its order (pytest runs a module's tests in the order they were
# bound here), collected again with this module's module_docker.
scenario = sequence.scenario


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


test_precopy_fills_app_volume = sequence.test_precopy_fills_app_volume
test_daemon_turns_healthy = sequence.test_daemon_turns_healthy
test_host_edit_reaches_app = sequence.test_host_edit_reaches_app
test_app_edit_reaches_host = sequence.test_app_edit_reaches_host
test_supervisorctl_restart_unison = sequence.test_supervisorctl_restart_unison
test_status_json_prints_json = sequence.test_status_json_prints_json
test_write_right_before_stop_reaches_host = sequence.test_write_right_before_stop_reaches_host
test_start_again_then_restart_unison = sequence.test_start_again_then_restart_unison


def test_sequence_ran(scenario: sequence.Scenario) -> None:
    """After the sequence: its steps that others depend on passed here too."""
    wanted = {"precopy", "daemon", "stopped"}
    assert wanted <= scenario.done, f"steps done on arm64: {sorted(scenario.done)}"
