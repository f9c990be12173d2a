"""Big trees (issue 13): time to a usable volume and to changes flowing, against ``cp -a`` and unison.

For each size and place (a local disk, tmpfs), one generated tree is, in turn:
copied with ``cp -a``; synced by a one-shot unison into an empty folder (the
reference cold start, unison's own defaults); synced by native-sync from
cold (seconds until ``health`` passes, i.e. a usable volume, and until
``watching``, i.e. changes flowing), then restarted warm.  One thing runs at a
time.  ``python -m bench.bigtrees --sizes 100000 --places tmpfs`` runs this
section alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench import engines, trees
from engine.state import jsonfile, shared

TIMEOUT = 1800.0
PLACES = {"disk": None, "tmpfs": "/dev/shm"}  # None: BENCH_TMP or /tmp
TARGET_USABLE = 2.0  # x cp -a
TARGET_GROWTH = 4.5  # 100k -> 400k
TARGET_WARM = 3.0  # s at 400k


def log(message: str) -> None:
    print(f"[bigtrees {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def sizes_for(mode: str) -> tuple[int, ...]:
    return (100_000, 200_000, 400_000) if mode == "full" else (10_000,)


def place_dir(place: str) -> str:
    return PLACES[place] or os.environ.get("BENCH_TMP") or "/tmp"


def one_shot(src: Path, dst: Path, state: Path) -> tuple[float, int]:
    """unison's one-shot into an empty folder: (seconds, peak RSS in kB)."""
    dst.mkdir()
    state.mkdir()
    env = {**os.environ, "UNISON": str(state), "HOME": str(state)}
    command = [engines.UNISON, str(src), str(dst), *engines.ONE_SHOT_ARGS, "-prefer", str(src)]
    started = time.monotonic()
    proc = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, code, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(code)
    seconds = time.monotonic() - started
    if proc.returncode >= 2:
        raise engines.NotReady(f"one-shot unison exited {proc.returncode}")
    return seconds, usage.ru_maxrss


def unison_rss(engine: engines.NativeSync) -> int:
    """RSS (kB) of the watch-mode unison processes of a running native-sync."""
    total = 0
    for proc in engine.processes():
        try:
            if proc.name() == "unison":
                total += proc.memory_info().rss // 1024
        except psutil.Error:
            pass
    return total


def rss_after_first_cycle(engine: engines.NativeSync) -> int | None:
    """unison's RSS once watch mode's first pass is done (the fsmonitor saw it), in kB."""
    monitor = engine.engine.runtime / shared.FSMONITOR_FILE
    deadline = time.monotonic() + TIMEOUT
    while not jsonfile.read_json(monitor).get("first_sync_at"):
        if time.monotonic() > deadline or not engine.alive():
            return None
        time.sleep(0.05)
    return unison_rss(engine)


def native(base: Path, tree: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    engine = engines.NativeSync(base)
    try:
        trees.copy(tree, engine.host)
        os.sync()
        healthy = engine.engine.runtime / shared.HEALTHY_FILE
        state_file = engine.engine.runtime / shared.STATE_FILE
        started = time.monotonic()
        engine.start()
        deadline = started + TIMEOUT
        usable = None
        while usable is None:
            if healthy.exists() or jsonfile.read_json(state_file).get("state") == "watching":
                usable = time.monotonic()
            elif not engine.alive() or time.monotonic() > deadline:
                raise engines.NotReady(f"native-sync not healthy:\n{engine.engine.logs()[-2000:]}")
            else:
                time.sleep(0.005)
        out["usable_s"] = usable - started
        out["watching_s"] = engine.wait_ready(TIMEOUT) - started
        out["identical"] = trees.identical(engine.host, engine.app)
        out["unison_rss_kb"] = rss_after_first_cycle(engine)
        indexed = engine.engine.events("coldstart.indexed")
        out["unison_index_peak_rss_kb"] = indexed[-1].get("peak_rss_kb") if indexed else None
        engine.stop()
        started = time.monotonic()
        engine.start()
        out["warm_restart_s"] = engine.wait_ready(TIMEOUT) - started
        out["unison_rss_warm_kb"] = rss_after_first_cycle(engine)
    finally:
        engine.cleanup()
    return out


def measure(n: int, place: str) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"nsb-big-{n}-", dir=place_dir(place)))
    out: dict[str, Any] = {"dir": str(work)}
    try:
        log(f"{place} {n}: generating")
        tree = trees.generate(work / "tree", n)
        os.sync()
        log(f"{place} {n}: cp -a")
        out["cp_a_s"] = trees.copy(tree, work / "cp")
        trees.remove(work / "cp")
        os.sync()
        log(f"{place} {n}: unison one-shot, cold")
        seconds, rss = one_shot(tree, work / "u-app", work / "u-st")
        out["unison_one_shot_s"], out["unison_one_shot_rss_kb"] = seconds, rss
        trees.remove(work / "u-app")
        trees.remove(work / "u-st")
        os.sync()
        log(f"{place} {n}: native-sync cold, then warm")
        try:
            out["native"] = native(work / "native", tree)
        except Exception as e:  # reported, not raised: the other figures still count
            out["native"] = {"error": f"{type(e).__name__}: {e}"}
        log(f"{place} {n}: {json.dumps(out)}")
    finally:
        trees.remove(work)
    return out


def run(
    mode: str, places: tuple[str, ...] = tuple(PLACES), sizes: tuple[int, ...] | None = None
) -> dict[str, Any]:
    chosen = sizes or sizes_for(mode)
    found: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "sizes": list(chosen),
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    for place in places:
        found[place] = {str(n): measure(n, place) for n in chosen}
    found["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    found["targets"] = targets(found, places, chosen)
    return found


def targets(found: dict[str, Any], places: tuple[str, ...], sizes: tuple[int, ...]) -> dict[str, Any]:
    """Each target of issue 13, per place: met (True), missed (False) or not measured (None)."""
    result: dict[str, Any] = {}
    for place in places:
        rows = found[place]
        native_at = {n: rows[str(n)].get("native", {}) for n in sizes}
        checks: dict[str, bool | None] = {}
        for n in sizes:
            row, nat = rows[str(n)], native_at[n]
            checks[f"usable <= {TARGET_USABLE}x cp -a @ {n}"] = (
                nat["usable_s"] <= TARGET_USABLE * row["cp_a_s"] if "usable_s" in nat else None
            )
            checks[f"watching <= unison one-shot @ {n}"] = (
                nat["watching_s"] <= row["unison_one_shot_s"] if "watching_s" in nat else None
            )
        if 100_000 in sizes and 400_000 in sizes:
            small, big = native_at[100_000], native_at[400_000]
            for key in ("usable_s", "watching_s"):
                grew = big[key] / small[key] if key in small and key in big else None
                checks[f"{key} growth 100k->400k <= {TARGET_GROWTH}x"] = (
                    None if grew is None else grew <= TARGET_GROWTH
                )
            warm = big.get("warm_restart_s")
            checks[f"warm restart @ 400k <= {TARGET_WARM} s"] = None if warm is None else warm <= TARGET_WARM
        result[place] = checks
    return result


def markdown(found: dict[str, Any]) -> str:
    """The report section."""
    out = [
        "\n## Big trees: cold start against `cp -a` and unison\n\n",
        "Files of 60-600 bytes, 100 per folder. *usable*: `health` passes (the fast copy is done); "
        "*watching*: changes flow (unison's archive is built). The unison one-shot is unison with its "
        "own defaults into an empty folder. Measured "
        f"{found.get('date', '')}; load average at start {found.get('load_at_start')}, at end "
        f"{found.get('load_at_end')} (2 cores shared with other work: expect noise).\n\n",
    ]
    for place in (p for p in PLACES if p in found):
        out.append(f"**{place}** (`{place_dir(place)}`)\n\n")
        out.append(
            "| files | `cp -a` | unison one-shot | native-sync usable | watching | warm restart "
            "| unison RSS (one-shot peak / our indexing peak / ours after cold / after warm) |\n"
            "|---|---|---|---|---|---|---|\n"
        )
        for n, row in found[place].items():
            nat = row.get("native", {})

            def s(v: float | None) -> str:
                return "-" if v is None else f"{v:.2f} s"

            rss = " / ".join(
                "-" if v is None else f"{v / 1024:.0f} MB"
                for v in (
                    row.get("unison_one_shot_rss_kb"),
                    nat.get("unison_index_peak_rss_kb"),
                    nat.get("unison_rss_kb"),
                    nat.get("unison_rss_warm_kb"),
                )
            )
            out.append(
                f"| {int(n):,} | {s(row.get('cp_a_s'))} | {s(row.get('unison_one_shot_s'))} | "
                f"{s(nat.get('usable_s'))} | {s(nat.get('watching_s'))} | "
                f"{s(nat.get('warm_restart_s'))} | {rss} |\n"
            )
            if "error" in nat:
                out.append(f"\nnative-sync failed at {n}: {nat['error']}\n")
        out.append("\n")
        checks = found.get("targets", {}).get(place, {})
        if checks:
            out.append("| target | |\n|---|---|\n")
            for what, ok in checks.items():
                out.append(f"| {what} | {'-' if ok is None else 'met' if ok else '**MISSED**'} |\n")
            out.append("\n")
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bigtrees", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("quick", "full"), default=os.environ.get("BENCH") or "quick")
    parser.add_argument("--sizes", type=lambda s: tuple(int(x) for x in s.split(",")), default=None)
    parser.add_argument("--places", type=lambda s: tuple(s.split(",")), default=tuple(PLACES))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    found = run(args.mode, args.places, args.sizes)
    text = json.dumps(found, indent=2) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text)
    print(markdown(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
