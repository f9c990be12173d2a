"""A benchmark run that could not measure something says so and exits 1 (bench/failures.py).

``python -m bench.scale`` recorded an engine that never started as the unit's
``error`` and exited 0; ``make bench`` did the same for every section.  The scale
runs below are real (a 10-file tree generated and removed on ``tmp_path``); only
the engine's unit is replaced, by one that fails as a real one does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import bigtrees, engines, failures, run, saves, scale, scale_plan
from bench.scale_plan import Plan

NOT_USABLE = "native-sync not usable:\nsupervisord: unison exited"


def scale_main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unit: Any) -> tuple[int, dict[str, Any]]:
    """``python -m bench.scale`` at 10 files with ``unit`` as native-sync's; exit status, results."""
    monkeypatch.setattr(scale, "units", lambda plan: [(scale_plan.NATIVE, unit)])
    monkeypatch.setenv("SCALE_TMP", str(tmp_path))
    out = tmp_path / "results.json"
    argv = ["--sizes", "10", "--peers", "none", "--out", str(out), "--doc", str(tmp_path / "b.md")]
    status = scale.main(argv)
    return status, json.loads(out.read_text(encoding="utf-8"))


def test_an_engine_that_never_started_fails_the_scale_run_and_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def never_ready(work: Path, tree: Path, n: int, plan: Plan) -> dict[str, Any]:
        assert len(list(tree.rglob("*.txt"))) == n  # the tree was really generated
        raise engines.NotReady(NOT_USABLE)

    status, results = scale_main(tmp_path, monkeypatch, never_ready)
    assert status == 1
    assert results["scale"]["sizes"]["10"]["native-sync"]["error"] == f"NotReady: {NOT_USABLE}"
    err = capsys.readouterr().err
    assert "FAILED: 1 measurement(s) failed" in err
    assert "  sizes/10/native-sync: NotReady: native-sync not usable:" in err
    assert list(tmp_path.glob("nsb-scale-*")) == []  # the tree is removed all the same


def test_an_edit_native_sync_never_delivered_fails_the_scale_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def one_lost(work: Path, tree: Path, n: int, plan: Plan) -> dict[str, Any]:
        return {
            "first_edits_cold": {"host_to_app": [9.1, None, 8.7], "app_to_host": [8.8, 9.0, 9.2]},
            "quick": {"interval_s": 0.2, "app_to_host": {"n": 15, "failed": 2, "p50_ms": 9.0}},
        }

    status, _ = scale_main(tmp_path, monkeypatch, one_lost)
    assert status == 1
    err = capsys.readouterr().err
    assert "sizes/10/native-sync/first_edits_cold/host_to_app: 1 of 3 edits never arrived" in err
    assert "sizes/10/native-sync/quick/app_to_host: 2 of 15 edits never arrived" in err
    assert "app_to_host: 0" not in err and "first_edits_cold/app_to_host" not in err


def test_a_scale_run_that_measured_everything_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fine(work: Path, tree: Path, n: int, plan: Plan) -> dict[str, Any]:
        return {"first_edits_cold": {"host_to_app": [9.1, 8.2]}, "isolated": {"x": {"n": 10, "failed": 0}}}

    status, _ = scale_main(tmp_path, monkeypatch, fine)
    assert status == 0
    assert "FAILED" not in capsys.readouterr().err


def test_make_bench_exits_1_when_a_section_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m bench`` (``make bench``) with its sections replaced: the big trees raised."""
    monkeypatch.setattr(run, "run_plan", lambda plan, work: {})
    monkeypatch.setattr(saves, "run", lambda work, n: {})

    def broken(mode: str) -> dict[str, Any]:
        raise OSError("No space left on device")

    monkeypatch.setattr(bigtrees, "run", broken)
    monkeypatch.setenv("SCALE_SIZES", "none")
    monkeypatch.setenv("BENCH_TMP", str(tmp_path))
    out, doc = tmp_path / "results.json", tmp_path / "b.md"
    assert run.main(["--out", str(out), "--doc", str(doc)]) == 1
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["bigtrees"] == {"error": "OSError: No space left on device"}
    assert doc.exists()  # written whatever failed
    assert "  bigtrees: OSError: No space left on device" in capsys.readouterr().err


def test_what_counts_as_a_failure() -> None:
    results = {
        "sizes": {"10000": {"engines": {run.NATIVE: {"status": {"error": "unison exited"}}}}},
        "saves": {
            "unison + OCaml fsmonitor (stock)": {"quick": {"n": 30, "failed": 13, "samples_ms": [None, 8.4]}},
            "native-sync": {"repeated": {"n": 10, "failed": 1, "samples_ms": [None, 8.2]}},
        },
        "scale": {"sizes": {"10000": {"ocaml peer": {"error": "NotReady: no sync"}}}},
    }
    assert failures.errors(results) == ["scale/sizes/10000/ocaml peer: NotReady: no sync"]
    assert failures.lost_edits(results) == ["saves/native-sync/repeated: 1 of 10 edits never arrived"]
    assert failures.NATIVE == run.NATIVE == scale_plan.NATIVE
