"""engine/state/progress.py: the cold start's counts, rate and ETA (explicit times), and its file.

Every time is given (a fake clock and ``now``): the arithmetic is checked
exactly, whatever the machine's load.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from engine.config.ignore import IgnoreMatcher
from engine.state import progress
from engine.state.progress import Progress, Totals
from tests.fakes import FakeClock
from tests.helpers import wait_for, write

MB = 1_000_000


def reported(shown: Progress, files: int, done: int, now: float, phase: str = "copying") -> dict[str, object]:
    with capture_logs() as logs:
        shown.report(files, done, now=now, phase=phase)
    (line,) = logs
    assert line.pop("event") == "coldstart.progress" and line.pop("log_level") == "info"
    return dict(line)


def test_rates_are_what_was_done_over_the_time_since_the_start() -> None:
    shown = Progress(None, clock=FakeClock(500.0))
    assert reported(shown, 1000, 50 * MB, now=510.0) == {
        "phase": "copying",
        "files": 1000,
        "files_total": None,
        "bytes": 50 * MB,
        "bytes_total": None,
        "files_per_second": 100.0,
        "mb_per_second": 5.0,
        "eta_seconds": None,  # no totals yet: the count still walks
        "seconds": 10.0,
    }


def test_the_eta_follows_the_bytes_once_the_totals_are_known() -> None:
    shown = Progress(None, clock=FakeClock(0.0))
    shown.totals = Totals(files=4000, bytes=200 * MB)
    line = reported(shown, 1000, 50 * MB, now=10.0)  # 5 MB/s, 150 MB to go
    assert (line["files_total"], line["bytes_total"], line["eta_seconds"]) == (4000, 200 * MB, 30.0)


def test_the_eta_follows_the_files_when_there_are_no_bytes() -> None:
    shown = Progress(None, clock=FakeClock(0.0))
    shown.totals = Totals(files=300, bytes=0)  # empty files, links
    assert reported(shown, 100, 0, now=4.0)["eta_seconds"] == 8.0  # 25 files/s, 200 to go


def test_more_done_than_counted_is_an_eta_of_zero_never_negative() -> None:
    shown = Progress(None, clock=FakeClock(0.0))
    shown.totals = Totals(files=10, bytes=100)  # the host grew after the count
    assert reported(shown, 20, 300, now=2.0)["eta_seconds"] == 0.0


def test_nothing_done_yet_has_no_eta_and_no_division_by_zero() -> None:
    shown = Progress(None, clock=FakeClock(7.0))
    shown.totals = Totals(files=10, bytes=100)
    line = reported(shown, 0, 0, now=7.0)
    assert (line["eta_seconds"], line["files_per_second"], line["seconds"]) == (None, 0.0, 0.0)


def test_indexing_has_no_eta() -> None:
    shown = Progress(None, clock=FakeClock(0.0))
    shown.totals = Totals(files=10, bytes=100)
    line = reported(shown, 10, 100, now=5.0, phase="indexing")
    assert (line["phase"], line["eta_seconds"]) == ("indexing", None)


def test_the_last_report_is_what_status_loads_until_the_copy_stops(tmp_path: Path) -> None:
    shown = Progress(tmp_path, clock=FakeClock(0.0))
    assert progress.Report.load(tmp_path) is None
    line = reported(shown, 3, 3000, now=2.0)
    loaded = progress.Report.load(tmp_path)
    assert loaded is not None
    assert loaded.at is not None and loaded.at.endswith("Z")
    assert {k: v for k, v in dataclasses.asdict(loaded).items() if k != "at"} == line
    shown.stop()
    assert progress.Report.load(tmp_path) is None


def test_a_file_that_cannot_be_written_stops_the_writing_not_the_copy(tmp_path: Path) -> None:
    shown = Progress(tmp_path / "gone", clock=FakeClock(0.0))
    reported(shown, 1, 1, now=1.0)  # logged all the same
    assert shown.runtime_dir is None
    reported(shown, 2, 2, now=2.0)


def test_lines_keep_coming_from_their_own_thread_with_what_was_ticked(tmp_path: Path) -> None:
    shown = Progress(tmp_path, every=0.01)
    shown.tick(5, 500)
    shown.start()
    try:
        loaded = wait_for(lambda: progress.Report.load(tmp_path), 10, "a progress line")
        assert (loaded.files, loaded.bytes) == (5, 500)
        shown.tick(6, 600)
        wait_for(
            lambda: (r := progress.Report.load(tmp_path)) is not None and r.files == 6,
            10,
            "the next tick shown",
        )
    finally:
        shown.stop()
    assert progress.Report.load(tmp_path) is None


# --- the totals: a names-and-sizes walk ------------------------------------------------


def test_the_count_is_files_and_links_and_their_bytes_ignored_folders_not_entered(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "12345")
    write(tmp_path / "src" / "deep" / "b.txt", "123")
    write(tmp_path / "node_modules" / "x" / "big.js", "x" * 1000)
    write(tmp_path / "src" / "c.log", "")
    os.symlink("a.txt", tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")  # never copied: not counted
    matcher = IgnoreMatcher(["Name node_modules"])
    assert progress.count(tmp_path, matcher, threading.Event()) == Totals(
        files=4, bytes=5 + 3 + 0 + len("a.txt")
    )


def test_a_stopped_count_has_no_totals(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "a")
    stop = threading.Event()
    stop.set()
    assert progress.count(tmp_path, IgnoreMatcher([]), stop) is None


def test_the_count_runs_beside_the_copy(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "abc")
    shown = Progress(None)
    shown.count_in_background(tmp_path, IgnoreMatcher([]), threading.Event())
    assert wait_for(lambda: shown.totals, 10, "the totals") == Totals(1, 3)


def test_the_count_walks_in_a_process_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 24: a walk in a thread takes turns with the copy for the interpreter's lock."""
    write(tmp_path / "tree" / "a.txt", "abc")
    walked_in = tmp_path / "pid"
    real = progress.count

    def count(root: Path, matcher: IgnoreMatcher, stop: threading.Event) -> Totals | None:
        walked_in.write_text(str(os.getpid()))
        return real(root, matcher, stop)

    monkeypatch.setattr(progress, "count", count)
    shown = Progress(None)
    shown.count_in_background(tmp_path / "tree", IgnoreMatcher([]), threading.Event())
    assert wait_for(lambda: shown.totals, 10, "the totals") == Totals(1, 3)
    assert int(walked_in.read_text()) != os.getpid()


def test_the_counting_child_yields_to_the_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 24: on a loaded machine the walk for the ETA must not take the copy's CPU."""

    def niceness(root: Path, matcher: IgnoreMatcher, stop: threading.Event) -> Totals | None:
        return Totals(os.nice(0), 0)  # the child's niceness, as its count

    monkeypatch.setattr(progress, "count", niceness)
    ours = os.nice(0)
    totals = progress.count_apart(tmp_path, IgnoreMatcher([]), threading.Event())
    assert totals is not None
    assert totals.files == 19  # the lowest priority there is
    assert os.nice(0) == ours  # the parent's is unchanged


def test_a_stop_ends_the_counting_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    walked_in = tmp_path / "pid"

    def never_done(root: Path, matcher: IgnoreMatcher, stop: threading.Event) -> Totals | None:
        walked_in.write_text(str(os.getpid()))
        threading.Event().wait()  # a walk of a huge tree, and the parent's stop does not reach it
        return None

    monkeypatch.setattr(progress, "count", never_done)
    stop = threading.Event()
    counted: list[Totals | None] = []
    counter = threading.Thread(
        target=lambda: counted.append(progress.count_apart(tmp_path, IgnoreMatcher([]), stop))
    )
    counter.start()
    wait_for(lambda: walked_in.exists() and walked_in.read_text(), 10, "the child walking")
    pid = int(walked_in.read_text())
    stop.set()
    counter.join(timeout=10)
    assert counted == [None]
    with pytest.raises(ProcessLookupError):  # killed and reaped, no zombie left
        os.kill(pid, 0)


def test_a_child_that_fails_gives_no_totals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(root: Path, matcher: IgnoreMatcher, stop: threading.Event) -> Totals | None:
        raise OSError("gone")

    monkeypatch.setattr(progress, "count", broken)
    assert progress.count_apart(tmp_path, IgnoreMatcher([]), threading.Event()) is None
