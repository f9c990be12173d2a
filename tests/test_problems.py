"""engine/unison/reports.py: reading real unison output (tests/data/unison/) and keeping the problems."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from engine.state import shared
from engine.unison import reports
from engine.unison.reports import Reader, Report, Synced
from engine.unison.standing import HOLD, TRANSIENT_BOUND, Tracker

DATA = Path(__file__).parent / "data" / "unison"
WATCH_ROOTS = ("/host_sync", "/app_sync")


def oneshot(name: str, n: int) -> list[reports.Event]:
    roots = (f"/tmp/hcap/s{n}/a", f"/tmp/hcap/s{n}/b")
    return reports.merge(Reader(roots).feed_all((DATA / f"{name}.log").read_text()))


def by_path(events: list[reports.Event]) -> dict[str, tuple[str, str]]:
    return {e.path: (e.side, e.reason) for e in events if isinstance(e, Report)}


def test_a_full_app_volume_names_each_failed_file_on_the_app_side() -> None:
    found = by_path(oneshot("oneshot-full", 4))
    assert found == {
        "big.bin": ("app", "Error in readWriteBounded: No space left on device"),
        "ok.txt": ("app", "Error in copying locally: No space left on device"),
    }


def test_unreadable_file_and_folder_are_skipped_on_the_host_side() -> None:
    events = oneshot("oneshot-unreadable", 1)
    assert by_path(events) == {
        "closed": ("host", "Error in scanning directory: Permission denied [opendir(/tmp/hcap/s1/a/closed)]"),
        "unreadable.txt": (
            "host",
            "Error in digesting /tmp/hcap/s1/a/unreadable.txt: "
            "/tmp/hcap/s1/a/unreadable.txt: Permission denied",
        ),
    }
    assert Synced("ok.txt") in events


def test_an_unreadable_root_is_the_root_problem() -> None:
    assert by_path(oneshot("oneshot-unreadable-root", 2)) == {
        ".": ("host", "Error in scanning directory: Permission denied [opendir(/tmp/hcap/s2/a)]")
    }


def test_an_unwritable_app_root_is_an_app_problem() -> None:
    found = by_path(oneshot("oneshot-unwritable-app", 3))
    assert list(found) == ["f.txt"]
    assert found["f.txt"][0] == "app"
    assert found["f.txt"][1].startswith("Error in copying locally: Permission denied [open(/tmp/hcap/s3/b/")


def test_watch_mode_terse_output_line_by_line() -> None:
    reader = Reader(WATCH_ROOTS)
    events: list[reports.Event] = []
    for line in (DATA / "watch-terse.log").read_text().splitlines(keepends=True):
        events += reader.feed(line)  # as `run` feeds what it follows, newline and all
    found = by_path(reports.merge(events))
    assert found["unreadable.txt"][0] == "host"
    assert found["big.bin"] == ("app", "Error in readWriteBounded: No space left on device")
    assert found["."] == ("host", "Error in scanning directory: Permission denied [opendir(/host_sync)]")
    assert found["ro"] == (
        "app",
        "Error in setting permissions: Operation not permitted [chmod(/app_sync/ro)]",
    )
    assert found["ro/new.txt"][0] == "app"
    assert set(found) == {
        "unreadable.txt",
        "closed",
        "big.bin",
        "ok.txt",
        "closed/in.txt",
        ".",
        "ro",
        "ro/new.txt",
    }


def test_a_reason_continued_on_a_line_not_yet_written_is_kept_open() -> None:
    reader = Reader(WATCH_ROOTS)
    assert reader.feed("Failed [a b.txt]: Error in copying locally:") == []
    assert reader.feed("No space left on device") == [
        Report("a b.txt", "both", "Error in copying locally: No space left on device")
    ]


def test_side_needs_the_root_as_a_whole_name() -> None:
    assert reports.side_of("denied [opendir(/host_sync2/x)]", WATCH_ROOTS) == "both"
    assert reports.side_of("denied [opendir(/host_sync)]", WATCH_ROOTS) == "host"


def nothing_special(rel: str) -> bool:
    return False


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_tracker_logs_a_problem_once_and_clears_it_when_it_no_longer_stands(tmp_path: Path) -> None:
    standing = {"big.bin"}
    clock = Clock()
    tracker = Tracker(tmp_path, lambda p: p.path in standing, nothing_special, clock)
    report = Report("big.bin", "app", "Error in readWriteBounded: No space left on device")
    with capture_logs() as logs:
        tracker.take([report])
        tracker.take([report])  # unison says it again next cycle: no second event
    assert [e["event"] for e in logs] == ["problem"]
    assert logs[0]["path"] == "big.bin" and logs[0]["reason"] == report.reason and logs[0]["side"] == "app"
    saved = shared.Problems.load(tmp_path).items
    assert [(p.path, p.side, p.reason) for p in saved] == [("big.bin", "app", report.reason)]
    assert saved[0].since.endswith("Z")
    clock.now += HOLD + 1
    tracker.recheck()
    assert len(shared.Problems.load(tmp_path).items) == 1  # still differs
    standing.clear()
    with capture_logs() as logs:
        tracker.recheck()
    assert [e["event"] for e in logs] == ["problem.cleared"]
    assert shared.Problems.load(tmp_path).items == ()


def test_a_fresh_report_is_not_cleared_before_the_hold(tmp_path: Path) -> None:
    clock = Clock()
    tracker = Tracker(tmp_path, lambda p: False, nothing_special, clock)
    tracker.take([Report("x", "host", "r")])
    tracker.recheck()
    assert len(tracker.problems) == 1
    clock.now += HOLD
    tracker.recheck()
    assert tracker.problems == {}


def test_a_transfer_clears_the_problem(tmp_path: Path) -> None:
    tracker = Tracker(tmp_path, lambda p: True, nothing_special)
    tracker.take([Report("x", "host", "r")])
    tracker.take([Synced("x")])
    assert shared.Problems.load(tmp_path).items == ()


# --- issue 18: reasons whole, retries that succeed are no problems -------------------------

MODIFIED = [  # unison 2.52.1/2.54.0 (copy.ml): the reason runs over two lines
    "Failed [src/lwt/lwt.ml]: The source file /host_sync/src/lwt/lwt.ml",
    "has been modified during synchronization.  Transfer aborted.",
    "Synchronization incomplete at 10:00:00  (0 items transferred, 0 skipped, 1 failed)",
    "  failed: src/lwt/lwt.ml",
]
MODIFIED_REASON = (
    "The source file /host_sync/src/lwt/lwt.ml has been modified during synchronization.  Transfer aborted."
)


def test_a_reason_over_two_lines_is_kept_whole() -> None:
    """issue 18: the reason was cut at unison's line break."""
    found = by_path(reports.merge(Reader(WATCH_ROOTS).feed_all("\n".join(MODIFIED))))
    assert found == {"src/lwt/lwt.ml": ("host", MODIFIED_REASON)}
    destination = Reader(WATCH_ROOTS).feed_all(
        "Failed [a.txt]: Destination updated during synchronization\n"
        "The file /app_sync/a.txt has been created\n"
    )
    assert by_path(destination) == {
        "a.txt": (
            "app",
            "Destination updated during synchronization The file /app_sync/a.txt has been created",
        )
    }


def transient_tracker(tmp_path: Path, standing: set[str]) -> tuple[Tracker, Clock]:
    clock = Clock()
    return Tracker(tmp_path, lambda p: p.path in standing, nothing_special, clock), clock


def test_a_retry_that_succeeds_is_no_problem(tmp_path: Path) -> None:
    """issue 18: 62 `problem` warnings for a git branch switch that converged in 3.7 s."""
    standing = {"src/lwt/lwt.ml"}
    tracker, clock = transient_tracker(tmp_path, standing)
    with capture_logs() as logs:
        tracker.take(Reader(WATCH_ROOTS).feed_all("\n".join(MODIFIED)))
        clock.now += TRANSIENT_BOUND / 2
        tracker.recheck()
        tracker.take([Synced("src/lwt/lwt.ml")])
        clock.now += TRANSIENT_BOUND
        tracker.recheck()
    assert [e["event"] for e in logs if e["log_level"] != "debug"] == []
    assert tracker.problems == {}
    assert shared.Problems.load(tmp_path).items == ()


def test_a_retry_that_stops_differing_without_a_transfer_is_no_problem(tmp_path: Path) -> None:
    standing = {"src/lwt/lwt.ml"}
    tracker, clock = transient_tracker(tmp_path, standing)
    tracker.take(Reader(WATCH_ROOTS).feed_all("\n".join(MODIFIED)))
    standing.clear()  # unison's next cycle carried it (no [END] line in -terse watch mode)
    clock.now += TRANSIENT_BOUND
    tracker.recheck()
    assert tracker.problems == {}


def test_a_retry_that_keeps_failing_past_the_bound_is_a_problem(tmp_path: Path) -> None:
    standing = {"src/lwt/lwt.ml"}
    tracker, clock = transient_tracker(tmp_path, standing)
    for _ in range(3):  # unison tries again every cycle and fails again
        tracker.take(Reader(WATCH_ROOTS).feed_all("\n".join(MODIFIED)))
        clock.now += TRANSIENT_BOUND / 3 - 0.01
        tracker.recheck()
    assert tracker.problems == {}
    clock.now += 0.1
    with capture_logs() as logs:
        tracker.recheck()
    assert [(e["event"], e["path"], e["reason"]) for e in logs] == [
        ("problem", "src/lwt/lwt.ml", MODIFIED_REASON)
    ]
    [saved] = shared.Problems.load(tmp_path).items
    assert saved.reason == MODIFIED_REASON


@pytest.mark.parametrize("check", ["", "Could not check destination: "])
def test_a_file_deleted_while_unison_read_it_is_a_retry_not_a_problem(tmp_path: Path, check: str) -> None:
    """Found by the fuzzer: a large file deleted on the host while unison digested it stayed
    a problem (state degraded) until the next recheck, though nothing was wrong; the same for
    a file deleted on the destination side while unison checked it before writing (the
    fuzzer's edit racing a delete)."""
    reason = f"{check}Error in digesting /host_sync/X.txt: /host_sync/X.txt: No such file or directory"
    tracker, clock = transient_tracker(tmp_path, set())
    tracker.take([Report("X.txt", "host", reason)])
    assert tracker.problems == {}
    clock.now += TRANSIENT_BOUND
    tracker.recheck()
    assert tracker.problems == {}
