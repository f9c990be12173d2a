"""engine/fsmonitor/differ.py: the still-differs filter and its recheck."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from engine.fs.compare import differs
from engine.fsmonitor import differ
from engine.fsmonitor.differ import RECHECK_QUIET, RECHECK_TRIES, StillDiffers, TooManyToRecheck


@pytest.fixture
def roots(tmp_path: Path) -> dict[str, str]:
    for name in ("host", "app"):
        (tmp_path / name).mkdir()
    return {"h1": str(tmp_path / "host"), "h2": str(tmp_path / "app")}


def test_only_paths_that_differ_pass(roots: dict[str, str]) -> None:
    Path(roots["h1"], "same").write_text("x")
    Path(roots["h2"], "same").write_text("x")
    Path(roots["h1"], "new").write_text("x")
    filt = StillDiffers(roots, differs)
    assert filt.filter({("h2", "same"), ("h1", "new")}) == {"new"}  # ("h2", "same"): an echo
    assert filt.recent == {("h2", "same"), ("h1", "new")}


def test_the_same_change_on_both_sides_in_one_batch_is_reported(roots: dict[str, str]) -> None:
    """Deleted (or written alike) on both sides at once: no echo; unison must record it
    or the next save of the path conflicts with its stale archive (issue 18, the fuzzer)."""
    Path(roots["h1"], "same").write_text("x")
    Path(roots["h2"], "same").write_text("x")
    filt = StillDiffers(roots, differs)
    assert filt.filter({("h1", "same"), ("h2", "same"), ("h1", "gone"), ("h2", "gone")}) == {"same", "gone"}


def test_with_other_than_two_replicas_everything_differs(roots: dict[str, str]) -> None:
    filt = StillDiffers({"h1": roots["h1"]}, differs)
    assert filt.filter({("h1", "x")}) == {"x"}


def test_recheck_is_due_after_a_quiet_time() -> None:
    filt = StillDiffers({}, differs)
    assert filt.recheck_at(7.0) is None
    filt.recent.add(("h1", "a"))
    assert filt.recheck_at(7.0) == 7.0 + RECHECK_QUIET


def test_recheck_reports_what_still_differs_and_gives_up_after_the_tries(roots: dict[str, str]) -> None:
    Path(roots["h1"], "stuck").write_text("x")
    Path(roots["h1"], "fixed").write_text("x")
    filt = StillDiffers(roots, differs)
    filt.filter({("h1", "stuck"), ("h1", "fixed")})
    Path(roots["h2"], "fixed").write_text("x")
    for _ in range(RECHECK_TRIES):
        with capture_logs() as logs:
            assert filt.recheck() == {"stuck"}
        assert {"event": "recheck.still_differs", "paths": 1, "log_level": "info"} in logs
        filt.recent.add(("h1", "stuck"))
    with capture_logs() as logs:
        assert filt.recheck() == set()
    (logged,) = logs
    assert logged == {
        "event": "recheck.gave_up",
        "path": "stuck",
        "tries": RECHECK_TRIES,
        "log_level": "warning",
    }


def test_giving_up_is_said_once_while_it_stands_and_its_end_once(roots: dict[str, str]) -> None:
    """issue 26: a file the user kept writing on a full app volume logged `recheck.gave_up`
    at every recheck (8 warnings in 30 s) for one problem that stood."""
    big = Path(roots["h1"], "big.bin")
    filt = StillDiffers(roots, differs)
    with capture_logs() as logs:
        for size in range(1, RECHECK_TRIES + 6):
            big.write_bytes(b"x" * size)  # written on; unison cannot sync it (the volume is full)
            filt.filter({("h1", "big.bin")})
            filt.recheck()
        Path(roots["h2"], "big.bin").write_bytes(big.read_bytes())  # space freed: unison synced it
        filt.filter({("h2", "big.bin")})  # unison's write: an echo, rechecked all the same
        assert filt.recheck() == set()
    said = [(e["event"], e["log_level"]) for e in logs if e["event"] != "recheck.still_differs"]
    assert said == [("recheck.gave_up", "warning"), ("recheck.resolved", "info")]
    assert filt.tries == {}


def test_too_many_to_recheck(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(differ, "RECHECK_LIMIT", 2)
    filt = StillDiffers({}, differs)
    filt.recent = {("h1", "a"), ("h1", "b"), ("h1", "c")}
    with pytest.raises(TooManyToRecheck):
        filt.recheck()
    assert filt.recent == set()


def test_a_special_file_is_reported_once_and_never_rechecked(roots: dict[str, str]) -> None:
    """issue 26: unison must see a new FIFO once to say it skips it (status lists it); after that
    it differs from nothing, so rechecks leave it alone (no `recheck.gave_up` warning)."""
    os.mkfifo(os.path.join(roots["h1"], "pipe"))
    filt = StillDiffers(roots, differs)
    assert filt.filter({("h1", "pipe")}) == {"pipe"}
    with capture_logs() as logs:
        for _ in range(RECHECK_TRIES + 2):
            filt.recent.add(("h1", "pipe"))
            assert filt.recheck() == set()
    assert logs == []
