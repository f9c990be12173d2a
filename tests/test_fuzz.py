"""The model-based sync fuzzer (tests/fuzz/) against the real engine.

The short run is part of the suite: fixed seeds, derandomized, a few hundred
steps.  ``make fuzz`` runs the long one (``FUZZ_SECONDS``, ``FUZZ_STEPS``,
``FUZZ_SEED``, ``FUZZ_UNISON_BIN``, ``FUZZ_SHRINK``; README "Fuzzing").  A failing example the
fuzzer found is kept below as an ordinary test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from engine.state.shared import FSMONITOR_FILE, FsmonitorStatus
from engine.unison.conflicts import STORE
from tests.fuzz import crash, machine, observe, owners, races
from tests.fuzz.machine import SyncMachine
from tests.fuzz.model import CONFLICT_COPY, Race, Tree, Window, check
from tests.fuzz.rig import FLUSH, STATS, Rig, converged, flush, in_store
from tests.helpers import Engine, read, snapshot, unison_temps, wait_for

pytestmark = [pytest.mark.engine, pytest.mark.fuzz]

QUIET = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
SHORT_SEEDS = (1, 2, 3)


def _engine_env() -> dict[str, str]:
    unison = os.environ.get("FUZZ_UNISON_BIN")
    return {"UNISON_BIN": unison} if unison else {}


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    made = Rig(_engine_env())
    machine.RIG = made
    try:
        yield made
    finally:
        machine.RIG = None
        made.close()


def _settings(examples: int, steps: int, shrink: bool = True) -> settings:
    """``shrink``: look for the shortest failing sequence (minutes with kills in it: the long run)."""
    return settings(
        phases=tuple(Phase) if shrink else (Phase.explicit, Phase.reuse, Phase.generate),
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=QUIET,
        print_blob=True,
    )


@pytest.mark.timeout(180)
@pytest.mark.parametrize("fixed", SHORT_SEEDS)
def test_short_fuzz_run(rig: Rig, fixed: int) -> None:
    """A few dozen steps per seed, the same ones every time (bounded: see the timeout); not
    shrunk (with kills that takes minutes): a failure shows the steps as first seen."""
    seen = len(STATS.violations)
    try:
        short = _settings(examples=3, steps=24, shrink=False)
        run_state_machine_as_test(seed(fixed)(SyncMachine), settings=short)
    except Exception as e:  # the violation as first seen, with the steps before it
        if len(STATS.violations) == seen:
            raise
        first = STATS.violations[seen]
        steps = "\n  ".join(first["trace"])
        raise AssertionError(f"seed {fixed}: {first['error']}\nafter:\n  {steps}") from e


@pytest.mark.timeout(0)
@pytest.mark.skipif(
    not (os.environ.get("FUZZ_SECONDS") or os.environ.get("FUZZ_STEPS")),
    reason="make fuzz runs the long fuzz",
)
def test_long_fuzz_run(rig: Rig) -> None:
    """``make fuzz``: seed after seed until FUZZ_SECONDS have passed or FUZZ_STEPS were taken."""
    seconds = float(os.environ.get("FUZZ_SECONDS") or "inf")
    steps = int(os.environ.get("FUZZ_STEPS") or 10**9)
    first = int(os.environ.get("FUZZ_SEED") or int(time.time()))
    report = Path(os.environ.get("FUZZ_REPORT") or "fuzz-report.json")
    started = time.monotonic()
    seeds: list[int] = []
    failures: list[dict[str, object]] = []

    def write_report() -> None:  # after every seed: a run stopped early still tells
        found = {
            "seeds": seeds,
            "steps": STATS.steps,
            "examples": STATS.examples,
            "settles": STATS.settles,
            "conflicts": STATS.conflicts,
            "drift_repaired": STATS.drift_repaired,
            "kills": dict(sorted(STATS.kills.items())),
            "races": STATS.races,
            "owner_waits": STATS.owner_waits,
            "unrecorded_conflicts": STATS.unrecorded_conflicts,
            "caught_in_progress": STATS.caught_in_progress,
            "seconds": round(time.monotonic() - started, 1),
            "failures": failures,
            "notes": STATS.notes,
            "violations": STATS.violations,
        }
        report.write_text(json.dumps(found, indent=2) + "\n")

    current = first
    while time.monotonic() - started < seconds and STATS.steps < steps:
        seeds.append(current)
        try:
            machine_at_seed = seed(current)(SyncMachine)
            long = _settings(examples=5, steps=50, shrink=os.environ.get("FUZZ_SHRINK", "1") != "0")
            run_state_machine_as_test(machine_at_seed, settings=long)
        except Exception as e:  # recorded with its seed; the next seed runs on a fresh engine
            # a "Flaky" error holds the first failure as a sub-exception: its words say what it was
            inner = "".join(f"\n  {x!r}" for x in getattr(e, "exceptions", ()))
            failures.append({"seed": current, "error": f"{type(e).__name__}: {e}{inner}"[:4000]})
            print(f"\nfuzz: seed {current} failed:\n{e}", flush=True)
            rig.replace()
        write_report()
        current += 1
    write_report()
    assert not failures, f"{len(failures)} seeds failed: see {report}"


def test_a_change_made_alike_on_both_sides_at_once_does_not_turn_the_next_save_into_a_conflict(
    rig: Rig,
) -> None:
    """Found by the fuzzer (its reset deleted both trees at once): unison never heard of the
    deletion, and a file created there afterwards went into a conflict copy."""
    engine = rig.fresh()
    (engine.host / "b").write_text("synced")
    wait_for(lambda: read(engine.app / "b") == "synced", 30, "b synced")
    wait_for(lambda: converged(engine), 30, "quiet")
    status = engine.runtime / "fsmonitor" / "fsmonitor.json"
    monitor = json.loads(status.read_text())["pid"]
    os.kill(monitor, signal.SIGSTOP)  # both deletions land in one batch of events
    try:
        cycles = engine.logs().count("sync.cycle")
        (engine.host / "b").unlink()
        (engine.app / "b").unlink()
    finally:
        os.kill(monitor, signal.SIGCONT)
    # a whole sync cycle after the deletions: unison has had its chance to record them
    wait_for(
        lambda: engine.logs().count("sync.cycle") >= cycles + 2, 30, "two sync cycles", detail=engine.logs
    )
    (engine.app / "b").write_text("new in the app")
    wait_for(
        lambda: read(engine.host / "b") == "new in the app", 30, "the new b on the host", detail=engine.logs
    )
    wait_for(lambda: converged(engine), 30, "quiet")
    assert sorted(p.name for p in engine.host.iterdir() if p.name != STORE) == ["b"]


def _quiet_and_flushed(engine: Engine) -> None:
    # after a kill: until then the runtime folder holds what the killed processes wrote
    wait_for(lambda: crash.watching_unison(engine), crash.UP, "unison watching (again)")
    wait_for(lambda: converged(engine), 60, "equal trees, nothing pending")
    flush(engine)
    wait_for(lambda: converged(engine), 60, "equal trees after the flush")


def _kept(engine: Engine) -> list[Path]:
    return [p for p in (engine.host / STORE).rglob("*") if p.is_file() and p.name != ".gitignore"]


@pytest.mark.parametrize("kind", crash.KINDS)
@pytest.mark.parametrize("start", ["flushed", "right_after_a_kill"])
def test_a_save_answering_a_synced_save_survives_a_kill_without_a_conflict(
    rig: Rig, kind: str, start: str
) -> None:
    """The crash hole of a deferred archive write (issue 24), as the fuzzer's
    ``kill_after_synced_edit`` makes it: the host's save syncs, the app saves the file again at
    once, and unison (or the whole engine) dies before anything else happens.  Not concurrent:
    after the restart the app's save stands on both sides and no conflict copy is made.  (An
    archive that did not yet know the first sync would see the file changed on both sides.)
    ``right_after_a_kill``: the sequence of seed 3002, where the save is made while the new
    unison's first scan is (often) under way; the answer waits for the end of the cycle that
    carried the save, not of the one under way (a kill between the two made conflicts)."""
    engine = rig.fresh()
    (engine.host / "f.txt").write_bytes(b"first")
    owners.give(engine.host / "f.txt", owners.HOST_OWNER)
    _quiet_and_flushed(engine)
    if start == "right_after_a_kill":
        crash.kill_unison(engine)
        wait_for(lambda: crash.watching_unison(engine) and converged(engine), crash.UP, "watching again")
    (engine.host / "f.txt").write_bytes(b"the host's save")
    wait_for(lambda: read(engine.app / "f.txt") == "the host's save", 30, "the host's save synced")
    carrying = crash.cycle_under_way(engine)
    wait_for(lambda: crash.cycle_ended(engine, carrying), 30, "the cycle that synced it ended")
    (engine.app / "f.txt").write_bytes(b"the app's answer")
    if kind == "engine":
        assert crash.kill_engine(engine), "both sides hold f.txt: the whole engine is killed"
        crash.restart(engine)
    else:
        crash.kill_unison(engine)
    _quiet_and_flushed(engine)
    assert read(engine.host / "f.txt") == read(engine.app / "f.txt") == "the app's answer"
    assert _kept(engine) == [], "a conflict copy of a save that was not concurrent"
    assert engine.status()["conflicts"]["count"] == 0
    assert unison_temps(engine.host, engine.app) == []
    status = wait_for(lambda: (s := engine.status())["state"] == "watching" and s, 30, "watching again")
    assert status["problems"] == []


def test_the_conflict_store_is_owned_by_the_host_folders_owner(rig: Rig) -> None:
    if not owners.enabled():
        pytest.skip("only root can give owners")
    engine = rig.fresh()
    (engine.host / "shared.txt").write_bytes(b"original")
    owners.give(engine.host / "shared.txt", owners.HOST_OWNER)
    _quiet_and_flushed(engine)
    pid = wait_for(lambda: crash.watching_unison(engine), 30, "watch-mode unison")
    os.kill(pid, signal.SIGSTOP)  # both saves happen while unison cannot look: truly concurrent
    try:
        (engine.host / "shared.txt").write_bytes(b"host version")
        (engine.app / "shared.txt").write_bytes(b"app version")
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: _kept(engine), 30, "the app's version kept")
    _quiet_and_flushed(engine)
    assert owners.wrong_owners(engine.host / STORE, owners.HOST_OWNER) == []


def test_a_host_save_racing_an_app_delete_stands_on_both_sides(rig: Rig) -> None:
    """Found by the fuzzer's edit_races_delete: the host (the preferred side) saves a file while
    the app deletes it; a change beats a delete and the host is preferred, so the host's save
    must stand in both trees (not only as a kept copy, with the file gone from the host).
    Stock unison's -copyonconflict wrote it to the app only under a '_was_deleted' conflict
    name and recorded the path as synced, so the next sync deleted it from the host: our patch
    0009 (tests/test_unison_recovery.py)."""
    engine = rig.fresh()
    (engine.host / "a.txt").write_bytes(b"before")
    owners.give(engine.host / "a.txt", owners.HOST_OWNER)
    _quiet_and_flushed(engine)
    pid = wait_for(lambda: crash.watching_unison(engine), 30, "watch-mode unison")
    os.kill(pid, signal.SIGSTOP)  # the save and the delete happen while unison cannot look
    try:
        (engine.host / "a.txt").write_bytes(b"the host's save")
        (engine.app / "a.txt").unlink()
    finally:
        os.kill(pid, signal.SIGCONT)
    _quiet_and_flushed(engine)
    assert read(engine.host / "a.txt") == "the host's save"
    assert read(engine.app / "a.txt") == "the host's save"
    assert _kept(engine) == [], "nothing was overwritten or deleted: nothing to keep"


def test_an_app_edit_the_host_deleted_after_it_crossed_is_no_loss_to_the_model(rig: Rig) -> None:
    """Seed 6009 (and, by their steps, 4004, 4013 and 4300): the app saves X.txt, the host
    deletes X.txt 8 ms later, and the model called the app's save lost (gone from both trees,
    no kept copy).  unison had
    carried the save to the host before the host's delete (the log said so: ``sync.copied``
    to the host, then ``sync.deleted``), a delete that followed the sync, which the model
    allows; but ``run`` reads unison's output every half second, and the fuzzer read the log
    right after its flush, before those lines were in it.  Its flush (tests/fuzz/rig.py)
    now waits for the fsmonitor's ``sync.cycle flush=N`` line in the log, and the engine logs
    unison's transfers before the line that follows them (engine/supervise/watching.py).
    Here ``run`` stands still (SIGSTOP) through the whole race, as if it were late to read."""
    engine = rig.fresh()
    (engine.host / "X.txt").write_bytes(b"before")
    owners.give(engine.host / "X.txt", owners.HOST_OWNER)
    _quiet_and_flushed(engine)
    mark = engine.log.stat().st_size
    assert engine.proc is not None
    run = engine.proc.pid
    edit = b"the app's save"
    done = threading.Event()

    def flush_and_tell() -> None:
        flush(engine)
        done.set()

    flusher = threading.Thread(target=flush_and_tell)
    os.kill(run, signal.SIGSTOP)  # unison and its fsmonitor go on; the log lags behind them
    try:
        (engine.app / "X.txt").write_bytes(edit)
        wait_for(lambda: (engine.host / "X.txt").read_bytes() == edit, 30, "the app's save on the host")
        (engine.host / "X.txt").unlink()  # after the save crossed: a delete of the app's save
        wait_for(lambda: not (engine.app / "X.txt").exists(), 30, "the delete carried to the app")
        before = _flushes(engine)
        flusher.start()
        wait_for(lambda: _flushes(engine) > before, FLUSH, "the flush done by the fsmonitor")
        # a bounded look for what must not happen: the flush's end is not in the log yet
        assert not done.wait(0.5), "the fuzzer's flush returned before run had logged it"
    finally:
        os.kill(run, signal.SIGCONT)
    flusher.join(FLUSH + 70)
    assert done.is_set()
    race = Race("X.txt", "X.txt", "app", {"X.txt": ("file", 0o644, b"before")}, edit)
    race.crossed = races.crossed(race, observe.log_events(engine, mark, ("sync.copied", "conflict")))
    window = Window(owner={"X.txt": "both"}, races=[race])
    host = snapshot(engine.host, skip=in_store, keep_temps=True)
    assert check(Tree({"X.txt": ("file", 0o644, b"before")}), window, host, host) == []


def test_a_conflict_copy_kept_in_a_folder_the_host_deletes_next_reaches_the_store(rig: Rig) -> None:
    """Seed 7101: the app saved a/a while the host ran ``rm -rf a``.  unison saw a/a deleted on
    the host in one cycle (a conflict: the app's save kept as ``a/a (conflict_on_...)`` in the
    app's a) and the folder deleted in the next, which took the copy with it before ``run`` had
    moved it to the store.  The fsmonitor now holds unison's next cycle until the copy is gone."""
    engine = rig.fresh()
    (engine.host / "a").mkdir()
    for name in ("a", "b"):
        (engine.host / "a" / name).write_bytes(b"before")
        owners.give(engine.host / "a" / name, owners.HOST_OWNER)
    owners.give(engine.host / "a", owners.HOST_OWNER)
    _quiet_and_flushed(engine)
    pid = wait_for(lambda: crash.watching_unison(engine), 30, "watch-mode unison")
    os.kill(pid, signal.SIGSTOP)  # the save and the file's deletion in one cycle: a conflict
    try:
        (engine.app / "a" / "a").write_bytes(b"the app's save")
        (engine.host / "a" / "a").unlink()
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(
        lambda: (
            [p for p in (engine.app / "a").iterdir() if CONFLICT_COPY.search(p.name)]
            or [p for p in _kept(engine) if p.read_bytes() == b"the app's save"]
        ),
        30,
        "the app's save kept",
        detail=engine.logs,
    )
    shutil.rmtree(engine.host / "a")  # the rest of rm -rf a, at once
    _quiet_and_flushed(engine)
    assert [p.read_bytes() for p in _kept(engine)] == [b"the app's save"]
    assert not (engine.app / "a").exists()


def test_an_app_save_part_way_when_the_hosts_delete_wins_is_kept_as_far_as_it_got(rig: Rig) -> None:
    """The delete-first race of the fuzzer's edit_races_delete (app edit, host delete 1 ms
    before), one run in about 60 on a loaded machine: the host deletes X.txt, the app's save
    has truncated X.txt and not yet written it when unison looks.  unison sees a conflict
    (deleted on the host, changed on the app), the host's delete wins, the app's file as it
    was then (empty) is kept, and the file is deleted; the save's bytes go into the deleted
    file.  No sync tool can keep what was written after it deleted the file: the model
    counts the copy as the edit kept (tests/fuzz/model.py Race.kept_as)."""
    engine = rig.fresh()
    (engine.host / "X.txt").write_bytes(b"before")
    owners.give(engine.host / "X.txt", owners.HOST_OWNER)
    _quiet_and_flushed(engine)
    mark = engine.log.stat().st_size
    kept_before = {e.kept for e in observe.kept_copies(engine)}
    edit = b"the app's save"
    pid = wait_for(lambda: crash.watching_unison(engine), crash.UP, "watch-mode unison")
    os.kill(pid, signal.SIGSTOP)  # unison looks once both have happened
    try:
        (engine.host / "X.txt").unlink()
        save = os.open(engine.app / "X.txt", os.O_WRONLY | os.O_TRUNC)  # the save begins
    finally:
        os.kill(pid, signal.SIGCONT)
    try:
        wait_for(lambda: not (engine.app / "X.txt").exists(), 30, "the host's delete won on the app")
        os.write(save, edit)  # the rest of the save, into the file the sync deleted
    finally:
        os.close(save)
    _quiet_and_flushed(engine)
    kept = [
        found
        for e in observe.kept_copies(engine)
        if e.kept not in kept_before
        for found in observe.kept_files(e.path, e.kept)
    ]
    assert kept == [("X.txt", b"")], "the app's file as unison saw it: truncated"
    race = Race("X.txt", "X.txt", "app", {"X.txt": ("file", 0o644, b"before")}, edit)
    race.crossed = races.crossed(race, observe.log_events(engine, mark, ("sync.copied", "conflict")))
    window = Window(owner={"X.txt": "both"}, races=[race])
    host = snapshot(engine.host, skip=in_store, keep_temps=True)
    assert host == {}
    assert check(Tree({"X.txt": ("file", 0o644, b"before")}), window, host, host, kept) == []


def test_an_app_edit_that_crossed_before_the_hosts_delete_is_no_loss_across_a_crash(rig: Rig) -> None:
    """Seed 7004: the app saves b, the sync carries it, the host deletes b 8 ms after the save,
    and the whole engine is killed right after: the log never says the save crossed (``run``
    had not read unison's output, or unison had not flushed it), and the model called the
    save lost.  The fuzzer now looks at the deleting side right before its delete
    (tests/fuzz/races.py carried): the save was there, so the delete followed the sync."""
    engine = rig.fresh()
    (engine.host / "b").write_bytes(b"before")
    (engine.host / "other").write_bytes(b"keeps the roots non-empty")
    for name in ("b", "other"):
        owners.give(engine.host / name, owners.HOST_OWNER)
    _quiet_and_flushed(engine)
    mark = engine.log.stat().st_size
    assert engine.proc is not None
    os.kill(engine.proc.pid, signal.SIGSTOP)  # run reads nothing more before the crash
    edit = b"the app's save"
    (engine.app / "b").write_bytes(edit)
    wait_for(lambda: (engine.host / "b").read_bytes() == edit, 30, "the app's save on the host")
    seen = races.carried(engine.host, "b", edit)
    (engine.host / "b").unlink()
    wait_for(lambda: not (engine.app / "b").exists(), 30, "the delete carried to the app")
    assert crash.kill_engine(engine), "both roots hold a file: the whole engine is killed"
    crash.restart(engine)
    _quiet_and_flushed(engine)
    before = {"b": ("file", 0o644, b"before")}
    race = Race("b", "b", "app", before, edit, crossed=seen)
    race.crossed = race.crossed or races.crossed(race, observe.log_events(engine, mark, ("sync.copied",)))
    window = Window(owner={"b": "both"}, races=[race])
    host = snapshot(engine.host, skip=in_store, keep_temps=True)
    tree = Tree({**before, "other": ("file", 0o644, b"keeps the roots non-empty")})
    assert check(tree, window, host, host) == []


def _flushes(engine: Engine) -> int:
    return FsmonitorStatus.load(engine.runtime / FSMONITOR_FILE).flushes


def test_a_crash_right_after_the_first_file_of_an_empty_project_is_no_mass_deletion(rig: Rig) -> None:
    """Found by the fuzzer's engine kill: both roots empty and synced, the app writes its first
    file and the engine dies before syncing it; the start after the crash must carry the file
    to the host, not refuse to start as if a volume had not come up."""
    engine = rig.fresh()
    assert engine.proc is not None
    root = psutil.Process(engine.proc.pid)
    processes = [root, *root.children(recursive=True)]
    for proc in processes:  # the whole engine stands still: the new file cannot sync
        proc.send_signal(signal.SIGSTOP)
    (engine.app / "first.txt").write_bytes(b"the first file")
    owners.give(engine.app / "first.txt", owners.APP_OWNER)
    for proc in processes:
        proc.send_signal(signal.SIGKILL)
    engine.proc.wait(timeout=10)
    crash.restart(engine)
    engine.wait_watching()
    _quiet_and_flushed(engine)
    assert read(engine.host / "first.txt") == "the first file"


def test_a_kill_while_unison_replaces_its_archives_does_not_stop_the_next_start(rig: Rig) -> None:
    """Found by the fuzzer's engine kill (seed 2000, a run before the final one): the crash left the state
    that unison's archive commit has between its unlink and its link, made here on purpose.
    Stock unison 2.54.0 then used the new archives and failed on the missing old one it had
    looked for before ('inconsistent state', exit 3, at every start): our patch 0008
    (tests/test_unison_recovery.py)."""
    engine = rig.fresh()
    try:
        (engine.host / "f.txt").write_bytes(b"synced")
        owners.give(engine.host / "f.txt", owners.HOST_OWNER)
        _quiet_and_flushed(engine)
        assert crash.kill_engine(engine), "both sides hold f.txt: the whole engine is killed"
        unison_dir = Path(engine.env["UNISON"])
        archives = sorted(unison_dir.glob("ar*"))
        assert len(archives) == 2, archives
        for archive in archives:  # both new archives were written ("tm", as unison names them)
            shutil.copyfile(archive, unison_dir / f"tm{archive.name[2:]}")
        archives[0].unlink()  # and one root's archive unlinked, its new one not yet linked
        (engine.app / "f.txt").write_bytes(b"edited after the crash")
        crash.restart(engine)
        engine.wait_watching()
        (engine.app / "g.txt").write_bytes(b"made after the crash")
        _quiet_and_flushed(engine)
        assert read(engine.host / "g.txt") == "made after the crash"
        # the archives were used (nothing lost): an edit on one side is an update, not a conflict
        assert read(engine.host / "f.txt") == "edited after the crash"
        assert _kept(engine) == []
    finally:
        rig.replace()


@pytest.mark.parametrize("litter", [False, True])
def test_the_last_file_deleted_while_unison_restarts_is_deleted_on_the_other_side(
    rig: Rig, litter: bool
) -> None:
    """Found by the fuzzer (seeds 2003 and 2006 of the final run: 128 restarts in two minutes): unison
    dies (a crash; docker-sync's `supervisorctl restart unison` at every start does the same)
    and the app deletes its last file before the new unison looks.  The app root is the folder
    the engine started on: a real deletion, carried (engine/unison/emptied.py).  ``litter``:
    the app root also holds the temp file of a transfer the kill interrupted (seed 4307: unison
    skips it and saw the root emptied, the engine did not, and unison was started without
    -confirmbigdel=false again and again; the temp file stayed)."""
    engine = rig.fresh()
    try:
        (engine.host / "only.txt").write_bytes(b"the only file")
        owners.give(engine.host / "only.txt", owners.HOST_OWNER)
        _quiet_and_flushed(engine)
        pid = wait_for(lambda: crash.watching_unison(engine), crash.UP, "watch-mode unison")
        os.kill(pid, signal.SIGSTOP)  # the deletion happens while it cannot look, then it dies
        (engine.app / "only.txt").unlink()
        if litter:
            (engine.app / ".unison.big.0123456789abcdef.unison.tmp").write_bytes(b"a transfer's start")
        crash.kill_unison(engine)
        wait_for(lambda: not (engine.host / "only.txt").exists(), 30, "the deletion on the host")
        _quiet_and_flushed(engine)
        status = engine.status()
        assert (status["state"], status["unison"]["restarts"]) == ("watching", 1)
        assert engine.events("unison.exec")[-1]["command"][-1] == "-confirmbigdel=false"
    finally:
        rig.replace()


def test_an_emptied_root_that_is_another_folder_deletes_nothing_and_says_why(rig: Rig) -> None:
    """The case the one above must not become: unison restarts while the app root is another,
    empty folder (a volume unmounted, replaced).  Nothing is deleted on the host, unison is held
    (not started again and again), status says why and health fails; the folder back, the sync
    goes on with the same unison program."""
    engine = rig.fresh()
    away = engine.app.with_name(engine.app.name + "-away")
    try:
        (engine.host / "only.txt").write_bytes(b"the only file")
        owners.give(engine.host / "only.txt", owners.HOST_OWNER)
        _quiet_and_flushed(engine)
        pid = wait_for(lambda: crash.watching_unison(engine), crash.UP, "watch-mode unison")
        os.kill(pid, signal.SIGSTOP)
        st = engine.app.stat()
        engine.app.rename(away)  # another folder, empty, in its place: same owner and mode
        engine.app.mkdir(mode=st.st_mode & 0o7777)
        os.chown(engine.app, st.st_uid, st.st_gid)
        crash.kill_unison(engine)
        status = wait_for(lambda: (s := engine.status())["roots_error"] and s, 30, "the refusal in status")
        assert "APP_VOLUME" in status["roots_error"] and "not the folder" in status["roots_error"]
        assert status["state"] == "degraded" and engine.cli("health").returncode == 1
        assert read(engine.host / "only.txt") == "the only file"
        engine.wait_event("unison.held")
        restarts = status["unison"]["restarts"]
        engine.app.rmdir()
        away.rename(engine.app)  # the volume is back
        wait_for(lambda: engine.status()["roots_error"] is None, 30, "the refusal gone")
        _quiet_and_flushed(engine)
        (engine.app / "after.txt").write_bytes(b"back")
        owners.give(engine.app / "after.txt", owners.APP_OWNER)
        wait_for(lambda: read(engine.host / "after.txt") == "back", 30, "a new file synced")
        status = engine.status()
        assert (status["state"], status["unison"]["restarts"]) == ("watching", restarts)
        assert read(engine.host / "only.txt") == "the only file"
        assert len(engine.events("unison.held")) == 1
    finally:
        if away.exists() and not any(engine.app.iterdir()):
            engine.app.rmdir()
            away.rename(engine.app)
        rig.replace()


def _leave_a_conflict_copy(engine: Engine) -> Path:
    """What unison's -copyonconflict leaves when it dies before its line is read: the app's
    version of d/f.txt next to it, under unison's name for it (today's date)."""
    (engine.app / "d").mkdir(exist_ok=True)
    copy = engine.app / "d" / time.strftime("f (conflict_on_%Y-%m-%d).txt", time.gmtime())
    copy.write_bytes(b"the app's version")
    owners.give(copy, owners.APP_OWNER)
    return copy


def _synced_d_f(engine: Engine) -> None:
    """d/f.txt made on the app side and synced: unison wrote only into the host's d (the
    folders it wrote into are looked at for copies anyway: engine/unison/conflicts.py sweep)."""
    (engine.app / "d").mkdir()
    (engine.app / "d" / "f.txt").write_bytes(b"the app's first version")
    owners.give(engine.app / "d", owners.APP_OWNER)
    owners.give(engine.app / "d" / "f.txt", owners.APP_OWNER)
    _quiet_and_flushed(engine)


def test_a_conflict_copy_a_killed_engine_left_in_the_app_tree_goes_to_the_store(rig: Rig) -> None:
    """Found by the fuzzer's engine kills (seeds 2015 and 2020: a conflict copy in the app tree
    for good, the trees never equal again): the run that would have kept it was killed, its
    unison's output went with the runtime folder, and the next unison ignores the name.  The
    start after a run that did not stop looks for such copies (engine/unison/leftovers.py)."""
    engine = rig.fresh()
    _synced_d_f(engine)
    assert crash.kill_engine(engine), "both sides hold d/f.txt: the whole engine is killed"
    copy = _leave_a_conflict_copy(engine)
    crash.restart(engine)
    engine.wait_watching()
    wait_for(lambda: not copy.exists(), 30, "the copy out of the app tree")
    _quiet_and_flushed(engine)
    assert [read(p) for p in _kept(engine)] == ["the app's version"]
    assert engine.status()["conflicts"]["list"][0]["path"] == "d/f.txt"


def test_a_conflict_copy_a_killed_unison_left_in_the_app_tree_goes_to_the_store(rig: Rig) -> None:
    """The same left by watch-mode unison alone (``kill -9``; supervisord starts it again): the
    first check after the restart looks for such copies."""
    engine = rig.fresh()
    _synced_d_f(engine)
    pid = wait_for(lambda: crash.watching_unison(engine), crash.UP, "watch-mode unison")
    os.kill(pid, signal.SIGSTOP)  # it made the copy, and dies before it says so
    copy = _leave_a_conflict_copy(engine)
    crash.kill_unison(engine)
    wait_for(lambda: not copy.exists(), 30, "the copy out of the app tree")
    _quiet_and_flushed(engine)
    assert [read(p) for p in _kept(engine)] == ["the app's version"]


def test_a_write_in_place_caught_by_a_concurrent_save_keeps_what_it_had_written(rig: Rig) -> None:
    """The model's exception for seed 4305 (tests/fuzz/model.py), shown on the engine: the app
    saves in place (truncate, then write) and the host's save of the same file crosses between
    the two.  unison keeps the app's file as it was (empty) and renames the host's over it; the
    app's bytes then go through its descriptor into the replaced file, which no sync can see."""
    engine = rig.fresh()
    (engine.host / "a.txt").write_bytes(b"before")
    owners.give(engine.host / "a.txt", owners.HOST_OWNER)
    _quiet_and_flushed(engine)
    with open(engine.app / "a.txt", "r+b") as app_save:
        app_save.truncate(0)  # the app's save has begun
        (engine.host / "a.txt").write_bytes(b"the host's save")
        wait_for(lambda: read(engine.app / "a.txt") == "the host's save", 30, "the host's save crossed")
        app_save.write(b"the app's save")
    _quiet_and_flushed(engine)
    assert read(engine.host / "a.txt") == read(engine.app / "a.txt") == "the host's save"
    assert [p.read_bytes() for p in _kept(engine)] == [b""]
