"""The scale section (bench/report_scale.py, bench/scale.py): the start table, time to usable and whose
time it was; a resumed run's provenance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import provenance, report_scale, scale, scale_plan
from bench.scale_plan import NATIVE


def section(small_cpu: dict[str, float] | None, big_cpu: dict[str, float] | None) -> dict[str, Any]:
    def unit(cp_a: float, usable: float, cpu: dict[str, float] | None) -> dict[str, Any]:
        found: dict[str, Any] = {"cp_a_s": cp_a, "usable_s": usable, "watching_s": 2 * usable}
        found["warm_restart_s"] = 1.0
        if cpu is not None:
            found["copy_cpu"] = cpu
        return found

    return {
        "sizes": {
            "100000": {NATIVE: unit(1.7, 2.9, small_cpu)},
            "400000": {NATIVE: unit(11.4, 13.2, big_cpu)},
        }
    }


def test_the_copy_s_cpu_is_shown_and_at_400k_how_ours_and_the_kernel_s_grew() -> None:
    table = report_scale.starts(section({"user_s": 0.6, "system_s": 1.3}, {"user_s": 2.4, "system_s": 7.8}))
    small, big = (line for line in table.splitlines() if line.startswith(f"| {NATIVE}"))
    assert "0.60 s / 1.30 s |" in small
    assert "2.40 s / 7.80 s (4.00x / 6.00x)" in big
    assert "13.20 s (1.16x; 4.55x the 100k)" in big


def test_a_run_from_before_the_copy_said_its_cpu_shows_a_dash() -> None:
    table = report_scale.starts(section(None, None))
    big = [line for line in table.splitlines() if line.startswith(f"| {NATIVE}")][1]
    assert "| - |" in big


# --- a resumed run (bench/scale.py --resume) -------------------------------------------------

FIRST: dict[str, Any] = {
    "date": "2026-12-05T02:09:12+00:00",
    "native_sync_commit": "e32c03a",
    "load_at_start": [0.4, 0.5, 0.6],
    "load_at_end": [0.7, 0.6, 0.6],
    "plan": {"sizes": [10_000], "quick": True, "peers": []},
    "sizes": {"10000": {NATIVE: {"cp_a_s": 0.2, "usable_s": 0.3, "watching_s": 0.5}}},
}
PEER = scale_plan.PEERS["ocaml"][0]


def test_a_resumed_run_keeps_the_first_run_s_when_and_says_when_its_own_units_were_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"scale": FIRST}))

    def measured_again(work: Path, tree: Path, n: int, plan: scale_plan.Plan) -> dict[str, Any]:
        raise AssertionError("a unit already measured is kept, not run again")

    def peer(work: Path, tree: Path, n: int, plan: scale_plan.Plan) -> dict[str, Any]:
        return {"cp_a_s": 0.2, "usable_s": 0.4, "watching_s": 0.6}

    monkeypatch.setattr(scale, "units", lambda plan: [(NATIVE, measured_again), (PEER, peer)])
    plan = scale_plan.make("10k", True, "ocaml", str(tmp_path))
    section = scale.run(plan, results, None, resume=True)

    assert json.loads(results.read_text())["scale"] == section
    assert [section[k] for k in ("date", "native_sync_commit", "load_at_start", "load_at_end")] == [
        FIRST[k] for k in ("date", "native_sync_commit", "load_at_start", "load_at_end")
    ]
    assert section["plan"]["peers"] == ["ocaml"]
    units = section["sizes"]["10000"]
    assert units[NATIVE] == FIRST["sizes"]["10000"][NATIVE]  # the first run's, unstamped
    run = units[PEER]["run"]
    assert run["commit"] == provenance.engine_version() and run["date"] != FIRST["date"]
    said = report_scale.markdown(section)
    assert f"run {FIRST['date']}" in said and "native-sync e32c03a" in said
    assert f"Resumed {run['date']} (native-sync {run['commit']}, load average at start" in said
    assert f"): {PEER} at 10,000. " in said


def test_a_section_run_at_once_names_no_resumed_units() -> None:
    stamped = {**FIRST["sizes"]["10000"][NATIVE], "run": {"date": FIRST["date"], "commit": "e32c03a"}}
    section = {**FIRST, "sizes": {"10000": {NATIVE: stamped}}}
    assert report_scale.resumed_units(section) == ""
    assert "Resumed" not in report_scale.markdown(section)
