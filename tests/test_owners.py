"""Owners per side: engine/fs/owners.py (the rule) and engine/fs/chown.py (chowns that never follow links)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.config import load
from engine.fs import chown
from engine.fs.owners import Owners, written_paths
from engine.fsmonitor.inotify import Batch, Watcher
from engine.fsmonitor.monitor import build_monitor
from tests.helpers import Engine, same_trees, wait_for

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")

USER = (1000, 1000)  # the host folder's owner
APP = (33, 33)  # OWNER_UID:GROUP_ID
ROOTS = {"host": "", "app": ""}

# unison 2.52.1's own output (``-ui text``, not ``-terse``), progress display and all.
REAL_OUTPUT = (
    "Reconciling changes\n"
    "         <---- deleted    d  \n"
    "         <---- new dir    d2  \n"
    "         <---- changed    f1  \n"
    "props    ---->            f2  \n"
    "         <---- new file   sp ace \u00e9  \n"
    "Propagating updates\n"
    "[BGN] Copying d2 from /tmp/uo/a to /tmp/uo/h\n"
    " 16%  00:00 ETA\r               \r[END] Copying d2\n"
    " 16%  00:00 ETA\r               \r[BGN] Updating file f1 from /tmp/uo/a to /tmp/uo/h\n"
    " 16%  00:00 ETA\r               \r 50%  00:00 ETA\r               \r[END] Updating file f1\n"
    "[BGN] Copying properties for f2 from /tmp/uo/h to /tmp/uo/a\n"
    "[END] Copying properties for f2\n"
    "[BGN] Copying sp ace \u00e9 from /tmp/uo/a to /tmp/uo/h\n"
    "[BGN] Copying new from /tmp/uo/h to /tmp/uo/a\n"
    "[BGN] Copying x from /tmp/uo/h to y from /tmp/uo/h to /tmp/uo/a\n"
    "100%  00:00 ETA\r               \r[BGN] Deleting d from /tmp/uo/h\n"
    "Synchronization complete at 21:27:10  (5 items transferred, 0 skipped, 0 failed)\n"
)


def test_written_paths_reads_unisons_copies_and_their_direction() -> None:
    assert written_paths(REAL_OUTPUT, "/tmp/uo/h", "/tmp/uo/a") == [
        ("/tmp/uo/h", "d2"),
        ("/tmp/uo/h", "f1"),
        ("/tmp/uo/h", "sp ace \u00e9"),
        ("/tmp/uo/a", "new"),
        ("/tmp/uo/a", "x from /tmp/uo/h to y"),
    ]


def test_written_paths_ignores_other_roots_and_summaries() -> None:
    assert written_paths(REAL_OUTPUT, "/other/h", "/other/a") == []
    assert written_paths("", "/h", "/a") == []


@pytest.fixture
def sides(tmp_path: Path) -> tuple[Path, Path, Owners]:
    host, app = tmp_path / "host", tmp_path / "app"
    host.mkdir()
    app.mkdir()
    os.chown(host, *USER)
    owners = Owners(str(host), str(app), APP)
    return host, app, owners


def owner(path: Path) -> tuple[int, int]:
    st = path.lstat()
    return (st.st_uid, st.st_gid)


def roots(host: Path, app: Path) -> dict[str, str]:
    return {"a": str(host), "b": str(app)}  # unison's replica names are opaque


def unison_writes(path: Path, text: str) -> None:
    """What unison (root) does: a temp file renamed over the path (a new inode, root's)."""
    temp = path.with_name(f".unison.{path.name}.123.unison.tmp")
    temp.write_text(text)
    os.chown(temp, 0, 0)
    os.replace(temp, path)


@root_only
def test_app_side_gets_owner_uid_for_every_path_whoever_wrote_it(sides: tuple[Path, Path, Owners]) -> None:
    host, app, owners = sides
    (app / "new").mkdir()
    (app / "new/deep").mkdir()
    (app / "new/deep/f.txt").write_text("x")
    (app / "root-written.txt").write_text("y")
    changed = owners.settled(roots(host, app), {("b", "new"), ("b", "root-written.txt")})
    assert changed == 4
    for path in (app / "new", app / "new/deep", app / "new/deep/f.txt", app / "root-written.txt"):
        assert owner(path) == APP, path
    assert owners.settled(roots(host, app), {("b", "new")}) == 0  # a second look changes nothing


@root_only
def test_host_files_are_never_chowned_after_the_fact(sides: tuple[Path, Path, Owners]) -> None:
    """unison gives what it writes its owner itself (patch 0005); the hook leaves the host alone."""
    host, app, owners = sides
    (host / "sudo.txt").write_text("by root on the host")
    unison_writes(host / "copy.txt", "unison's, as stock unison leaves it")
    assert owners.settled(roots(host, app), {("a", "sudo.txt"), ("a", "copy.txt")}) == 0
    assert owner(host / "sudo.txt") == owner(host / "copy.txt") == (0, 0)


@root_only
def test_a_link_is_chowned_as_a_link_and_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "etc"
    outside.mkdir()
    (outside / "passwd").write_text("secret")
    host, app = tmp_path / "host", tmp_path / "app"
    host.mkdir()
    app.mkdir()
    (app / "etc").symlink_to(outside)
    (app / "sub").mkdir()
    (app / "sub/etc").symlink_to(outside)
    owners = Owners(str(host), str(app), APP)
    owners.settled(roots(host, app), {("b", "etc"), ("b", "etc/passwd"), ("b", "sub")})
    assert owner(app / "etc") == APP  # the link itself
    assert owner(app / "sub/etc") == APP
    assert owner(outside) == (0, 0)
    assert owner(outside / "passwd") == (0, 0)
    assert chown.fix(app, "etc/passwd", lambda st: APP) == 0  # through a link: nothing
    assert chown.chown_tree(app, *APP) >= 3
    assert owner(outside / "passwd") == (0, 0)


@root_only
def test_other_replica_names_change_nothing(sides: tuple[Path, Path, Owners]) -> None:
    _, app, owners = sides
    (app / "f").write_text("x")
    assert owners.settled({"x": "/elsewhere", "y": "/other"}, {("x", "f"), ("y", "f")}) == 0
    assert owner(app / "f") == (0, 0)


def test_owners_is_off_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    cfg = load({"HOST_VOLUME": "/h", "APP_VOLUME": "/a", "OWNER_UID": "33"})
    assert Owners.for_config(cfg) is None


# --- the running engine (real unison, supervisord, fsmonitor), as root ------------------------

SYNC = 15.0  # seconds a change may take to cross in these tests


def owned(path: Path, who: tuple[int, int], text: str | None = None) -> bool:
    try:
        st = path.lstat()
        return (st.st_uid, st.st_gid) == who and (text is None or path.read_text() == text)
    except OSError:
        return False


def tree_owners(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): owner(p) for p in [root, *root.rglob("*")]}


@root_only
@pytest.mark.engine
@pytest.mark.parametrize("mode", [0o755, 0o700])
def test_each_side_keeps_its_owner_both_ways(engine_factory: Callable[..., Engine], mode: int) -> None:
    engine = engine_factory(OWNER_UID="33", GROUP_ID="33")
    host, app = engine.host, engine.app
    (host / "src").mkdir()
    (host / "src/app.php").write_text("<?php")
    (host / "private").mkdir(mode=0o700)
    (host / "private/key").write_text("k")
    (host / "theirs.txt").write_text("t")
    for path in [host, *host.rglob("*")]:
        os.chown(path, *USER)
    os.chown(host / "theirs.txt", 1234, 1235)
    host.chmod(mode)
    engine.start().wait_watching()
    assert set(tree_owners(app).values()) == {APP}, tree_owners(app)
    assert (app / "private/key").read_text() == "k"
    engine.wait_first_watch_cycle()  # the fsmonitor sees the edits (during a full scan: see owners.py)

    (app / "new.txt").write_text("new")  # written by root in the app container: still the app's
    (app / "fresh/inner").mkdir(parents=True)
    (app / "fresh/inner/deep.txt").write_text("deep")
    with open(app / "theirs.txt", "a") as f:
        f.write(" appended")
    os.rename(app / "src/app.php", app / "src/index.php")
    wait_for(lambda: owned(host / "new.txt", USER, "new"), SYNC, "the app's new file on the host, the user's")
    wait_for(lambda: owned(host / "fresh/inner/deep.txt", USER, "deep"), SYNC, "a new folder on the host")
    wait_for(
        lambda: owned(host / "theirs.txt", (1234, 1235), "t appended"), SYNC, "the append, the owner kept"
    )
    wait_for(lambda: owned(host / "src/index.php", USER, "<?php"), SYNC, "the rename, the user's")
    # unison creates the new name, then deletes the old one: a moment apart
    wait_for(lambda: not (host / "src/app.php").exists(), SYNC, "the old name gone from the host")
    assert set(tree_owners(host).values()) == {USER, (1234, 1235)}, tree_owners(host)

    (host / "from-host.txt").write_text("h")
    os.chown(host / "from-host.txt", *USER)
    wait_for(lambda: owned(app / "from-host.txt", APP, "h"), SYNC, "the host's new file, the app's")
    wait_for(lambda: set(tree_owners(app).values()) == {APP}, SYNC, "every app path the app's")

    assert engine.terminate() == 0
    (app / "offline.txt").write_text("o")  # a change while stopped: the initial sync carries it
    engine.start().wait_watching()
    assert owned(host / "offline.txt", USER, "o")
    # the app side's copy gets its owner once run has read unison's line on it (at watching, mostly)
    wait_for(lambda: owned(app / "offline.txt", APP, "o"), SYNC, "the app's offline file, the app's")
    checked = [e["owner_checked"] for e in engine.events("initial_sync.done")]
    assert checked[0] != 0 and checked[1] == 0  # the warm start did not walk the volume again
    assert owner(host) == USER and stat.S_IMODE(host.stat().st_mode) == mode


@root_only
@pytest.mark.engine
def test_a_root_owned_private_folder_syncs_every_file(engine_factory: Callable[..., Engine]) -> None:
    engine = engine_factory(OWNER_UID="33", GROUP_ID="33")
    host, app = engine.host, engine.app
    for i in range(20):
        (host / f"d{i % 3}").mkdir(mode=0o700, exist_ok=True)
        (host / f"d{i % 3}/f{i}").write_text(str(i))
        (host / f"d{i % 3}/f{i}").chmod(0o600)
    host.chmod(0o700)
    engine.start().wait_watching()
    assert same_trees(host, app)
    assert set(tree_owners(app).values()) == {APP}
    assert set(tree_owners(host).values()) == {(0, 0)}
    (app / "d0/by-app").write_text("a")
    os.chown(app / "d0/by-app", *APP)
    wait_for(lambda: owned(host / "d0/by-app", (0, 0), "a"), SYNC, "the app's file on the root-owned host")


@root_only
def test_one_shot_copies_get_their_owners(sides: tuple[Path, Path, Owners]) -> None:
    host, app, owners = sides
    (app / "d").mkdir()
    (app / "d/f").write_text("x")
    unison_writes(host / "g", "y")
    assert owners.copied([(str(app), "d"), (str(host), "g"), ("/elsewhere", "g")]) == 2
    assert owner(app / "d/f") == APP
    assert owner(host / "g") == (0, 0)  # the host side is unison's business (patch 0005)


@root_only
@pytest.mark.engine
def test_setuid_bits_never_reach_the_app_side(engine_factory: Callable[..., Engine]) -> None:
    engine = engine_factory(OWNER_UID="33", GROUP_ID="33")
    host, app = engine.host, engine.app
    (host / "suid").write_text("#!/bin/sh\n")
    (host / "suid").chmod(0o6755)
    (host / "sgid-dir").mkdir()
    (host / "sgid-dir").chmod(0o2775)
    engine.start().wait_watching()
    engine.wait_first_watch_cycle()
    (host / "later").write_text("#!/bin/sh\n")
    (host / "later").chmod(0o4711)
    wait_for(lambda: owned(app / "later", APP), SYNC, "the later file, the app's")
    assert stat.S_IMODE((app / "suid").stat().st_mode) == 0o755
    assert stat.S_IMODE((app / "later").stat().st_mode) == 0o711
    assert stat.S_IMODE((app / "sgid-dir").stat().st_mode) & 0o6000 == 0


@root_only
def test_lost_events_walk_the_app_side_only(sides: tuple[Path, Path, Owners]) -> None:
    host, app, owners = sides
    (app / "d").mkdir()
    (app / "d/unseen").write_text("x")
    (host / "unseen").write_text("x")
    assert owners.events_lost() == 3  # the root, d and d/unseen
    assert {owner(p) for p in [app, *app.rglob("*")]} == {APP}
    assert owner(host / "unseen") == (0, 0)


@root_only
def test_an_overflow_gives_the_app_side_its_owner(tmp_path: Path) -> None:
    host, app = tmp_path / "host", tmp_path / "app"
    host.mkdir()
    app.mkdir()
    (app / "unseen").write_text("x")
    watcher = Watcher(lambda rel: False)
    watcher.add_root("a", str(host))
    watcher.add_root("b", str(app))
    monitor = build_monitor(watcher, lambda a, b: False, listeners=[Owners(str(host), str(app), APP)])
    monitor.events(Batch(set(), overflow=True), 1.0)
    assert owner(app / "unseen") == APP


@root_only
@pytest.mark.engine
def test_links_out_of_the_host_folder_are_synced_as_links(engine_factory: Callable[..., Engine]) -> None:
    engine = engine_factory(OWNER_UID="33", GROUP_ID="33")
    host, app = engine.host, engine.app
    outside = engine.base / "etc"  # a stand-in for /etc (the image test uses the real one)
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0\n")
    os.chown(host, *USER)
    (host / "etc").symlink_to(outside)
    (host / "passwd").symlink_to(outside / "passwd")
    engine.start().wait_watching()
    engine.wait_first_watch_cycle()
    assert os.readlink(app / "etc") == str(outside) and owner(app / "etc") == APP
    (app / "more").symlink_to(outside / "passwd")
    wait_for(lambda: os.path.islink(host / "more") and owned(host / "more", USER), SYNC, "the app's link")
    assert owner(outside) == (0, 0) and owner(outside / "passwd") == (0, 0)
    assert (outside / "passwd").read_text() == "root:x:0:0\n"
    assert sorted(p.name for p in outside.iterdir()) == ["passwd"]
