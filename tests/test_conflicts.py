"""engine/unison/conflicts.py with real unison: the losing copy leaves the tree for the store (hidden from
git), the list survives a restart, `conflicts keep` settles one; unison's output as events;
cold-start progress with a fake clock; a quiet verifier at idle."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import threading
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from engine.config import Config, load
from engine.fsmonitor import drift
from engine.fsmonitor.verifier import Pass
from engine.startup import coldstart
from engine.supervise.watching import Watching
from engine.unison import conflicts, reports
from monit import oneshot
from tests.births import Births, reachable_folder
from tests.helpers import read, wait_for, write


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    for name in ("host", "app", "unison", "run"):
        (tmp_path / name).mkdir()
    return load(
        {
            "HOST_VOLUME": str(tmp_path / "host"),
            "APP_VOLUME": str(tmp_path / "app"),
            "UNISON": str(tmp_path / "unison"),
            "SYNC_RUNTIME_DIR": str(tmp_path / "run"),
            "MONIT_ENABLE": "false",
        }
    )


def conflict(cfg: Config, watching: Watching) -> None:
    """Both sides change a.txt between two syncs: the host (preferred) wins."""
    write(cfg.unison_src / "src" / "a.txt", "v1\n")
    oneshot.sync_once(cfg, "test", events=watching.take)
    write(cfg.unison_src / "src" / "a.txt", "host v2\n")
    write(cfg.unison_dest / "src" / "a.txt", "app v2\n")
    oneshot.sync_once(cfg, "test", events=watching.take)


def names(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_the_losing_copy_goes_to_the_store_out_of_both_trees_and_git(cfg: Config) -> None:
    watching = Watching(cfg)
    with capture_logs() as logs:
        conflict(cfg, watching)
    assert read(cfg.unison_src / "src" / "a.txt") == read(cfg.unison_dest / "src" / "a.txt") == "host v2\n"
    [entry] = conflicts.Record.load(cfg.unison_dir).entries
    assert (entry.path, entry.winner, entry.loser) == ("src/a.txt", "host", "app")
    kept = Path(entry.kept)
    assert kept.read_text() == "app v2\n" and kept.name == "a.txt"
    assert kept.is_relative_to(cfg.unison_src / ".native-sync" / "conflicts")
    assert names(cfg.unison_dest) == ["src/a.txt"]  # nothing left by unison, nothing carried over
    oneshot.sync_once(cfg, "test", events=watching.take)  # the store stays on the host
    assert names(cfg.unison_dest) == ["src/a.txt"]
    [line] = [e for e in logs if e["event"] == "conflict"]
    assert line["path"] == "src/a.txt" and line["kept"] == entry.kept and line["winner"] == "host"
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", str(cfg.unison_src)], check=True)
        porcelain = subprocess.run(
            ["git", "-C", str(cfg.unison_src), "status", "--porcelain", "--untracked-files=all"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert porcelain.splitlines() == ["?? src/a.txt"]


def test_the_list_survives_a_restart_and_keep_settles_a_conflict(cfg: Config) -> None:
    conflict(cfg, Watching(cfg))
    again = Watching(cfg)  # a restart: the record is in UNISON
    assert [e.path for e in again.keeper.record.entries] == ["src/a.txt"]
    entry, done = conflicts.resolve(cfg, "src/a.txt", "app")
    assert "restored the app version of src/a.txt" in done
    assert read(cfg.unison_dest / "src" / "a.txt") == "app v2\n"  # an edit on the app side...
    oneshot.sync_once(cfg, "test", events=again.take)
    assert read(cfg.unison_src / "src" / "a.txt") == "app v2\n"  # ...that syncs like any other
    assert not Path(entry.kept).exists()
    again.keeper.prune()
    assert conflicts.Record.load(cfg.unison_dir).entries == ()


def test_keeping_the_winner_drops_the_kept_copy(cfg: Config) -> None:
    conflict(cfg, Watching(cfg))
    entry, done = conflicts.resolve(cfg, "src/a.txt", "host")
    assert "it already stands" in done and not Path(entry.kept).exists()
    assert read(cfg.unison_dest / "src" / "a.txt") == "host v2\n"
    with pytest.raises(LookupError):
        conflicts.resolve(cfg, "src/a.txt", "host")


def test_a_copy_no_output_line_named_is_found_in_a_folder_unison_wrote_into(cfg: Config) -> None:
    # a storm on both sides: unison made the copy on the side it overwrote, its output did not say
    write(cfg.unison_dest / "src" / "a.txt", "host's version")
    write(cfg.unison_dest / "src" / "a (conflict_on_2026-12-02).txt", "app's version")
    write(cfg.unison_dest / "src" / "b.txt", "no conflict")
    watching = Watching(cfg, clock=lambda: 100.0)
    watching.take([reports.Transfer("src/a.txt", "updated", source="host", target="app")])
    assert conflicts.Record.load(cfg.unison_dir).entries == ()  # no conflict line: nothing kept yet
    watching.check()
    [entry] = watching.keeper.record.entries
    assert (entry.path, entry.winner, entry.loser) == ("src/a.txt", "host", "app")
    assert read(Path(entry.kept)) == "app's version"
    assert sorted(p.name for p in (cfg.unison_dest / "src").iterdir()) == ["a.txt", "b.txt"]


USER, APP = (1000, 1000), (33, 33)  # the host folder's owner; OWNER_UID:GROUP_ID


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files to other users needs root")
def test_the_store_and_what_it_keeps_belong_to_the_host_folders_owner(tmp_path: Path) -> None:
    """issue 25: in a folder owned by 1000 the store was root's, and the folder's owner could not
    remove it.  Now each of its entries is the host owner's from its first moment."""
    base = reachable_folder("ns-store-")  # the owner must reach the folder to create in it
    try:
        host, app = base / "host", base / "app"
        write(host / "src" / "a.txt", "v1\n")
        app.mkdir()
        for path, who in ((host, USER), (host / "src", USER), (host / "src" / "a.txt", USER), (app, APP)):
            os.chown(path, *who)
        cfg = load(
            {
                "HOST_VOLUME": str(host),
                "APP_VOLUME": str(app),
                "UNISON": str(tmp_path / "unison"),
                "SYNC_RUNTIME_DIR": str(tmp_path / "run"),
                "OWNER_UID": "33",
                "GROUP_ID": "33",
            }
        )
        watching = Watching(cfg)
        oneshot.sync_once(cfg, "test", events=watching.take)
        with Births(host) as births:
            write(host / "src" / "a.txt", "host v2\n")  # in place: the file keeps its owner
            write(app / "src" / "a.txt", "app v2\n")
            oneshot.sync_once(cfg, "test", events=watching.take)
        [entry] = conflicts.Record.load(cfg.unison_dir).entries
        kept = Path(entry.kept)
        assert kept.read_text() == "app v2\n" and entry.loser == "app"
        stored = {".native-sync", ".native-sync/.gitignore", str(kept.relative_to(host))}
        assert stored <= births.seen.keys()
        assert births.wrong(lambda rel: {USER}) == {}
        if shutil.which("setpriv"):  # the folder's owner can remove it
            as_user = ["setpriv", f"--reuid={USER[0]}", f"--regid={USER[1]}", "--clear-groups"]
            subprocess.run([*as_user, "rm", "-r", str(host / ".native-sync")], check=True, timeout=30)
    finally:
        shutil.rmtree(base)


def test_original_names() -> None:
    assert conflicts.original_name("a (conflict_on_2026-12-02).txt") == "a.txt"
    assert conflicts.original_name("Makefile (conflict #2_on_2026-12-02)") == "Makefile"
    assert conflicts.original_name(".env (conflict_on_2026-12-02_was_deleted)") == ".env"
    assert conflicts.original_name("a.txt") is None


# --- unison's output as events ------------------------------------------------------------


def test_watch_mode_output_becomes_transfers_and_conflicts() -> None:
    reader = reports.Reader(("/host_sync", "/app_sync"))
    text = (
        "changed  ====> changed    f.txt  \n"
        "         <---- new dir    d  \n"
        "new file ---->            big.bin  \n"
        "[BGN] Updating file f.txt from /host_sync to /app_sync\n"
        "[BGN] Copying d from /app_sync to /host_sync\n"
        "[BGN] Deleting old.txt from /app_sync\n"
        "[BGN] Copying big.bin from /host_sync to /app_sync\n"
        "Failed [big.bin]: Error in readWriteBounded:\n"
        "No space left on device\n"
        "Synchronization incomplete at 21:29:38  (3 items transferred, 0 skipped, 1 failed)\n"
    )
    events = reader.feed_all(text)
    transfers = [e for e in events if isinstance(e, reports.Transfer)]
    assert transfers == [
        reports.Transfer("f.txt", "updated", "host", "app"),
        reports.Transfer("d", "copied", "app", "host"),
        reports.Transfer("old.txt", "deleted", "host", "app"),
    ]
    assert [e for e in events if isinstance(e, reports.Conflict)] == [
        reports.Conflict("f.txt", "host", "app")
    ]
    assert [e.path for e in events if isinstance(e, reports.Report)] == ["big.bin"]


def test_the_log_has_one_line_per_transfer_and_unison_text_only_at_debug(
    cfg: Config, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    watching = Watching(cfg)
    log = cfg.runtime_dir / "unison.log"
    log.write_bytes(
        b"2026-12-02T10:00:00.000000Z [info     ] sync.cycle   paths=1 process=fsmonitor\n"
        b"new file ---->            a.txt  \n"
        b"[BGN] Copying a.txt from "
        + str(cfg.unison_src).encode()
        + b" to "
        + str(cfg.unison_dest).encode()
        + b"\n"
        b"Synchronization complete at 10:00:00  (1 item transferred, 0 skipped, 0 failed)\n"
        b"Fatal error: No file monitoring helper program found\n"
    )
    with capture_logs() as logs:
        watching.follow()
    out = capfdbinary.readouterr().out
    assert out == b"2026-12-02T10:00:00.000000Z [info     ] sync.cycle   paths=1 process=fsmonitor\n"
    assert [(e["event"], e.get("path"), e.get("from")) for e in logs if e["log_level"] == "info"] == [
        ("sync.copied", "a.txt", "host")
    ]
    assert [e["text"] for e in logs if e["event"] == "unison.error"] == [
        "Fatal error: No file monitoring helper program found"
    ]
    watching.close()


def test_what_unison_reported_is_logged_before_the_fsmonitor_line_that_follows_it(
    cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log keeps unison.log's order: a transfer before the ``sync.cycle flush=N`` line that
    ended the flush carrying it (the fuzzer's barrier: tests/fuzz/rig.py flush).  Before, a
    batch's transfers were logged after all of its forwarded lines."""
    order: list[str] = []

    class Out:
        def write(self, line: bytes) -> None:
            order.append(line.split()[3].decode())  # the fsmonitor's event

        def flush(self) -> None:
            pass

    class Log:
        def info(self, event: str, **fields: object) -> None:
            order.append(f"{event} {fields.get('path')}")

    monkeypatch.setattr("sys.stdout", type("Stdout", (), {"buffer": Out()})())
    monkeypatch.setattr("engine.supervise.watching.log", Log())
    src, dest = str(cfg.unison_src).encode(), str(cfg.unison_dest).encode()

    def cycle(name: bytes) -> bytes:
        return (
            b"new file ---->            " + name + b"  \n"
            b"[BGN] Copying " + name + b" from " + src + b" to " + dest + b"\n"
            b"Synchronization complete at 10:00:00  (1 item transferred, 0 skipped, 0 failed)\n"
        )

    watching = Watching(cfg)
    (cfg.runtime_dir / "unison.log").write_bytes(
        cycle(b"a.txt")
        + b"2026-12-02T10:00:00.000000Z [info     ] sync.cycle   flush=1 process=fsmonitor\n"
        + cycle(b"b.txt")
        + b"2026-12-02T10:00:01.000000Z [info     ] rescan       process=fsmonitor\n"
    )
    watching.follow()
    assert order == ["sync.copied a.txt", "sync.cycle", "sync.copied b.txt", "rescan"]
    watching.close()


# --- cold-start progress -------------------------------------------------------------------


def test_a_cold_start_logs_progress_at_its_pace_while_copying_and_indexing(
    cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted with a real run at a 10x pace (0.2 s for 2 s): no gap over 1.5 times the pace
    (plus the 0.1 s the lines round their seconds to).  The copy is held (the test seam) until
    two lines came in it, and the indexing until one came in it: however fast the machine, both
    phases are long enough to show lines, which must come while the copy does nothing."""
    for i in range(6000):
        write(cfg.unison_src / f"d{i // 100}" / f"f{i:04d}.txt", "x" * 100)
    monkeypatch.setattr(coldstart, "PROGRESS_EVERY", 0.2)

    def lines(phase: str | None = None) -> list[MutableMapping[str, Any]]:
        shown = [e for e in list(logs) if e["event"] == "coldstart.progress"]
        return [e for e in shown if phase is None or e["phase"] == phase]

    def hold_until(phase: str, wanted: int) -> None:
        wait_for(lambda: len(lines(phase)) >= wanted, 30, f"{wanted} progress lines in {phase}")

    def hook(phase: str, files: int) -> None:
        if phase == "copying" and files == 3000:
            hold_until("copying", 2)
        elif phase == "indexing":
            hold_until("indexing", 1)

    monkeypatch.setattr(coldstart, "HOOK", hook)
    with capture_logs() as logs:
        coldstart.run(cfg, threading.Event(), lambda: None)
    assert len(lines("copying")) >= 2 and len(lines("indexing")) >= 1, [e["event"] for e in logs]
    shown = lines()
    assert all(b["seconds"] - a["seconds"] <= 0.3 + 0.1 for a, b in itertools.pairwise(shown)), shown
    assert [e["files"] for e in shown] == sorted(e["files"] for e in shown)
    assert all(e["bytes"] == e["files"] * 100 for e in shown)
    assert {e["phase"] for e in shown} <= {"copying", "indexing"}
    assert not (cfg.runtime_dir / "progress.json").exists()  # status shows it only while it runs


# --- the verifier at idle ------------------------------------------------------------------


def a_pass(at: float, differing: frozenset[str] = frozenset()) -> Pass:
    return Pass(("/a", "/b"), differing, (), 100, 0.01, 0.01, 10.0, at)


def test_an_idle_verifier_says_one_summary_every_few_minutes_at_info() -> None:
    books = drift.Drift()
    with capture_logs() as logs:
        for i in range(60):  # 10 minutes of passes every 10 s, nothing found
            books.passed(a_pass(1000.0 + 10 * i))
        books.passed(a_pass(1600.0, frozenset({"x"})))
    info = [e["event"] for e in logs if e["log_level"] == "info"]
    assert info == ["verify.summary", "verify.pass"]
    assert len([e for e in logs if e["event"] == "verify.pass"]) == 61  # every pass at debug
