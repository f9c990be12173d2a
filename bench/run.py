"""The benchmark plan and its command line (``python -m bench``, ``make bench``).

For each tree size, one generated tree is copied to every engine; each engine
is started, measured and stopped in turn (never two at once: this machine has
two cores).  References (``cp -a``, one-shot ``unison -batch``) run on the
polling engine's folders before and after it runs.

Environment (read here only): ``BENCH=full`` for the full set,
``BENCH_PEER_FSMONITOR=path`` to add unison ``-repeat watch`` with that
``unison-fsmonitor`` (``BENCH_PEER_LABEL``: what it is, for the
report), ``BENCH_TMP`` for where the trees go (default /tmp).

The results and the page are written whatever failed; the exit status is 1
when anything did (:mod:`bench.failures`), each failure named on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from bench import bigtrees, churn, engines, failures, metrics, report, saves, scale, scale_plan, trees
from bench import verifier as verifier_bench
from bench.provenance import engine_version, machine, versions

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 900.0
SETTLE = 2.0
BURSTS = 3
VERIFIER_MIN_SIZE = 10_000  # the verifier section runs at 10k (quick) and 100k (full)

NATIVE = "native-sync"
POLLING = "unison -repeat 1"
PEER = "unison -repeat watch + peer fsmonitor"


@dataclass(frozen=True)
class Plan:
    """What one run measures."""

    mode: str
    sizes: tuple[int, ...]
    main_size: int  # succession, 0.7 s edits, burst
    burst_sizes: tuple[int, ...]
    warm_size: int
    idle_size: int
    idle_seconds: float
    trials: int = 30
    gap: float = 1.5
    jitter: float = 1.0  # random extra gap, so edits hit polling engines at every phase
    succession_interval: float = 0.2
    succession_seconds: float = 10.0
    spaced_interval: float = 0.7
    spaced_count: int = 30
    peer: Path | None = None
    notes: list[str] = field(default_factory=list)


def plan_for(mode: str, peer: Path | None, sizes: tuple[int, ...] | None = None) -> Plan:
    if mode == "full":
        chosen = sizes or (1_000, 10_000, 100_000)
        big = max(chosen)
        return Plan(
            mode,
            chosen,
            main_size=min(10_000, big),
            burst_sizes=tuple(n for n in chosen if n >= 10_000) or (big,),
            warm_size=big,
            idle_size=big,
            idle_seconds=60.0,
            peer=peer,
        )
    chosen = sizes or (10_000,)  # a few minutes; 1k and 100k are in the full set
    big = max(chosen)
    return Plan(
        "quick",
        chosen,
        main_size=big,
        burst_sizes=(big,),
        warm_size=big,
        idle_size=big,
        idle_seconds=20.0,
        peer=peer,
    )


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measure_running(engine: engines.Base, n: int, plan: Plan, out: dict[str, Any]) -> None:
    """Everything measured while an engine runs (it is ready and in sync)."""
    time.sleep(SETTLE)
    files = trees.sample(n, 2 * plan.trials, seed=n)
    log(f"{engine.name} @ {n}: isolated edits ({plan.trials} per direction, >= {plan.gap} s apart)")
    isolated = metrics.isolated(engine.host, engine.app, files, plan.trials, plan.gap, plan.jitter, seed=n)
    out["isolated"] = {direction: metrics.summary(s) for direction, s in isolated.items()}
    if n == plan.main_size:
        time.sleep(plan.gap)
        count = round(plan.succession_seconds / plan.succession_interval)
        log(f"{engine.name} @ {n}: {count} edits {plan.succession_interval} s apart")
        quick = trees.sample(n, count, seed=n + 1)
        samples = metrics.succession(engine.host, engine.app, quick, plan.succession_interval, count)
        out["succession"] = {"interval_s": plan.succession_interval, **metrics.summary(samples, keep=True)}
        time.sleep(plan.gap)
        log(f"{engine.name} @ {n}: {plan.spaced_count} edits {plan.spaced_interval} s apart")
        spaced = trees.sample(n, plan.spaced_count, seed=n + 2)
        samples = metrics.succession(engine.host, engine.app, spaced, plan.spaced_interval, plan.spaced_count)
        out["spaced"] = {"interval_s": plan.spaced_interval, **metrics.summary(samples, keep=True)}
    if n == plan.idle_size:
        time.sleep(SETTLE)
        log(f"{engine.name} @ {n}: idle CPU over {plan.idle_seconds} s")
        out["idle_cpu"] = metrics.idle_cpu(engine.processes, plan.idle_seconds)
    # --- RSS at every size (issue 11: <= 80 MB at 10k and 100k) ---
    out["rss_all"] = metrics.rss(engine.processes())
    out["rss_python"] = metrics.rss(engine.python_processes())
    # --- churn (issue 11): host edits while a log on the app side is appended every 100 ms ---
    if n == plan.main_size:
        time.sleep(plan.gap)
        log(f"{engine.name} @ {n}: {plan.trials} host edits {plan.gap} s apart while a log churns")
        edits = trees.sample(n, plan.trials, seed=n + 3)
        out["churn"] = churn.measure(engine, edits, plan.trials, plan.gap)
    if n in plan.burst_sizes:
        log(f"{engine.name} @ {n}: {BURSTS} bursts of 500 new + 500 deleted files")
        runs = []
        for k in range(BURSTS):
            time.sleep(plan.gap)
            change = trees.make_burst(n, tag=f"e{k}", offset=k)
            runs.append(metrics.burst(engine.host, engine.app, change))
            runs[-1]["identical"] = metrics.wait_identical(engine.host, engine.app)
        out["burst"] = metrics.burst_summary(runs)


def run_native(base: Path, tree: Path, n: int, plan: Plan) -> dict[str, Any]:
    out: dict[str, Any] = {}
    engine = engines.NativeSync(base / f"native-{n}")
    try:
        trees.copy(tree, engine.host)
        log(f"{NATIVE} @ {n}: cold start")
        os.sync()  # the copy's dirty pages would otherwise be written back during the start
        started = time.monotonic()
        engine.start()
        out["cold_start_s"] = engine.wait_ready(READY_TIMEOUT) - started
        out["cold_start_identical"] = trees.identical(engine.host, engine.app)
        measure_running(engine, n, plan, out)
        if n == plan.warm_size:
            engine.stop()
            log(f"{NATIVE} @ {n}: warm restart")
            started = time.monotonic()
            engine.start()
            out["warm_restart_s"] = engine.wait_ready(READY_TIMEOUT) - started
        out["status"] = engine.status()
    finally:
        engine.cleanup()
    return out


def run_unison(
    base: Path, tree: Path, n: int, plan: Plan, name: str, repeat: str, peer: Path | None, refs: bool
) -> dict[str, Any]:
    """A unison engine; with ``refs``, also the one-shot and ``cp -a`` references on its folders."""
    out: dict[str, Any] = {}
    slug = "peer" if peer else "polling"
    engine = engines.UnisonRepeat(base / f"{slug}-{n}", name, repeat, peer)
    try:
        os.sync()
        out["cp_a_s"] = trees.copy(tree, engine.host)
        log(f"{name} @ {n}: one-shot unison on the fresh tree")
        os.sync()
        out["one_shot_cold_s"] = engine.one_shot()
        out["one_shot_cold_identical"] = trees.identical(engine.host, engine.app)
        started = time.monotonic()
        engine.start()
        out["start_to_first_sync_s"] = engine.wait_ready(READY_TIMEOUT) - started
        measure_running(engine, n, plan, out)
        engine.stop()
        if refs and n == plan.warm_size:
            log(f"{name} @ {n}: one-shot unison on the unchanged tree")
            out["one_shot_unchanged_s"] = engine.one_shot()
        if refs and n in plan.burst_sizes:
            log(f"{name} @ {n}: one-shot unison over {BURSTS} bursts")
            runs = []
            for k in range(BURSTS):
                change = trees.make_burst(n, tag=f"r{k}", offset=BURSTS + k)
                change.apply(engine.host)
                os.sync()
                runs.append(
                    {"seconds": engine.one_shot(), "identical": trees.identical(engine.host, engine.app)}
                )
            out["one_shot_burst"] = metrics.burst_summary(runs)
            out["one_shot_burst_s"] = out["one_shot_burst"]["seconds"]
    finally:
        engine.cleanup()
    return out


def guarded(what: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one engine's measurements; a failure is reported in the results, not raised."""
    try:
        return fn()
    except Exception as e:
        log(f"{what}: FAILED: {e}")
        return {"error": f"{type(e).__name__}: {e}"}


def run_plan(plan: Plan, work: Path) -> dict[str, Any]:
    sizes: dict[str, Any] = {}
    for n in plan.sizes:
        log(f"generating a tree of {n} files")
        started = time.monotonic()
        tree = trees.generate(work / f"tree-{n}", n)
        entry: dict[str, Any] = {"generate_s": time.monotonic() - started, "engines": {}}
        found = entry["engines"]
        found[NATIVE] = guarded(NATIVE, partial(run_native, work, tree, n, plan))
        found[POLLING] = guarded(POLLING, partial(run_unison, work, tree, n, plan, POLLING, "1", None, True))
        if plan.peer is not None:
            found[PEER] = guarded(
                PEER, partial(run_unison, work, tree, n, plan, PEER, "watch", plan.peer, False)
            )
        if n >= VERIFIER_MIN_SIZE:  # the drift verifier through bindfs (issue 9)
            why_not = verifier_bench.available()
            entry["verifier"] = (
                {"skipped": why_not}
                if why_not
                else guarded("verifier", partial(verifier_bench.run, work, tree, n, READY_TIMEOUT))
            )
        trees.remove(tree)
        sizes[str(n)] = entry
    return sizes


def run_scale(mode: str, out: Path) -> dict[str, Any]:
    """The scale section, quick unless ``BENCH=full``; SCALE_* as for ``python -m bench.scale``."""
    plan = scale_plan.make(
        os.environ.get("SCALE_SIZES"),
        mode != "full" or os.environ.get("SCALE_QUICK") == "1",
        os.environ.get("SCALE_PEERS"),
        os.environ.get("SCALE_TMP"),
    )
    return scale.run(plan, out, None, resume=os.environ.get("SCALE_RESUME") == "1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("quick", "full"), default=os.environ.get("BENCH") or "quick")
    parser.add_argument("--sizes", type=lambda s: tuple(int(x) for x in s.split(",")), default=None)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results.json")
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    if args.mode not in ("quick", "full"):
        print(f"BENCH={args.mode!r}: expected 'quick' or 'full'", file=sys.stderr)
        return 2
    peer_env = os.environ.get("BENCH_PEER_FSMONITOR")
    peer = Path(peer_env) if peer_env else None
    if peer is not None and not os.access(peer, os.X_OK):
        print(f"BENCH_PEER_FSMONITOR={peer_env!r}: not an executable file", file=sys.stderr)
        return 2
    plan = plan_for(args.mode, peer, args.sizes)
    plan = Plan(**{**plan.__dict__, "trials": args.trials})
    load = os.getloadavg()
    started = time.monotonic()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": plan.mode,
        "machine": machine(),
        "versions": versions(peer, os.environ.get("BENCH_PEER_LABEL")),
        "load_at_start": [round(x, 2) for x in load],
        "plan": {k: (str(v) if isinstance(v, Path) else v) for k, v in plan.__dict__.items()},
    }
    log(f"mode {plan.mode}, sizes {plan.sizes}, load {load[0]:.2f}, peer {peer}")
    work = Path(tempfile.mkdtemp(prefix="nsb-", dir=os.environ.get("BENCH_TMP") or "/tmp"))
    try:
        results["sizes"] = run_plan(plan, work)
    finally:
        trees.remove(work)
    # issue 17: how people edit, native-sync and unison's own fsmonitor on stock and patched unison
    saves_work = Path(tempfile.mkdtemp(prefix="nsb-saves-", dir=os.environ.get("BENCH_TMP") or "/tmp"))
    try:
        results["saves"] = guarded("saves", partial(saves.run, saves_work, plan.main_size))
    finally:
        trees.remove(saves_work)
    # issue 24: one edit at 10k, 100k and 400k files (bench/scale.py; quick: 10k, fewer edits)
    if os.environ.get("SCALE_SIZES") != "none":
        results["scale"] = guarded("scale", partial(run_scale, plan.mode, args.out))
    # issue 13: cold starts of big trees on a disk and on tmpfs (bench/bigtrees.py)
    results["bigtrees"] = guarded("big trees", partial(bigtrees.run, plan.mode))
    results["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["versions"]["native_sync_commit_at_end"] = engine_version()
    if results["versions"]["native_sync_commit_at_end"] != results["versions"]["native_sync_commit"]:
        log("WARNING: the engine changed during the run; these numbers mix two versions")
    results["duration_s"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(report.markdown(results), encoding="utf-8")
    log(f"done in {results['duration_s']} s: {args.out}, {args.doc}")
    return failures.report(results, log)
