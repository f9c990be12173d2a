"""The scale section (issue 24): does one edit cost the same at 10k, 100k and 400k files?

For each size, one generated tree on tmpfs (``/dev/shm``, or ``SCALE_TMP``) is
copied with ``cp -a`` to each engine's host side (that copy is the reference of
"time to usable"), and each engine is measured alone, in the order people
work (:mod:`bench.scale_measure`): a cold start (usable, watching), the first
six host edits (a new file, then saves), the app's next six and the host's
again; edits both ways, isolated and 0.2 s apart; edits next to an app-side
log appended every 100 ms (their p50/p99, the log's lag, the engine's CPU,
the watchdog's restarts, the bytes unison wrote into ``UNISON``); idle CPU
with the verifier on; then a warm restart (archives kept) and its first edits.

Engines: native-sync, and as peers unison ``-repeat watch`` with its own
OCaml ``unison-fsmonitor``, from our build and from the stock release
(``make unison-stock``), each where it is built.

Each (size, engine) is a *unit*; it is saved into ``bench/results.json``'s
``scale`` key as soon as it is done, so a run can be resumed (``--resume``:
units already there without an error are kept) and sizes run one at a time.

Environment: ``SCALE_SIZES`` (``10k,100k,400k``), ``SCALE_QUICK=1`` (fewer
edits, shorter windows), ``SCALE_PEERS`` (``ocaml,ocaml-stock``; ``none``),
``SCALE_RESUME=1``, ``SCALE_TMP``.  ``python -m bench.scale --estimate``
prints the expected runtime and stops.

Exit status 1 when the section it wrote holds a failure (:mod:`bench.failures`:
a unit that raised, such as an engine that never started, or an edit of
native-sync's that never arrived), each named on stderr; units of a resumed
section are in it too, until a run with ``--resume`` redoes them.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import engines, failures, provenance, report, saves, scale_measure, scale_plan, trees
from bench.scale_plan import Plan
from engine.state import jsonfile, shared

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results.json"
DOC = REPO / "docs" / "benchmarks.md"
READY_TIMEOUT = 1800.0
SETTLE = 2.0


def log(message: str) -> None:
    print(f"[bench.scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def usable_then_watching(engine: engines.NativeSync) -> tuple[float, float]:
    """Start native-sync; seconds until it is usable (healthy), then until it is watching."""
    healthy = engine.engine.runtime / shared.HEALTHY_FILE
    state = engine.engine.runtime / shared.STATE_FILE
    started = time.monotonic()
    engine.start()
    deadline = started + READY_TIMEOUT
    while not (healthy.exists() or jsonfile.read_json(state).get("state") == "watching"):
        if not engine.alive() or time.monotonic() > deadline:
            raise engines.NotReady(f"native-sync not usable:\n{engine.engine.logs()[-2000:]}")
        time.sleep(0.005)
    usable = time.monotonic() - started
    return usable, engine.wait_ready(READY_TIMEOUT) - started


def running(engine: engines.Base, n: int, plan: Plan, out: dict[str, Any]) -> None:
    """Everything measured on a started engine, in the order people work."""
    label = f"{engine.name} @ {n}"
    log(f"{label}: the first edits after the cold start")
    out["first_edits_cold"] = scale_measure.first_edits_both(engine, n, "cold")
    log(f"{label}: edits both ways, isolated and {scale_measure.QUICK_INTERVAL} s apart")
    out.update(scale_measure.both_ways(engine, n, plan.counts))
    log(f"{label}: edits next to a log appended every 100 ms")
    out["under_log"] = scale_measure.under_log(engine, n, plan.counts)
    time.sleep(SETTLE)
    log(f"{label}: idle for {plan.counts.idle_seconds:g} s")
    out["idle"] = scale_measure.idle(engine, plan.counts.idle_seconds)
    if isinstance(engine, engines.NativeSync):
        out["verifier"] = engine.status().get("verifier")
    engine.stop()
    log(f"{label}: warm restart")
    out["warm_restart_s"] = scale_measure.timed_start(engine, READY_TIMEOUT)
    out["first_edits_warm"] = scale_measure.first_edits_both(engine, n, "warm")


def native_unit(work: Path, tree: Path, n: int, plan: Plan) -> dict[str, Any]:
    engine = engines.NativeSync(work / f"native-{n}")
    out: dict[str, Any] = {}
    try:
        out["cp_a_s"] = trees.copy(tree, engine.host)
        os.sync()
        log(f"native-sync @ {n}: cold start")
        out["usable_s"], out["watching_s"] = usable_then_watching(engine)
        copied = engine.engine.events("coldstart.usable")
        if copied:  # the copy's CPU: ours (user) and the kernel's (system), to tell whose time grew
            out["copy_cpu"] = {"user_s": copied[0]["cpu_user_s"], "system_s": copied[0]["cpu_system_s"]}
        running(engine, n, plan, out)
    finally:
        engine.cleanup()
    return out


def peer_unit(work: Path, tree: Path, n: int, plan: Plan, bindir: Path, slug: str) -> dict[str, Any]:
    """unison -repeat watch with its OCaml fsmonitor: a one-shot into the empty side, then watch."""
    extra = {"UNISON_WATCH_INTERVAL": saves.PEER_INTERVAL} if bindir == saves.PATCHED else {}
    engine = saves.peer(work / f"{slug}-{n}", slug, bindir, extra, ())
    assert isinstance(engine, engines.UnisonRepeat)
    out: dict[str, Any] = {}
    try:
        out["cp_a_s"] = trees.copy(tree, engine.host)
        os.sync()
        log(f"{slug} @ {n}: one-shot unison into the empty side")
        out["one_shot_s"] = engine.one_shot()
        out["watching_s"] = out["one_shot_s"] + scale_measure.timed_start(engine, READY_TIMEOUT)
        running(engine, n, plan, out)
    finally:
        engine.cleanup()
    return out


def units(plan: Plan) -> list[tuple[str, Callable[[Path, Path, int, Plan], dict[str, Any]]]]:
    found: list[tuple[str, Callable[[Path, Path, int, Plan], dict[str, Any]]]] = [
        (scale_plan.NATIVE, native_unit)
    ]
    for slug in plan.peers:
        label, bindir = scale_plan.PEERS[slug]
        if (bindir / saves.OCAML_FSMONITOR).exists():
            found.append((label, functools.partial(peer_unit, bindir=bindir, slug=slug)))
        else:
            log(f"{label}: not built ({bindir}); skipped")
    return found


def load(path: Path) -> dict[str, Any]:
    try:
        found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return found
    except (OSError, ValueError):
        return {}


def save(scale: dict[str, Any], results: Path, doc: Path | None) -> None:
    """Write ``scale`` into results.json (the rest of it kept) and the page, after every unit."""
    whole = load(results)
    whole["scale"] = scale
    results.write_text(json.dumps(whole, indent=2) + "\n", encoding="utf-8")
    if doc is not None:
        doc.write_text(report.markdown(whole), encoding="utf-8")


def run(plan: Plan, results: Path = RESULTS, doc: Path | None = DOC, resume: bool = False) -> dict[str, Any]:
    """Every unit of ``plan``; a failed unit is recorded, not raised.  Returns the scale section."""
    previous = load(results).get("scale", {}) if resume else {}
    resuming = bool(previous.get("sizes"))
    this_run = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": provenance.engine_version(),
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    scale: dict[str, Any] = {
        "date": this_run["date"],
        "plan": plan.describe(),
        "place": plan.tmp,
        "load_at_start": this_run["load_at_start"],
        "estimate_s": scale_plan.estimate(plan),
        "native_sync_commit": this_run["commit"],
        "sizes": previous.get("sizes", {}),
    }
    if resuming:  # the section keeps its first run's when and what; each unit says its own
        scale = resumed(previous, scale)
    log(f"sizes {plan.sizes}, peers {plan.peers}, expected {scale_plan.describe_estimate(plan)}")
    for n in plan.sizes:
        entry = scale["sizes"].setdefault(str(n), {})
        todo = [(label, fn) for label, fn in units(plan) if "error" in entry.get(label, {"error": ""})]
        if not todo:
            log(f"{n}: every unit done already (resumed)")
            continue
        work = Path(tempfile.mkdtemp(prefix=f"nsb-scale-{n}-", dir=plan.tmp))
        try:
            started = time.monotonic()
            tree = trees.generate(work / "tree", n)
            entry["generate_s"] = round(time.monotonic() - started, 2)
            for label, fn in todo:
                started = time.monotonic()
                try:
                    entry[label] = fn(work, tree, n, plan)
                except Exception as e:  # one engine's failure must not hide the others
                    log(f"{label} @ {n}: FAILED: {e}")
                    entry[label] = {"error": f"{type(e).__name__}: {e}"}
                entry[label]["unit_s"] = round(time.monotonic() - started, 1)
                entry[label]["run"] = this_run
                if not resuming:
                    scale["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
                save(scale, results, doc)
        finally:
            trees.remove(work)
    return scale


def resumed(previous: dict[str, Any], scale: dict[str, Any]) -> dict[str, Any]:
    """The section of a resumed run: the first run's date, commit and loads, the peers of both."""
    peers = sorted({*previous.get("plan", {}).get("peers", []), *scale["plan"]["peers"]})
    first = ("date", "native_sync_commit", "load_at_start", "load_at_end")
    kept = {k: previous[k] for k in first if k in previous}
    return {**scale, **kept, "plan": {**scale["plan"], "peers": peers}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=os.environ.get("SCALE_SIZES") or None, help="e.g. 10k,100k,400k")
    parser.add_argument("--quick", action="store_true", default=os.environ.get("SCALE_QUICK") == "1")
    parser.add_argument("--peers", default=os.environ.get("SCALE_PEERS") or None, help="ocaml,ocaml-stock")
    parser.add_argument("--resume", action="store_true", default=os.environ.get("SCALE_RESUME") == "1")
    parser.add_argument("--estimate", action="store_true", help="print the expected runtime and stop")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)
    try:
        plan = scale_plan.make(args.sizes, args.quick, args.peers, os.environ.get("SCALE_TMP"))
    except ValueError as e:
        print(f"bench.scale: {e}", file=sys.stderr)
        return 2
    print(f"expected runtime: {scale_plan.describe_estimate(plan)}", file=sys.stderr)
    if args.estimate:
        return 0
    section = run(plan, args.out, args.doc, args.resume)
    return failures.report(section, log)


if __name__ == "__main__":
    sys.exit(main())
