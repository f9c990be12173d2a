"""The scale section's start table (bench/report_scale.py): time to usable, and whose time it was."""

from __future__ import annotations

from typing import Any

from bench import report_scale
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
