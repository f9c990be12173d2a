"""End-to-end cold start (issue 13): fast copy, indexing, then watching, with real unison.

Edits land at known points of the cold start through ``tests/hooked_run.py``
(it pauses the engine after the N-th copied file, and before the indexing).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from engine.startup.coldstart import MARK
from tests.helpers import REPO, Engine, read, same_trees, unison_temps, wait_for, write

pytestmark = pytest.mark.engine

HOOKED = REPO / "tests" / "hooked_run.py"
SYNC = 15.0
FILES = 1000


def tree(root: Path) -> list[str]:
    names = [f"d{i // 100}/f{i:04d}.txt" for i in range(FILES)]
    for name in names:
        write(root / name, f"host {name}\n")
    return names


def pause(engine: Engine, phase: str) -> None:
    wait_for(lambda: (engine.base / f"at-{phase}").exists(), 60, f"the engine to pause at {phase}")


def resume(engine: Engine, phase: str) -> None:
    (engine.base / f"go-{phase}").touch()


def hooked(engine: Engine, at: str) -> Engine:
    return engine.start(script=HOOKED, HOOK_DIR=str(engine.base), HOOK_AT=at)


def test_edits_on_both_sides_during_the_copy_and_the_indexing_arrive(engine: Engine) -> None:
    names = tree(engine.host)
    hooked(engine, "copying:300,indexing")

    pause(engine, "copying")
    assert engine.cli("health").returncode == 1
    assert engine.status()["state"] == "initial-sync"
    copied = [n for n in names if (engine.app / n).exists()]
    not_yet = [n for n in names if not (engine.app / n).exists()]
    assert len(copied) >= 4 and not_yet
    host_edit, app_edit, host_delete, both = copied[:4]
    write(engine.host / host_edit, "host edit during the copy\n")
    write(engine.app / app_edit, "app edit during the copy\n")
    (engine.host / host_delete).unlink()
    write(engine.host / both, "host side of a conflict\n")
    write(engine.app / both, "app side of a conflict\n")
    write(engine.host / not_yet[-1], "host edit before it was copied\n")
    write(engine.host / "new/on-host.txt", "made on the host during the copy\n")
    write(engine.app / "new/in-app.txt", "made in the app during the copy\n")
    became_dir = copied[6]  # unison gets it with -preferpartial (no plain file to write back)
    (engine.app / became_dir).unlink()
    write(engine.app / became_dir / "inside.txt", "a file became a folder in the app\n")
    resume(engine, "copying")

    pause(engine, "indexing")
    status = engine.status()
    assert (status["state"], status["initial_sync_done"]) == ("indexing", True)
    assert engine.cli("health").returncode == 0  # the volume is complete: the app may start
    index_host, index_app = copied[4], copied[5]
    write(engine.host / index_host, "host edit during the indexing\n")
    write(engine.app / index_app, "app edit during the indexing\n")
    write(engine.app / "new/in-app-indexing.txt", "made in the app during the indexing\n")
    resume(engine, "indexing")

    engine.wait_watching()
    expected = {
        host_edit: "host edit during the copy\n",
        app_edit: "app edit during the copy\n",
        both: "host side of a conflict\n",  # the preferred side (host) wins
        not_yet[-1]: "host edit before it was copied\n",
        "new/on-host.txt": "made on the host during the copy\n",
        "new/in-app.txt": "made in the app during the copy\n",
        index_host: "host edit during the indexing\n",
        index_app: "app edit during the indexing\n",
        "new/in-app-indexing.txt": "made in the app during the indexing\n",
        f"{became_dir}/inside.txt": "a file became a folder in the app\n",
    }
    wait_for(lambda: same_trees(engine.host, engine.app), SYNC, "identical trees")
    for side in (engine.host, engine.app):
        assert {rel: read(side / rel) for rel in expected} == expected
        assert not (side / host_delete).exists()
    # the loser of the conflict is kept in the conflict store, as in watch mode; so is the
    # host's file that became a folder in the app (unison, with no archive, saw a conflict)
    assert not [p for p in (engine.host / both).parent.iterdir() if "conflict" in p.name]
    store = engine.host / ".native-sync" / "conflicts"
    losers = [p for p in store.rglob("*") if p.is_file()]
    assert sorted(p.read_text() for p in losers) == ["app side of a conflict\n", f"host {became_dir}\n"]
    untouched = [n for n in names if n not in expected and n not in (host_delete, became_dir)]
    assert all(read(engine.app / n) == f"host {n}\n" for n in untouched)
    assert not (engine.base / "unison" / MARK).exists()


def test_a_stop_during_the_copy_returns_at_once_and_the_next_start_resumes(engine: Engine) -> None:
    names = tree(engine.host)
    (engine.host / "d0" / "run.sh").write_text("#!/bin/sh\n")
    (engine.host / "d0" / "run.sh").chmod(0o755)
    os.symlink("f0001.txt", engine.host / "d0" / "link")
    hooked(engine, "copying:400")
    pause(engine, "copying")
    assert engine.proc is not None
    engine.proc.send_signal(signal.SIGTERM)
    resume(engine, "copying")
    assert engine.proc.wait(timeout=10) == 0  # docker stop's grace period
    assert (engine.base / "unison" / MARK).exists()
    copied = [n for n in names if (engine.app / n).exists()]
    assert 400 - 2 <= len(copied) < FILES  # run.sh and link may be among the first 400
    # meanwhile the host changes; and the app side holds a leftover of nobody's
    (engine.host / copied[0]).unlink()
    write(engine.host / copied[1], "changed while stopped\n")
    write(engine.app / copied[0].replace(".txt", ".partial"), "not on the host")

    engine.start()
    engine.wait_watching()
    assert same_trees(engine.host, engine.app)
    assert not (engine.app / copied[0]).exists()
    assert read(engine.app / copied[1]) == "changed while stopped\n"
    assert read(engine.host / copied[0].replace(".txt", ".partial")) is None
    assert unison_temps(engine.host, engine.app) == []
    assert not (engine.base / "unison" / MARK).exists()
    assert engine.events("coldstart.usable")


def test_a_resumed_cold_start_refuses_an_empty_host(engine: Engine) -> None:
    tree(engine.host)
    hooked(engine, "copying:100")
    pause(engine, "copying")
    assert engine.proc is not None
    engine.proc.send_signal(signal.SIGTERM)
    resume(engine, "copying")
    assert engine.proc.wait(timeout=10) == 0
    before = sorted(p.name for p in engine.app.rglob("*"))
    for child in engine.host.iterdir():
        for f in child.iterdir():
            f.unlink()
        child.rmdir()

    engine.start()
    assert engine.proc.wait(timeout=30) != 0
    (failed,) = engine.events("start.failed")
    assert "is the host folder mounted" in failed["error"]
    assert sorted(p.name for p in engine.app.rglob("*")) == before
    assert list(engine.host.iterdir()) == []


def test_the_copy_says_what_cpu_it_took_in_our_code_and_in_the_kernel(engine: Engine) -> None:
    """``coldstart.usable`` splits the copy's CPU: user (ours) and system (the file system calls).

    The copy's own thread's CPU: never more than the copy's wall time.  The kernel splits a
    thread's time between user and system by sampling at its clock ticks (4 ms at HZ=250), so a
    short copy may show all of it on one side (CI saw system 0.0): the split is asserted whole.
    """
    tree(engine.host)
    engine.start()
    engine.wait_watching()
    (usable,) = engine.events("coldstart.usable")
    assert usable["files"] == FILES
    assert usable["cpu_user_s"] >= 0 and usable["cpu_system_s"] >= 0
    assert usable["cpu_user_s"] + usable["cpu_system_s"] > 0  # a thousand files opened and written
    assert usable["cpu_user_s"] + usable["cpu_system_s"] <= usable["seconds"] + 0.002  # rounding
