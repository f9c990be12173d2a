"""A release, as a user gets it: scripts/release.sh publishes to a registry on
loopback (tests/docker/registry.py), every local copy of the released image is
removed, and then, as a user would, the tag is pulled (for linux/amd64, and for
linux/arm64 under qemu in CI or with NATIVE_SYNC_TEST_ARM64=1) and the
docker-sync sequence (tests/docker/sequence.py) and the compose example
(test_compose_example) run against the pulled image, whose `--version` says the
tag and whose labels say the commit.

Names are the test's own (127.0.0.1:PORT/release-e2e/native-sync): the shared
images (native-sync:test, ...) are never touched. The build reuses docker's cache
(`image` builds native-sync:test first, test_docker_sync_arm64 the arm64 one);
removing the release's images keeps their cached parent layers (--no-prune), so a
pull finds those layers present, while the manifests and the image come from the
registry (the pulled image's id is the registry's config digest).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.docker import test_compose_example as compose_example
from tests.docker.conftest import REPO, Docker, run
from tests.docker.registry import Registry, RegistryMissing
from tests.docker.sequence import DockerSyncSequence

pytestmark = [pytest.mark.docker, pytest.mark.timeout(3000)]

# Not pyproject.toml's version: `--version` must say what was released, whatever the source says.
VERSION = "9.8.7"
NAME = "release-e2e/native-sync"
ARM64 = bool(os.environ.get("CI")) or os.environ.get("NATIVE_SYNC_TEST_ARM64") == "1"


@dataclass
class Release:
    registry: Registry
    platforms: list[str]
    revision: str

    @property
    def repository(self) -> str:
        return f"{self.registry.host}/{NAME}"

    def local_images(self) -> list[str]:
        """Ids of every local image tagged or pulled by digest from the release's repository."""
        out = run("docker", "image", "ls", "-q", "--no-trunc", self.repository).stdout
        return sorted(set(out.split()))

    def remove_local(self) -> None:
        for image in self.local_images():
            run("docker", "image", "rm", "--force", "--no-prune", image)
        assert self.local_images() == []


def expected_revision() -> str:
    head = run("git", "-C", str(REPO), "rev-parse", "HEAD").stdout.strip()
    dirty = run("git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no").stdout.strip()
    return f"{head}-dirty" if dirty else head


@pytest.fixture(scope="module")
def release(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    """scripts/release.sh VERSION 127.0.0.1:PORT/release-e2e/native-sync, then no local copy."""
    del image  # the engine answers, and native-sync:test's build has filled the cache
    folder = tmp_path_factory.mktemp("release")
    try:
        registry = Registry.start(folder)
    except RegistryMissing as e:
        if os.environ.get("CI"):
            pytest.fail(str(e))  # in CI a missing registry is a failure, not a skip
        pytest.skip(str(e))
    platforms = ["linux/amd64", "linux/arm64"] if ARM64 else ["linux/amd64"]
    made = Release(registry, platforms, expected_revision())
    env = {
        **os.environ,
        "PLATFORMS": " ".join(platforms),
        "RELEASE_ALLOW_DIRTY": "1",  # a developer's uncommitted change is released as <commit>-dirty
        "DOCKER_CONFIG": str(folder / "docker-config"),  # `docker manifest`'s lists stay in here
    }
    log = folder / "release.log"
    try:
        with log.open("w") as out:
            command = ["bash", str(REPO / "scripts/release.sh"), VERSION, made.repository]
            done = subprocess.run(
                command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=2700
            )
        print(log.read_text()[-3000:])
        if done.returncode != 0:
            pytest.fail(f"scripts/release.sh exited {done.returncode}:\n{log.read_text()[-6000:]}")
        made.remove_local()
        yield made
    finally:
        made.remove_local()
        registry.stop()


def test_one_multiarch_tag_and_latest(release: Release) -> None:
    """VERSION and latest are the same manifest list of the per-arch images, one per platform."""
    reg = release.registry
    arches = [p.split("/")[1] for p in release.platforms]
    assert reg.tags(NAME) == sorted([VERSION, "latest", *(f"{VERSION}-{a}" for a in arches)])
    assert reg.manifest(NAME, VERSION) == reg.manifest(NAME, "latest")
    per_arch = {p: reg.manifest(NAME, f"{VERSION}-{p.split('/')[1]}")[1] for p in release.platforms}
    assert reg.platforms(NAME, VERSION) == per_arch


@pytest.fixture(scope="module", params=["linux/amd64", "linux/arm64"], ids=["amd64", "arm64"])
def pulled(release: Release, request: pytest.FixtureRequest) -> str:
    """The released VERSION pulled as a user on that platform pulls it (nothing local before)."""
    platform: str = request.param
    if platform not in release.platforms:
        pytest.skip("the arm64 image is released and pulled in CI or with NATIVE_SYNC_TEST_ARM64=1")
    release.remove_local()
    tag = f"{release.repository}:{VERSION}"
    native = platform == "linux/amd64"  # this machine's (the test builds on amd64)
    run("docker", "pull", *([] if native else ["--platform", platform]), tag, timeout=900)
    config = release.registry.platforms(NAME, VERSION)[platform]["config"]["digest"]
    assert run("docker", "image", "inspect", "-f", "{{.Id}}", tag).stdout.strip() == config
    return tag


@pytest.fixture(scope="module")
def module_docker(pulled: str) -> Iterator[Docker]:
    d = Docker(pulled)
    yield d
    d.cleanup()


@pytest.fixture
def docker(pulled: str) -> Iterator[Docker]:
    d = Docker(pulled)
    yield d
    d.cleanup()


def test_pulled_image_runs_its_platform(module_docker: Docker, request: pytest.FixtureRequest) -> None:
    d = module_docker
    arch = request.node.callspec.params["pulled"].split("/")[1]
    assert d("image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", d.image).stdout.strip() == f"linux/{arch}"
    machine = d("run", "--rm", "--network", "none", d.image, "uname", "-m").stdout.strip()
    assert machine == {"amd64": "x86_64", "arm64": "aarch64"}[arch]


def test_version_is_the_tag(module_docker: Docker) -> None:
    d = module_docker
    for command in (["--version"], ["native-sync", "--version"]):
        assert d("run", "--rm", "--network", "none", d.image, *command).stdout.strip() == VERSION


def test_labels_say_the_commit(module_docker: Docker, release: Release) -> None:
    d = module_docker
    labels = d("image", "inspect", "-f", "{{json .Config.Labels}}", d.image).stdout
    got = {k.removeprefix("org.opencontainers.image."): v for k, v in json.loads(labels).items()}
    assert got["version"] == VERSION
    assert got["revision"] == release.revision
    assert got["source"] == "https://github.com/native-sync/native-sync"
    assert got["licenses"] == "GPL-3.0-or-later"


class TestReleasedDockerSync(DockerSyncSequence):
    """The docker-sync sequence on this module's module_docker: the pulled image."""


# The compose example, with this module's docker: the pulled image.
compose = compose_example.compose
test_compose_example = compose_example.test_compose_example
