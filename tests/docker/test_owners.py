"""Owners per side in the image (OWNER_UID / GROUP_ID; issue 10).

A Linux project folder owned by the host user (1000) and an app that runs as
www-data (33): the app side is 33's, what the sync writes on the host stays
1000's, whatever the folder's mode; a root-owned private folder syncs every
file; a container run as the user itself (``--user 1000``) works; a link to
``/etc`` is synced as a link and nothing outside the roots changes owner.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.births import Births

if TYPE_CHECKING:
    from tests.docker.conftest import Docker

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

SYNC_TIMEOUT = 30.0
USER = (1000, 1000)
APP = "33:33"
# What outside the roots is not root's, and /etc's owners and modes: the same after a sync as in a
# fresh container.
OUTSIDE = (
    "find / -xdev \\( -path /proc -o -path /sys -o -path /app_sync -o -path /host_sync -o -path /unison"
    " -o -path /run -o -path /tmp \\) -prune -o \\( ! -uid 0 -o ! -gid 0 \\) -printf '%U:%G %m %p\\n' | sort;"
    " find /etc -printf '%U:%G %m %p\\n' | sort"
)


def owner(path: Path) -> tuple[int, int]:
    st = path.lstat()
    return (st.st_uid, st.st_gid)


def owned(path: Path, who: tuple[int, int], text: str | None = None) -> bool:
    try:
        return owner(path) == who and (text is None or path.read_text() == text)
    except OSError:
        return False


def project(base: Path, mode: int, who: tuple[int, int] = USER) -> Path:
    """A host folder as a Linux user has it: theirs, ``mode``, files 0644 and a private folder."""
    host = base / "host"
    (host / "src").mkdir(parents=True)
    (host / "src/app.php").write_text("<?php\n")
    (host / "log.txt").write_text("one\n")
    (host / "private").mkdir(mode=0o700)
    (host / "private/key").write_text("k\n")
    (host / "private/key").chmod(0o600)
    for path in [host, *host.rglob("*")]:
        os.chown(path, *who)
    host.chmod(mode)
    return host


def start(docker: Docker, host: Path, *args: str) -> str:
    name = docker.container()
    volume = docker.volume()
    docker(
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "none",
        "-e",
        "OWNER_UID=33",
        "-e",
        "GROUP_ID=33",
        "-v",
        f"{host}:/host_sync",
        "-v",
        f"{volume}:/app_sync",
        *args,
        docker.image,
    )
    docker.wait_healthy(name, timeout=90)
    return name


def app_owners(docker: Docker, name: str) -> set[str]:
    return set(docker("exec", name, "find", "/app_sync", "-printf", "%U:%G\\n").stdout.split())


def app_sh(docker: Docker, name: str, script: str, user: str = APP) -> None:
    docker("exec", "-u", user, name, "sh", "-c", script)


@pytest.mark.parametrize("mode", [0o755, 0o700], ids=["0755", "0700"])
def test_both_ways_each_side_keeps_its_owner(
    docker: Docker, poll: Callable[..., Any], tmp_path: Path, mode: int
) -> None:
    host = project(tmp_path, mode)
    name = start(docker, host)
    assert app_owners(docker, name) == {APP}
    assert docker("exec", name, "cat", "/app_sync/private/key").stdout == "k\n"

    # The app (www-data) writes: a new file, a new folder, an append, a rename.
    app_sh(docker, name, "echo new > /app_sync/new.txt")
    app_sh(docker, name, "mkdir -p /app_sync/cache/views && echo v > /app_sync/cache/views/v.php")
    app_sh(docker, name, "echo two >> /app_sync/log.txt")
    app_sh(docker, name, "mv /app_sync/src/app.php /app_sync/src/index.php")
    poll(lambda: owned(host / "new.txt", USER, "new\n"), SYNC_TIMEOUT, "the app's new file, 1000's")
    poll(lambda: owned(host / "cache/views/v.php", USER, "v\n"), SYNC_TIMEOUT, "the app's new folder")
    poll(lambda: owned(host / "log.txt", USER, "one\ntwo\n"), SYNC_TIMEOUT, "the append, still 1000's")
    poll(lambda: owned(host / "src/index.php", USER, "<?php\n"), SYNC_TIMEOUT, "the rename, 1000's")
    # a rename crosses as a create and a delete: the delete may land a moment after the create
    poll(lambda: not (host / "src/app.php").exists(), SYNC_TIMEOUT, "the renamed file gone from the host")
    assert {owner(p) for p in [host, *host.rglob("*")]} == {USER}
    assert (host / "cache").stat().st_mode & 0o777 == 0o755

    # Root in the app container writes too: still the app's; the host user's edits arrive as the app's.
    app_sh(docker, name, "echo r > /app_sync/by-root.txt", user="0:0")
    (host / "from-host.txt").write_text("h\n")
    os.chown(host / "from-host.txt", *USER)
    poll(
        lambda: owned(host / "by-root.txt", USER, "r\n"), SYNC_TIMEOUT, "root's app file on the host, 1000's"
    )
    poll(
        lambda: docker("exec", name, "cat", "/app_sync/from-host.txt", check=False).stdout == "h\n",
        SYNC_TIMEOUT,
        "the host's file in the app",
    )
    poll(lambda: app_owners(docker, name) == {APP}, SYNC_TIMEOUT, "every app path 33:33")


def test_root_owned_private_folder_syncs_every_file(
    docker: Docker, poll: Callable[..., Any], tmp_path: Path
) -> None:
    host = project(tmp_path, 0o700, who=(0, 0))
    for i in range(50):
        (host / f"private/f{i}").write_text(f"{i}\n")
        (host / f"private/f{i}").chmod(0o600)
    name = start(docker, host)
    listed = docker("exec", name, "sh", "-c", "cd /app_sync && find . | sort").stdout.split()
    expected = sorted(["."] + [f"./{p.relative_to(host)}" for p in host.rglob("*")])
    assert listed == expected
    assert docker("exec", "-u", APP, name, "cat", "/app_sync/private/f49").stdout == "49\n"
    assert app_owners(docker, name) == {APP}
    app_sh(docker, name, "echo a > /app_sync/private/by-app")
    poll(
        lambda: owned(host / "private/by-app", (0, 0), "a\n"),
        SYNC_TIMEOUT,
        "the app's file, root's on the host",
    )


def test_container_run_as_the_folder_owner(docker: Docker, poll: Callable[..., Any], tmp_path: Path) -> None:
    """``--user 1000``: unison runs as 1000, on a host folder and an app folder of 1000's."""
    host = project(tmp_path, 0o755)
    app = tmp_path / "app"
    app.mkdir()
    os.chown(app, *USER)
    name = docker.container()
    docker(
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "none",
        "--user",
        "1000:1000",
        "--tmpfs",
        "/unison:uid=1000,gid=1000",
        "-v",
        f"{host}:/host_sync",
        "-v",
        f"{app}:/app_sync",
        docker.image,
    )
    docker.wait_healthy(name, timeout=90)
    assert (app / "private/key").read_text() == "k\n"
    assert {owner(p) for p in [app, *app.rglob("*")]} == {USER}
    (app / "new.txt").write_text("n\n")
    poll(lambda: owned(host / "new.txt", USER, "n\n"), SYNC_TIMEOUT, "the app's file on the host")
    (host / "h.txt").write_text("h\n")
    poll(lambda: owned(app / "h.txt", USER, "h\n"), SYNC_TIMEOUT, "the host's file in the app")


def test_links_are_synced_as_links_and_nothing_outside_changes_owner(
    docker: Docker, poll: Callable[..., Any], tmp_path: Path
) -> None:
    before = docker("run", "--rm", "--network", "none", docker.image, "sh", "-c", OUTSIDE).stdout
    host = project(tmp_path, 0o755)
    (host / "etc").symlink_to("/etc")
    (host / "passwd").symlink_to("/etc/passwd")
    (host / "shadow-dir").mkdir()
    (host / "shadow-dir/shadow").symlink_to("/etc/shadow")
    for path in (host / "etc", host / "passwd", host / "shadow-dir", host / "shadow-dir/shadow"):
        os.lchown(path, *USER)
    name = start(docker, host)
    assert docker("exec", name, "readlink", "/app_sync/etc").stdout == "/etc\n"
    assert docker("exec", name, "readlink", "/app_sync/shadow-dir/shadow").stdout == "/etc/shadow\n"
    link = docker("exec", name, "stat", "-c", "%u:%g %F", "/app_sync/passwd").stdout
    assert link == f"{APP} symbolic link\n"
    # The app makes links too (to the container's /etc, to a file above the root): links on the host, 1000's.
    app_sh(docker, name, "ln -s /etc/hostname /app_sync/hostname && ln -s ../.. /app_sync/src/up")
    poll(
        lambda: os.path.islink(host / "hostname") and owned(host / "hostname", USER), SYNC_TIMEOUT, "the link"
    )
    poll(
        lambda: os.path.islink(host / "src/up") and owned(host / "src/up", USER), SYNC_TIMEOUT, "the link up"
    )
    assert os.readlink(host / "hostname") == "/etc/hostname"
    after = docker("exec", name, "sh", "-c", OUTSIDE).stdout
    assert after == before, "owners or modes outside the roots changed"
    assert Path("/etc/passwd").lstat().st_uid == 0


def test_a_stop_right_after_1000_app_writes_leaves_nothing_root_owned(
    docker: Docker, poll: Callable[..., Any], tmp_path: Path
) -> None:
    """issue 25: `docker stop` right after the app (root) wrote 200 files in a new folder left the folder
    and ~43 files 0:0 for good.  A poller on the host folder, from each entry's inotify event on
    (temp files included), sees only 1000:1000, across the stop and the next start."""
    host = project(tmp_path, 0o755)
    name, volume = docker.container("owners"), docker.volume("owners")
    run = ["-d", "--name", name, "--network", "none", "-e", "OWNER_UID=33", "-e", "GROUP_ID=33"]
    docker("run", *run, "-v", f"{host}:/host_sync", "-v", f"{volume}:/app_sync", docker.image)
    docker.wait_healthy(name, timeout=90)
    writes = "mkdir /app_sync/stopdir && for i in $(seq 1000); do echo $i > /app_sync/stopdir/f$i; done"
    with Births(host) as births:
        app_sh(docker, name, writes, user="0:0")
        docker("stop", name, timeout=60)
        after_stop = {owner(p) for p in [host, *host.rglob("*")]}
        docker("start", name)
        docker.wait_healthy(name, timeout=90)
        poll(lambda: len(list((host / "stopdir").glob("f*"))) == 1000, SYNC_TIMEOUT, "1000 files on the host")
    assert after_stop == {USER}
    assert births.wrong(lambda rel: {USER}) == {}
    assert sum(1 for rel in births.seen if rel.startswith("stopdir/f")) == 1000
