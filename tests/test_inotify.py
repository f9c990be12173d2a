"""engine/fsmonitor/inotify.py: the Watcher on real inotify (tmp_path), a fake for what cannot be caused."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

import pytest
from inotify_simple import Event
from inotify_simple import flags as F

from engine.config import BUILTIN_IGNORES
from engine.config.ignore import IgnoreMatcher
from engine.fs import watchmask
from engine.fsmonitor import inotify
from engine.fsmonitor.inotify import Watcher, WatchesExhausted
from engine.startup import recorder
from tests.fakes import FakeINotify
from tests.helpers import wait_for

Changes = set[tuple[str, str]]


class Collector:
    """Reads the watcher until the accumulated changes satisfy a condition."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher
        self.seen: Changes = set()

    def until(self, check: Callable[[Changes], bool], what: str, timeout: float = 5) -> Changes:
        def step() -> bool:
            self.seen |= self.watcher.read().changed
            return check(self.seen)

        wait_for(step, timeout, what)
        return self.seen

    def has(self, *paths: str) -> Changes:
        wanted = {("r", p) for p in paths}
        return self.until(lambda seen: wanted <= seen, f"changes {sorted(wanted)}")

    def clear(self) -> None:
        self.seen = set()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "replica"
    folder.mkdir()
    return folder


def make_watcher(root: Path, ignored: Callable[[str], bool] = lambda rel: False) -> Watcher:
    watcher = Watcher(ignored)
    watcher.add_root("r", str(root))
    watcher.watch_tree("r", "")
    return watcher


@pytest.fixture
def watcher(root: Path) -> Watcher:
    return make_watcher(root)


@pytest.fixture
def events(watcher: Watcher) -> Collector:
    return Collector(watcher)


def test_create_modify_delete_rename_are_reported(root: Path, events: Collector) -> None:
    (root / "new.txt").write_text("x")
    events.has("new.txt")
    events.clear()
    with open(root / "new.txt", "a") as f:
        f.write("more")
    events.has("new.txt")
    events.clear()
    (root / "new.txt").rename(root / "renamed.txt")
    events.has("new.txt", "renamed.txt")
    events.clear()
    (root / "renamed.txt").unlink()
    events.has("renamed.txt")


def test_paths_are_relative_to_the_replica_root(root: Path, events: Collector) -> None:
    (root / "a" / "b").mkdir(parents=True)
    events.has("a")
    (root / "a" / "b" / "name with space").write_text("x")
    events.has("a/b/name with space")
    assert all(not rel.startswith("/") for _, rel in events.seen)


def test_only_watched_folders_are_reported(root: Path) -> None:
    (root / "watched").mkdir()
    (root / "unwatched").mkdir()
    watcher = Watcher(lambda rel: False)
    watcher.add_root("r", str(root))
    assert watcher.watch("r", "")
    assert watcher.watch("r", "watched")
    events = Collector(watcher)
    (root / "unwatched" / "x").write_text("x")
    (root / "watched" / "y").write_text("y")
    seen = events.has("watched/y")
    assert ("r", "unwatched/x") not in seen


def test_watching_a_missing_folder_or_a_file_is_false(root: Path) -> None:
    (root / "file").write_text("")
    watcher = Watcher(lambda rel: False)
    watcher.add_root("r", str(root))
    assert not watcher.watch("r", "missing")
    assert not watcher.watch("r", "file")
    assert watcher.watch_count == 0


def test_new_folders_are_watched_at_once(root: Path, watcher: Watcher, events: Collector) -> None:
    deep = root / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "f.txt").write_text("made before the watch could exist")
    # the file itself, or a folder above it (RECURSIVE covers it), is reported
    events.until(
        lambda seen: any(p in seen for p in (("r", "a"), ("r", "a/b"), ("r", "a/b/c"), ("r", "a/b/c/f.txt"))),
        "a change above a/b/c/f.txt",
    )
    events.until(lambda seen: watcher.watch_count == 4, "watches on a, a/b, a/b/c")
    events.clear()
    (deep / "g.txt").write_text("later")
    events.has("a/b/c/g.txt")


def test_many_new_folders_at_once(root: Path, watcher: Watcher, events: Collector) -> None:
    for i in range(50):
        (root / f"d{i}" / "sub").mkdir(parents=True)
        (root / f"d{i}" / "sub" / "f").write_text(str(i))
    events.until(lambda seen: watcher.watch_count == 101, "101 watches")
    events.clear()
    (root / "d49" / "sub" / "g").write_text("g")
    events.has("d49/sub/g")


def test_folder_moved_away_is_unwatched(
    root: Path, tmp_path: Path, watcher: Watcher, events: Collector
) -> None:
    (root / "d" / "e").mkdir(parents=True)
    events.until(lambda seen: watcher.watch_count == 3, "watches on the root, d, d/e")
    outside = tmp_path / "outside"
    (root / "d").rename(outside)
    events.has("d")
    assert watcher.watch_count == 1
    events.clear()
    (outside / "e" / "x").write_text("not ours any more")
    (root / "marker").write_text("")
    seen = events.has("marker")
    assert not any(rel.startswith(("d/", "e")) for _, rel in seen)


def test_folder_moved_in_is_watched(root: Path, tmp_path: Path, watcher: Watcher, events: Collector) -> None:
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    outside.rename(root / "moved")
    events.has("moved")
    events.until(lambda seen: watcher.watch_count == 3, "watches on moved and moved/sub")
    events.clear()
    (root / "moved" / "sub" / "x").write_text("x")
    events.has("moved/sub/x")


def test_folder_renamed_inside_the_replica(root: Path, watcher: Watcher, events: Collector) -> None:
    (root / "old" / "sub").mkdir(parents=True)
    events.until(lambda seen: watcher.watch_count == 3, "watches on old and old/sub")
    (root / "old").rename(root / "new")
    events.has("old", "new")
    events.clear()
    (root / "new" / "sub" / "x").write_text("x")
    seen = events.has("new/sub/x")
    assert ("r", "old/sub/x") not in seen
    assert watcher.watch_count == 3


def test_ignored_paths_are_neither_watched_nor_reported(root: Path) -> None:
    watcher = make_watcher(root, IgnoreMatcher(["Name .git", "Name *.o"]).ignored)
    events = Collector(watcher)
    (root / ".git" / "objects").mkdir(parents=True)
    (root / ".git" / "objects" / "x").write_text("x")
    (root / "main.o").write_text("o")
    (root / "src").mkdir()
    events.until(lambda seen: watcher.watch_count == 2, "a watch on src")
    (root / "src" / ".git").write_text("a file named .git")
    (root / "src" / "main.c").write_text("c")
    seen = events.has("src/main.c")
    assert not any(rel.startswith(".git") or rel.endswith(".o") for _, rel in seen)


def test_ignored_folders_already_there_are_not_watched(root: Path) -> None:
    (root / "node_modules" / "pkg").mkdir(parents=True)
    (root / "src").mkdir()
    watcher = make_watcher(root, IgnoreMatcher(["Name node_modules"]).ignored)
    assert watcher.watch_count == 2  # the root and src


def test_unison_temp_files_are_not_reported(root: Path, events: Collector) -> None:
    temp = root / ".unison.file.txt.0a1b2c3d.unison.tmp"
    temp.write_text("partial")
    temp.rename(root / "file.txt")
    seen = events.has("file.txt")
    (root / "marker").write_text("")
    seen = events.has("marker")
    assert not any(".unison." in rel for _, rel in seen)


def test_a_file_still_being_written_is_marked(root: Path, watcher: Watcher) -> None:
    writing: set[tuple[str, str]] = set()

    def read() -> set[tuple[str, str]]:
        batch = watcher.read()
        writing.difference_update(batch.written)
        writing.update(batch.writing)
        return writing

    f = open(root / "big", "w")  # noqa: SIM115 (the file must stay open across reads)
    try:
        f.write("x")
        f.flush()
        wait_for(lambda: ("r", "big") in read(), 5, "big marked as being written")
    finally:
        f.close()
    wait_for(lambda: ("r", "big") not in read(), 5, "big written")


def test_the_last_write_event_of_a_read_wins(root: Path) -> None:
    fake = FakeINotify()
    watcher = Watcher(lambda rel: False, inotify=fake)
    watcher.add_root("r", str(root))
    watcher.watch("r", "")
    fake.events = [
        Event(wd=1, mask=F.MODIFY, cookie=0, name="a"),
        Event(wd=1, mask=F.CLOSE_WRITE, cookie=0, name="a"),
        Event(wd=1, mask=F.CLOSE_WRITE, cookie=0, name="b"),
        Event(wd=1, mask=F.MODIFY, cookie=0, name="b"),
    ]
    batch = watcher.read()
    assert batch.written == {("r", "a")}
    assert batch.writing == {("r", "b")}


def test_the_root_itself_deleted_or_moved_is_reported_as_the_root(root: Path, tmp_path: Path) -> None:
    """A root has no watched parent: its own DELETE_SELF/MOVE_SELF is the only word that it went."""
    events = Collector(make_watcher(root))
    root.rename(tmp_path / "moved")
    events.has("")
    other = tmp_path / "other"
    other.mkdir()
    events = Collector(make_watcher(other))
    other.rmdir()
    events.until(lambda seen: ("r", "") in seen, "the root's own deletion")


def test_the_fsmonitor_asks_for_what_the_recorder_does_and_each_folders_own_delete_or_move() -> None:
    """One definition (engine/fs/watchmask.py); the one difference, and why, is said there."""
    assert recorder.MASK == watchmask.CONTENTS
    assert inotify.MASK == recorder.MASK | F.DELETE_SELF | F.MOVE_SELF
    assert not recorder.MASK & (F.DELETE_SELF | F.MOVE_SELF)


def test_unwatching_the_root_drops_every_watch_of_a_replica(root: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (root / "d").mkdir()
    watcher = make_watcher(root)
    watcher.add_root("o", str(other))
    watcher.watch_tree("o", "")
    assert watcher.watch_count == 3
    watcher.unwatch_tree("r", "")
    assert watcher.watch_count == 1
    events = Collector(watcher)
    (root / "x").write_text("")
    (other / "y").write_text("")
    seen = events.until(lambda seen: ("o", "y") in seen, "o/y")
    assert ("r", "x") not in seen


# --- what real inotify will not do on demand: a fake INotify -------------------------------


def test_queue_overflow_is_reported(root: Path) -> None:
    fake = FakeINotify()
    watcher = Watcher(lambda rel: False, inotify=fake)
    watcher.add_root("r", str(root))
    assert watcher.watch("r", "")
    fake.events = [
        Event(wd=1, mask=F.CREATE, cookie=0, name="a"),
        Event(wd=-1, mask=F.Q_OVERFLOW, cookie=0, name=""),
    ]
    batch = watcher.read()
    assert batch.overflow
    assert ("r", "a") in batch.changed
    assert not watcher.read().overflow


def test_out_of_watches_names_max_inotify_watches(root: Path) -> None:
    watcher = Watcher(lambda rel: False, inotify=FakeINotify(add_error=errno.ENOSPC))
    watcher.add_root("r", str(root))
    with pytest.raises(WatchesExhausted) as e:
        watcher.watch("r", "")
    assert "MAX_INOTIFY_WATCHES" in str(e.value)
    assert str(root) in str(e.value)
    assert isinstance(e.value.__cause__, OSError)


def test_out_of_watches_while_following_a_new_folder(root: Path) -> None:
    fake = FakeINotify()
    watcher = Watcher(lambda rel: False, inotify=fake)
    watcher.add_root("r", str(root))
    watcher.watch("r", "")
    (root / "new").mkdir()
    fake.add_error = errno.ENOSPC
    fake.events = [Event(wd=1, mask=F.CREATE | F.ISDIR, cookie=0, name="new")]
    with pytest.raises(WatchesExhausted):
        watcher.read()


def test_other_add_watch_errors_propagate(root: Path) -> None:
    watcher = Watcher(lambda rel: False, inotify=FakeINotify(add_error=errno.EIO))
    watcher.add_root("r", str(root))
    with pytest.raises(OSError):
        watcher.watch("r", "")


def test_unwatching_the_root_removes_the_kernel_watches_too(root: Path) -> None:
    # a watch dropped only from the watcher's maps still holds one of max_user_watches
    (root / "a" / "b").mkdir(parents=True)
    fake = FakeINotify()
    watcher = Watcher(lambda rel: False, inotify=fake)
    watcher.add_root("r", str(root))
    watcher.watch_tree("r", "")
    assert watcher.watch_count == 3
    watcher.unwatch_tree("r", "")
    assert watcher.watch_count == 0
    assert sorted(fake.removed) == [1, 2, 3]


def test_unwatch_tree_removes_the_kernel_watches_below(root: Path) -> None:
    (root / "a" / "b").mkdir(parents=True)
    (root / "ab").mkdir()
    fake = FakeINotify()
    watcher = Watcher(lambda rel: False, inotify=fake)
    watcher.add_root("r", str(root))
    watcher.watch_tree("r", "")
    watcher.unwatch_tree("r", "a")
    assert len(fake.removed) == 2
    assert watcher.watch_count == 2  # the root and "ab"


def test_a_conflict_copy_unison_made_is_told_apart_not_reported(root: Path) -> None:
    """unison keeps a conflict's loser under an ignored name (a temp file renamed to it): never a
    change for unison, but the monitor holds the next cycle until it is moved (seed 7101)."""
    watcher = make_watcher(root, IgnoreMatcher(BUILTIN_IGNORES).ignored)
    (root / "a").mkdir()
    wait_for(lambda: watcher.read() is not None and watcher.watch_count == 2, 5, "a watch on a")
    temp = root / "a" / ".unison.a.8f2e.unison.tmp"
    temp.write_text("the app's save")
    temp.rename(root / "a" / "a (conflict_on_2026-12-04)")
    (root / "a" / "notes (draft)").write_text("not a copy")
    copies: set[str] = set()
    changed: Changes = set()

    def read() -> bool:
        batch = watcher.read()
        copies.update(batch.copies)
        changed.update(batch.changed)
        return ("r", "a/notes (draft)") in changed

    wait_for(read, 5, "the events")
    assert copies == {"a/a (conflict_on_2026-12-04)"}
    assert not any("conflict" in rel for _, rel in changed)
