"""The model-based sync fuzzer (tests/fuzz/) against the real engine.

The short run is part of the suite: fixed seeds, derandomized, a few hundred
steps.  ``make fuzz`` runs the long one (``FUZZ_SECONDS``, ``FUZZ_STEPS``,
``FUZZ_SEED``, ``FUZZ_UNISON_BIN``; README "Fuzzing").  A failing example the
fuzzer found is kept below as an ordinary test.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from engine.conflicts import STORE
from tests.fuzz import machine
from tests.fuzz.machine import STATS, Rig, SyncMachine, converged
from tests.helpers import read, wait_for

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


def _settings(examples: int, steps: int) -> settings:
    return settings(
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
    """A few dozen steps per seed, the same ones every time (bounded: see the timeout)."""
    run_state_machine_as_test(seed(fixed)(SyncMachine), settings=_settings(examples=3, steps=24))


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
            run_state_machine_as_test(machine_at_seed, settings=_settings(examples=5, steps=50))
        except Exception as e:  # recorded with its seed; the next seed runs on a fresh engine
            failures.append({"seed": current, "error": f"{type(e).__name__}: {e}"[:4000]})
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
