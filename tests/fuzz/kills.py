"""The fuzzer's crash rules: ``kill -9`` at random moments, and the restart a crash is followed by.

Three moments: whenever the rules before it leave off (right after an edit, a
rename, a pause), right after a sync cycle has ended (unison has written its
archives and waits again), and while unison copies a large file.  A second
rule makes the one sequence a deferred archive write cannot survive: a save
on one side syncs, the other side saves the same file again at once, and the
engine dies before anything else happens.  If unison's archive on disk did
not yet know the first sync, the restart would see the file changed on both
sides and invent a conflict.  The invariants (:meth:`SyncMachine.settle`) are
checked after the restart like at any quiescent point.  A third rule stops
the engine cleanly instead, makes edits while it is stopped and starts it
again: that start trusts its archive and hands unison only the folders the
edits changed (engine/unison/stopmark.py), and must sync them all the same.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from tests.fuzz import crash
from tests.fuzz.model import SIDES, Tree, Window, top
from tests.fuzz.rig import STATS, converged
from tests.helpers import Engine, wait_for

MOMENTS = ("now", "after_sync", "mid_transfer")


class Fuzzing(Protocol):
    """What the rule mixins use of :class:`tests.fuzz.machine.SyncMachine`."""

    engine: Engine
    tree: Tree
    window: Window
    serial: int

    trace: list[str]

    def root(self, side: str) -> Path: ...
    def data_for(self, side: str, size: int) -> bytes: ...
    def step(self) -> None: ...
    def did(self, *rels: str) -> None: ...
    def wrote(self, rel: str, content: bytes) -> None: ...
    def give(self, side: str, rel: str) -> None: ...
    def claim_new_file(self, side: str, data: st.DataObject, name: str) -> str | None: ...
    def crashed(self, kind: str, moment: str) -> None: ...


def other(side: str) -> str:
    return "app" if side == "host" else "host"


def read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None


def within(check: Callable[[], Any], seconds: float) -> bool:
    """Whether ``check`` came true within ``seconds`` (a moment worth waiting for, not a must)."""
    try:
        wait_for(check, seconds, "a moment")
        return True
    except AssertionError:
        return False


def quiet(engine: Engine) -> bool:
    """unison watching (after a kill: again), nothing pending and the trees equal."""
    return crash.watching_unison(engine) is not None and converged(engine) is not None


class KillRules:
    """``kill -9`` of watch-mode unison or of the whole engine (then started again); a clean stop."""

    @precondition(lambda self: self.tree.files())
    @rule(data=st.data(), edits=st.integers(0, 4))
    def stop_and_start(self: Fuzzing, data: st.DataObject, edits: int) -> None:
        """SIGTERM (the flush; both trees signed), ``edits`` new files or same-size rewrites on
        either side while stopped, and a warm start (it scans only the folders those changed)."""
        self.step()
        if crash.empty(self.engine.host) or crash.empty(self.engine.app):
            return  # the start would be refused (the mass-deletion guard), as it should
        assert self.engine.terminate() == 0, "a clean stop failed"
        for _ in range(edits):
            side = data.draw(st.sampled_from(SIDES), label="side")
            name = data.draw(st.sampled_from(("a", "x.txt", "stopped.txt")), label="name")
            rel = self.claim_new_file(side, data, name)
            if rel is None:
                continue
            old = read_bytes(self.root(side) / rel)
            content = self.data_for(side, len(old)) if old else self.data_for(side, 40)
            (self.root(side) / rel).write_bytes(content)  # a same-size rewrite when it was there
            self.give(side, rel)
            self.wrote(rel, content)
        trusted = len(self.engine.events("initial_sync.start", since_stop=True))
        crash.restart(self.engine)
        key = "stop:clean" + (
            ":trusted" if len(self.engine.events("initial_sync.start", since_stop=True)) > trusted else ""
        )
        STATS.kills[key] = STATS.kills.get(key, 0) + 1
        self.trace[-1] += f" [{key}]"

    @rule(kind=st.sampled_from(crash.KINDS), moment=st.sampled_from(MOMENTS), data=st.data())
    def kill(self: Fuzzing, kind: str, moment: str, data: st.DataObject) -> None:
        """``now``: right after whatever the rules before did (an edit, a rename, a pause, a
        kill); ``after_sync``: as soon as the sync cycle under way (if any) has ended;
        ``mid_transfer``: while unison copies a large file just written on one side."""
        self.step()
        if moment == "after_sync":
            before = crash.syncs(self.engine)
            within(lambda: crash.syncs(self.engine) != before or quiet(self.engine), crash.UP)
        elif moment == "mid_transfer":
            side = data.draw(st.sampled_from(SIDES), label="side")
            rel = self.claim_new_file(side, data, data.draw(st.sampled_from(("big", "x.txt")), label="name"))
            if rel is None:
                return
            content = random.Random(self.serial).randbytes(data.draw(st.integers(16, 40), label="mb") << 20)
            self.serial += 1
            (self.root(side) / rel).write_bytes(content)
            self.give(side, rel)
            self.wrote(rel, content)
            if not within(lambda: crash.transfer_begun(self.root(other(side))), 15):
                moment = "mid_transfer_missed"
        self.crashed(kind, moment)

    @precondition(lambda self: self.tree.files())
    @rule(kind=st.sampled_from(crash.KINDS), first=st.sampled_from(SIDES), data=st.data())
    def kill_after_synced_edit(self: Fuzzing, kind: str, first: str, data: st.DataObject) -> None:
        """``first`` saves, the save syncs, the other side saves again at once, kill -9."""
        self.step()
        # any name but one edited concurrently: once quiet, what either side did there is synced
        free = [p for p in self.tree.files() if self.window.owner.get(top(p)) != "both"]
        if not free:
            return
        rel = data.draw(st.sampled_from(free), label="file")
        second = other(first)
        self.window.owner[top(rel)] = second  # the first save is synced before the second is made
        self.did(rel)
        wait_for(lambda: quiet(self.engine), crash.UP, "quiet before the synced edit")
        saved = self.data_for(first, 30)
        (self.root(first) / rel).write_bytes(saved)
        wait_for(
            lambda: read_bytes(self.root(second) / rel) == saved, crash.UP, f"{rel} on the {second} side"
        )
        # Not "a cycle ended since the save": one under way when it was made (the first full
        # scan after a restart, say) ends without it, while the next has renamed it into place
        # and not yet recorded it (seed 3002: conflicts a crash then made of no concurrent edit).
        carrying = crash.cycle_under_way(self.engine)
        wait_for(
            lambda: crash.cycle_ended(self.engine, carrying), crash.UP, f"the cycle that synced {rel} ended"
        )
        self.window.synced(rel)  # recorded: the answer below is the only write a kill may meet
        answer = self.data_for(second, 30)
        (self.root(second) / rel).write_bytes(answer)
        self.wrote(rel, answer)
        self.crashed(kind, "after_synced_edit")
