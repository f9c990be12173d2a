"""How people edit (issue 17), end to end with our unison: sequential saves win, concurrent ones conflict.

A save made after the other side's save has arrived is an ordinary edit: it
wins on both sides, however soon it follows and however often the same file
is saved (the hot-path hold once turned such saves into conflicts that the
newer save lost).  Only truly concurrent saves conflict: then the preferred
side (the host) wins and the app's version is kept in the conflict store.
"""

from __future__ import annotations

import os
import signal
from functools import partial
from pathlib import Path

import pytest

from tests.helpers import Engine, read, same_trees, wait_for, write

pytestmark = pytest.mark.engine

SYNC = 10.0


def arrived(path: Path, text: str) -> bool:
    return read(path) == text


def test_the_same_file_saved_in_turn_on_both_sides_always_ends_as_the_last_save(engine: Engine) -> None:
    write(engine.host / "app.js", "v0")
    engine.start().wait_watching()
    engine.wait_first_watch_cycle()
    sides = ((engine.host, engine.app), (engine.app, engine.host))
    for i in range(1, 13):
        src, dst = sides[i % 2]
        text = f"save {i}"
        write(src / "app.js", text)
        # the next save follows as soon as this one arrived: unison may still be finishing its cycle
        wait_for(partial(arrived, dst / "app.js", text), SYNC, f"{text} across")
    wait_for(lambda: same_trees(engine.host, engine.app), SYNC, "identical trees")
    assert read(engine.host / "app.js") == read(engine.app / "app.js") == "save 12"
    status = engine.status()
    assert status["conflicts"]["count"] == 0, status["conflicts"]
    store = engine.host / ".native-sync" / "conflicts"
    kept = [p for p in store.rglob("*") if p.is_file() and p.name != ".gitignore"] if store.exists() else []
    assert kept == []


def test_truly_concurrent_saves_keep_the_losing_version(engine: Engine) -> None:
    write(engine.host / "shared.txt", "original")
    engine.start().wait_watching()
    engine.wait_first_watch_cycle()
    pid = wait_for(lambda: engine.status()["unison"]["pid"], SYNC, "watch-mode unison")
    os.kill(pid, signal.SIGSTOP)  # both saves happen while unison cannot look: truly concurrent
    try:
        write(engine.host / "shared.txt", "host version")
        write(engine.app / "shared.txt", "app version")
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: read(engine.app / "shared.txt") == "host version", SYNC, "the preferred side wins")
    [listed] = wait_for(lambda: engine.status()["conflicts"]["list"], SYNC, "the conflict listed")
    assert (listed["path"], listed["winner"], listed["loser"]) == ("shared.txt", "host", "app")
    assert read(engine.host / "shared.txt") == "host version"
    assert read(Path(listed["kept"])) == "app version"
    wait_for(lambda: same_trees(engine.host, engine.app), SYNC, "identical trees (the store aside)")
