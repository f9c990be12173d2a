"""engine/fsmonitor/casescreen.py: what the Monitor and the outbox ask of the case guard.

With no guard (a host that keeps names apart) everything passes unchanged and
nothing is said; with one (a real :class:`CaseGuard` on two real folders, the
"host" treated as folding) clashes are kept back and said once when they
appear and once when they clear, renames wait for calm, and ``fsmonitor.json``
carries the clashes that stand.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.fs.paths import Key
from engine.fsmonitor.caseguard import CaseGuard
from engine.fsmonitor.casescreen import CaseScreen
from engine.fsmonitor.verifier import Pass
from engine.state.shared import Clash, FsmonitorStatus

SINCE = "2026-01-01T00:00:00.000Z"


class Said:
    """The screen's ``changed``: how often it said fsmonitor.json is behind."""

    def __init__(self) -> None:
        self.times = 0

    def __call__(self) -> None:
        self.times += 1


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    host, app = tmp_path / "host", tmp_path / "app"
    (host / "lib").mkdir(parents=True)
    (app / "lib").mkdir(parents=True)
    return host, app


def guarded(host: Path, app: Path) -> tuple[CaseScreen, Said]:
    said = Said()
    guard = CaseGuard({"H": str(host), "A": str(app)}, str(host), now=lambda: SINCE)
    return CaseScreen(said, guard), said


def a_pass(
    walked: tuple[str, str],
    clashes: frozenset[tuple[str, ...]] = frozenset(),
    respelled: frozenset[tuple[str, str]] = frozenset(),
) -> Pass:
    """A verifier pass over ``walked`` that found only names a folding host cannot hold apart."""
    return Pass(walked, frozenset(), (), 0, 0.0, 0.0, 0.0, 0.0, clashes=clashes, respelled=respelled)


def test_without_a_guard_every_key_passes_and_nothing_is_said() -> None:
    said = Said()
    screen = CaseScreen(said)
    keys: set[Key] = {("H", "README.md"), ("A", "readme.md"), ("A", "")}
    assert screen.screen(keys, may_rename=False) == keys
    assert screen.folders() == set()
    assert screen.waiting() == set()
    screen.verified(a_pass(("/h", "/a"), clashes=frozenset({("README.md", "readme.md")})))
    snapshot = FsmonitorStatus(syncs=3)
    assert screen.stamp(snapshot) == snapshot
    assert said.times == 0


def test_a_clash_is_kept_back_and_said_once_until_it_clears(roots: tuple[Path, Path]) -> None:
    host, app = roots
    (host / "lib/Util.js").write_text("x")
    (app / "lib/Util.js").write_text("x")
    (app / "lib/util.js").write_text("the app's own")
    screen, said = guarded(host, app)

    assert screen.screen({("A", "lib/util.js"), ("A", "lib")}, may_rename=True) == {("A", "lib")}
    assert said.times == 1
    assert screen.screen({("A", "lib/util.js")}, may_rename=True) == set()
    assert said.times == 1  # the same clash again: fsmonitor.json shows nothing new

    (app / "lib/util.js").unlink()
    passed = screen.screen({("A", "lib/util.js")}, may_rename=True)
    assert said.times == 2  # cleared
    assert ("A", "lib/Util.js") in passed  # what is left of the clash syncs now


def test_the_clashes_that_stand_go_into_the_status(roots: tuple[Path, Path]) -> None:
    host, app = roots
    for name in ("README.md", "readme.md"):
        (app / name).write_text(name)
    screen, _ = guarded(host, app)
    screen.screen({("A", "readme.md")}, may_rename=True)
    stamped = screen.stamp(FsmonitorStatus(syncs=3))
    assert stamped.clashes == (Clash(("README.md", "readme.md"), SINCE),)
    assert stamped.syncs == 3


def test_a_rename_waits_while_unison_syncs_and_is_done_when_calm(roots: tuple[Path, Path]) -> None:
    host, app = roots
    (host / "lib/Util.js").write_text("x")  # the host respelled it
    (app / "lib/util.js").write_text("x")
    screen, said = guarded(host, app)

    assert screen.screen({("H", "lib/Util.js")}, may_rename=False) == set()
    assert os.listdir(app / "lib") == ["util.js"]  # nothing renamed during unison's sync
    assert screen.folders() == set()

    assert screen.waiting() == {("H", "lib/Util.js")}
    assert os.listdir(app / "lib") == ["Util.js"]
    assert screen.folders() == {"lib"}  # unison lists the folder again: its archive learns the name
    assert screen.folders() == set()  # once
    assert screen.waiting() == set()
    assert said.times == 0  # a rename is no clash


def test_the_verifiers_findings_become_clashes_and_renames(roots: tuple[Path, Path]) -> None:
    host, app = roots
    (host / "lib/Util.js").write_text("x")
    (app / "lib/util.js").write_text("x")  # respelled while no fsmonitor ran
    for name in ("README.md", "readme.md"):
        (app / name).write_text(name)
    screen, _ = guarded(host, app)

    found = a_pass(
        (str(app), str(host)),  # walked app first: the pairs are (app's name, host's name)
        clashes=frozenset({("README.md", "readme.md")}),
        respelled=frozenset({("lib/util.js", "lib/Util.js")}),
    )
    screen.verified(found)
    assert [c.paths for c in screen.stamp(FsmonitorStatus()).clashes] == [("README.md", "readme.md")]
    assert screen.waiting() == {("H", "lib/Util.js")}  # the host's spelling wins
    assert os.listdir(app / "lib") == ["Util.js"]
