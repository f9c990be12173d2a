"""The report's sections on edits: isolated, in succession, while a log churns, bursts."""

from __future__ import annotations

from typing import Any

from bench.tables import NATIVE, TARGET_SIZE, engines_at, get, ms, ratio, secs, table, verdict


def isolated_section(results: dict[str, Any]) -> str:
    out = [
        "## Isolated small edit\n",
        "One small file rewritten in place, alternating directions, edits 1.5 s plus a random 0-1 s "
        "apart (a fixed spacing locks onto a polling engine's cycle); the writer "
        "polls the other side every 0.5 ms (deadline 10 s). Target at 10k files: p50 <= 20 ms and "
        "p99 <= 100 ms in both directions.\n",
    ]
    for size in results.get("sizes", {}):
        found = engines_at(results, size)
        native = found.get(NATIVE, {})
        rows = []
        for name, data in found.items():
            row = [name]
            ok: bool | None = None
            for direction in ("host_to_app", "app_to_host"):
                s = get(data, "isolated", direction)
                if s is None:
                    row += ["failed: " + str(data.get("error", "not measured")), "-"]
                    ok = False if name == NATIVE else ok
                    continue
                row.append(" / ".join(ms(s[f"{p}_ms"]) for p in ("p50", "p90", "p99")) + f" ({s['n']})")
                row.append(ratio(s["p50_ms"], get(native, "isolated", direction, "p50_ms")))
                if name == NATIVE and size == TARGET_SIZE:
                    good = s["failed"] == 0 and s["p50_ms"] <= 20 and (s["p99_ms"] or 1e9) <= 100
                    ok = good if ok is None else ok and good
            row.append(verdict(ok) if name == NATIVE and size == TARGET_SIZE else "-")
            rows.append(row)
        out.append(f"\n### {int(size):,} files\n")
        out.append(
            table(
                [
                    "engine",
                    "host→app p50 / p90 / p99 (n)",
                    "p50 vs native-sync",
                    "app→host p50 / p90 / p99 (n)",
                    "p50 vs native-sync",
                    "target",
                ],
                rows,
            )
        )
    return "".join(out)


def sequence_section(results: dict[str, Any], key: str, title: str, intro: str, target: float | None) -> str:
    rows = []
    for size in results.get("sizes", {}):
        found = engines_at(results, size)
        withdrawn = key in results.get("withdrawn", {})
        native = None if withdrawn else get(found, NATIVE, key, "p50_ms")
        for name, data in found.items():
            s = data.get(key)
            if s is None or (name == NATIVE and withdrawn):
                continue
            ok = None
            if name == NATIVE and target is not None:
                ok = s["p50_ms"] is not None and s["p50_ms"] <= target
            rows.append(
                [
                    name,
                    f"{int(size):,}",
                    ms(s["p50_ms"]),
                    ms(s["p90_ms"]),
                    ms(s["p99_ms"]),
                    f"{s['failed']}/{s['n']}",
                    ratio(s["p50_ms"], native),
                    verdict(ok),
                ]
            )
    header = ["engine", "files", "p50", "p90", "p99", "timeouts", "p50 vs native-sync", "target"]
    withdrawn = results.get("withdrawn", {}).get(key)
    note = f"\nnative-sync's figures withdrawn: {withdrawn}\n" if withdrawn else ""
    return f"\n## {title}\n\n{intro}\n\n" + table(header, rows) + note


def burst_section(results: dict[str, Any]) -> str:
    rows = []
    for size in results.get("sizes", {}):
        found = engines_at(results, size)
        one_shot = None
        for data in found.values():
            one_shot = one_shot or data.get("one_shot_burst_s")
        native = get(found, NATIVE, "burst", "seconds")
        for name, data in found.items():
            b = data.get("burst")
            if b is None:
                continue
            seconds = b.get("seconds")
            ok = None
            if name == NATIVE:
                ok = seconds is not None and one_shot is not None and seconds <= 1.5 * one_shot
                ok = ok and bool(b.get("identical"))
            rows.append(
                [
                    name,
                    f"{int(size):,}",
                    secs(seconds),
                    "yes" if b.get("identical") else "**no**",
                    ratio(seconds, native),
                    ratio(seconds, one_shot),
                    verdict(ok),
                ]
            )
        if one_shot is not None:
            rows.append(
                [
                    "one-shot `unison -batch` over the same change",
                    f"{int(size):,}",
                    secs(one_shot),
                    "yes",
                    ratio(one_shot, native),
                    "1.00x",
                    "-",
                ]
            )
    header = ["engine", "files", "converged", "identical", "vs native-sync", "vs one-shot", "target"]
    intro = (
        "A branch switch: 500 new files (in new folders) and 500 deleted, written on the host side; "
        "the median of 3 such bursts, each timed from the end of the change until the app side shows "
        "all of it (then a full comparison "
        "checks the trees are identical). Target: within 1.5x of a one-shot `unison -batch` that "
        "starts after the change (also the median of 3)."
    )
    return "\n## Burst of 1,000 changes\n\n" + intro + "\n\n" + table(header, rows)


def churn_section(results: dict[str, Any]) -> str:
    """Issue 11: edits while a log on the app side is appended every 100 ms."""
    rows = []
    for size in results.get("sizes", {}):
        for name, data in engines_at(results, size).items():
            c = data.get("churn")
            if not c:
                continue
            edits, hot = c["host_to_app"], c["hot_lag"]
            ok = edits["p50_ms"] is not None and edits["p50_ms"] <= 20 if name == NATIVE else None
            rows.append(
                [
                    name,
                    f"{int(size):,}",
                    *(ms(edits[k]) for k in ("p50_ms", "p90_ms", "p99_ms")),
                    *(ms(hot[k]) for k in ("p50_ms", "p90_ms", "p99_ms")),
                    f"{c['cpu_percent_of_core']:.1f}%",
                    "yes" if c["log_converged"] and c["trees_identical"] else "**no**",
                    verdict(ok),
                ]
            )
    if not rows:
        return ""
    intro = (
        "Host edits 1.5 s apart (host→app) while a dev server on the app side keeps `var/log/dev.log` "
        "open and appends a line every 100 ms. The log's own lag: from a line's write until the host "
        "copy holds it. CPU: every process of the engine over the edits. Target: host→app p50 <= 20 ms."
    )
    header = [
        "engine",
        "files",
        "edit p50",
        "p90",
        "p99",
        "log lag p50",
        "p90",
        "p99",
        "CPU",
        "converged",
        "target",
    ]
    return "\n## Edits while a log churns\n\n" + intro + "\n\n" + table(header, rows)
