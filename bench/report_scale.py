"""The scale section of docs/benchmarks.md (issue 24), from results.json's ``scale`` key."""

from __future__ import annotations

from typing import Any

from bench.tables import NATIVE, get, ratio, secs, table, verdict

EDIT_P50, EDIT_P99, QUICK_P50 = 10.0, 50.0, 20.0  # ms: any direction, from the first edit
LOG_P50, LOG_P99 = 20.0, 100.0  # ms: other edits next to the log
LOG_CPU = {10_000: 3.0}  # % of a core under the log; 5% at 100k and 400k
IDLE_CPU = 1.0
WARM_400K, GROWTH, USABLE = 3.0, 4.5, 2.0  # s; x from 100k to 400k; x cp -a at 100k


def _ms(value: float | None) -> str:
    return "timeout" if value is None else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _p(s: dict[str, Any] | None) -> str:
    return "-" if not s else f"{_ms(s.get('p50_ms'))} / {_ms(s.get('p99_ms'))}"


def _within(s: dict[str, Any] | None, p50: float, p99: float | None) -> bool | None:
    if not s:
        return None
    good = s.get("failed") == 0 and (s.get("p50_ms") or 1e9) <= p50
    return good and (p99 is None or (s.get("p99_ms") or 1e9) <= p99)


def _all(*checks: bool | None) -> bool | None:
    known = [c for c in checks if c is not None]
    return None if not known else all(known)


def _rows(scale: dict[str, Any]) -> list[tuple[int, str, dict[str, Any]]]:
    return [
        (int(size), name, data)
        for size, entry in scale.get("sizes", {}).items()
        for name, data in entry.items()
        if isinstance(data, dict)
    ]


def first_edits(scale: dict[str, Any]) -> str:
    rows = []
    for n, name, data in _rows(scale):
        for when in ("cold", "warm"):
            found = data.get(f"first_edits_{when}")
            if not found:
                continue
            cells = [", ".join(_ms(v) for v in found.get(k, [])) for k in ("host_to_app", "app_to_host")]
            again = ", ".join(_ms(v) for v in found.get("host_to_app_again", []))
            every = [v for k in found for v in found[k]]
            ok = None if name != NATIVE else all(v is not None and v <= EDIT_P99 for v in every)
            rows.append([name, f"{n:,}", when, *cells, again, verdict(ok)])
    header = ["engine", "files", "after", "host→app, new file then saves (ms)", "app→host", "host→app again"]
    return table([*header, f"each <= {EDIT_P99:g} ms"], rows)


def edits(scale: dict[str, Any]) -> str:
    rows = []
    for n, name, data in _rows(scale):
        if "isolated" not in data:
            if "error" in data:
                rows.append([name, f"{n:,}", f"failed: {data['error']}", "", "", "", ""])
            continue
        iso, quick = data["isolated"], data.get("quick", {})
        ok = _all(
            *(_within(iso.get(d), EDIT_P50, EDIT_P99) for d in ("host_to_app", "app_to_host")),
            *(_within(quick.get(d), QUICK_P50, None) for d in ("host_to_app", "app_to_host")),
        )
        rows.append(
            [
                name,
                f"{n:,}",
                *(_p(s) for s in (iso.get("host_to_app"), iso.get("app_to_host"))),
                *(_p(s) for s in (quick.get("host_to_app"), quick.get("app_to_host"))),
                verdict(ok if name == NATIVE else None),
            ]
        )
    header = ["engine", "files", "isolated h→a p50 / p99 ms", "a→h", "0.2 s apart h→a", "a→h", "target"]
    return table(header, rows)


def _rate(found: dict[str, Any] | None) -> str:
    rate = get(found or {}, "unison_dir_writes", "bytes_per_s")
    return "-" if rate is None else f"{rate / 1024:.0f} KB/s"


def under_log(scale: dict[str, Any]) -> str:
    rows = []
    for n, name, data in _rows(scale):
        log, idle = data.get("under_log"), data.get("idle")
        if not log:
            continue
        cpu, idle_cpu = log.get("cpu_percent_of_core"), get(idle or {}, "percent_of_core")
        restarts = log.get("watchdog_restarts")
        ok = _all(
            _within(log.get("host_to_app"), LOG_P50, LOG_P99),
            None if cpu is None else cpu <= LOG_CPU.get(n, 5.0),
            None if restarts is None else restarts == 0,
            None if idle_cpu is None else idle_cpu <= IDLE_CPU,
        )
        rows.append(
            [
                name,
                f"{n:,}",
                _p(log.get("host_to_app")),
                _p(log.get("hot_lag")),
                "-" if cpu is None else f"{cpu:.1f}%",
                "-" if restarts is None else f"{restarts} ({log.get('last_restart_reason') or '-'})",
                _rate(log),
                "-" if idle_cpu is None else f"{idle_cpu:.2f}%",
                _rate(idle),
                verdict(ok if name == NATIVE else None),
            ]
        )
    header = ["engine", "files", "edits p50 / p99 ms", "log lag p50 / p99", "CPU", "watchdog restarts"]
    return table([*header, "UNISON writes", "idle CPU", "idle UNISON writes", "target"], rows)


def starts(scale: dict[str, Any]) -> str:
    rows = []
    native = {n: d for n, name, d in _rows(scale) if name == NATIVE}
    small_cpu = native.get(100_000, {}).get("copy_cpu")
    for n, name, data in _rows(scale):
        if "cp_a_s" not in data:
            continue
        usable = data.get("usable_s")
        ok = None
        growth = ""  # at 400k: how much longer than at 100k (the target's figure)
        if name == NATIVE and n == 100_000 and usable is not None:
            ok = usable <= USABLE * data["cp_a_s"]
        if name == NATIVE and n == 400_000:
            warm = data.get("warm_restart_s")
            small = native.get(100_000, {}).get("usable_s")
            grew = None if small is None or usable is None else usable / small <= GROWTH
            if small is not None and usable is not None:
                growth = f"; {ratio(usable, small)} the 100k"
            ok = _all(None if warm is None else warm <= WARM_400K, grew)
        rows.append(
            [
                name,
                f"{n:,}",
                secs(data["cp_a_s"]),
                "-" if usable is None else f"{secs(usable)} ({ratio(usable, data['cp_a_s'])}{growth})",
                _copy_cpu(data.get("copy_cpu"), small_cpu if n == 400_000 else None),
                secs(data.get("watching_s")),
                secs(data.get("warm_restart_s")),
                verdict(ok),
            ]
        )
    header = [
        "engine",
        "files",
        "`cp -a`",
        "usable (x `cp -a`; 400k: x the 100k)",
        "the copy's CPU: user / system (400k: x the 100k)",
        "watching",
        "warm restart",
        "target",
    ]
    return table(header, rows)


def _copy_cpu(cpu: dict[str, float] | None, small: dict[str, float] | None) -> str:
    """The cold start's copy's CPU seconds, in our code and in the kernel; at 400k, how each grew."""
    if not cpu:
        return "-"
    text = f"{secs(cpu['user_s'])} / {secs(cpu['system_s'])}"
    if small:
        text += f" ({ratio(cpu['user_s'], small['user_s'])} / {ratio(cpu['system_s'], small['system_s'])})"
    return text


def _peers(peers: Any) -> str:
    """The peers this run measured, in words (none: said so, not a list of what was not run)."""
    if not peers:
        return "No peers in this run (`SCALE_PEERS=none`). "
    return (
        f"Peers ({', '.join(map(str, peers))}): unison `-repeat watch` with its own OCaml "
        "`unison-fsmonitor`, from our build (`ocaml`) and the stock release (`ocaml-stock`). "
    )


def resumed_units(scale: dict[str, Any]) -> str:
    """Units measured by a later, resumed run than the section's first: when, and with what."""
    later: dict[tuple[str, str, str], list[str]] = {}
    for n, name, data in _rows(scale):
        run = data.get("run")
        if isinstance(run, dict) and run.get("date") != scale.get("date"):
            key = (str(run.get("date")), str(run.get("commit")), str(run.get("load_at_start")))
            later.setdefault(key, []).append(f"{name} at {n:,}")
    return "".join(
        f"Resumed {date} (native-sync {commit}, load average at start {load}): {', '.join(units)}. "
        for (date, commit, load), units in sorted(later.items())
    )


def markdown(scale: dict[str, Any]) -> str:
    if not scale or not scale.get("sizes"):
        return ""
    plan = scale.get("plan", {})
    return (
        "\n## Scale: one edit at 10k, 100k and 400k files\n\n"
        f"`python -m bench.scale` (issue 24), run {scale.get('date')} on tmpfs (`{scale.get('place')}`), "
        f"native-sync {scale.get('native_sync_commit', '?')}, "
        f"{'quick' if plan.get('quick') else 'full'}; load average at start {scale.get('load_at_start')}, "
        f"at end {scale.get('load_at_end')} (2 cores shared with other work: expect noise). "
        + resumed_units(scale)
        + "Engines in the order people work: a cold start, the first edits (a new file on the host, then "
        "five saves of it; the app's six; the host's again), edits both ways, edits next to an app-side "
        "log appended every 100 ms, idle with the verifier on, then a warm restart and its first edits. "
        + _peers(plan.get("peers"))
        + "*UNISON writes*: bytes per second unison wrote into its `UNISON` folder "
        "(archives and fingerprint caches written whole; the archive journal by what it grew).\n\n"
        f"Targets (native-sync): every first edit <= {EDIT_P99:g} ms; isolated p50 <= {EDIT_P50:g} ms and "
        f"p99 <= {EDIT_P99:g} ms, 0.2 s apart p50 <= {QUICK_P50:g} ms, both ways; next to the log p50 <= "
        f"{LOG_P50:g} ms, p99 <= {LOG_P99:g} ms, CPU <= 3% at 10k and 5% above, no watchdog restart; idle "
        f"<= {IDLE_CPU:g}%; usable <= {USABLE:g}x `cp -a` at 100k, growing <= {GROWTH:g}x to 400k; warm "
        f"restart <= {WARM_400K:g} s at 400k.\n\n"
        "**First edits after a start**\n\n"
        + first_edits(scale)
        + "\n**Edits both ways**\n\n"
        + edits(scale)
        + "\n**Next to a log, and idle**\n\n"
        + under_log(scale)
        + "\n**Starts**\n\n"
        + starts(scale)
    )
