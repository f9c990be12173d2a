"""Watch mode started from the archive a one-shot just wrote (issue 24, patch 0006).

The engine's side of it: a one-shot that synced everything leaves
``trusted-archive.json``; the next start of watch-mode unison takes it and
skips its first scan (``UNISON_WATCH_TRUST_ARCHIVE``), and its fsmonitor's
first verifier pass finds what changed between the one-shot's scan and the
watches: here, the changes are made in exactly that gap (after the one-shot
returned, before watch mode started), so nothing but that pass can find them.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.config import load
from engine.state import trust
from engine.supervise import unison_program
from engine.unison import launch
from monit import oneshot as engine_oneshot
from tests.helpers import Engine, read, same_trees, tree_diff, wait_for, write
from tests.unison_runs import Watch, oneshot, replicas

pytestmark = pytest.mark.engine

SCALE_ENV = {"UNISON_FPCACHE": "full-scans", "UNISON_ARCHIVE_JOURNAL": "600", "UNISON_WATCH_INTERVAL": "0.02"}


def edit_keeping_size(path: Path, text: str) -> None:
    """A same-size edit: the verifier's first pass compares sizes, not contents, unless told since when."""
    assert len(text.encode()) == path.stat().st_size
    path.write_text(text, encoding="utf-8")


def test_changes_made_before_the_watches_were_up_still_cross(
    unison_of: dict[str, Path], tmp_path: Path, watches: list[Watch]
) -> None:
    fsmonitor = Path(sys.executable).parent / "unison-fsmonitor"
    if not fsmonitor.exists():
        pytest.skip("our unison-fsmonitor is not installed beside this python (make deps)")
    unison = unison_of["ours"]
    a, b, env = replicas(tmp_path)
    (tmp_path / "run").mkdir()
    for i in range(20):
        write(a / "d" / f"f{i}", f"file {i:02}\n")
    env.update(
        SCALE_ENV,
        PATH=f"{fsmonitor.parent}{os.pathsep}{env['PATH']}",
        HOST_VOLUME=str(a),
        APP_VOLUME=str(b),
        SYNC_RUNTIME_DIR=str(tmp_path / "run"),
    )
    began = time.time()  # as monit/oneshot.py records it: before unison starts
    oneshot(unison, a, b, env)
    assert same_trees(a, b)
    # the gap: the one-shot has scanned everything, no watch is up yet
    edit_keeping_size(a / "d" / "f1", "FILE 01\n")
    edit_keeping_size(b / "d" / "f2", "FILE 02\n")
    write(a / "new" / "deep" / "x", "made in the gap\n")
    watch = Watch(unison, a, b, launch.trusting(env, began), "-debug", "update")
    watches.append(watch)
    wait_for(lambda: "fsmonitor.start" in watch.tail() or None, 30, "the fsmonitor", detail=watch.tail)
    wait_for(
        lambda: read(b / "d" / "f1") == "FILE 01\n" or None, 60, "the host's gap edit", detail=watch.tail
    )
    wait_for(lambda: read(a / "d" / "f2") == "FILE 02\n" or None, 60, "the app's gap edit", detail=watch.tail)
    wait_for(lambda: read(b / "new" / "deep" / "x") is not None or None, 60, "the gap's folder")
    write(a / "new" / "deep" / "y", "after\n")  # the gap's folder is watched now
    wait_for(
        lambda: read(b / "new" / "deep" / "y") == "after\n" or None, 30, "an edit in it", detail=watch.tail
    )
    wait_for(lambda: same_trees(a, b) or None, 30, "the same trees", detail=lambda: tree_diff(a, b))
    trace = watch.log_path.read_text(errors="replace")
    assert "watch mode starts from the archive" in trace  # no first scan found them
    assert "conflict" not in trace


def test_one_start_after_a_clean_one_shot_trusts_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unison_of: dict[str, Path]
) -> None:
    """The token is left by a one-shot that synced everything and taken by one start only;
    with the verifier off (it finds the gap's changes) nothing is trusted."""
    host, app, state, runtime = (tmp_path / n for n in ("host", "app", "unison", "run"))
    for folder in (host, app, state, runtime):
        folder.mkdir()
    write(host / "a.txt", "a\n")
    env = {
        "HOST_VOLUME": str(host),
        "APP_VOLUME": str(app),
        "UNISON": str(state),
        "SYNC_RUNTIME_DIR": str(runtime),
        "UNISON_BIN": str(unison_of["ours"]),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    started: list[dict[str, str]] = []

    def exec_unison(file: str, args: list[str], environment: dict[str, str]) -> None:
        started.append(environment)

    monkeypatch.setattr(os, "execvpe", exec_unison)
    before = time.time()
    assert engine_oneshot.sync_once(load(env), "test", timeout=60) == 1
    token = trust.TrustedArchive.take(runtime)
    assert token is not None and before <= token.since <= time.time()
    token.save(runtime)
    unison_program.main()  # the first start after it: trusted
    unison_program.main()  # a restart: a full scan, as stock
    assert started[0]["UNISON_WATCH_TRUST_ARCHIVE"] == "1"
    assert float(started[0]["NATIVE_SYNC_TRUSTED_SINCE"]) == token.since
    assert "UNISON_WATCH_TRUST_ARCHIVE" not in started[1]
    token.save(runtime)
    monkeypatch.setenv("SYNC_VERIFY_INTERVAL", "0")
    unison_program.main()
    assert "UNISON_WATCH_TRUST_ARCHIVE" not in started[2]


def test_after_a_cold_and_a_warm_start_watch_mode_scans_only_the_first_edit(
    engine_factory: Callable[..., Engine],
) -> None:
    """The running engine: after each start, the first edit is the first path watch-mode unison
    scans once changes flow (its trace, -debug update, names every path it scans: a full scan names
    them all).  The cold start trusts its indexing's archive and scans nothing; the warm start has
    no one-shot (issue 24) and trusts the archive its clean stop left: its first cycles scan the
    folders changed since that stop's signing (engine/unison/stopmark.py), before ``watching``."""
    engine = engine_factory(UNISON_WATCH_ARGS="-repeat watch -debug update", LOG_LEVEL="debug")
    for i in range(200):
        write(engine.host / f"bulk/d{i // 20}/file{i}.txt", f"content {i}\n")
    for n, (start, edited) in enumerate((("cold", "bulk/d1/file21.txt"), ("warm", "bulk/d2/file42.txt"))):
        engine.start().wait_watching()
        # the fsmonitor's line on the first cycle follows unison's trace of it in the output run logs
        wait_for(lambda: len(engine.events("sync.cycle", first=True)) > n, 30, "the first cycle logged")  # noqa: B023
        before = len(engine.events("unison.output"))
        write(engine.host / edited, f"edited after a {start} start\n")
        engine.wait_event("sync.copied", path=edited)  # logged after unison's trace of that sync
        assert read(engine.app / edited) == f"edited after a {start} start\n"
        assert scanned(engine, edited, before)
        assert not scanned(engine, "bulk/d3/file63.txt", before), f"unison scanned everything after {start}"
        assert engine.terminate() == 0
    assert len(engine.events("unison.trusts_archive")) == 2
    assert len(engine.events("initial_sync.start", in_watch_mode=True, since_stop=True)) == 1


def scanned(engine: Engine, rel: str, after: int = 0) -> bool:
    """Did watch-mode unison scan ``rel`` (host side), in its output after the first ``after`` lines?"""
    lines = (e.get("text", "") for e in engine.events("unison.output")[after:])
    return any(line.endswith(f"buildUpdateRec: {engine.host}/{rel}") for line in lines)
