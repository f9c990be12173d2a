"""The fuzzer's race of an edit with a delete: one side saves a file while the other deletes it.

The other side deletes the file itself or the folder it is in, a few
milliseconds before or after the save.  unison's rule is that a change beats
a delete: the edit must survive, in the tree or as a kept conflict copy (the
preferred side's delete wins), and only a delete that came after the sync had
carried the edit across may take it away (the fuzzer sees the edit on the
deleting side right before its delete, :func:`carried`, or the engine's log
tells, :func:`crossed`).  The model's side is :class:`tests.fuzz.model.Race`.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from tests.fuzz.kills import Fuzzing, other
from tests.fuzz.model import SIDES, Race, top

GAPS = (0.0, 0.001, 0.003, 0.008)  # seconds between the save and the delete


def carried(other_root: Path, rel: str, content: bytes) -> bool:
    """Right before its delete, the deleting side holds the edit at ``rel``: the sync carried it
    across first, seen by the fuzzer itself.  (The log says so too, but not always: a kill -9
    right after the race can take unison's unflushed output or ``run``'s unread part of it.)"""
    try:
        return (other_root / rel).read_bytes() == content
    except OSError:
        return False


def crossed(race: Race, events: list[dict[str, Any]]) -> bool:
    """The engine's log (``sync.copied`` and ``conflict`` events since the race) has the edit
    carried to the deleting side (the file itself or a new folder that held it) with no
    conflict about it: unison saw the edit before the delete.  (A conflict's winner is logged
    as copied too, even where unison put it under a conflict name.)  ``events`` are read once
    the log holds the flush's end (:func:`tests.fuzz.rig.flush`): ``run`` logs unison's
    output up to half a second late."""
    target = other(race.edit_side)

    def covers(event: dict[str, Any]) -> bool:
        path = str(event.get("path"))
        return race.path == path or race.path.startswith(f"{path}/") or race.holds(path)

    if any(e.get("event") == "conflict" and covers(e) for e in events):
        return False
    return any(e.get("event") == "sync.copied" and e.get("to") == target and covers(e) for e in events)


def rm_rf(path: Path) -> None:
    """Like ``rm -rf``: a folder with everything in it (what unison writes into it meanwhile may
    stay), a file or a link, or nothing when nothing is there, also when a folder on the way is
    a file on this side (seed 6003: the app had replaced the file x.txt with a folder the host
    did not have yet, and the host's delete of x.txt/a ended the rule with NotADirectoryError
    before its race was recorded; the check then took the raced edit for a stray write)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
        return
    try:
        path.unlink()
    except (FileNotFoundError, NotADirectoryError):
        pass


class RaceRules:
    """An edit of a file racing the delete of it (or of its folder) on the other side."""

    @precondition(lambda self: self.tree.files())
    @rule(
        data=st.data(),
        edit_side=st.sampled_from(SIDES),
        folder=st.booleans(),
        edit_first=st.booleans(),
        gap=st.sampled_from(GAPS),
    )
    def edit_races_delete(
        self: Fuzzing, data: st.DataObject, edit_side: str, folder: bool, edit_first: bool, gap: float
    ) -> None:
        self.step()
        # the edit side may have touched the name already in this window (its edits are there
        # first); the deleting side may not (that would be a concurrent edit of its own)
        free = [p for p in self.tree.files() if self.window.owner.get(top(p), edit_side) == edit_side]
        if not free:
            return
        rel = data.draw(st.sampled_from(free), label="file")
        gone = rel.rsplit("/", 1)[0] if folder and "/" in rel else rel
        self.window.owner[top(rel)] = "both"
        self.did(rel, gone)
        before = {p: self.tree.entries[p] for p in self.tree.below(gone)}
        content = self.data_for(edit_side, 40)
        edited = seen = False

        def edit() -> None:
            nonlocal edited
            try:
                (self.root(edit_side) / rel).write_bytes(content)
            except (FileNotFoundError, NotADirectoryError):
                return  # the sync deleted its folder first: an editor could not save either
            self.give(edit_side, rel)
            edited = True

        def delete() -> None:
            nonlocal seen
            seen = edited and carried(self.root(other(edit_side)), rel, content)
            rm_rf(self.root(other(edit_side)) / gone)

        first, then = (edit, delete) if edit_first else (delete, edit)
        first()
        if gap:
            time.sleep(gap)  # the race itself: this far apart
        then()
        race = Race(rel, gone, edit_side, before, content if edited else None, crossed=seen)
        self.window.races.append(race)
