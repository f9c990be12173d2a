"""The drift verifier: walk, books; unison's temp files (pacing: tests/test_pacing.py).

engine/fsmonitor/verifier.py, drift.py; engine/unison/litter.py.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from engine.config import ConfigError, load
from engine.config.ignore import IgnoreMatcher
from engine.fs.compare import differs
from engine.fs.treesig import Signer
from engine.fsmonitor import walker as walker_module
from engine.fsmonitor.drift import UNREPAIRED_PASSES, Drift
from engine.fsmonitor.inotify import Watcher
from engine.fsmonitor.monitor import build_monitor
from engine.fsmonitor.pacing import BIG_BOUND, DRIFT_BOUND, FLOOR, drift_bound
from engine.fsmonitor.protocol import quote
from engine.fsmonitor.verifier import Pass, VerifierThread, Walker
from engine.unison import litter
from tests.helpers import wait_for

TEMP = ".unison.a.txt.0123456789abcdef.unison.tmp"


@pytest.fixture
def trees(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        (root / "d" / "e").mkdir(parents=True)
        (root / "same.txt").write_text("same")
        (root / "d" / "e" / "deep.txt").write_text("deep")
        os.symlink("same.txt", root / "link")
    return a, b


@pytest.fixture(params=["python", "helper"])
def signer(request: pytest.FixtureRequest) -> Signer | None:
    """The walker signs the host's folders in Python, or with native-sync-treesig (what the engine uses)."""
    if request.param == "python":
        return None
    found = Signer.found()
    assert found is not None, "native-sync-treesig is not on PATH (make deps builds it)"
    return found


def walk(walker: Walker, a: Path, b: Path, contents: bool = True) -> set[str]:
    differing, _, _ = walker.walk(str(a), str(b), contents)
    return differing


def test_equal_trees_do_not_differ(trees: tuple[Path, Path], signer: Signer | None) -> None:
    a, b = trees
    walker = Walker(lambda rel: False, signer=signer)
    differing, temps, checked = walker.walk(str(a), str(b))
    assert (differing, temps, checked) == (set(), [], 5)


def test_a_baseline_reads_the_files_changed_since_a_trusted_start(
    trees: tuple[Path, Path], signer: Signer | None
) -> None:
    """A baseline walk compares no contents, except of files whose ctime (either side) is ``since_ns``
    or later: a same-size edit made before the watches of a trusted start were up (patch 0006)."""
    a, b = trees
    (b / "d" / "e" / "deep.txt").write_text("DEEP")  # same size
    changed = (b / "d" / "e" / "deep.txt").stat().st_ctime_ns
    assert walk(Walker(lambda rel: False, signer=signer), a, b, contents=False) == set()
    walker = Walker(lambda rel: False, signer=signer)
    assert walker.walk(str(a), str(b), False, since_ns=changed)[0] == {"d/e/deep.txt"}
    assert walker.walk(str(a), str(b), False, since_ns=changed + 1)[0] == set()


def test_type_size_exec_bit_link_target_and_presence_are_compared(
    trees: tuple[Path, Path], signer: Signer | None
) -> None:
    a, b = trees
    walker = Walker(lambda rel: False, signer=signer)
    (a / "new.txt").write_text("only here")
    (a / "d" / "e" / "deep.txt").write_text("longer now")
    (b / "same.txt").chmod(0o755)
    (b / "link").unlink()
    os.symlink("elsewhere", b / "link")
    (a / "kind").mkdir()
    (b / "kind").write_text("a file")
    assert walk(walker, a, b) == {"new.txt", "d/e/deep.txt", "same.txt", "link", "kind"}


def test_contents_are_compared_only_where_a_stat_changed(
    trees: tuple[Path, Path], signer: Signer | None
) -> None:
    a, b = trees
    walker = Walker(lambda rel: False, signer=signer)
    (a / "same.txt").write_text("SAME")  # same size, other contents
    assert walk(walker, a, b, contents=False) == set()  # the baseline: metadata only
    assert walk(walker, a, b) == set()  # nothing changed since: contents not read
    (a / "same.txt").write_text("Same")  # a new stat on one side: contents compared
    assert walk(walker, a, b) == {"same.txt"}
    assert walk(walker, a, b) == {"same.txt"}  # a difference is not remembered as seen
    (b / "same.txt").write_text("Same")
    assert walk(walker, a, b) == set()


def test_a_folder_unchanged_on_the_host_and_equal_last_time_is_not_listed_on_the_app_side(
    trees: tuple[Path, Path], signer: Signer | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 24: at 400k files a pass cost 3.3 s of CPU, both trees listed and stat'ed in full."""
    a, b = trees
    listed: list[tuple[str, str]] = []
    entries = walker_module._entries

    def counting(root: str, rel: str) -> dict[str, os.DirEntry[str]] | None:
        listed.append((root, rel))
        return entries(root, rel)

    monkeypatch.setattr(walker_module, "_entries", counting)
    walker = Walker(lambda rel: False, signer=signer)
    assert walk(walker, a, b, contents=False) == set()
    listed.clear()
    assert walk(walker, a, b) == set()
    assert sorted(rel for root, rel in listed if root == str(b)) == []  # the app side was not read
    # the host's was, unless the helper signed it (it lists and stats in one run of its own)
    assert sorted(rel for root, rel in listed if root == str(a)) == ([] if signer else ["", "d", "d/e"])
    (a / "d" / "e" / "deep.txt").write_text("DEEP")  # same size, in place, on the host only
    (a / "d" / "new.txt").write_text("new")
    listed.clear()
    assert walk(walker, a, b) == {"d/e/deep.txt", "d/new.txt"}
    # the changed folders: d/e, d, and in Python's signature the root, where d's own times changed
    # (a file was made in it); the helper signs a folder by its type, bits and inode only
    assert sorted(rel for root, rel in listed if root == str(b)) == (
        ["d", "d/e"] if signer else ["", "d", "d/e"]
    )
    assert walk(walker, a, b) == {"d/e/deep.txt", "d/new.txt"}  # still there: compared again
    (b / "d" / "e" / "deep.txt").write_text("DEEP")
    (b / "d" / "new.txt").write_text("new")
    assert walk(walker, a, b) == set()


def test_equal_big_files_are_not_drift(
    trees: tuple[Path, Path], signer: Signer | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = trees
    monkeypatch.setattr("engine.fsmonitor.walker.CONTENT_LIMIT", 8)
    monkeypatch.setattr("engine.fs.compare.CONTENT_LIMIT", 8)
    walker = Walker(lambda rel: False, signer=signer)
    walk(walker, a, b, contents=False)
    for root in (a, b):
        (root / "big.bin").write_bytes(b"0123456789" * 3)
    assert walk(walker, a, b) == set()
    (a / "big.bin").write_bytes(b"0123456789" * 2 + b"9876543210")
    assert walk(walker, a, b) == {"big.bin"}


def test_ignored_paths_are_not_walked_and_temp_files_are_collected(
    trees: tuple[Path, Path], signer: Signer | None
) -> None:
    a, b = trees
    (a / "d" / "only-a.txt").write_text("x")
    (a / "cache").mkdir()
    (a / "cache" / "x").write_text("x")
    (b / "d" / TEMP).write_text("partial")
    walker = Walker(IgnoreMatcher(("Name cache", "Path d/only-a.txt")).ignored, signer=signer)
    differing, temps, _ = walker.walk(str(a), str(b))
    assert differing == set()
    assert temps == [str(b / "d" / TEMP)]


def test_a_folder_missing_on_one_side_is_one_difference(
    trees: tuple[Path, Path], signer: Signer | None
) -> None:
    a, b = trees
    (a / "d" / "e" / "deep.txt").unlink()
    (a / "d" / "e").rmdir()
    assert walk(Walker(lambda rel: False, signer=signer), a, b) == {"d/e"}


def test_the_helper_signs_each_folder_by_its_entries_names_and_stats(trees: tuple[Path, Path]) -> None:
    a, _ = trees
    signer = Signer.found()
    assert signer is not None, "native-sync-treesig is not on PATH (make deps builds it)"
    folders = ["", "d", "d/e", "missing"]
    before = signer.sign(str(a), folders)
    assert before is not None and before["missing"] is None
    assert len({before[f] for f in folders[:3]}) == 3 and None not in [before[f] for f in folders[:3]]
    assert signer.sign(str(a), folders) == before  # nothing changed: the same signatures
    (a / "d" / "e" / "deep.txt").write_text("DEEP")  # same size, in place
    after = signer.sign(str(a), folders)
    assert after is not None
    assert [f for f in folders if after[f] != before[f]] == ["d/e"]
    (a / "same.txt").chmod(0o600)
    again = signer.sign(str(a), folders)
    assert again is not None and [f for f in folders if again[f] != after[f]] == [""]
    signer.take_cpu()
    assert signer.cpu_seconds == 0.0  # taken: the next pass counts only its own


def test_the_first_walk_has_every_folder_signed_before_it_compares(trees: tuple[Path, Path]) -> None:
    """The memos of the first walk hold the helper's signatures: the next walk lists no host folder."""
    a, b = trees
    found = Signer.found()
    assert found is not None, "native-sync-treesig is not on PATH (make deps builds it)"
    asked: list[list[str]] = []

    class Recording(Signer):
        def sign(
            self, root: str, folders: list[str], fresh_ns: int | None = None, timeout: float | None = None
        ) -> dict[str, int | None] | None:
            asked.append(sorted(folders))
            return super().sign(root, folders, fresh_ns, timeout)

    walker = Walker(IgnoreMatcher(("Name e",)).ignored, signer=Recording(found.helper))
    assert walk(walker, a, b, contents=False) == set()
    assert asked == [["", "d"]]  # every folder the walk goes into, before it compared any (not d/e)
    (a / "d" / "new.txt").write_text("new")
    assert walk(walker, a, b) == {"d/new.txt"}
    assert asked[1] == ["", "d"]


def test_a_failing_helper_leaves_the_signing_to_python(trees: tuple[Path, Path]) -> None:
    a, b = trees
    walker = Walker(lambda rel: False, signer=Signer("/bin/false"))
    with capture_logs() as logs:
        assert walk(walker, a, b, contents=False) == set()
    assert [e["event"] for e in logs] == ["treesig.failed"]
    (a / "d" / "e" / "deep.txt").write_text("DEEP")
    assert walk(walker, a, b) == {"d/e/deep.txt"}


def test_the_helpers_cpu_is_the_passes(trees: tuple[Path, Path]) -> None:
    """The pacer keeps the verifier's share of a core: what the helper spends is counted in it."""
    a, b = trees

    class Costly(Signer):
        def sign(
            self, root: str, folders: list[str], fresh_ns: int | None = None, timeout: float | None = None
        ) -> dict[str, int | None] | None:
            self.cpu_seconds += 2.5
            return super().sign(root, folders, fresh_ns, timeout)

    found = Signer.found()
    assert found is not None, "native-sync-treesig is not on PATH (make deps builds it)"
    thread = VerifierThread(lambda rel: False, 60.0)
    thread.walker.signer = Costly(found.helper)
    assert thread.one_pass((str(a), str(b))).cpu_seconds >= 2.5
    assert thread.one_pass((str(a), str(b))).cpu_seconds < 2.5 * 2


def a_pass(*differing: str, temps: tuple[str, ...] = ()) -> Pass:
    return Pass(("/a", "/b"), frozenset(differing), temps, 10, 0.1, 0.05, FLOOR, 1_800_000_000.0)


def test_drift_is_reported_until_it_is_given_up_and_shown() -> None:
    drift = Drift()
    for _ in range(UNREPAIRED_PASSES):
        drift.passed(a_pass("stuck.txt"))
        assert drift.take(lambda rel: True) == {"stuck.txt"}
    with capture_logs() as logs:
        drift.passed(a_pass("stuck.txt"))
    assert drift.take(lambda rel: True) == set()
    assert drift.unrepaired == {"stuck.txt"}
    assert next(e for e in logs if e["event"] == "drift.unrepaired")["path"] == "stuck.txt"
    drift.passed(a_pass())  # the path no longer differs
    assert drift.unrepaired == set()
    assert drift.strikes == {}


def test_a_difference_gone_by_the_time_of_reporting_is_not_reported() -> None:
    drift = Drift()
    drift.passed(a_pass("a.txt", "b.txt"))
    assert drift.take(lambda rel: rel == "b.txt") == {"b.txt"}


def test_the_thread_walks_and_wakes_the_loop(trees: tuple[Path, Path]) -> None:
    a, b = trees
    (b / "d" / TEMP).write_text("partial")
    (a / "extra.txt").write_text("x")
    thread = VerifierThread(lambda rel: False, 60.0)
    thread.roots = (str(a), str(b))
    thread.start()
    try:
        found = wait_for(thread.results, 20, "the first pass")
    finally:
        thread.stop.set()
        thread.join(10)
    first = found[0]
    assert first.baseline and first.differing == {"extra.txt"}
    assert first.temps == (str(b / "d" / TEMP),)
    assert first.pause == 60.0


def test_the_first_walk_does_not_set_the_pace(
    trees: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 24: the first walk compares both trees in full (through bindfs at 100k files, 2.0 s
    of CPU against 0.68 s for the passes after it); its cost paced the next three passes, 200 s
    apart, and a change the mount never announced took 202 s to arrive."""
    a, b = trees
    costs = iter([5.0, 0.01, 0.01])
    thread = VerifierThread(lambda rel: False, None)
    one_pass = thread.one_pass

    def costly(roots: tuple[str, str], contents: bool = True) -> Pass:
        return dataclasses.replace(one_pass(roots, contents), cpu_seconds=next(costs))

    monkeypatch.setattr(thread, "one_pass", costly)
    thread.roots = (str(a), str(b))
    thread.start()
    try:
        first = wait_for(thread.results, 10, "the first pass")[0]
        assert first.baseline and first.pause == FLOOR  # not 5.0 / MAX_SHARE = 500 s
    finally:
        thread.stop.set()
        thread.join(10)


def test_verify_interval_0_walks_once_for_temp_files_only(trees: tuple[Path, Path]) -> None:
    a, b = trees
    (a / "extra.txt").write_text("x")
    (a / TEMP).write_text("partial")
    thread = VerifierThread(lambda rel: False, 0.0)
    thread.roots = (str(a), str(b))
    thread.start()
    thread.join(20)
    assert not thread.is_alive()
    (result,) = thread.results()
    assert result.differing == frozenset() and result.checked == 0
    assert result.temps == (str(a / TEMP),)


def test_the_monitor_reports_drift_for_both_replicas_when_calm(trees: tuple[Path, Path]) -> None:
    a, b = trees
    monitor = build_monitor(Watcher(lambda rel: False), differs)
    t = 100.0
    for replica, root in (("h1", a), ("h2", b)):
        monitor.command(f"START {replica} {quote(str(root))} ", t)
        monitor.command("DONE", t)
    monitor.command("WAIT h1", t)
    monitor.command("WAIT h2", t)
    (a / "drifted.txt").write_text("never announced")
    (b / TEMP).write_text("abandoned")
    monitor.hygiene.drift.passed(a_pass("drifted.txt", "gone.txt"))
    monitor.hygiene.saw_temps([str(b / TEMP)])
    assert monitor.tick(t + 1) == ["CHANGES h1"]  # unison then asks for both replicas
    assert monitor.command("CHANGES h1", t + 1) == ["RECURSIVE drifted.txt", "DONE"]
    assert monitor.command("CHANGES h2", t + 1) == ["RECURSIVE drifted.txt", "DONE"]
    assert not (b / TEMP).exists()
    snapshot = monitor.hygiene.stamp(monitor.cycles.snapshot(t, 0, 0))
    assert (monitor.cycles.totals.drift_repaired, monitor.cycles.totals.litter_removed) == (1, 1)
    assert snapshot.verify_checked == 10


def test_litter_removes_what_nobody_holds_open(tmp_path: Path) -> None:
    held, free, other = tmp_path / TEMP, tmp_path / ".unison.b.1.unison.tmp", tmp_path / "b.txt"
    for path in (held, free, other):
        path.write_text("x")
    with open(held, "rb"):
        assert litter.held_open([str(held), str(free)]) == {str(held)}
        assert litter.remove([str(held), str(free), str(other)]) == [str(free)]
    assert held.exists() and other.exists() and not free.exists()
    assert litter.sweep([tmp_path]) == [str(held)]


def test_litter_finds_temp_files_below_but_not_in_ignored_folders(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "cache").mkdir()
    (tmp_path / "a" / "b" / TEMP).write_text("x")
    (tmp_path / "cache" / TEMP).write_text("x")
    found = list(litter.find(tmp_path, IgnoreMatcher(("Name cache",)).ignored))
    assert found == [str(tmp_path / "a" / "b" / TEMP)]


@pytest.mark.parametrize(("value", "expected"), [("auto", None), ("AUTO", None), ("0", 0.0), ("12.5", 12.5)])
def test_sync_verify_interval(value: str, expected: float | None) -> None:
    assert load({"SYNC_VERIFY_INTERVAL": value}).verify_interval == expected


def test_sync_verify_interval_defaults_to_auto() -> None:
    assert load({}).verify_interval is None


@pytest.mark.parametrize("value", ["-1", "often", "inf"])
def test_a_bad_sync_verify_interval_names_what_is_accepted(value: str) -> None:
    with pytest.raises(ConfigError, match=r"SYNC_VERIFY_INTERVAL.*auto, or a number"):
        load({"SYNC_VERIFY_INTERVAL": value})


def test_a_temp_file_waits_for_the_cycle_to_end_without_waking_the_loop(trees: tuple[Path, Path]) -> None:
    a, b = trees
    monitor = build_monitor(Watcher(lambda rel: False), differs)
    t = 100.0
    for replica, root in (("h1", a), ("h2", b)):
        monitor.command(f"START {replica} {quote(str(root))} ", t)
        monitor.command("DONE", t)
    (b / TEMP).write_text("being written by unison")
    monitor.hygiene.saw_temps([str(b / TEMP)])
    assert monitor.tick(t + 1) == []
    monitor.publish(t + 1)  # fsmonitor.json: written once a second at most during a long cycle
    assert monitor.deadline(t + 1) is None  # unison's cycle runs: nothing to wake up for
    assert (b / TEMP).exists()  # never removed while unison may be transferring
    monitor.command("WAIT h1", t + 2)
    assert monitor.tick(t + 2) == []
    assert not (b / TEMP).exists()


def test_a_one_shot_that_changed_nothing_does_not_walk_the_trees_for_litter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 24: the names-only walk of both trees after every one-shot cost a warm start ~1 s
    at 400k files; a run that transferred nothing wrote no temp file."""
    from monit import oneshot

    host, app, state = tmp_path / "host", tmp_path / "app", tmp_path / "unison"
    for folder in (host, app, state):
        folder.mkdir()
    (host / "a.txt").write_text("a")
    swept: list[tuple[object, ...]] = []
    sweep = litter.sweep

    def counting(*args: Any) -> list[str]:
        swept.append(args)
        return sweep(*args)

    monkeypatch.setattr(litter, "sweep", counting)
    cfg = load({"HOST_VOLUME": str(host), "APP_VOLUME": str(app), "UNISON": str(state)})
    assert oneshot.sync_once(cfg, "test", timeout=60) == 1
    assert len(swept) == 1  # it copied a.txt: the trees are walked for its temp files
    assert oneshot.sync_once(cfg, "test", timeout=60) == 0
    assert len(swept) == 1  # nothing changed: no walk


def test_a_one_shot_run_leaves_no_temp_file(tmp_path: Path) -> None:
    from monit import oneshot

    host, app, state = tmp_path / "host", tmp_path / "app", tmp_path / "unison"
    for folder in (host, app, state):
        folder.mkdir()
    (host / "a.txt").write_text("a")
    (app / "d").mkdir()
    (app / "d" / TEMP).write_text("left by an interrupted run")
    cfg = load({"HOST_VOLUME": str(host), "APP_VOLUME": str(app), "UNISON": str(state)})
    assert oneshot.sync_once(cfg, "test", timeout=60) >= 1
    assert (app / "a.txt").read_text() == "a"
    assert not (app / "d" / TEMP).exists()


def test_the_drift_bound_grows_with_the_tree() -> None:
    """issue 24: 30 s at 10k files, 120 s at 400k, in between by the paths checked."""
    assert drift_bound(1_000) == drift_bound(10_000) == DRIFT_BOUND == 30.0
    assert DRIFT_BOUND < drift_bound(100_000) < drift_bound(200_000) < BIG_BOUND
    assert drift_bound(400_000) == drift_bound(1_000_000) == BIG_BOUND == 120.0
