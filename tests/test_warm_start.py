"""A warm start leaves the initial sync to watch mode's first cycle (issue 24), with real unison.

No one-shot runs (it would load both archives, and watch mode would load them
again): watch-mode unison's first cycle scans both trees in full, and
``watching`` waits for it (here a root folder changed while stopped; with
only deeper changes after a clean stop it scans only those:
tests/test_stopmark.py).  What changed on either side while the engine was
stopped (edits, deletes, a git checkout that swaps a folder) is on both sides,
byte for byte (unison's temp files included), when ``watching`` is said: no
conflict copy, nothing lost; a ``kill -9`` during that cycle changes nothing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.fuzz import crash
from tests.helpers import Engine, read, same_trees, tree_diff, write

pytestmark = pytest.mark.engine


def synced_once(engine: Engine) -> None:
    """A tree synced (archives in UNISON), the engine stopped: the next start is warm."""
    for i in range(300):
        write(engine.host / f"src/d{i // 30}/f{i:03d}.txt", f"file {i:03d}\n")
    write(engine.host / "docs/readme.md", "read me\n")
    os.symlink("d0/f000.txt", engine.host / "src/link")
    engine.start().wait_watching()
    engine.wait_first_watch_cycle()
    assert engine.terminate() == 0
    assert same_trees(engine.host, engine.app, keep_temps=True), tree_diff(engine.host, engine.app)


def change_both_sides(engine: Engine) -> None:
    """What a user does while the container is stopped, on each side (never the same path twice)."""
    host, app = engine.host, engine.app
    write(host / "src/d0/f001.txt", "FILE 001\n")  # same size, same second as its sync, maybe
    write(host / "src/new/host.txt", "made on the host\n")
    (host / "src/d1/f030.txt").unlink()
    shutil.rmtree(host / "docs")  # a git checkout: one folder gone, another in its place
    write(host / "guide/index.md", "the new docs\n")
    os.unlink(host / "src/link")
    os.symlink("d2/f060.txt", host / "src/link")
    write(app / "src/d3/f090.txt", "edited in the app\n")
    write(app / "var/cache/app.txt", "made by the app\n")
    (app / "src/d4/f120.txt").unlink()


def test_a_warm_start_syncs_what_changed_while_stopped_before_watching(engine: Engine) -> None:
    synced_once(engine)
    change_both_sides(engine)
    engine.start().wait_watching()
    assert same_trees(engine.host, engine.app, keep_temps=True), tree_diff(engine.host, engine.app)
    assert read(engine.app / "src/d0/f001.txt") == "FILE 001\n"
    assert read(engine.host / "src/d3/f090.txt") == "edited in the app\n"
    assert not (engine.app / "docs").exists() and not (engine.host / "src/d4/f120.txt").exists()
    assert os.readlink(engine.app / "src/link") == "d2/f060.txt"
    assert len(engine.events("initial_sync.unison.done")) == 0  # no one-shot, cold or warm
    assert len(engine.events("initial_sync.start", in_watch_mode=True)) == 1
    assert engine.events("stopmark.root_changed")  # docs/ went from a root folder: a full scan
    assert len([e for e in engine.events("initial_sync.done") if e.get("in_watch_mode")]) == 1
    assert engine.status()["initial_sync_done"] is True
    assert not engine.events("conflict") and engine.status()["conflicts"]["count"] == 0
    assert not (engine.host / ".native-sync").exists()


def test_a_kill_during_the_warm_start_s_first_cycle_loses_nothing(engine: Engine) -> None:
    """``kill -9`` of the whole engine while watch mode's first cycle syncs; the next start carries all."""
    synced_once(engine)
    change_both_sides(engine)
    engine.start()
    engine.wait_event("initial_sync.start", in_watch_mode=True)
    crash.kill_unison(engine)  # once it runs: its first cycle is under way or just done
    assert crash.kill_engine(engine) > 0
    engine.start().wait_watching()
    assert same_trees(engine.host, engine.app, keep_temps=True), tree_diff(engine.host, engine.app)
    assert read(engine.app / "src/d0/f001.txt") == "FILE 001\n"
    assert read(engine.host / "src/d3/f090.txt") == "edited in the app\n"
    assert not engine.events("conflict") and engine.status()["conflicts"]["count"] == 0


def test_a_warm_start_with_nothing_changed_writes_no_archive(engine: Engine) -> None:
    """Issue 24: nothing changed while stopped, so unison's first cycle has nothing to commit.  The
    start's probe of the roots (engine/startup/probe.py) is the last one's answer: probing makes and
    removes a folder in each root, a new stamp on the root that unison's first cycle would write into
    both archives whole (2 x 28 MB at 400k files)."""
    synced_once(engine)
    engine.start().wait_watching()
    engine.wait_first_watch_cycle()
    assert engine.terminate() == 0  # the archives as this engine left them; the probe's answer kept
    archives = {
        p.name: p.stat().st_mtime_ns for p in Path(engine.env["UNISON"]).iterdir() if p.name.startswith("ar")
    }
    roots = [os.stat(root).st_ctime_ns for root in (engine.host, engine.app)]
    engine.start().wait_watching()
    assert [os.stat(root).st_ctime_ns for root in (engine.host, engine.app)] == roots
    now = {
        p.name: p.stat().st_mtime_ns for p in Path(engine.env["UNISON"]).iterdir() if p.name.startswith("ar")
    }
    assert len(now) == 2 and now == archives
    assert same_trees(engine.host, engine.app, keep_temps=True), tree_diff(engine.host, engine.app)
