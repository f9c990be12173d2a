"""docker-sync 1.0.5's native_osx sequence (tests/docker/sequence.py) against the image under test."""

from __future__ import annotations

import pytest

from tests.docker.sequence import DockerSyncSequence

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]


class TestDockerSync(DockerSyncSequence):
    """On conftest's module_docker: the image under test (native-sync:test, or NATIVE_SYNC_TEST_IMAGE)."""
