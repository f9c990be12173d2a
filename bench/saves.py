"""How people edit (issue 17): one file saved again and again, saves on both sides in turn.

Each engine runs on its own copy of one generated tree and is measured alone:

- **repeated saves**: one file saved ``REPEATS`` times, 2-4 s apart, host and
  app in turn; the latency of each save (the tenth save counts, not only the
  first);
- **quick edits**: edits ``0.7`` and ``0.2`` s apart (five files in turn, so
  each edit's arrival is its own; an edit overwritten before it arrived counts
  as a timeout);
- **isolated**: single edits 1.5 s apart, both directions;
- **host then app**: the host saves a file, the app saves it again 0.3 s
  later: the later save must win on both sides, with no conflict copy;
- **-times**: with ``-times`` in ``UNISON_ARGS``, an in-place same-size edit
  made right after the previous version synced (the same second), both ways:
  it must cross (stock unison's fastcheck takes it as unchanged);
- **churn**: host edits while the app appends a log line every 100 ms
  (:mod:`bench.churn`).

The engines: native-sync on our patched unison, native-sync on the stock
release (``UNISON_BIN``), and unison's own ``-repeat watch`` with its OCaml
``unison-fsmonitor``, stock and patched (``UNISON_WATCH_INTERVAL``), all built
from the same source by ``unison/build.sh`` into ``build/``.

``python -m bench.saves`` runs this section alone and prints JSON;
``make bench`` runs it as part of the whole set.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import churn, engines, metrics, trees

REPO = Path(__file__).resolve().parent.parent
PATCHED = REPO / "build" / "unison" / "bin"
STOCK = REPO / "build" / "unison-stock" / "bin"
OCAML_FSMONITOR = "unison-fsmonitor-ocaml"
PEER_INTERVAL = "0.02"  # the patched peer's pause, the same as native-sync's default

REPEATS = 10
REPEAT_GAP = (2.0, 4.0)
QUICK = ((0.7, 20), (0.2, 30))  # (seconds apart, edits)
QUICK_FILES = 5  # quick edits go to these in turn: each file is saved again a second later
ISOLATED = 10
HOST_THEN_APP = 10
HOST_THEN_APP_GAP = 0.3
TIMES_TRIALS = 10
CHURN_TRIALS = 20
SETTLE = 1.0
CONVERGE = 30.0


def log(message: str) -> None:
    print(f"[bench.saves {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def repeated(engine: engines.Base, rel: str, rng: random.Random) -> list[metrics.Sample]:
    """One file saved ``REPEATS`` times, REPEAT_GAP apart, host and app in turn."""
    samples: list[metrics.Sample] = []
    sides = ((engine.host, engine.app), (engine.app, engine.host))
    for i in range(REPEATS):
        src, dst = sides[i % 2]
        data = metrics.edit_data("repeat", i)
        samples.append(metrics.wait_content(dst / rel, data, metrics.write(src, rel, data)))
        time.sleep(rng.uniform(*REPEAT_GAP))
    return samples


def host_then_app(engine: engines.Base, rels: list[str]) -> dict[str, Any]:
    """The host saves, the app saves the same file 0.3 s later: does the later save win?"""
    wins = 0
    for i, rel in enumerate(rels):
        first, second = metrics.edit_data("host", i), metrics.edit_data("app-later", i)
        written = metrics.write(engine.host, rel, first)
        time.sleep(max(0.0, written + HOST_THEN_APP_GAP - time.monotonic()))
        later = metrics.write(engine.app, rel, second)
        if metrics.wait_content(engine.host / rel, second, later, CONVERGE) is not None:
            time.sleep(SETTLE)  # a conflict resolution would rewrite it now
            wins += metrics.holds(engine.host / rel, second) and metrics.holds(engine.app / rel, second)
        time.sleep(SETTLE)
    return {
        "trials": len(rels),
        "later_save_won": wins,
        "conflict_copies": len(conflict_copies(engine.host) | conflict_copies(engine.app)),
    }


def times_same_second(engine: engines.Base, rels: list[str]) -> dict[str, Any]:
    """With ``-times``: a same-size in-place edit right after the previous version crossed."""
    samples: list[metrics.Sample] = []
    sides = ((engine.host, engine.app), (engine.app, engine.host))
    for i, rel in enumerate(rels):
        src, dst = sides[i % 2]
        first = f"times {i} A {time.monotonic_ns():020d}\n".encode()
        second = first.replace(b" A ", b" B ")  # the same size
        if metrics.wait_content(dst / rel, first, metrics.write(src, rel, first)) is None:
            samples.append(None)
            continue
        samples.append(metrics.wait_content(dst / rel, second, metrics.write(src, rel, second), CONVERGE))
        time.sleep(SETTLE)
    return {"trials": len(rels), **metrics.summary(samples, keep=True)}


def conflict_copies(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*conflict*")}


def quick_edits(engine: engines.Base, n: int) -> dict[str, Any]:
    out = {}
    for interval, count in QUICK:
        files = trees.sample(n, QUICK_FILES, seed=int(interval * 100))
        edits = [files[k % QUICK_FILES] for k in range(count)]
        samples = metrics.succession(engine.host, engine.app, edits, interval, count)
        out[f"{interval}s"] = {"interval_s": interval, **metrics.summary(samples, keep=True)}
        time.sleep(SETTLE)
    return out


def measure(engine: engines.Base, n: int, times: bool) -> dict[str, Any]:
    """Every scenario on one running engine."""
    rng = random.Random(n)
    files = trees.sample(n, 64, seed=n + 17)
    out: dict[str, Any] = {}
    time.sleep(SETTLE)
    if times:
        log(f"{engine.name}: -times, same-size edits right after a sync")
        out["times_same_second"] = times_same_second(engine, files[:TIMES_TRIALS])
        return out
    log(f"{engine.name}: {REPEATS} saves of one file, {REPEAT_GAP[0]}-{REPEAT_GAP[1]} s apart, both sides")
    out["repeated"] = metrics.summary(repeated(engine, files[0], rng), keep=True)
    log(f"{engine.name}: quick edits")
    out["quick"] = quick_edits(engine, n)
    log(f"{engine.name}: isolated edits")
    iso = metrics.isolated(engine.host, engine.app, files[10:20], ISOLATED, 1.5, 0.5, seed=n)
    out["isolated"] = {direction: metrics.summary(s) for direction, s in iso.items()}
    log(f"{engine.name}: host save, then app save {HOST_THEN_APP_GAP} s later")
    out["host_then_app"] = host_then_app(engine, files[20 : 20 + HOST_THEN_APP])
    log(f"{engine.name}: edits while a log churns")
    out["churn"] = churn.measure(engine, files[40 : 40 + CHURN_TRIALS], CHURN_TRIALS, 1.5, jitter=0.5)
    out["churn"]["host_to_app"].pop("samples_ms", None)
    out["idle_cpu"] = metrics.idle_cpu(engine.processes, 20.0)
    out["identical"] = metrics.wait_identical(engine.host, engine.app)
    return out


def native(base: Path, unison_bin: Path, extra: dict[str, str]) -> engines.NativeSync:
    engine = engines.NativeSync(base)
    engine.engine.env["UNISON_BIN"] = str(unison_bin)
    engine.engine.env.update(extra)
    return engine


def peer(base: Path, name: str, bindir: Path, extra: dict[str, str], args: tuple[str, ...]) -> engines.Base:
    return engines.UnisonRepeat(
        base,
        name,
        "watch",
        bindir / OCAML_FSMONITOR,
        unison=bindir / "unison",
        env=extra,
        args=("-copyonconflict", *args),
    )


def contenders(times: bool) -> list[tuple[str, Callable[[Path], engines.Base]]]:
    args = ("-times",) if times else ()
    ns_extra = {"UNISON_ARGS": "-times"} if times else {}
    found: list[tuple[str, Callable[[Path], engines.Base]]] = [
        ("native-sync", lambda b: native(b, PATCHED / "unison", ns_extra)),
        ("native-sync, stock unison", lambda b: native(b, STOCK / "unison", ns_extra)),
    ]
    if (STOCK / OCAML_FSMONITOR).exists():
        found.append(("unison + OCaml fsmonitor (stock)", lambda b: peer(b, "ocaml-stock", STOCK, {}, args)))
    if (PATCHED / OCAML_FSMONITOR).exists():
        extra = {"UNISON_WATCH_INTERVAL": PEER_INTERVAL}
        found.append(
            ("unison + OCaml fsmonitor (patched)", lambda b: peer(b, "ocaml-patched", PATCHED, extra, args))
        )
    return found


def run(work: Path, n: int) -> dict[str, Any]:
    """All contenders on one tree of ``n`` files; a failure is reported, not raised."""
    tree = trees.generate(work / "tree", n)
    results: dict[str, Any] = {
        "files": n,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_at_start": os.getloadavg(),
    }
    for times in (False, True):
        for label, make in contenders(times):
            key = f"{label}, -times" if times else label
            engine = make(work / key.replace(" ", "-").replace(",", "").replace("(", "").replace(")", ""))
            try:
                trees.copy(tree, engine.host)
                if isinstance(engine, engines.UnisonRepeat):
                    engine.one_shot()
                engine.start()
                engine.wait_ready(900.0)
                results[key] = measure(engine, n, times)
            except Exception as e:  # one engine's failure must not hide the others
                log(f"{key}: FAILED: {e}")
                results[key] = {"error": f"{type(e).__name__}: {e}"}
            finally:
                engine.cleanup()
    results["load_at_end"] = os.getloadavg()
    return results


# --- the report (docs/benchmarks.md) ------------------------------------------------------------
TARGETS = "repeated saves p90 <= 20 ms; 0.7/0.2 s apart p50 <= 20 ms, p99 <= 100 ms; isolated p50 <= 10 ms"


def _ms(value: float | None) -> str:
    return "timeout" if value is None else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _row(label: str, data: dict[str, Any]) -> list[str]:
    if "error" in data:
        return [label, f"failed: {data['error']}"] + [""] * 7
    rep, quick = data["repeated"], data["quick"]
    iso = data["isolated"]
    hta, ch = data["host_then_app"], data["churn"]
    return [
        label,
        f"{_ms(rep['p50_ms'])} / {_ms(rep['p90_ms'])} / {_ms(rep['max_ms'])}",
        *(f"{_ms(quick[k]['p50_ms'])} / {_ms(quick[k]['p99_ms'])}" for k in ("0.7s", "0.2s")),
        f"{_ms(iso['host_to_app']['p50_ms'])} / {_ms(iso['app_to_host']['p50_ms'])}",
        f"{hta['later_save_won']}/{hta['trials']}, {hta['conflict_copies']} copies",
        f"{_ms(ch['host_to_app']['p50_ms'])} / {_ms(ch['hot_lag']['p50_ms'])}",
        f"{data['idle_cpu']['percent_of_core']:.2f}%" if data.get("idle_cpu") else "-",
        "yes" if data.get("identical") else "**no**",
    ]


def markdown(results: dict[str, Any]) -> str:
    """The section of docs/benchmarks.md for these results."""
    if not results or "error" in results:
        return f"\n## How people edit\n\nNot measured: {results.get('error') if results else 'skipped'}\n"
    header = [
        "engine",
        "same file, 10 saves both sides: p50 / p90 / max ms",
        "0.7 s apart: p50 / p99",
        "0.2 s apart: p50 / p99",
        "isolated h→a / a→h p50",
        "host, then app 0.3 s later: later save won",
        "while a log churns: edit p50 / log lag p50",
        "idle CPU",
        "identical",
    ]
    rows, times = [], []
    for label, data in results.items():
        if not isinstance(data, dict):
            continue
        if label.endswith(", -times"):
            t = data.get("times_same_second")
            times.append(
                [label, f"failed: {data['error']}"]
                if t is None
                else [label, f"{t['n'] - t['failed']}/{t['n']}", _ms(t["p50_ms"]), _ms(t["max_ms"])]
            )
        else:
            rows.append(_row(label, data))
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    tlines = ["| engine | crossed | p50 ms | max ms |", "|---|---|---|---|"]
    tlines += ["| " + " | ".join(r) + " |" for r in times]
    load = ", ".join(f"{x:.2f}" for x in results.get("load_at_start", ()))
    return (
        f"\n## How people edit ({results['files']:,} files)\n\n"
        f"Run {results.get('date', '?')} (`python -m bench.saves`), load average at start {load}.\n\n"
        "`bench/saves.py`: one file saved again and again on both sides, edits a fraction of a second "
        "apart, a host save followed 0.3 s later by an app save of the same file, single edits, and "
        f"edits while a log churns. Targets: {TARGETS}; the later save wins with no conflict copy.\n\n"
        + "\n".join(lines)
        + "\n\nWith `-times` (`-prefer newer` needs it): a same-size in-place edit made right after the "
        "previous version crossed, both ways; stock unison's fastcheck takes it as unchanged "
        "(a timeout here is an edit that never crossed within 30 s).\n\n" + "\n".join(tlines) + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.saves", description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="nsb-saves-", dir=os.environ.get("BENCH_TMP") or "/tmp"))
    try:
        json.dump(run(work, args.files), sys.stdout, indent=2)
        print()
    finally:
        trees.remove(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
