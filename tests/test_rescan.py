"""engine/fsmonitor/rescan.py: which full rescan is due, and the next interval."""

from __future__ import annotations

from structlog.testing import capture_logs

from engine.fsmonitor.rescan import Rescans
from tests.fakes import CLOCK_STARTS


def test_no_interval_no_periodic_rescan() -> None:
    rescans = Rescans(0.0)
    rescans.root_watched(5.0)
    assert rescans.deadline(5.0, False) is None
    assert rescans.due(1e12, False) is None


def test_the_interval_counts_from_the_root_and_from_each_rescan() -> None:
    for t in CLOCK_STARTS:
        rescans = Rescans(10.0)
        rescans.root_watched(t)
        deadline = rescans.deadline(t, False)
        assert deadline == t + 10
        assert rescans.due(t + 5, False) is None
        assert rescans.due(deadline, False) == "interval"
        with capture_logs() as logs:
            rescans.done("interval", 2, t + 11)
        assert logs == [{"event": "rescan", "reason": "interval", "replicas": 2, "log_level": "info"}]
        assert rescans.deadline(t + 11, False) == t + 21


def test_a_full_sync_request_is_due_at_once_and_first() -> None:
    rescans = Rescans(10.0)
    rescans.root_watched(0.0)
    assert rescans.deadline(3.0, True) == 3.0
    assert rescans.due(3.0, True) == "flush"
    assert rescans.due(20.0, True) == "flush"
    rescans.done("flush", 2, 20.0)
    assert rescans.due(20.0, False) is None  # a flush rescan also resets the interval
