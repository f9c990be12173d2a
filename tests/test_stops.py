"""A stop at any phase carries what changed before it (issue 25), with real unison, in host mode.

At each phase (the cold start's copy, its indexing, a warm start's one-shot,
watching) a file is written on one side just before SIGTERM; when ``run``
exits (within docker stop's 10 s, status 0), it is on the other side, byte
for byte.  Phases are reached through ``tests/hooked_run.py``'s pauses or by
waiting for the phase's log event; the assertions hold whichever instant of
the phase the stop lands in.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest

from engine.startup.coldstart import MARK
from engine.startup.initial_sync import OWNER_MARK
from tests.helpers import REPO, Engine, read, unison_temps, wait_for, write

pytestmark = pytest.mark.engine

HOOKED = REPO / "tests" / "hooked_run.py"
GRACE = 10.0  # docker stop's, before its SIGKILL


def tree(root: Path, files: int) -> list[str]:
    names = [f"d{i // 200}/f{i:05d}.txt" for i in range(files)]
    for name in names:
        write(root / name, f"host {name}\n")
    return names


def pause(engine: Engine, phase: str) -> None:
    wait_for(lambda: (engine.base / f"at-{phase}").exists(), 120, f"the engine to pause at {phase}")


def stop(engine: Engine, release: str | None = None) -> None:
    """SIGTERM (docker stop), then let a paused engine go on; it must exit 0 within the grace period."""
    assert engine.proc is not None
    engine.proc.send_signal(signal.SIGTERM)
    if release is not None:
        (engine.base / f"go-{release}").touch()
    assert engine.proc.wait(timeout=GRACE) == 0, engine.logs()[-3000:]
    wait_for(lambda: not left_running(engine), 5, "nothing of the engine running after its exit")


def left_running(engine: Engine) -> list[str]:
    """Processes still at work on the engine's roots (a unison supervisord started and left)."""
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        cmdline = p.info["cmdline"] or []
        if p.info["status"] != psutil.STATUS_ZOMBIE and str(engine.host) in cmdline:
            found.append(f"{p.pid}: {' '.join(cmdline)[:200]}")
    return found


def test_a_stop_during_the_copy_carries_edits_of_copied_files_both_ways(engine: Engine) -> None:
    """The volume is not handed out yet (health fails), but an edit made anyway is not lost."""
    names = tree(engine.host, 1000)
    engine.start(script=HOOKED, HOOK_DIR=str(engine.base), HOOK_AT="copying:300")
    pause(engine, "copying")
    copied = [n for n in names if (engine.app / n).exists()]
    write(engine.app / copied[0], "app edit during the copy\n")
    write(engine.host / copied[1], "host edit during the copy\n")
    stop(engine, release="copying")
    assert read(engine.host / copied[0]) == "app edit during the copy\n"
    assert read(engine.app / copied[1]) == "host edit during the copy\n"
    (stopped,) = engine.events("coldstart.stopped", phase="copying")
    assert stopped["carried"] == 2
    assert (engine.base / "unison" / MARK).exists()  # the next start resumes the copy


def test_a_stop_during_the_indexing_carries_both_ways_before_exit(engine: Engine) -> None:
    """Issue 25: an app write during the indexing, then SIGTERM: stop.done with no flush, write lost."""
    names = tree(engine.host, 1000)
    engine.start(script=HOOKED, HOOK_DIR=str(engine.base), HOOK_AT="indexing")
    pause(engine, "indexing")
    assert engine.status()["state"] == "indexing"
    write(engine.app / names[5], "app edit during the indexing\n")
    write(engine.app / "new/deep/in-app.txt", "made in the app during the indexing\n")
    (engine.app / names[6]).unlink()
    write(engine.host / names[7], "host edit during the indexing\n")
    stop(engine, release="indexing")
    assert read(engine.host / names[5]) == "app edit during the indexing\n"
    assert read(engine.host / "new/deep/in-app.txt") == "made in the app during the indexing\n"
    assert not (engine.host / names[6]).exists()
    assert read(engine.app / names[7]) == "host edit during the indexing\n"
    assert not [p for p in engine.host.rglob("*conflict*")]  # one-sided changes are no conflict
    assert unison_temps(engine.host, engine.app) == []
    (carried,) = engine.events("stop.carried")
    assert carried["paths"] == 4
    assert (engine.base / "unison" / MARK).exists()  # the indexing resumes at the next start
    assert not [p for p in (engine.base / "unison").iterdir() if p.name.startswith("ar")]

    engine.start()  # and the next start still ends where it should
    engine.wait_watching()
    assert read(engine.app / "new/deep/in-app.txt") == "made in the app during the indexing\n"
    assert not (engine.base / "unison" / MARK).exists()


def unison_child(engine: Engine) -> bool:
    assert engine.proc is not None
    children = psutil.Process(engine.proc.pid).children(recursive=True)
    return any(child.name() == "unison" for child in children)


def test_a_stop_while_unison_indexes_a_big_tree_carries_the_app_write(engine: Engine) -> None:
    """The issue's case: unison builds its archive over 20k files when the app writes and docker stops."""
    names = tree(engine.host, 20000)
    engine.start()
    engine.wait_event("coldstart.index", timeout=120)
    wait_for(lambda: unison_child(engine), 30, "the indexing unison")
    write(engine.app / names[123], "app write while unison indexes\n")
    write(engine.host / names[456], "host write while unison indexes\n")
    stop(engine)
    assert engine.events("stop.carried") or engine.events("stop.flush.done")
    assert read(engine.host / names[123]) == "app write while unison indexes\n"
    assert read(engine.app / names[456]) == "host write while unison indexes\n"
    assert unison_temps(engine.host, engine.app) == []


def warm(engine: Engine, files: int) -> list[str]:
    """A tree synced once (archives in UNISON): the next start is a warm one."""
    names = tree(engine.host, files)
    engine.start()
    engine.wait_watching(timeout=120)
    assert engine.terminate() == 0
    return names


def with_one_shot(engine: Engine) -> None:
    """The next warm start runs its one-shot (issue 24: else watch mode's first cycle is the initial
    sync): the owner APP_VOLUME was given is not known, so the one-shot and the owner walk run."""
    (Path(engine.env["UNISON"]) / OWNER_MARK).unlink()


@pytest.mark.parametrize("one_shot", [True, False], ids=["one-shot", "in-watch-mode"])
def test_a_stop_during_the_warm_start_initial_sync_carries_both_ways(engine: Engine, one_shot: bool) -> None:
    names = warm(engine, 5000)
    if one_shot:
        with_one_shot(engine)
    engine.start()
    if one_shot:
        engine.wait_event("initial_sync.start", cold=False)
    else:
        engine.wait_event("initial_sync.start", in_watch_mode=True)
    write(engine.app / names[10], "app write during the initial sync\n")
    write(engine.host / names[20], "host write during the initial sync\n")
    stop(engine)
    assert read(engine.host / names[10]) == "app write during the initial sync\n"
    assert read(engine.app / names[20]) == "host write during the initial sync\n"


def test_a_stop_after_the_one_shot_scanned_carries_what_changed_since(engine: Engine) -> None:
    """The one-shot is past the paths (paused after it): only the flush at stop can carry them."""
    names = warm(engine, 200)
    with_one_shot(engine)
    engine.start(script=HOOKED, HOOK_DIR=str(engine.base), HOOK_AT="oneshot")
    pause(engine, "oneshot")
    write(engine.app / names[10], "app write after the one-shot\n")
    write(engine.host / names[20], "host write after the one-shot\n")
    stop(engine, release="oneshot")
    assert read(engine.host / names[10]) == "app write after the one-shot\n"
    assert read(engine.app / names[20]) == "host write after the one-shot\n"
    assert engine.events("stop.flush.done")


def test_a_stop_while_watching_carries_both_ways(engine: Engine) -> None:
    names = tree(engine.host, 200)
    engine.start()
    engine.wait_watching()
    write(engine.app / names[1], "app write just before the stop\n")
    write(engine.host / names[2], "host write just before the stop\n")
    os.symlink("f00001.txt", engine.app / "d0" / "link")
    stop(engine)
    assert read(engine.host / names[1]) == "app write just before the stop\n"
    assert read(engine.app / names[2]) == "host write just before the stop\n"
    assert os.readlink(engine.host / "d0" / "link") == "f00001.txt"
    assert engine.events("stop.flush.done")
