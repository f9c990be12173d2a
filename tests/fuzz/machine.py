"""The sync fuzzer: a Hypothesis state machine that edits both sides of a real engine.

Rules are what a developer and an app do to the two folders (create, append,
rewrite in place at the same size or not, rename within and across folders
and case-only, delete files and non-empty trees, make trees, chmod, symlinks,
a large file, a truly concurrent edit of one file on both sides, a pause of
0-2 s), and from :mod:`tests.fuzz.kills` and :mod:`tests.fuzz.races`:
``kill -9`` of unison or of the whole engine (started again) at random
moments, and an edit racing a delete on the other side.
:meth:`SyncMachine.settle` is a quiescent point: it waits (with a deadline)
until the fsmonitor has nothing pending and the trees are equal, asks for a
full sync (``native-sync flush``) as a barrier, and checks the model's
invariants (:func:`tests.fuzz.model.check`), the owners
(:mod:`tests.fuzz.owners`) and ``status``.

One engine serves many examples (:class:`tests.fuzz.rig.Rig`).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from engine.unison.conflicts import Entry
from tests.fuzz import crash, observe, owners, races
from tests.fuzz.kills import KillRules
from tests.fuzz.model import SIDES, Concurrent, Tree, Window, caught_in_progress, check, settled, top
from tests.fuzz.races import RaceRules
from tests.fuzz.rig import CONVERGE, STATS, Rig, converged, flush
from tests.helpers import wait_for

NAMES = ("a", "b", "x.txt", "X.txt", "y.md")  # x.txt/X.txt: case-only renames
MODES = (0o644, 0o755, 0o600, 0o640)
LINK_TARGETS = ("x.txt", "../a", "missing", "a/y.md")
OWNERS_SETTLE = 5.0  # seconds an owner may still be wrong at a quiescent point (see _check_owners)
RIG: Rig | None = None  # set by tests/test_fuzz.py


class SyncMachine(KillRules, RaceRules, RuleBasedStateMachine):
    """Edits on both sides of the rig's engine against :class:`tests.fuzz.model.Tree`."""

    def __init__(self) -> None:
        super().__init__()
        assert RIG is not None, "tests/test_fuzz.py sets the rig"
        self.rig = RIG
        try:
            self.engine = RIG.fresh()
        except Exception as e:  # before any rule: no trace, but the cause
            STATS.violations.append({"error": f"the rig could not give an engine: {e!r}"[:6000], "trace": []})
            raise
        self.kept_before = {e.kept for e in self.kept_copies()}
        self.tree = Tree()
        self.window = Window()
        self.serial = 0
        self.trace: list[str] = []
        self.drift_at_start = self._drift()
        self.log_mark = self.engine.log.stat().st_size  # where this window's log begins
        self.reported: Exception | None = None  # the violation a quiescent point recorded
        STATS.examples += 1

    # --- helpers ---------------------------------------------------------------------

    def root(self, side: str) -> Path:
        return self.engine.host if side == "host" else self.engine.app

    def data_for(self, side: str, size: int) -> bytes:
        self.serial += 1
        stamp = f"{side}#{self.serial};".encode()
        return (stamp * (size // len(stamp) + 1))[: max(size, len(stamp))]

    def dirs(self) -> list[str]:
        return ["", *self.tree.dirs()]

    def step(self) -> None:
        STATS.steps += 1
        frame = sys._getframe(1)
        args = {k: v for k, v in frame.f_locals.items() if k not in ("self", "data")}
        self.trace.append(f"{frame.f_code.co_name}({args})")

    def did(self, *rels: str) -> None:
        self.trace[-1] += f" -> {', '.join(rels)}"

    def claim_new_file(self, side: str, data: st.DataObject, name: str) -> str | None:
        """A path for ``side`` to write a file at now (none or a file there), or None."""
        parent = data.draw(st.sampled_from(self.dirs()), label="parent")
        rel = f"{parent}/{name}" if parent else name
        if not self.window.may(side, rel) or self.tree.entries.get(rel, ("file",))[0] != "file":
            return None
        self.window.claim(side, rel)
        self.did(rel)
        return rel

    def wrote(self, rel: str, content: bytes) -> None:
        """A rule wrote ``content`` to the file ``rel``: the model's tree and window know."""
        self.tree.set_file(rel, content)
        self.window.wrote(rel, content)

    def give(self, side: str, rel: str) -> None:
        """What ``side`` just made at ``rel`` to that side's owner (as if that user had made it)."""
        try:
            owners.give(self.root(side) / rel, owners.HOST_OWNER if side == "host" else owners.APP_OWNER)
        except FileNotFoundError:
            pass  # gone already (the sync, or the other side's delete)

    def crashed(self, kind: str, moment: str) -> None:
        """``kill -9`` ``kind`` (``unison`` or the whole ``engine``, then started again)."""
        if kind == "engine" and crash.kill_engine(self.engine):
            crash.restart(self.engine)
        else:
            if kind == "engine":  # one side empty: the restart would be refused (see kill_engine)
                kind = "engine_refused->unison"
            crash.kill_unison(self.engine)
        self.window.killed()
        key = f"{kind}:{moment}"
        STATS.kills[key] = STATS.kills.get(key, 0) + 1
        self.trace[-1] += f" [kill -9 {kind}]"

    def _claim_file(self, side: str, data: st.DataObject) -> str | None:
        """A file of the model for ``side`` to edit now, or None when the other side has it."""
        rel: str = data.draw(st.sampled_from(self.tree.files()), label="file")
        if not self.window.may(side, rel):
            return None
        self.window.claim(side, rel)
        self.did(rel)
        return rel

    def _drift(self) -> int:
        try:
            data = json.loads((self.engine.runtime / "fsmonitor" / "fsmonitor.json").read_text())
        except (OSError, ValueError):
            return 0
        return int(data.get("drift_repaired", 0))

    # --- rules: one side at a time ----------------------------------------------------------

    @initialize()
    def start(self) -> None:
        self.step()

    @rule(side=st.sampled_from(SIDES), data=st.data(), name=st.sampled_from(NAMES), size=st.integers(0, 3000))
    def create(self, side: str, data: st.DataObject, name: str, size: int) -> None:
        """A new file, or a whole new version of one (written, not renamed over)."""
        self.step()
        rel = self.claim_new_file(side, data, name)
        if rel is None:
            return
        content = self.data_for(side, size)
        (self.root(side) / rel).write_bytes(content)
        self.give(side, rel)
        self.wrote(rel, content)

    @precondition(lambda self: self.tree.files())
    @rule(side=st.sampled_from(SIDES), data=st.data(), size=st.integers(1, 500))
    def append(self, side: str, data: st.DataObject, size: int) -> None:
        self.step()
        rel = self._claim_file(side, data)
        if rel is None:
            return
        more = self.data_for(side, size)
        with open(self.root(side) / rel, "ab") as f:
            f.write(more)
        self.wrote(rel, self.tree.entries[rel][2] + more)

    @precondition(lambda self: self.tree.files())
    @rule(side=st.sampled_from(SIDES), data=st.data(), offset=st.integers(0, 100))
    def rewrite_same_size(self, side: str, data: st.DataObject, offset: int) -> None:
        """Bytes overwritten in place: same inode, same size (stock unison's fastcheck gap)."""
        self.step()
        rel = data.draw(st.sampled_from(self.tree.files()), label="file")
        old: bytes = self.tree.entries[rel][2]
        if not self.window.may(side, rel) or not old:
            return
        self.window.claim(side, rel)
        self.did(rel)
        at = offset % len(old)
        patch = bytes([old[at] ^ 0x20 if old[at] != 0x20 else 0x21])
        with open(self.root(side) / rel, "r+b") as f:
            f.seek(at)
            f.write(patch)
        self.wrote(rel, old[:at] + patch + old[at + 1 :])

    @precondition(lambda self: self.tree.files())
    @rule(side=st.sampled_from(SIDES), data=st.data(), size=st.integers(0, 2000))
    def rewrite_in_place(self, side: str, data: st.DataObject, size: int) -> None:
        """Truncated and written again through the same inode (an editor's save without rename)."""
        self.step()
        rel = self._claim_file(side, data)
        if rel is None:
            return
        content = self.data_for(side, size)
        with open(self.root(side) / rel, "r+b") as f:
            f.truncate(0)
            f.write(content)
        self.wrote(rel, content)

    @precondition(lambda self: self.tree.entries)
    @rule(side=st.sampled_from(SIDES), data=st.data(), name=st.sampled_from(NAMES))
    def rename(self, side: str, data: st.DataObject, name: str) -> None:
        """A file, link or whole tree renamed in its folder or into another (or case-only)."""
        self.step()
        src = data.draw(st.sampled_from(self.tree.paths()), label="src")
        parent = data.draw(st.sampled_from(self.dirs()), label="into")
        dst = f"{parent}/{name}" if parent else name
        if dst in self.tree.entries or dst == src or dst.startswith(src + "/"):
            return
        if not self.window.may(side, src, dst):
            return
        self.window.claim(side, src, dst)
        self.did(src, dst)
        os.rename(self.root(side) / src, self.root(side) / dst)
        self.tree.move(src, dst)
        for rel in self.tree.below(dst):  # made at their new paths in this window
            entry = self.tree.entries[rel]
            if entry[0] == "file":
                self.window.wrote(rel, entry[2])
            elif entry[0] == "dir":
                self.window.made_folder(rel)

    @precondition(lambda self: self.tree.entries)
    @rule(side=st.sampled_from(SIDES), data=st.data())
    def delete(self, side: str, data: st.DataObject) -> None:
        """A file, a link, or a folder with everything in it."""
        self.step()
        rel = data.draw(st.sampled_from(self.tree.paths()), label="path")
        if not self.window.may(side, rel):
            return
        self.window.claim(side, rel)
        self.did(rel)
        path = self.root(side) / rel
        if self.tree.entries[rel][0] == "dir":
            shutil.rmtree(path)
        else:
            path.unlink()
        self.tree.remove(rel)

    @rule(
        side=st.sampled_from(SIDES),
        data=st.data(),
        name=st.sampled_from(NAMES),
        files=st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True),
        deep=st.booleans(),
    )
    def make_tree(self, side: str, data: st.DataObject, name: str, files: list[str], deep: bool) -> None:
        """``mkdir -p`` and files in it, at once (a checkout, an unpacked archive)."""
        self.step()
        parent = data.draw(st.sampled_from(self.dirs()), label="parent")
        rel = f"{parent}/{name}" if parent else name
        if rel in self.tree.entries or not self.window.may(side, rel) or rel.count("/") > 3:
            return
        self.window.claim(side, rel)
        self.did(rel)
        inner = f"{rel}/a" if deep else rel
        (self.root(side) / inner).mkdir(parents=True)
        self.give(side, rel)
        self.give(side, inner)
        self.tree.entries[rel] = ("dir", 0o755)
        self.tree.entries[inner] = ("dir", 0o755)
        self.window.made_folder(rel)
        self.window.made_folder(inner)
        for f in files:
            content = self.data_for(side, 40)
            (self.root(side) / inner / f).write_bytes(content)
            self.give(side, f"{inner}/{f}")
            self.wrote(f"{inner}/{f}", content)

    @precondition(lambda self: self.tree.files())
    @rule(side=st.sampled_from(SIDES), data=st.data(), mode=st.sampled_from(MODES))
    def chmod(self, side: str, data: st.DataObject, mode: int) -> None:
        self.step()
        rel = self._claim_file(side, data)
        if rel is None:
            return
        os.chmod(self.root(side) / rel, mode)
        self.tree.set_file(rel, self.tree.entries[rel][2], mode)

    @rule(
        side=st.sampled_from(SIDES),
        data=st.data(),
        name=st.sampled_from(NAMES),
        link=st.sampled_from(LINK_TARGETS),
    )
    def symlink(self, side: str, data: st.DataObject, name: str, link: str) -> None:
        self.step()
        parent = data.draw(st.sampled_from(self.dirs()), label="parent")
        rel = f"{parent}/{name}" if parent else name
        if rel in self.tree.entries or not self.window.may(side, rel):
            return
        self.window.claim(side, rel)
        self.did(rel)
        try:
            os.symlink(link, self.root(side) / rel)
        except FileExistsError:
            # the name is taken on disk, not in the model: a sync a kill left unrecorded brought
            # back what was made there before (seed 10025); ``ln -s`` would refuse too
            return
        self.give(side, rel)
        self.tree.entries[rel] = ("link", link)

    @rule(side=st.sampled_from(SIDES), data=st.data(), name=st.sampled_from(NAMES), mb=st.integers(2, 12))
    def large_file(self, side: str, data: st.DataObject, name: str, mb: int) -> None:
        """A file of megabytes (unison copies it through a temp file for a while)."""
        self.step()
        rel = self.claim_new_file(side, data, name)
        if rel is None:
            return
        content = random.Random(self.serial).randbytes(mb << 20)
        self.serial += 1
        (self.root(side) / rel).write_bytes(content)
        self.give(side, rel)
        self.wrote(rel, content)

    # --- rules: both sides, and time ------------------------------------------------------

    @precondition(lambda self: self.tree.files())
    @rule(data=st.data(), first=st.sampled_from(SIDES), gap=st.sampled_from((0.0, 0.0, 0.005, 0.05)))
    def concurrent_edit(self, data: st.DataObject, first: str, gap: float) -> None:
        """Both sides save the same file within one settle window (a true conflict, unless
        the sync carried the first save across before the second was made)."""
        self.step()
        free = [p for p in self.tree.files() if top(p) not in self.window.owner]
        if not free:
            return
        rel = data.draw(st.sampled_from(free), label="file")
        self.window.owner[top(rel)] = "both"
        self.did(rel)
        writes = {side: self.data_for(side, 30) for side in SIDES}
        second = "app" if first == "host" else "host"
        (self.root(first) / rel).write_bytes(writes[first])
        self.give(first, rel)
        if gap:
            time.sleep(gap)  # the edit itself: a gap this short between two saves
        (self.root(second) / rel).write_bytes(writes[second])
        self.give(second, rel)
        self.window.concurrent[rel] = Concurrent(writes["host"], writes["app"], first)

    @rule(seconds=st.sampled_from((0.0, 0.05, 0.3, 1.0, 2.0)))
    def pause(self, seconds: float) -> None:
        """Time between edits: none, a keystroke, a sync cycle, longer."""
        self.step()
        if seconds:
            time.sleep(seconds)  # the fuzzer's subject is timing itself

    @rule()
    def settle(self) -> None:
        """A quiescent point: every invariant of the model is checked."""
        self.step()
        self.quiesce_and_check()

    def teardown(self) -> None:
        """The last quiescent point, unless a rule raised: Hypothesis calls this on the way out
        of that exception, and a check that fails then would be reported in its place (seed
        6003's rule error read as a model violation); the exception is recorded instead."""
        raised = sys.exc_info()[1]
        try:
            if not isinstance(raised, Exception):  # none (or Hypothesis's own end of an example)
                self.quiesce_and_check()
            elif raised is not self.reported:  # a quiescent point's was recorded where found
                STATS.violations.append(
                    {"error": f"a rule raised {raised!r}"[:6000], "trace": list(self.trace)}
                )
                print(
                    f"\nfuzz: violation #{len(STATS.violations)}: a rule raised {raised!r}"[:300], flush=True
                )
        finally:
            STATS.drift_repaired += self._drift() - self.drift_at_start

    # --- the invariants -------------------------------------------------------------------

    def quiesce_and_check(self) -> None:
        try:
            self._quiesce_and_check()
        except Exception as e:  # kept as found: a replay while shrinking may differ (timing)
            self.reported = e
            error = str(e) if isinstance(e, AssertionError) else f"the check raised {e!r}"
            STATS.violations.append({"error": error[:6000], "trace": list(self.trace)})
            print(f"\nfuzz: violation #{len(STATS.violations)}: {str(e)[:300]}", flush=True)
            raise

    def _quiesce_and_check(self) -> None:
        engine = self.engine
        STATS.settles += 1
        # after a kill: until then the runtime folder holds what the killed processes wrote
        wait_for(lambda: crash.watching_unison(engine), crash.UP, "unison watching again", detail=self._diff)
        wait_for(lambda: converged(engine), CONVERGE, "equal trees, nothing pending", detail=self._diff)
        flush(engine)  # a barrier for the log too: the transfers read below are all there
        host, app = wait_for(
            lambda: converged(engine), CONVERGE, "equal trees after the flush", detail=self._diff
        )
        temps = [p for p in host if p.rsplit("/", 1)[-1].startswith(".unison.") and p.endswith(".unison.tmp")]
        assert not temps, f"unison temp files left: {temps}"
        entries = self.kept_copies()
        new = [
            kept
            for e in entries
            if e.kept not in self.kept_before
            for kept in observe.kept_files(e.path, e.kept)
        ]
        transfers = (
            observe.log_events(self.engine, self.log_mark, ("sync.copied", "conflict"))
            if self.window.races
            else []
        )
        for race in self.window.races:
            race.crossed = race.crossed or races.crossed(race, transfers)
        wrong = check(self.tree, self.window, host, app, new)
        assert not wrong, "model violated:\n" + "\n".join(wrong)
        self._check_owners()
        status = engine.status()
        assert status["state"] == "watching", f"state {status['state']}: {status['problems']}"
        assert status["problems"] == [], status["problems"]
        assert status["conflicts"]["count"] == len(entries), (status["conflicts"], entries)
        STATS.conflicts += len(new)
        for orig, data in new:
            pair = self.window.concurrent.get(orig)
            if pair is None and self.window.race(orig) is None:
                STATS.unrecorded_conflicts += 1
            elif pair is not None and caught_in_progress(data, (pair.host, pair.app)):
                STATS.caught_in_progress += 1
        STATS.races += len(self.window.races)
        self.kept_before |= {e.kept for e in entries}
        settled(self.tree, host)
        self.window = Window()
        self.log_mark = engine.log.stat().st_size

    def _check_owners(self) -> None:
        """The owner of what unison wrote is given a few ms after it (issue 25): looked at again
        for up to a few seconds, and counted when a first look was wrong."""
        if observe.wrong_owners(self.engine):
            STATS.owner_waits += 1
            wait_for(
                lambda: not observe.wrong_owners(self.engine),
                OWNERS_SETTLE,
                "the right owners",
                detail=lambda: "\n".join(observe.wrong_owners(self.engine)),
            )

    def kept_copies(self) -> list[Entry]:
        return observe.kept_copies(self.engine)

    def _diff(self) -> str:
        return observe.diff(self.engine)
