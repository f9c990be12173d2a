"""A clean stop signs both trees; the next warm start scans only what changed (engine/unison/stopmark.py).

Unit: what the signatures find, with the real helper (native-sync-treesig).
Engine (real unison): a warm start after a clean stop trusts its archive
(patch 0006) and hands unison only the folders that changed while it was
stopped; everything is on both sides byte for byte when ``watching`` is
said.  A start that must not trust (a kill, other arguments, a root folder
changed) scans in full, as before.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.config import Config, load
from engine.fs.compare import differs
from engine.fs.treesig import Signer
from engine.fsmonitor.inotify import Watcher
from engine.fsmonitor.monitor import build_monitor
from engine.fsmonitor.protocol import quote
from engine.unison import stopmark
from tests.fuzz import crash
from tests.helpers import Engine, read, same_trees, tree_diff, write


def signer() -> Signer:
    found = Signer.found()
    assert found is not None, "native-sync-treesig is not on PATH (make deps builds it)"
    return found


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    host, app, unison, runtime = (tmp_path / n for n in ("host", "app", "unison", "rt"))
    for root in (host, app):
        for i in range(6):
            write(root / f"top/d{i}/f.txt", f"file {i}\n")
        write(root / "top/d0/deep/g.txt", "deep\n")
        write(root / "readme.md", "read me\n")
    unison.mkdir()
    runtime.mkdir()
    env = {
        "HOST_VOLUME": str(host),
        "APP_VOLUME": str(app),
        "UNISON": str(unison),
        "SYNC_RUNTIME_DIR": str(runtime),
    }
    return load(env)


def signed_now(cfg: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stop's signing, with nothing taken as just changed (the trees were written before it)."""
    monkeypatch.setattr(stopmark, "FRESH", 0.0)
    signed = stopmark.sign(cfg, 10.0, signer())
    assert signed is not None
    stopmark.save(cfg, signed)


def test_the_folders_changed_since_the_stop_are_found_and_no_others(
    cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed_now(cfg, monkeypatch)
    host, app = cfg.unison_src, cfg.unison_dest
    write(host / "top/d1/f.txt", "FILE 1\n")  # same size, in place
    write(host / "top/d2/new/x.txt", "a new folder\n")  # d2 gains a folder; top only sees d2's times change
    (app / "top/d3/f.txt").unlink()
    os.chmod(app / "top/d4", 0o700)  # a folder's bits: its parent's entry
    found = stopmark.changed_since_stop(cfg, signer())
    assert found is not None
    assert found[1] == ["top", "top/d1", "top/d2", "top/d3"]
    assert not (cfg.unison_dir / stopmark.STOPPED_FILE).exists()  # taken: it serves one start
    assert stopmark.changed_since_stop(cfg, signer()) is None


def test_a_changed_root_folder_or_other_archives_mean_a_full_scan(
    cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed_now(cfg, monkeypatch)
    write(cfg.unison_src / "new-at-the-top.txt", "x\n")
    assert stopmark.changed_since_stop(cfg, signer()) is None
    signed_now(cfg, monkeypatch)
    write(cfg.unison_dir / "ar0123", "an archive written since\n")
    assert stopmark.changed_since_stop(cfg, signer()) is None


def test_a_folder_changed_just_before_the_signing_is_not_trusted(cfg: Config) -> None:
    """A coarse clock: a change in the same tick as the stop's signing would leave the stat as it was."""
    changed = cfg.unison_src / "top/d5/f.txt"
    write(changed, "FILE 5\n")
    fresh = changed.stat().st_ctime_ns
    helper = signer()
    assert helper.sign(str(cfg.unison_src), ["top/d5", "top/d4"], fresh) == {
        "top/d5": None,
        "top/d4": helper.sign(str(cfg.unison_src), ["top/d4"])["top/d4"],  # type: ignore[index]
    }
    assert helper.sign(str(cfg.unison_src), ["top/d5"], fresh + 1)["top/d5"] is not None  # type: ignore[index]


def test_a_slow_signing_gives_up_within_its_time(cfg: Config) -> None:
    """The flush after it must keep its time: no signatures at all (the next start scans in full)."""
    assert stopmark.sign(cfg, 0.0, signer()) is None
    assert stopmark.sign(cfg, 10.0, Signer("/bin/sleep")) is None  # "sleep ROOT" fails at once, too


# --- the engine ---------------------------------------------------------------------------------


def synced_and_stopped(engine: Engine) -> None:
    for i in range(200):
        write(engine.host / f"src/d{i // 20}/f{i:03d}.txt", f"file {i:03d}\n")
    write(engine.host / "docs/readme.md", "read me\n")
    engine.start().wait_watching()
    engine.wait_first_watch_cycle()
    assert engine.terminate() == 0
    assert (Path(engine.env["UNISON"]) / stopmark.STOPPED_FILE).exists()


def change_below_the_roots(engine: Engine) -> None:
    """What a user does while stopped, on each side, nothing in a root folder itself."""
    host, app = engine.host, engine.app
    write(host / "src/d0/f001.txt", "FILE 001\n")  # same size
    write(host / "src/new/deep/host.txt", "made on the host\n")
    (host / "src/d1/f020.txt").unlink()
    (host / "docs/readme.md").unlink()
    write(host / "docs/guide/index.md", "the new docs\n")
    write(app / "src/d3/f060.txt", "edited in the app\n")
    write(app / "src/d5/cache/app.txt", "made by the app\n")
    (app / "src/d4/f080.txt").unlink()


@pytest.mark.engine
def test_a_warm_start_after_a_clean_stop_hands_unison_only_what_changed(engine: Engine) -> None:
    synced_and_stopped(engine)
    change_below_the_roots(engine)
    engine.start().wait_watching()
    assert same_trees(engine.host, engine.app, keep_temps=True), tree_diff(engine.host, engine.app)
    assert read(engine.app / "src/d0/f001.txt") == "FILE 001\n"
    assert read(engine.host / "src/d3/f060.txt") == "edited in the app\n"
    assert read(engine.host / "src/d5/cache/app.txt") == "made by the app\n"
    assert not (engine.app / "docs/readme.md").exists() and not (engine.host / "src/d4/f080.txt").exists()
    (compared,) = engine.events("stopmark.compared")
    assert compared["changed"] >= 7  # src, src/d0, d1, d3, d4, d5, docs (and any folder signed as fresh)
    trusted = engine.events("unison.trusts_archive")[-1]  # the first is the cold start's (its indexing)
    assert trusted["changed"] == compared["changed"]
    assert engine.events("initial_sync.start", in_watch_mode=True, since_stop=True)
    assert not engine.events("conflict") and engine.status()["conflicts"]["count"] == 0
    for rel in ("src/d9/after.txt", "src/new/deep/after.txt"):  # changes flow, in a folder made meanwhile too
        write(engine.host / rel, "after the start\n")
        engine.wait_event("sync.copied", path=rel)


@pytest.mark.engine
@pytest.mark.parametrize("why", ["kill", "arguments"])
def test_a_start_that_may_not_trust_the_stop_scans_in_full(engine: Engine, why: str) -> None:
    synced_and_stopped(engine)
    if why == "kill":  # a start takes the record; killed, it leaves none for the next
        engine.start().wait_watching()
        assert crash.kill_engine(engine) > 0
    else:
        engine.env["UNISON_ARGS"] = "-perms 0"  # another command line: the archive speaks for other rules
    change_below_the_roots(engine)
    trusted = len(engine.events("unison.trusts_archive"))
    engine.start().wait_watching()
    assert same_trees(engine.host, engine.app, keep_temps=True), tree_diff(engine.host, engine.app)
    assert engine.events("initial_sync.start", in_watch_mode=True, since_stop=False)
    assert len(engine.events("unison.trusts_archive")) == trusted  # this start scanned in full
    assert not engine.events("conflict")


def test_the_fsmonitor_reports_what_changed_while_stopped_once_the_trusted_cycle_is_over(
    tmp_path: Path,
) -> None:
    """The trusted first cycle only hands the folders over (patch 0006): it is not the first sync, the
    cycle that scans what changed while stopped is (``watching`` waits for ``first_sync_at``)."""
    monitor = build_monitor(Watcher(lambda rel: False), differs, stopped_changes=("src/d0", "src", "docs"))
    assert monitor.command("VERSION 1", 1.0) == ["VERSION 1"]
    for replica, root in (("h1", tmp_path / "host"), ("h2", tmp_path / "app")):
        root.mkdir()
        assert monitor.command(f"START {replica} {quote(str(root))} ", 1.0) == ["OK"]
        assert monitor.command("DONE", 1.0) == []
    assert monitor.command("WAIT h1", 2.0) == ["CHANGES h1"]  # the handover is over: to unison at once
    assert monitor.command("WAIT h2", 2.0) == ["CHANGES h2"]
    assert monitor.cycles.totals.first_sync_at is None
    for replica in ("h1", "h2"):
        assert monitor.command(f"CHANGES {replica}", 2.1) == ["RECURSIVE docs", "RECURSIVE src", "DONE"]
    assert monitor.cycles.totals.first_sync_at is None  # unison syncs them now
    assert monitor.command("WAIT h1", 3.0) == []
    assert monitor.cycles.totals.first_sync_at is not None
    assert monitor.command("WAIT h2", 3.0) == [] and monitor.protocol.pending_count() == 0
