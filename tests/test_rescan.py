"""engine/fsmonitor/rescan.py: which full rescan is due, and the next interval (paced by its cost)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from engine.config import load
from engine.fsmonitor.rescan import RESCAN_BUDGET, Rescans, process_cpu
from engine.state.scancost import SCAN_COST_FILE, ScanCost
from tests.fakes import CLOCK_STARTS
from tests.helpers import Engine, wait_for, write


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


def test_process_cpu_reads_a_process_s_cpu_time() -> None:
    """What paces the periodic rescan: unison's CPU time, read from /proc (here: this process's)."""
    start = process_cpu(os.getpid())
    assert start is not None and start > 0
    burned = 0

    def more() -> bool:
        nonlocal burned
        burned += sum(range(200_000))
        now = process_cpu(os.getpid())
        return now is not None and now > start

    wait_for(more, 30, "this process's CPU time to grow")
    assert process_cpu(2**22 + 12345) is None  # no such process


def test_the_pace_is_the_interval_or_the_cost_over_the_budget() -> None:
    spent = [50.0]
    rescans = Rescans(300.0, cpu=lambda: spent[0])
    rescans.root_watched(0.0)
    spent[0] += 0.05  # 10k files: a few hundredths
    rescans.cycle_ended(1.0)
    assert rescans.deadline(1.0, False) == 300.0
    rescans.done("interval", 2, 300.0)
    spent[0] += 3.0  # 400k files: seconds
    rescans.cycle_ended(304.0)
    assert rescans.deadline(304.0, False) == 300.0 + 3.0 / RESCAN_BUDGET
    assert rescans.due(600.0, False) is None


def test_a_set_interval_is_kept_whatever_a_scan_costs() -> None:
    """SYNC_RESCAN_INTERVAL set by the user: its pace, not the budget's."""
    assert load({}).rescan_paced and not load({"SYNC_RESCAN_INTERVAL": "300"}).rescan_paced
    spent = [50.0]
    rescans = Rescans(5.0, cpu=lambda: spent[0], paced=False)
    rescans.root_watched(0.0)
    spent[0] += 3.0
    rescans.cycle_ended(4.0)
    assert rescans.deadline(4.0, False) == 5.0


def test_a_trusted_start_is_paced_by_the_last_runs_cost_and_a_measured_cost_is_remembered() -> None:
    """Issue 24: a first cycle that scans nothing (patch 0006) measures nothing; the first periodic
    rescan after it keeps the pace of the cost carried over, and the next full scan's cost is kept."""
    spent, kept = [50.0], list[float]()
    rescans = Rescans(300.0, cpu=lambda: spent[0], cost=3.0, trusted=True, remember=kept.append)
    rescans.root_watched(0.0)  # both replicas, handed over from the archive
    rescans.root_watched(0.1)
    spent[0] += 0.2  # the archive's folders handed to the fsmonitor
    rescans.cycle_ended(1.0)
    assert rescans.deadline(1.0, False) == pytest.approx(0.1 + 3.0 / RESCAN_BUDGET)  # not 300 s
    assert kept == []
    rescans.done("interval", 2, 3000.0)
    spent[0] += 4.0
    rescans.cycle_ended(3005.0)
    assert kept == [4.0]
    assert rescans.deadline(3005.0, False) == 3000.0 + 4.0 / RESCAN_BUDGET


def test_the_scan_cost_survives_in_unison_s_folder(tmp_path: Path) -> None:
    assert ScanCost.load(tmp_path) is None
    ScanCost(2.5).save(tmp_path)
    assert ScanCost.load(tmp_path) == ScanCost(2.5)
    (tmp_path / SCAN_COST_FILE).write_text('{"cpu_seconds": "lots"}')
    assert ScanCost.load(tmp_path) is None
    ScanCost(1.0).save(tmp_path / "gone")  # a folder that cannot take it: no error


@pytest.mark.engine
def test_a_running_fsmonitor_measures_unison_s_first_full_scan_and_keeps_it(engine: Engine) -> None:
    """In the engine the fsmonitor's parent is unison: a warm start's first cycle is a full scan
    (issue 24: no one-shot before it); its CPU sets the pace and is kept in UNISON for the next start.
    The cold start before it trusts the archive its indexing one-shot wrote: that one-shot's CPU is kept."""
    write(engine.host / "f", "x\n")
    engine.start()
    engine.wait_watching()
    engine.wait_first_watch_cycle()
    unison_dir = Path(engine.env["UNISON"])
    assert ScanCost.load(unison_dir) is not None  # the indexing one-shot's
    assert not engine.events("rescan.cost")  # the trusted first cycle scanned nothing
    assert engine.terminate() == 0
    engine.start()
    engine.wait_watching()
    cost = engine.wait_event("rescan.cost")
    assert cost["cpu_seconds"] >= 0
    assert cost["next_in"] == max(300, cost["cpu_seconds"] / RESCAN_BUDGET)
    kept = ScanCost.load(unison_dir)
    assert kept is not None and round(kept.cpu_seconds, 3) == cost["cpu_seconds"]
