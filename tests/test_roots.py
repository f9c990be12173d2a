"""Roots by identity (issue 25): one folder given as both roots, or one inside the other through a
bind mount or a symbolic link, is refused before anything is written or chowned (one line, exit 2)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import config
from engine.config import ConfigError, roots
from tests.helpers import REPO, entrypoint_env, owners_of, run_entrypoint, snapshot, user_tree

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mount --bind needs root")


@pytest.fixture
def bind(tmp_path: Path) -> Iterator[list[Path]]:
    """Mount points made with ``mount --bind``; unmounted at the end."""
    made: list[Path] = []
    yield made
    for point in reversed(made):
        subprocess.run(["umount", "-l", str(point)], check=False, timeout=20)


def mount_bind(made: list[Path], source: Path, point: Path) -> Path:
    point.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "--bind", str(source), str(point)], check=True, timeout=20)
    made.append(point)
    return point


def check(host: Path, app: Path) -> None:
    config.check_volumes(config.load({"HOST_VOLUME": str(host), "APP_VOLUME": str(app)}))


@needs_root
def test_one_folder_bind_mounted_at_both_roots_is_refused(tmp_path: Path, bind: list[Path]) -> None:
    same = tmp_path / "same"
    same.mkdir()
    host = mount_bind(bind, same, tmp_path / "host_sync")
    app = mount_bind(bind, same, tmp_path / "app_sync")
    with pytest.raises(ConfigError) as e:
        check(host, app)
    assert e.value.variable == "APP_VOLUME"
    message = str(e.value)
    assert "one folder" in message and str(host) in message and str(app) in message
    assert "HOST_VOLUME" in message and "\n" not in message


@needs_root
@pytest.mark.parametrize("inner", ["host", "app"])
def test_a_bind_mount_of_a_subfolder_of_the_other_root_is_refused(
    tmp_path: Path, bind: list[Path], inner: str
) -> None:
    """``..`` of a bind mount of a subfolder leads elsewhere: mountinfo tells where it is."""
    outer = tmp_path / "project"
    (outer / "sub").mkdir(parents=True)
    point = mount_bind(bind, outer / "sub", tmp_path / "mnt" / "sub_sync")
    host, app = (point, outer) if inner == "host" else (outer, point)
    assert roots.by_name(host, app, lambda p: Path(os.path.realpath(p))) is None  # names tell nothing
    with pytest.raises(ConfigError) as e:
        check(host, app)
    assert e.value.variable == ("APP_VOLUME" if inner == "host" else "HOST_VOLUME")
    assert "nested folders" in str(e.value)


@needs_root
def test_bind_mounts_of_two_sibling_folders_are_fine(tmp_path: Path, bind: list[Path]) -> None:
    (tmp_path / "w" / "app").mkdir(parents=True)
    (tmp_path / "w" / "app_sync").mkdir()
    host = mount_bind(bind, tmp_path / "w" / "app", tmp_path / "h")
    app = mount_bind(bind, tmp_path / "w" / "app_sync", tmp_path / "a")
    check(host, app)


@pytest.mark.parametrize("inner", ["host", "app"])
def test_a_symlink_into_the_other_root_is_refused(tmp_path: Path, inner: str) -> None:
    outer = tmp_path / "project"
    (outer / "deep" / "sub").mkdir(parents=True)
    (tmp_path / "links").mkdir()
    link = tmp_path / "links" / "sub"
    os.symlink(outer / "deep" / "sub", link)
    host, app = (link, outer) if inner == "host" else (outer, link)
    with pytest.raises(ConfigError) as e:
        check(host, app)
    assert e.value.variable == ("APP_VOLUME" if inner == "host" else "HOST_VOLUME")
    assert "by device and inode" in str(e.value)


@needs_root
@pytest.mark.parametrize("command", ["run", "precopy"])
def test_run_on_one_folder_at_both_roots_exits_2_and_leaves_it_alone(
    tmp_path: Path, bind: list[Path], command: str
) -> None:
    """Issue 25: this was accepted, and the user's folder was chowned to root, recursively."""
    same = tmp_path / "same"
    user_tree(same)
    host = mount_bind(bind, same, tmp_path / "host_sync")
    app = mount_bind(bind, same, tmp_path / "app_sync")
    before, owned = snapshot(same), owners_of(same)
    runtime = tmp_path / "rt"
    done = run_entrypoint(command, entrypoint_env(tmp_path, host, app, runtime), runtime, timeout=30)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert "HOST_VOLUME" in line and "APP_VOLUME" in line and "one folder" in line
    assert snapshot(same) == before
    assert owners_of(same) == owned
    assert not runtime.exists()
    assert not (tmp_path / "unison").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")
def test_a_root_the_user_may_not_pass_through_is_still_compared() -> None:
    """A --user run whose host folder is 0700 and not its own: ``..`` of it cannot be stat'ed.

    The roots are still compared (the parent is found by name), and the one
    line about the unreadable folder comes later (preflight), not a traceback.
    """
    top = Path(tempfile.mkdtemp(prefix="roots-", dir="/tmp"))  # pytest's tmp_path is root's alone
    top.chmod(0o755)
    host, app = top / "host", top / "app"
    host.mkdir(mode=0o700)
    app.mkdir()
    app.chmod(0o777)
    try:
        _compare_as_user(host, app)
    finally:
        shutil.rmtree(top)


def _compare_as_user(host: Path, app: Path) -> None:
    probe = (
        "import sys; from pathlib import Path; from engine.config import roots; "
        "print(roots.by_identity(Path(sys.argv[1]), Path(sys.argv[2])))"
    )
    done = subprocess.run(
        [
            "setpriv",
            "--reuid=1000",
            "--regid=1000",
            "--clear-groups",
            sys.executable,
            "-c",
            probe,
            str(host),
            str(app),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"
