"""engine/unison/reasons.py and the tracker's use of it (issue 26): every reason unison gave in real
runs (tests/data/unison-2.54/) falls in its family; a reason that needs the user sticks."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from engine.state import shared
from engine.unison import reasons
from engine.unison.reports import Reader, Report, Synced, merge
from engine.unison.standing import HOLD, TRANSIENT_BOUND, Tracker

DATA = Path(__file__).parent / "data" / "unison-2.54"
CHURN_ROOTS = ("/tmp/hcap/churn/a", "/tmp/hcap/churn/b")
FULL = "Error in readWriteBounded: No space left on device"  # oneshot-full.log, watch-terse.log
MODIFIED = "The source file /host_sync/big.bin has been modified during synchronization.  Transfer aborted."


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def recorded(name: str, roots: tuple[str, str]) -> list[Report]:
    """Every path unison reported in the recording, once (as monit/oneshot.py reads it)."""
    return [e for e in merge(Reader(roots).feed_all((DATA / name).read_text())) if isinstance(e, Report)]


def test_every_reason_of_a_git_checkout_and_an_rm_rf_is_transient_or_special() -> None:
    """watch-churn.log: ten branch switches of a 600-file repo, an rm -rf of 2,000 files, a FIFO
    and a socket (the engine's own lines left out)."""
    found = recorded("watch-churn.log", CHURN_ROOTS)
    assert len(found) > 100
    families = {r.reason: reasons.transient(r.reason) or ("special" if reasons.special(r.reason) else None)
                for r in found}  # fmt: skip
    assert None not in families.values(), [r for r, f in families.items() if f is None]
    assert {"vanished", "changed", "special"} <= set(families.values())
    assert not any(reasons.needs_user(r.reason) for r in found)


def test_our_stop_is_transient() -> None:
    """watch-stop.log: SIGTERM while unison copied a 400 MB file."""
    [stopped] = recorded("watch-stop.log", ("/tmp/hcap/stop/a", "/tmp/hcap/stop/b"))
    assert stopped.reason == "Aborted by user request"
    assert reasons.transient(stopped.reason) == "stopped"


@pytest.mark.parametrize(
    ("name", "root"),
    [("oneshot-full.log", "/tmp/hcap/s4"), ("oneshot-unwritable-app.log", "/tmp/hcap/s3"),
     ("oneshot-unreadable.log", "/tmp/hcap/s1")],
)  # fmt: skip
def test_a_full_an_unwritable_and_an_unreadable_root_need_the_user(name: str, root: str) -> None:
    found = recorded(name, (f"{root}/a", f"{root}/b"))
    assert found
    for report in found:
        assert reasons.needs_user(report.reason), report
        assert reasons.transient(report.reason) is None, report  # "Error in copying locally: No space"


def tracker(tmp_path: Path, standing: set[str], special: set[str] | None = None) -> tuple[Tracker, Clock]:
    clock = Clock()
    return Tracker(
        tmp_path, lambda p: p.path in standing, lambda rel: rel in (special or set()), clock
    ), clock


def test_a_full_volume_stays_the_reason_whatever_unison_says_next(tmp_path: Path) -> None:
    """issue 26: "No space left on device" was replaced by unison's next try, "modified during
    synchronization" (transient), and health passed while the volume was still full."""
    books, clock = tracker(tmp_path, {"big.bin"})
    books.take([Report("big.bin", "app", FULL)])
    for _ in range(3):
        clock.now += HOLD + 1
        books.take([Report("big.bin", "host", MODIFIED)])
        books.take([Report("big.bin", "both", "failed (unison gave no reason)")])
        books.recheck()
    [saved] = shared.Problems.load(tmp_path).items
    assert (saved.path, saved.side, saved.reason) == ("big.bin", "app", FULL)
    books.take([Synced("big.bin")])  # the user freed space
    assert shared.Problems.load(tmp_path).items == ()


def test_a_reason_that_needs_the_user_replaces_a_transient_one_at_once(tmp_path: Path) -> None:
    books, _ = tracker(tmp_path, {"big.bin"})
    with capture_logs() as logs:
        books.take([Report("big.bin", "host", MODIFIED)])
        books.take([Report("big.bin", "app", FULL)])
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("problem.retrying", "debug"),
        ("problem", "warning"),
    ]
    assert books.problems["big.bin"].reason == FULL


def test_a_stop_and_a_vanished_source_are_retried_quietly(tmp_path: Path) -> None:
    books, clock = tracker(tmp_path, {"huge.bin", "gone.txt"})
    vanished = "Error in copying locally: /host_sync/gone.txt: No such file or directory"
    with capture_logs() as logs:
        books.take(
            [Report("huge.bin", "host", "Aborted by user request"), Report("gone.txt", "host", vanished)]
        )
        clock.now += TRANSIENT_BOUND - 0.1
        books.recheck()
    assert {e["log_level"] for e in logs} == {"debug"}
    assert books.problems == {}


def test_a_special_file_is_listed_once_as_skipped_and_never_a_problem(tmp_path: Path) -> None:
    special = {"db.sock"}
    books, clock = tracker(tmp_path, set(), special)
    reason = "path /host_sync/db.sock has unknown file type"
    with capture_logs() as logs:
        for _ in range(3):
            books.take([Report("db.sock", "host", reason)])
            clock.now += TRANSIENT_BOUND
            books.recheck()
    assert [(e["event"], e["log_level"]) for e in logs] == [("skipped", "info")]
    saved = shared.Problems.load(tmp_path)
    assert saved.items == ()
    assert [(p.path, p.side) for p in saved.skipped] == [("db.sock", "host")]
    special.clear()  # the socket is gone
    books.recheck()
    assert shared.Problems.load(tmp_path).skipped == ()


@pytest.mark.parametrize(
    "output",
    [  # unison 2.54.0 src/copy.ml, checkForChangesToSourceLocal: the source changed under the copy
        "Failed [a.bin]: The source file /host_sync/a.bin\n"
        "has been modified during synchronization.  Transfer aborted.\n",
        "Failed [a.bin]: Current source file /host_sync/a.bin\n"
        " not same as transferred file.  Transfer aborted.\n",
        "Failed [a.bin]: The source file /host_sync/a.bin\n"
        "has been modified but the fast update detection mechanism\n"
        "failed to detect it.  Try running once with the fastcheck\n",
    ],
)
def test_every_way_unison_says_the_source_changed_under_the_copy_is_transient(output: str) -> None:
    [report] = [e for e in Reader(("/host_sync", "/app_sync")).feed_all(output) if isinstance(e, Report)]
    assert report.path == "a.bin" and report.side == "host"
    assert reasons.transient(report.reason) == "changed", report.reason
