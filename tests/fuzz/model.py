"""What the fuzzer expects of the two trees: a pure model, no engine, no clock.

The two sides are identical at every quiescent point, so one :class:`Tree`
stands for both.  Between two quiescent points (a *window*), each top-level
name belongs to the first side that touches it (:class:`Window`): that side's
writes are applied to the model as they are made, and the other side leaves
the name alone until the window ends.  The one exception is a concurrent edit:
both sides write the same file within the window, and either version may end
up in the file, provided that the other one is kept as a conflict copy in the
engine's conflict store (or was overwritten by a later save of the other side
that followed it in time).  A race is the other exception: one side edits a
file while the other deletes it or its folder; the edit must survive, in the
tree (a change beats a delete) or as a conflict copy, unless the sync had
carried it to the deleting side before the delete.

Two more exceptions, each the model claiming less because no sync can do better:

- *A write caught in progress* (:func:`caught_in_progress`): a concurrent edit
  writes in place (truncate, then write).  When the other side's save crosses
  between the two, unison keeps what the file held then (a prefix of the
  write, often nothing) and renames the other version over it; the rest of the
  write goes through the writer's descriptor into the replaced inode and is
  gone.  Seed 4305: a kept copy of ``b''`` and the app's 30 bytes lost.
- *A sync a kill left unrecorded* (:meth:`Window.unrecorded`): a file written
  before a ``kill -9`` and written again since its first write in the window.
  Every unison has a window between a transfer's rename and its record (ours:
  the journal append; tests/test_unison_scale.py, the strict xfail
  ``test_a_kill_between_the_rename_and_the_journal_append_invents_no_conflict``):
  killed there, the restarted unison finds the file changed on both sides,
  makes a conflict and keeps the loser.  So any version written in the window
  may be kept, and the tree may hold an earlier one when the last is kept; the
  last write is never lost.  Seeds 4003, 4009, 4301-4317.  A kept copy may
  hold any version written in the window of a file written before a kill,
  also when it was written only once (:meth:`Window.kept_unrecorded`):
  carried, not recorded, then deleted or renamed away where it was written,
  it is a change against a deletion to the restarted unison, which keeps it
  as a conflict copy (seed 9000: the host's answer to a synced save, the
  kill, the host's rename of the file; the answer stood at its new name,
  only the copy was extra).  A file or folder made (or renamed to its path)
  before a kill and deleted since may come back as it was made (seeds 8000,
  8104): the restarted unison takes the unrecorded copy for a new one.  A
  save whose cycle is known to have ended (the fuzzer's
  ``kill_after_synced_edit``) is recorded (:meth:`Window.synced`) and opens
  no such window; a version written before an earlier kill may still be kept
  (seed 9225: the conflict that kill made is found after the synced save).  The same
  holds for a file under a race's delete (seed 11025: the answer to a synced save, a kill,
  the host's delete of it, then the app's delete of its folder racing a host save next to
  it: a copy of the deleted file, its bytes not recorded then; seed 11002 had the same
  shape, a file written before a kill and then raced).
- *A save part-way when the preferred side's delete wins* (:meth:`Race.kept_as`):
  unison saw the file changed (truncated), keeps a copy of what it held then
  and deletes it; the rest of the save goes into the deleted file.  Such a copy
  (a beginning of the edit, empty at least) counts as the edit kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SIDES = ("host", "app")
PREFERRED = "host"  # the engine's default UNISON_SYNC_PREFER
# An edit of the preferred side that raced a delete on the other must stand in the tree, not
# only as a kept copy (unison patch 0009; tests/test_fuzz.py
# test_a_host_save_racing_an_app_delete_stands_on_both_sides).
PREFERRED_EDIT_STANDS = True
# unison's -copyonconflict names, as engine/fsmonitor/cycles.py counts them
CONFLICT_COPY = re.compile(r" \(conflict( #\d+)?_on_\d{4}-\d{2}-\d{2}(_was_deleted)?\)(\.[^/.]*)?$")

Entry = tuple[Any, ...]  # ("dir", mode) | ("file", mode, bytes) | ("link", target), as tests.helpers.snapshot


def top(rel: str) -> str:
    return rel.split("/", 1)[0]


@dataclass
class Tree:
    """The expected tree: relative path -> entry."""

    entries: dict[str, Entry] = field(default_factory=dict)

    def files(self) -> list[str]:
        return sorted(p for p, e in self.entries.items() if e[0] == "file")

    def dirs(self) -> list[str]:
        return sorted(p for p, e in self.entries.items() if e[0] == "dir")

    def paths(self) -> list[str]:
        return sorted(self.entries)

    def below(self, rel: str) -> list[str]:
        return [p for p in self.entries if p == rel or p.startswith(rel + "/")]

    def set_file(self, rel: str, data: bytes, mode: int | None = None) -> None:
        old = self.entries.get(rel)
        keep = old[1] if old is not None and old[0] == "file" else 0o644
        self.entries[rel] = ("file", keep if mode is None else mode, data)

    def remove(self, rel: str) -> None:
        for p in self.below(rel):
            del self.entries[p]

    def move(self, src: str, dst: str) -> None:
        for p in sorted(self.below(src)):
            self.entries[dst + p[len(src) :]] = self.entries.pop(p)


@dataclass
class Concurrent:
    """Both sides wrote ``path`` in one window: the last bytes each side wrote."""

    host: bytes
    app: bytes
    first: str  # the side that wrote first

    def second(self) -> bytes:
        return self.app if self.first == "host" else self.host


@dataclass
class Race:
    """``edit_side`` wrote ``path`` while the other side deleted ``gone`` (``path`` or a folder above)."""

    path: str
    gone: str
    edit_side: str
    before: dict[str, Entry]  # the tree under ``gone`` before the race
    edited: bytes | None  # what the edit wrote; None when it could not be made (its folder was gone)
    # the edit reached the deleting side before the delete (seen there by the fuzzer, or in the log)
    crossed: bool = False

    def allows(self, rel: str, entry: Entry) -> bool:
        """``entry`` at ``rel`` is what was there before the race, or the edit."""
        if rel == self.path and self.edited is not None and entry[0] == "file" and entry[2] == self.edited:
            return True
        return self.before.get(rel) == entry

    def kept_as(self, data: bytes) -> bool:
        """``data``, kept as a conflict copy of the path, is the edit: whole, or as the file held
        it part-way through the save (truncated, or a beginning of it written)."""
        return self.edited is not None and self.edited.startswith(data)

    def holds(self, rel: str) -> bool:
        return rel == self.gone or rel.startswith(self.gone + "/")


@dataclass
class Window:
    """Who touched what since the last quiescent point."""

    owner: dict[str, str] = field(default_factory=dict)  # top-level name -> side
    concurrent: dict[str, Concurrent] = field(default_factory=dict)
    races: list[Race] = field(default_factory=list)
    written: dict[str, list[bytes]] = field(default_factory=dict)  # file -> its writes, in order
    folders: set[str] = field(default_factory=set)  # folders made
    across_kill: set[str] = field(default_factory=set)  # files written and folders made before a kill
    # the versions each file had been written with when a kill came (a synced save keeps them:
    # a conflict the kill made of one may be found after that save; seed 9225)
    killed_versions: dict[str, set[bytes]] = field(default_factory=dict)

    def race(self, rel: str) -> Race | None:
        return next((r for r in self.races if r.holds(rel)), None)

    def may(self, side: str, *rels: str) -> bool:
        """``side`` may write under these paths' top-level names in this window."""
        return all(self.owner.get(top(r), side) == side for r in rels)

    def claim(self, side: str, *rels: str) -> None:
        for r in rels:
            self.owner.setdefault(top(r), side)

    def wrote(self, rel: str, data: bytes) -> None:
        """A rule wrote ``data`` to the file ``rel`` (its whole contents now)."""
        self.written.setdefault(rel, []).append(data)

    def made_folder(self, rel: str) -> None:
        """A rule made the folder ``rel``."""
        self.folders.add(rel)

    def synced(self, rel: str) -> None:
        """unison has recorded ``rel`` as it is now on both sides (the cycle that carried its
        last write ended): what was written before cannot come back after a kill."""
        self.written.pop(rel, None)
        self.across_kill.discard(rel)

    def killed(self) -> None:
        """``kill -9`` of unison or of the engine: what was written so far may be synced and
        not recorded."""
        self.across_kill |= set(self.written) | self.folders
        for rel, versions in self.written.items():
            self.killed_versions.setdefault(rel, set()).update(versions)

    def kept_unrecorded(self, rel: str, data: bytes) -> bool:
        """``data``, kept as a conflict copy of ``rel``, is a version written in this window of a
        file written before a kill: a sync the kill left unrecorded, met by a later change."""
        if data in self.killed_versions.get(rel, ()):
            return True
        return rel in self.across_kill and data in self.written.get(rel, ())

    def unrecorded(self, rel: str) -> list[bytes] | None:
        """The versions of ``rel`` written in this window when one was written before a kill
        and another after the first (a conflict a kill may make of them), else None."""
        versions = self.written.get(rel, [])
        return versions if rel in self.across_kill and len(versions) >= 2 else None


def check(
    tree: Tree,
    window: Window,
    host: dict[str, Entry],
    app: dict[str, Entry],
    kept: Sequence[tuple[str, bytes]] = (),
) -> list[str]:
    """What is wrong with two converged trees against the model: a list of violations.

    ``kept``: the conflict copies the engine kept since the last check, as (original path,
    contents): in its conflict store, out of both trees (engine/unison/conflicts.py).
    """
    wrong: list[str] = []
    if host != app:
        for p in sorted(set(host) | set(app)):
            if host.get(p) != app.get(p):
                wrong.append(f"{p}: host {_short(host.get(p))} != app {_short(app.get(p))}")
        return wrong
    for p in sorted(host):
        if CONFLICT_COPY.search(p):
            wrong.append(f"{p}: a conflict copy left in the tree (it belongs in the store)")
    plain = {p: e for p, e in host.items() if not CONFLICT_COPY.search(p)}

    def kept_of(rel: str) -> set[bytes]:
        return {data for orig, data in kept if orig == rel}

    for p in sorted(set(plain) | set(tree.entries)):
        want, got = tree.entries.get(p), plain.get(p)
        race = window.race(p)
        if race is not None:
            if got is not None and not race.allows(p, got):
                wrong.append(f"{p}: after an edit raced a delete, {_short(got)}: neither before nor the edit")
        elif p in window.concurrent:
            c = window.concurrent[p]
            if got is None or got[0] != "file" or got[2] not in (c.host, c.app):
                wrong.append(f"{p}: concurrent edit left {_short(got)}, not one of the two writes")
        elif (
            want != got
            and not _earlier_version(window.unrecorded(p), want, got, kept_of(p))
            and not _deletion_undone(window, p, want, got)
        ):
            wrong.append(f"{p}: expected {_short(want)}, found {_short(got)}")
    for orig, data in kept:
        pair = window.concurrent.get(orig)
        race = window.race(orig)
        if race is not None:
            old = race.before.get(orig)
            if (
                not race.kept_as(data)
                and not window.kept_unrecorded(orig, data)
                and (old is None or old[0] != "file" or old[2] != data)
            ):
                wrong.append(
                    f"a conflict copy of {orig} holding neither its old bytes nor the edit: "
                    f"{_short_bytes(data)} (old {_short(old)}, edit {_short_bytes(race.edited or b'')}, "
                    f"written {[_short_bytes(w) for w in window.written.get(orig, [])]}, "
                    f"killed {[_short_bytes(w) for w in window.killed_versions.get(orig, ())]})"
                )
        elif pair is None:
            if not window.kept_unrecorded(orig, data):
                wrong.append(
                    f"a conflict copy of {orig}, which was not edited concurrently: {_short_bytes(data)}"
                )
        elif data not in (pair.host, pair.app) and not caught_in_progress(data, (pair.host, pair.app)):
            wrong.append(f"a conflict copy of {orig} holding neither write: {_short_bytes(data)}")
    for p, c in sorted(window.concurrent.items()):
        held = {data for orig, data in kept if orig == p}
        got = plain.get(p)
        if got is not None and got[0] == "file":
            held.add(got[2])
        lost = {w for w in {c.host, c.app} - held if not any(caught_in_progress(d, (w,)) for d in held)}
        # Without a conflict copy the later save must hold the file: the sync carried the
        # first write across before the second was made (then it was no conflict).
        if lost and held != {c.second()}:
            wrong.append(f"{p}: a write is lost (kept {sorted(map(_short_bytes, held))})")
    for race in window.races:
        if race.edited is None or race.crossed:
            continue
        got = plain.get(race.path)
        if got is not None and got[0] == "file" and got[2] == race.edited:
            continue
        if not any(orig == race.path and race.kept_as(data) for orig, data in kept):
            wrong.append(
                f"{race.path}: the {race.edit_side}'s edit is lost (raced the delete of {race.gone}), "
                f"found {_short(got)}"
            )
        elif PREFERRED_EDIT_STANDS and race.edit_side == PREFERRED:
            wrong.append(f"{race.path}: the preferred side's edit left the tree (only a kept copy)")
    return wrong


def settled(tree: Tree, found: dict[str, Entry]) -> None:
    """After a check found nothing wrong: the model takes the trees as they are (``found``), for
    the next window expects what the last one's exceptions left, not what the model said before:
    either write of a concurrent edit, what a race left, an earlier version or a deletion a kill
    undid (seed 9001: x.txt, renamed away by the app after a kill, came back; the next window's
    check called it a stray file)."""
    tree.entries = dict(found)


def caught_in_progress(data: bytes, writes: Sequence[bytes]) -> bool:
    """``data`` (a kept copy) is what one of ``writes`` had put in the file so far: a proper
    prefix of it, ``b''`` right after the truncation."""
    return any(data != w and w.startswith(data) for w in writes)


def _earlier_version(
    versions: list[bytes] | None, want: Entry | None, got: Entry | None, kept: set[bytes]
) -> bool:
    """The tree holds an earlier version of a file a kill left unrecorded (``versions``), and
    the last write (``want``) is kept: the conflict the restarted unison made of the two."""
    if versions is None or want is None or got is None or want[0] != "file" or got[0] != "file":
        return False
    return got[1] == want[1] and got[2] in versions and want[2] in kept


def _deletion_undone(window: Window, rel: str, want: Entry | None, got: Entry | None) -> bool:
    """``rel`` was deleted and is back as it was made before a kill: the restarted unison did
    not know the sync that had carried it to the other side and took that copy for new."""
    if want is not None or got is None or rel not in window.across_kill:
        return False
    if got[0] == "dir":
        return rel in window.folders
    return got[0] == "file" and got[2] in window.written.get(rel, ())


def _short_bytes(data: bytes) -> str:
    return repr(data[:24] + (b"..." if len(data) > 24 else b""))


def _short(entry: Entry | None) -> str:
    if entry is None:
        return "nothing"
    if entry[0] == "file":
        data = entry[2]
        shown = data[:24] + (b"..." if len(data) > 24 else b"")
        return f"file {oct(entry[1])} {len(data)} B {shown!r}"
    return repr(entry)
