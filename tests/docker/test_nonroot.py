"""`make image` and `make run` as a Docker Desktop user would run them: not root,
in the `docker` group, with no apt, apt-get, dpkg, debootstrap, dockerd or
docker-compose v1 on the PATH.

The user (nsuser, or NATIVE_SYNC_TEST_USER) is made by scripts/ci-setup.sh. The
test copies the working tree into a folder that user owns and runs both make
targets there through `runuser`, with a PATH that is a folder of symlinks to
the allowed tools only: an attempt to install a package or start a daemon
fails loudly (command not found, and the scripts run with `set -e`).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.docker.conftest import Docker

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
SYNC_TIMEOUT = 30.0
# What `make image` and `make run` may use; nothing that installs or starts things.
ALLOWED = (
    *("bash", "sh", "env", "make", "docker", "git", "python3"),
    *("basename", "cat", "chmod", "cp", "cut", "date", "dirname", "find", "grep", "head", "id", "ls"),
    *("mkdir", "mktemp", "mv", "printf", "pwd", "readlink", "rm", "sed", "sleep", "sort", "stat"),
    *("tail", "tee", "timeout", "touch", "tr", "uname", "wc"),
)
FORBIDDEN = ("apt", "apt-get", "dpkg", "debootstrap", "dockerd", "docker-compose")
SYSTEM_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
SKIP_IN_COPY = {".git", ".venv", "build", ".pytest_cache", ".mypy_cache", ".ruff_cache", "__pycache__"}


def _find(tool: str) -> str | None:
    """The tool as the system has it (not root's own ~/.pyenv shims: the user cannot read them)."""
    return shutil.which(tool, path=os.pathsep.join(SYSTEM_DIRS))


@dataclass
class User:
    name: str
    uid: int
    gid: int
    home: str
    root: Path  # a folder the user owns: the repo copy, the PATH folder, the project
    path: str

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        env = ["env", "-i", f"HOME={self.home}", f"USER={self.name}", f"PATH={self.path}", "LANG=C.UTF-8"]
        return subprocess.run(
            ["runuser", "-u", self.name, "--", *env, *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def make(self, *args: str) -> str:
        proc = self.run("make", "-C", str(self.root / "repo"), *args)
        output = proc.stdout + proc.stderr
        what = f"make {' '.join(args)} as {self.name}"
        assert proc.returncode == 0, f"{what} exited {proc.returncode}:\n{output}"
        return output


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.lchown(path, uid, gid)


@pytest.fixture
def user() -> Iterator[User]:
    name = os.environ.get("NATIVE_SYNC_TEST_USER", "nsuser")
    problem = None
    if os.geteuid() != 0:
        problem = "needs root to act as another user (runuser)"
    else:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            problem = f"no user {name} (as root: bash scripts/ci-setup.sh)"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    root = Path(tempfile.mkdtemp(prefix="native-sync-nonroot-", dir="/tmp"))
    shutil.copytree(REPO, root / "repo", ignore=lambda _dir, names: SKIP_IN_COPY.intersection(names))
    # The unison release beside the checkout, as here (no GitHub); elsewhere the build downloads it.
    vendor = REPO.parent / "shared" / "vendor"
    if vendor.is_dir():
        shutil.copytree(vendor, root / "shared" / "vendor")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for tool in ALLOWED:
        found = _find(tool)
        assert found, f"{tool} is not installed"
        (bin_dir / tool).symlink_to(os.path.realpath(found))
    (root / "home").mkdir()
    _chown_tree(root, entry.pw_uid, entry.pw_gid)
    yield User(name, entry.pw_uid, entry.pw_gid, str(root / "home"), root, str(bin_dir))
    shutil.rmtree(root, ignore_errors=True)


def test_make_image_and_run_as_a_docker_desktop_user(
    user: User, docker: Docker, poll: Callable[..., Any]
) -> None:
    # The PATH has none of the tools that install or start things.
    for tool in FORBIDDEN:
        assert user.run("sh", "-c", f"command -v {tool}").returncode != 0, f"{tool} is on the PATH"
    assert user.run("id", "-u").stdout.strip() == str(user.uid) != "0"
    assert user.run("docker", "info").returncode == 0, "the docker group does not reach the engine"

    image = f"native-sync:nonroot-{uuid.uuid4().hex[:8]}"
    try:
        built = user.make("image", f"IMAGE={image}")
        project = user.root / f"proj-{uuid.uuid4().hex[:8]}"
        (project / "src").mkdir(parents=True)
        (project / "src" / "first.txt").write_text("made before the start\n")
        _chown_tree(project, user.uid, user.gid)
        name = f"native-sync-{project.name}"
        docker.containers.append(name)
        docker.volumes += [f"{name}-app", f"{name}-unison"]
        ran = user.make("run", f"IMAGE={image}", f"SRC={project}")

        for output in (built, ran):
            print("\n".join(line for line in output.splitlines() if line.startswith(("build-", "ensure-"))))
            assert "ensure-docker: docker engine answers" in output
            for sign in ("installing", "starting dockerd", "debootstrap", "please install"):
                assert sign not in output, f"{sign!r} in:\n{output}"
        docker.wait_healthy(name)
        assert docker("exec", name, "cat", "/app_sync/src/first.txt").stdout == "made before the start\n"

        # host -> app, then app -> host (as OWNER_UID, the folder's owner: the user)
        (project / "src" / "host.txt").write_text("edited on the host\n")
        os.chown(project / "src" / "host.txt", user.uid, user.gid)
        poll(
            lambda: (
                docker("exec", name, "cat", "/app_sync/src/host.txt", check=False).stdout
                == "edited on the host\n"
            ),
            SYNC_TIMEOUT,
            "the host edit in /app_sync",
        )
        script = "echo 'written by the app' > /app_sync/src/app.txt"
        docker("exec", "-u", f"{user.uid}:{user.gid}", name, "sh", "-c", script)
        app_file = project / "src" / "app.txt"
        poll(lambda: app_file.exists() and app_file.read_text() == "written by the app\n", SYNC_TIMEOUT,
             "the app's file on the host")  # fmt: skip
        # unison writes it as root; its owner follows within the owners' bound (a few ms later)
        poll(lambda: (app_file.stat().st_uid, app_file.stat().st_gid) == (user.uid, user.gid), SYNC_TIMEOUT,
             "the app's file on the host owned by the user")  # fmt: skip
    finally:
        docker("rmi", "-f", image, check=False)
