"""The fuzzer's model (tests/fuzz/model.py), its race rule's delete and its teardown, without an engine.

Each case is what a long fuzz run found, as the quiescent point saw it: what
the model must let pass (no sync can do better) and, next to it, what it must
still call a violation.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.machine import SyncMachine
from tests.fuzz.model import Concurrent, Entry, Race, Tree, Window, check, settled
from tests.fuzz.races import rm_rf
from tests.fuzz.rig import STATS

HOST19 = b"host#19;" * 4
APP20 = b"app#20;" * 4


def _file(data: bytes) -> tuple[str, int, bytes]:
    return ("file", 0o644, data)


def test_the_race_rules_delete_of_a_folder_under_a_file_deletes_nothing(tmp_path: Path) -> None:
    """Seed 6003: the app had replaced the file x.txt with a folder the host did not have yet;
    the host's delete of x.txt/a raised NotADirectoryError and the race went unrecorded."""
    (tmp_path / "x.txt").write_bytes(b"the host's file")
    rm_rf(tmp_path / "x.txt" / "a")
    rm_rf(tmp_path / "missing")
    assert (tmp_path / "x.txt").read_bytes() == b"the host's file"
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / "f").write_bytes(b"f")
    rm_rf(tmp_path / "d")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]


def _concurrent_a() -> tuple[Tree, Window]:
    tree, window = Tree(), Window()
    tree.set_file("a", b"old")
    window.owner["a"] = "both"
    window.concurrent["a"] = Concurrent(HOST19, APP20, "host")
    return tree, window


def test_a_concurrent_write_caught_between_its_truncation_and_its_bytes_is_no_violation() -> None:
    """Seed 4305: the app's in-place save was empty (truncated, not yet written) when the host's
    crossed; unison kept the empty file and renamed the host's over it."""
    tree, window = _concurrent_a()
    host = app = {"a": _file(HOST19)}
    assert check(tree, window, host, app, [("a", b"")]) == []
    assert check(tree, window, host, app, [("a", APP20[:10])]) == []


def test_a_concurrent_write_lost_without_a_copy_of_its_beginning_is_still_a_violation() -> None:
    tree, window = _concurrent_a()
    host = app = {"a": _file(HOST19)}
    assert check(tree, window, host, app, [("a", b"something else")]) == [
        "a conflict copy of a holding neither write: b'something else'",
        "a: a write is lost (kept [\"b'host#19;host#19;host#19;...'\", \"b'something else'\"])",
    ]
    assert check(tree, window, host, app, [("a", HOST19)]) == [
        "a: a write is lost (kept [\"b'host#19;host#19;host#19;...'\"])"
    ]


def _rewritten_across_a_kill(kill_first: bool = True) -> tuple[Tree, Window]:
    """b/a/b made on the host, a kill (its transfer may be renamed into place, not recorded),
    then the host's rewrite in place (seed 4003's last steps)."""
    tree, window = Tree(), Window()
    for data in (b"made", b"rewritten"):
        tree.set_file("b/a/b", data)
        window.wrote("b/a/b", data)
        if kill_first:
            window.killed()
            kill_first = False
    return tree, window


def test_a_conflict_a_kill_made_of_a_file_written_before_and_after_it_is_no_violation() -> None:
    """Seeds 4003, 4009, 4301-4317: the restarted unison found b/a/b new on both sides."""
    tree, window = _rewritten_across_a_kill()
    latest = {"b/a/b": _file(b"rewritten")}
    assert check(tree, window, latest, latest, [("b/a/b", b"made")]) == []
    # resolved for the preferred side's earlier version, the last write kept
    earlier = {"b/a/b": _file(b"made")}
    assert check(tree, window, earlier, earlier, [("b/a/b", b"rewritten")]) == []


def test_a_conflict_without_a_kill_between_the_writes_is_still_a_violation() -> None:
    tree, window = _rewritten_across_a_kill(kill_first=False)
    latest = {"b/a/b": _file(b"rewritten")}
    assert check(tree, window, latest, latest, [("b/a/b", b"made")]) == [
        "a conflict copy of b/a/b, which was not edited concurrently: b'made'"
    ]


def test_after_a_kill_the_last_write_is_never_lost() -> None:
    tree, window = _rewritten_across_a_kill()
    earlier = {"b/a/b": _file(b"made")}
    assert check(tree, window, earlier, earlier, []) == [
        "b/a/b: expected file 0o644 9 B b'rewritten', found file 0o644 4 B b'made'"
    ]
    assert check(tree, window, earlier, earlier, [("b/a/b", b"other")]) == [
        "b/a/b: expected file 0o644 9 B b'rewritten', found file 0o644 4 B b'made'",
        "a conflict copy of b/a/b, which was not edited concurrently: b'other'",
    ]


def test_a_save_known_synced_before_the_kill_opens_no_window() -> None:
    """The synced-edit kill: the first save's cycle ended (recorded), the answer is the only
    write the kill meets; a conflict of the two is the deferred write's bug, not the window."""
    tree, window = Tree(), Window()
    window.wrote("f", b"first")
    window.synced("f")
    tree.set_file("f", b"answer")
    window.wrote("f", b"answer")
    window.killed()
    answer = {"f": _file(b"answer")}
    assert check(tree, window, answer, answer, [("f", b"first")]) == [
        "a conflict copy of f, which was not edited concurrently: b'first'"
    ]


def _saved_synced_answered(
    tree: Tree, window: Window, rel: str, saved: bytes, answer: bytes, kill: bool
) -> None:
    """One side saved ``rel`` and it synced (recorded); the other answered; then (``kill``) a kill
    -9 came before the answer's sync was recorded (the fuzzer's ``kill_after_synced_edit``)."""
    tree.set_file(rel, saved)
    window.wrote(rel, saved)
    window.synced(rel)
    tree.set_file(rel, answer)
    window.wrote(rel, answer)
    if kill:
        window.killed()


def _answered_killed_then_renamed(kill: bool = True) -> tuple[Tree, Window]:
    """Seed 9000: the app saved b/a/a, it synced (recorded), the host answered and the engine was
    killed (the answer carried to the app, not recorded), then the host renamed b/a/a to b/a/X.txt.
    The restarted unison saw the host's deletion of b/a/a against the app's change (the carried
    answer): the deletion won and the answer was kept as a conflict copy of b/a/a."""
    tree, window = Tree(), Window()
    _saved_synced_answered(tree, window, "b/a/a", b"app#1;", b"host#17;", kill)
    tree.move("b/a/a", "b/a/X.txt")  # as the rename rule does
    window.wrote("b/a/X.txt", b"host#17;")
    return tree, window


def test_a_sync_a_kill_left_unrecorded_and_a_rename_made_a_conflict_of_is_no_violation() -> None:
    tree, window = _answered_killed_then_renamed()
    renamed = {"b/a/X.txt": _file(b"host#17;")}
    assert check(tree, window, renamed, renamed, [("b/a/a", b"host#17;")]) == []


def test_a_copy_of_the_recorded_save_or_without_a_kill_is_still_a_violation() -> None:
    tree, window = _answered_killed_then_renamed()
    renamed = {"b/a/X.txt": _file(b"host#17;")}
    assert check(tree, window, renamed, renamed, [("b/a/a", b"app#1;")]) == [
        "a conflict copy of b/a/a, which was not edited concurrently: b'app#1;'"
    ]
    tree, window = _answered_killed_then_renamed(kill=False)
    assert check(tree, window, renamed, renamed, [("b/a/a", b"host#17;")]) == [
        "a conflict copy of b/a/a, which was not edited concurrently: b'host#17;'"
    ]
    # the answer itself must still be in the tree
    tree, window = _answered_killed_then_renamed()
    assert check(tree, window, {}, {}, [("b/a/a", b"host#17;")]) == [
        "b/a/X.txt: expected file 0o644 8 B b'host#17;', found nothing"
    ]


def test_a_conflict_a_kill_made_before_a_later_synced_save_is_no_violation() -> None:
    """Seed 9225: the host made y.md/a/a, unison was killed mid-transfer (the copy carried, not
    recorded), then the app saved y.md/a/a and it synced (the fuzzer's synced-edit kill); the
    restarted unison's conflict kept the host's first version.  The synced save is recorded;
    what the earlier kill met is not."""
    tree, window = Tree(), Window()
    window.wrote("y.md/a/a", b"host#9;")
    window.killed()
    window.wrote("y.md/a/a", b"app#12;")
    window.synced("y.md/a/a")
    tree.set_file("y.md/a/a", b"host#14;")
    window.wrote("y.md/a/a", b"host#14;")
    window.killed()
    answer = {"y.md/a/a": _file(b"host#14;")}
    assert check(tree, window, answer, answer, [("y.md/a/a", b"host#9;")]) == []
    assert check(tree, window, answer, answer, [("y.md/a/a", b"app#12;")]) == [
        "a conflict copy of y.md/a/a, which was not edited concurrently: b'app#12;'"
    ]


def _made_then_killed_then_deleted(kill: bool = True) -> tuple[Tree, Window]:
    """Seed 8000: the app makes y.md with three files, the engine is killed, the app deletes
    y.md; the restarted unison found the host's copy (synced, not recorded) and carried it back."""
    tree, window = Tree(), Window()
    window.made_folder("y.md")
    for name in ("X.txt", "b"):
        window.wrote(f"y.md/{name}", name.encode())
    if kill:
        window.killed()
    return tree, window


def test_a_folder_made_before_a_kill_and_deleted_after_it_may_come_back_as_made() -> None:
    tree, window = _made_then_killed_then_deleted()
    back = {"y.md": ("dir", 0o755), "y.md/X.txt": _file(b"X.txt"), "y.md/b": _file(b"b")}
    assert check(tree, window, back, back) == []


def test_a_deletion_undone_without_a_kill_or_with_other_bytes_is_still_a_violation() -> None:
    tree, window = _made_then_killed_then_deleted(kill=False)
    back = {"y.md": ("dir", 0o755), "y.md/b": _file(b"b")}
    assert check(tree, window, back, back) == [
        "y.md: expected nothing, found ('dir', 493)",
        "y.md/b: expected nothing, found file 0o644 1 B b'b'",
    ]
    tree, window = _made_then_killed_then_deleted()
    other = {"y.md": ("dir", 0o755), "y.md/b": _file(b"other")}
    assert check(tree, window, other, other) == ["y.md/b: expected nothing, found file 0o644 5 B b'other'"]


def test_what_a_window_allowed_is_what_the_next_window_expects() -> None:
    """Seed 9001: the host saved x.txt, the app answered, the engine was killed (the answer
    carried, not recorded), the app renamed x.txt to b; the restarted unison brought x.txt back
    (the host's side of it changed, the preferred side).  Allowed at that quiescent point; the
    next one called it a file that should not be there."""
    tree, window = Tree(), Window()
    tree.set_file("x.txt", b"app#3;")
    window.wrote("x.txt", b"app#3;")
    window.killed()
    tree.move("x.txt", "b")
    window.wrote("b", b"app#3;")
    back = {"b": _file(b"app#3;"), "x.txt": _file(b"app#3;")}
    assert check(tree, window, back, back) == []
    settled(tree, back)
    assert check(tree, Window(), back, back) == []
    # and the next window still checks against it
    assert check(tree, Window(), {"b": _file(b"app#3;")}, {"b": _file(b"app#3;")}) == [
        "x.txt: expected file 0o644 6 B b'app#3;', found nothing"
    ]


def test_after_a_race_the_model_takes_what_it_left() -> None:
    tree, window = Tree({"a": ("dir", 0o755)}), Window()
    tree.set_file("a/f", b"old")
    tree.set_file("a/g", b"g")
    window.races.append(Race("a/f", "a", "app", dict(tree.entries), b"edit"))
    tree.remove("a")
    left = {"a": ("dir", 0o755), "a/f": _file(b"edit")}
    assert check(tree, window, left, left) == []
    settled(tree, left)
    assert tree.entries == left


class _Ended:
    """What SyncMachine.teardown uses of a machine whose last check would fail."""

    def __init__(self) -> None:
        self.reported: Exception | None = None
        self.drift_at_start = 0
        self.trace = ["start({})", "edit_races_delete({...}) -> x.txt/a/a, x.txt/a"]

    def quiesce_and_check(self) -> None:
        raise AssertionError("model violated: x.txt/a/a: expected app#15, found app#16")

    def _drift(self) -> int:
        return 0


def test_a_rule_that_raised_is_recorded_not_hidden_by_the_last_check() -> None:
    """Seed 6003's rule error reached the report as a model violation: Hypothesis calls
    teardown on the way out of a rule's exception, and the failing check replaced it."""
    seen, machine = len(STATS.violations), _Ended()
    with pytest.raises(NotADirectoryError):
        try:
            raise NotADirectoryError("x.txt/a")
        finally:
            SyncMachine.teardown(machine)  # type: ignore[arg-type]
    assert STATS.violations[seen:] == [
        {"error": "a rule raised NotADirectoryError('x.txt/a')", "trace": machine.trace}
    ]


def test_a_tree_renamed_before_a_kill_and_deleted_after_it_may_come_back() -> None:
    """Seed 8104: the app renamed a/a (synced earlier) to a/y.md, deleted a/y.md/b, unison was
    killed during the cycle that carried the rename, the app deleted a; a/y.md came back whole.
    The rename rule tells the window what it made (tests/fuzz/machine.py)."""
    tree, window = Tree(), Window()
    for rel in ("a", "a/y.md"):
        window.made_folder(rel)
    window.wrote("a/y.md/b", b"app#8;")
    window.killed()
    back = {"a": ("dir", 0o755), "a/y.md": ("dir", 0o755), "a/y.md/b": _file(b"app#8;")}
    assert check(tree, window, back, back) == []


class _Draws:
    """Hypothesis's ``data`` for a rule called by hand: the given values, in order."""

    def __init__(self, *values: str) -> None:
        self.values = list(values)

    def draw(self, strategy: object, label: str = "") -> str:
        return self.values.pop(0)


class _Renaming:
    """What SyncMachine.rename uses of a machine: its model, its trace, one folder as a side."""

    step = SyncMachine.step
    did = SyncMachine.did
    dirs = SyncMachine.dirs

    def __init__(self, root: Path) -> None:
        self.tree, self.window, self.trace, self.folder = Tree(), Window(), list[str](), root

    def root(self, side: str) -> Path:
        return self.folder


def test_the_rename_rule_tells_the_window_what_it_made(tmp_path: Path) -> None:
    machine = _Renaming(tmp_path)
    (tmp_path / "a" / "a").mkdir(parents=True)
    (tmp_path / "a" / "a" / "b").write_bytes(b"app#8;")
    machine.tree.entries.update({"a": ("dir", 0o755), "a/a": ("dir", 0o755), "a/a/b": _file(b"app#8;")})
    SyncMachine.rename(machine, "app", _Draws("a/a", "a"), "y.md")
    assert (tmp_path / "a" / "y.md" / "b").read_bytes() == b"app#8;"
    assert machine.window.folders == {"a/y.md"}
    assert machine.window.written == {"a/y.md/b": [b"app#8;"]}


def _answered_killed_deleted_then_raced(
    kill: bool = True,
) -> tuple[Tree, Window, dict[str, Entry]]:
    """Seed 11025: the app saved y/a/X, it synced (recorded), the host answered and the engine
    was killed; the host deleted y/a/X; then the app deleted the folder y/a while the host saved
    y/a/x next to it.  A copy of y/a/X holding the answer is the kill's unrecorded sync, met by
    the host's delete (as seed 9000), not something the race made."""
    tree, window = Tree({"y": ("dir", 0o755), "y/a": ("dir", 0o755)}), Window()
    tree.set_file("y/a/x", b"x")
    _saved_synced_answered(tree, window, "y/a/X", b"app#1;", b"host#2;", kill)
    tree.remove("y/a/X")
    window.races.append(
        Race("y/a/x", "y/a", "host", {p: tree.entries[p] for p in tree.below("y/a")}, b"edit")
    )
    tree.set_file("y/a/x", b"edit")
    left: dict[str, Entry] = {"y": ("dir", 0o755), "y/a": ("dir", 0o755), "y/a/x": _file(b"edit")}
    return tree, window, left


def test_a_copy_a_kill_left_unrecorded_under_a_raced_folder_is_no_violation() -> None:
    tree, window, left = _answered_killed_deleted_then_raced()
    assert check(tree, window, left, left, [("y/a/X", b"host#2;")]) == []


def test_under_a_raced_folder_a_copy_of_other_bytes_or_without_a_kill_is_still_a_violation() -> None:
    tree, window, left = _answered_killed_deleted_then_raced()
    wrong = check(tree, window, left, left, [("y/a/X", b"app#1;")])
    assert wrong and wrong[0].startswith(
        "a conflict copy of y/a/X holding neither its old bytes nor the edit"
    )
    tree, window, left = _answered_killed_deleted_then_raced(kill=False)
    wrong = check(tree, window, left, left, [("y/a/X", b"host#2;")])
    assert wrong and wrong[0].startswith(
        "a conflict copy of y/a/X holding neither its old bytes nor the edit"
    )
