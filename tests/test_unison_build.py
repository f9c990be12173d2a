"""unison built from pinned source (unison/build.sh) and our patches (unison/patches/).

Each patch has a test that fails on stock unison: the test runs against both
binaries and the stock run is a strict xfail, so a test that stops telling the
two apart fails the suite too (STYLE.md 15). The builds and the ways to run
them are in tests/unison_runs.py; patches 0003, 0004 and 0007 are tested in
tests/test_unison_scale.py, 0008 to 0011 in tests/test_unison_recovery.py (0011 is a
speed patch: its tests compare ours with stock instead).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.births import Births, reachable_folder
from tests.helpers import read, same_trees, tree_diff, wait_for, write
from tests.unison_runs import BOTH, ONESHOT, Watch, many_files, oneshot, replicas

pytestmark = pytest.mark.engine

# --- patch 0001: UNISON_WATCH_INTERVAL ----------------------------------------------

# A file monitor that reports a change as soon as unison waits for one: unison
# then syncs as fast as its pause after each sync lets it, and the times of its
# WAIT commands measure that pause alone (no inotify, no settling, no luck).
EAGER_FSMONITOR = """\
import os, sys, time
log = open(os.environ["EAGER_FSMONITOR_LOG"], "a", buffering=1)
answers = {"VERSION": ["VERSION 1"], "START": ["OK"], "DIR": ["OK"], "LINK": ["OK"]}
for line in sys.stdin:
    command, _, rest = line.strip().partition(" ")
    log.write(f"{time.monotonic():.6f} {command} {rest}\\n")
    if command == "WAIT":
        out = [f"CHANGES {rest}"]
    elif command == "CHANGES":
        out = ["RECURSIVE f", "DONE"]
    else:
        out = answers.get(command, [])
    sys.stdout.write("".join(o + "\\n" for o in out))
    sys.stdout.flush()
"""


def wait_times(log: Path) -> list[float]:
    """When unison sent WAIT for its first root (one per sync cycle)."""
    times: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        stamp, command, *args = line.split(" ")
        if command == "WAIT":
            times.setdefault(args[0], []).append(float(stamp))
    return next(iter(times.values()), [])


@pytest.mark.parametrize("kind", BOTH)
def test_watch_interval_sets_the_pause_between_syncs(
    kind: str, unison_of: dict[str, Path], tmp_path: Path, watches: list[Watch]
) -> None:
    unison = unison_of[kind]
    a, b, env = replicas(tmp_path)
    write(a / "f", "x")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monitor = bin_dir / "unison-fsmonitor"
    monitor.write_text(f"#!{sys.executable}\n{EAGER_FSMONITOR}")
    monitor.chmod(0o755)
    log = tmp_path / "fsmonitor.log"
    log.touch()
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env['PATH']}",
        EAGER_FSMONITOR_LOG=str(log),
        UNISON_WATCH_INTERVAL="0.02",
    )
    watch = Watch(unison, a, b, env)
    watches.append(watch)

    # Six cycles: about 0.1 s with the patch, 5 s on stock (1 s each).
    def six_cycles() -> list[float] | None:
        waits = wait_times(log)
        return waits if len(waits) >= 6 else None

    waits = wait_for(six_cycles, 30, "six sync cycles", 0.05, detail=watch.tail)
    gaps = [later - earlier for earlier, later in itertools.pairwise(waits)]
    # Stock sleeps a hard-coded 1 s between two cycles: every gap is >= 1 s.
    assert min(gaps) < 0.5, f"unison paused {min(gaps):.3f} s at least between syncs (gaps {gaps})"


def test_watch_interval_unset_is_stock_and_garbage_is_refused(
    unison_of: dict[str, Path], tmp_path: Path
) -> None:
    unison = unison_of["ours"]
    a, b, env = replicas(tmp_path)
    env["UNISON_WATCH_INTERVAL"] = "soon"
    done = subprocess.run(
        [str(unison), str(a), str(b), *ONESHOT, "-repeat", "watch"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "UNISON_WATCH_INTERVAL must be a number of seconds, not soon" in done.stdout + done.stderr


@pytest.mark.parametrize("kind", BOTH)
def test_an_edit_right_after_a_sync_crosses_without_the_pause(
    kind: str, unison_of: dict[str, Path], tmp_path: Path, watches: list[Watch]
) -> None:
    """End to end with our fsmonitor: two edits of one file 0.2 s apart.

    The second edit is written only once the first has crossed, so unison has
    finished (or is finishing) that sync: stock then sleeps its 1 s before it
    looks at the monitor again, which no machine makes shorter.
    """
    unison = unison_of[kind]
    fsmonitor = Path(sys.executable).parent / "unison-fsmonitor"
    if not fsmonitor.exists():
        pytest.skip("our unison-fsmonitor is not installed beside this python (make deps)")
    a, b, env = replicas(tmp_path)
    (tmp_path / "run").mkdir()
    write(a / "f", "v0")
    env.update(
        PATH=f"{fsmonitor.parent}{os.pathsep}{env['PATH']}",
        UNISON_WATCH_INTERVAL="0.02",
        HOST_VOLUME=str(a),
        APP_VOLUME=str(b),
        SYNC_RUNTIME_DIR=str(tmp_path / "run"),
    )
    watch = Watch(unison, a, b, env)
    watches.append(watch)
    wait_for(lambda: read(b / "f") == "v0", 30, "the initial sync", detail=watch.tail)
    wait_for(lambda: "fsmonitor.start" in watch.tail() or None, 30, "the fsmonitor", detail=watch.tail)

    first = time.monotonic()
    write(a / "f", "v1")
    wait_for(lambda: read(b / "f") == "v1", 10, "the first edit", detail=watch.tail)
    time.sleep(max(0.0, first + 0.2 - time.monotonic()))  # the second edit 0.2 s after the first
    second = time.monotonic()
    write(a / "f", "v2")
    wait_for(lambda: read(b / "f") == "v2", 10, "the second edit", detail=watch.tail)
    latency = time.monotonic() - second
    assert latency < 0.6, f"the second edit took {latency:.3f} s to cross"


# --- patch 0002: fastcheck with the exact mtime -----------------------------------


@pytest.mark.parametrize("kind", BOTH)
def test_times_same_size_edit_within_a_second_is_propagated(
    kind: str, unison_of: dict[str, Path], tmp_path: Path
) -> None:
    unison = unison_of[kind]
    a, b, env = replicas(tmp_path)
    write(a / "f", "version 1\n")
    out = oneshot(unison, a, b, env, "-times")
    assert read(b / "f") == "version 1\n", out
    # An in-place edit of the same size, 0.5 s after the synced version's mtime.
    synced = os.stat(a / "f")
    with (a / "f").open("r+") as f:
        f.write("version 2\n")
    os.utime(a / "f", ns=(synced.st_atime_ns, synced.st_mtime_ns + 500_000_000))
    assert os.stat(a / "f").st_size == synced.st_size

    out = oneshot(unison, a, b, env, "-times")
    assert read(b / "f") == "version 2\n", f"the edit did not cross; unison said:\n{out}"


def test_times_touch_without_change_is_not_a_transfer(unison_of: dict[str, Path], tmp_path: Path) -> None:
    """The exact check only fingerprints: a touched, unchanged file moves no data."""
    unison = unison_of["ours"]
    a, b, env = replicas(tmp_path)
    write(a / "f", "same\n")
    oneshot(unison, a, b, env, "-times")
    synced = os.stat(a / "f")
    os.utime(a / "f", ns=(synced.st_atime_ns, synced.st_mtime_ns + 300_000_000))
    out = oneshot(unison, a, b, env, "-times")
    assert "Copying" not in out and "transferred" not in out, out


# --- archives ------------------------------------------------------------------------


def test_our_archive_survives_a_restart(unison_of: dict[str, Path], tmp_path: Path) -> None:
    unison = unison_of["ours"]
    a, b, env = replicas(tmp_path)
    for i in range(20):
        write(a / f"f{i}", f"file {i}\n")
    first = oneshot(unison, a, b, env)
    assert "20 items transferred" in first, first
    again = oneshot(unison, a, b, env)
    assert "Nothing to do" in again, again


# (writer, reader): Debian's 2.52.1 and stock 2.54.0 archives in UNISON keep working with
# ours, and stock 2.54.0 goes on from ours (our readers decode in chunks: patch 0011).
ACROSS = [("2.52.1", "ours"), ("stock", "ours"), ("ours", "stock")]


@pytest.mark.parametrize(("writer", "reader"), ACROSS)
def test_an_archive_carries_over_to_another_build(
    writer: str, reader: str, unison_of: dict[str, Path], tmp_path: Path
) -> None:
    """No rescan from scratch: without an archive, a file that differs on both sides is a
    conflict that -batch skips; with the archive it is an ordinary update, and nothing else
    moves."""
    a, b, env = replicas(tmp_path)
    many_files(a)
    oneshot(unison_of[writer], a, b, env)
    assert same_trees(a, b, keep_temps=True), tree_diff(a, b, keep_temps=True)
    write(b / "d3" / "e3" / "f3.txt", "edited on b\n")

    out = oneshot(unison_of[reader], a, b, env)
    assert "No archive files were found" not in out, out
    assert "1 item transferred, 0 skipped, 0 failed" in out, out
    assert read(a / "d3" / "e3" / "f3.txt") == "edited on b\n"
    assert same_trees(a, b, keep_temps=True), tree_diff(a, b, keep_temps=True)
    assert "Nothing to do" in oneshot(unison_of[reader], a, b, env)


USER, APP = (1000, 1000), (33, 33)  # the host folder's owner; OWNER_UID:GROUP_ID


@pytest.fixture
def owned_roots(tmp_path: Path) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    """A host root of USER's and an app root of APP's, and UNISON_OWNERS as the engine sets it."""
    if os.geteuid() != 0:
        pytest.skip("giving files to other users needs root")
    base = reachable_folder("ns-owners-")
    a, b = base / "host", base / "app"
    a.mkdir()
    b.mkdir()
    os.chown(a, *USER)
    os.chown(b, *APP)
    env = dict(os.environ, UNISON=str(tmp_path / "unison"), HOME=str(tmp_path))
    env.pop("UNISON_WATCH_INTERVAL", None)
    env["UNISON_OWNERS"] = f"{USER[0]}:{USER[1]}:keep:{a}\n{APP[0]}:{APP[1]}:set:{b}"
    yield a, b, env
    shutil.rmtree(base)


@pytest.mark.parametrize("kind", BOTH)
def test_what_unison_creates_is_its_owners_from_birth(
    kind: str, unison_of: dict[str, Path], owned_roots: tuple[Path, Path, dict[str, str]]
) -> None:
    """Patch 0005: every file, folder and link unison creates, temp files included, has its root's
    owner from its first moment; a replaced host file keeps its owner; every app path is APP's."""
    a, b, env = owned_roots
    write(a / "src/index.php", "<?php")
    for path in (a / "src", a / "src/index.php"):
        os.chown(path, *USER)
    write(a / "theirs.txt", "host")
    os.chown(a / "theirs.txt", 1234, 1235)
    write(a / "roots.txt", "made with sudo")  # root's
    kept = {"theirs.txt": (1234, 1235), "roots.txt": (0, 0)}
    with Births(a) as host:
        with Births(b) as app:
            oneshot(unison_of[kind], a, b, env)
        write(b / "new.txt", "new")  # the app (root, here) writes: not unison's business
        write(b / "tree/deep/f.txt", "deep")
        write(b / "src/more.php", "more")
        (b / "link").symlink_to("new.txt")
        write(b / "theirs.txt", "the app's edit")
        write(b / "roots.txt", "the app's edit")
        big = os.urandom(32 << 20)  # a transfer long enough for its temp file to be seen
        (b / "big.bin").write_bytes(big)
        oneshot(unison_of[kind], a, b, env)
    assert (a / "tree/deep/f.txt").read_text() == "deep" and (a / "big.bin").read_bytes() == big
    assert os.readlink(a / "link") == "new.txt"
    assert {"new.txt", "tree", "tree/deep", "tree/deep/f.txt", "src/more.php", "link"} <= host.seen.keys()
    assert any(".unison." in rel for rel in host.seen)  # the poller saw temp files too

    def on_host(rel: str) -> set[tuple[int, int]]:
        """USER's; a replaced file's kept owner, which its temp file takes before the rename."""
        name = rel.split("/")[0]
        temp = re.fullmatch(r"\.unison\.(.+)\.[0-9a-f]+\.unison\.tmp", name)
        if temp is not None:
            return {USER, kept.get(temp.group(1), USER)}
        return {kept.get(name, USER)}

    assert host.wrong(on_host) == {}
    assert app.wrong(lambda rel: {APP}) == {}
    assert {"src", "src/index.php", "theirs.txt", "roots.txt"} <= app.seen.keys()


@pytest.mark.parametrize("kind", BOTH)
def test_a_folder_the_owner_cannot_write_still_gets_files_of_the_owner(
    kind: str, unison_of: dict[str, Path], owned_roots: tuple[Path, Path, dict[str, str]]
) -> None:
    """Patch 0005's fallback: in a host folder USER may not write (root's, 0755), unison cannot create
    as USER; it creates as root and gives the file to USER before the rename."""
    a, b, env = owned_roots
    (a / "roots-dir").mkdir(mode=0o755)
    oneshot(unison_of[kind], a, b, env)
    write(b / "roots-dir" / "new.txt", "new")
    oneshot(unison_of[kind], a, b, env)
    assert (a / "roots-dir" / "new.txt").read_text() == "new"
    st = (a / "roots-dir" / "new.txt").lstat()
    assert (st.st_uid, st.st_gid) == USER


def test_a_malformed_owners_line_is_refused_naming_the_variable(
    unison_of: dict[str, Path], owned_roots: tuple[Path, Path, dict[str, str]]
) -> None:
    a, b, env = owned_roots
    write(b / "new.txt", "new")
    done = subprocess.run(
        [str(unison_of["ours"]), str(a), str(b), *ONESHOT],
        env={**env, "UNISON_OWNERS": "1000:1000:/no/rule"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3 and "UNISON_OWNERS" in done.stdout + done.stderr
    assert not (a / "new.txt").exists()
