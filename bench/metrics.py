"""What is measured, and how.

Latency: the writer writes a small file in place on one side, then polls the
same path on the other side every 0.5 ms until it holds the new content (or a
deadline passes: a failure, never a hang).  CPU: the sum of user+system time
of an engine's process trees over a window.  Memory: RSS summed over processes.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench import trees

POLL = 0.0005
DEADLINE = 10.0

Sample = float | None  # seconds, or None for a timeout


def write(root: Path, rel: str, data: bytes) -> float:
    """Write ``data`` into ``root/rel`` in place; returns when the write was closed."""
    with open(root / rel, "wb") as f:
        f.write(data)
    return time.monotonic()


def holds(path: Path, data: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(data) + 1) == data
    except OSError:
        return False


def wait_content(path: Path, data: bytes, since: float, deadline: float = DEADLINE) -> Sample:
    """Seconds from ``since`` until ``path`` holds ``data``; None after ``deadline`` s."""
    limit = since + deadline
    while True:
        if holds(path, data):
            return time.monotonic() - since
        if time.monotonic() > limit:
            return None
        time.sleep(POLL)


def edit_data(tag: str, i: int) -> bytes:
    return f"bench edit {tag} {i} {time.monotonic_ns()}\n".encode()


def isolated(
    host: Path, app: Path, files: Sequence[str], trials: int, gap: float, jitter: float, seed: int
) -> dict[str, list[Sample]]:
    """``trials`` edits per direction, alternating host→app and app→host.

    Edits start ``gap`` plus a random ``[0, jitter)`` seconds apart: a fixed
    spacing would lock onto a polling engine's cycle and always hit it at the
    same phase.
    """
    rng = random.Random(seed)
    result: dict[str, list[Sample]] = {"host_to_app": [], "app_to_host": []}
    last = time.monotonic() - gap
    k = 0
    for i in range(trials):
        for direction, src, dst in (("host_to_app", host, app), ("app_to_host", app, host)):
            pause = last + gap + rng.uniform(0, jitter) - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            rel = files[k % len(files)]
            k += 1
            data = edit_data(direction, i)
            last = time.monotonic()
            written = write(src, rel, data)
            result[direction].append(wait_content(dst / rel, data, written))
    return result


def succession(src: Path, dst: Path, files: Sequence[str], interval: float, count: int) -> list[Sample]:
    """``count`` edits of distinct files ``interval`` s apart; the latency of each."""
    pending: dict[int, tuple[str, bytes, float]] = {}
    result: list[Sample] = [None] * count
    start = time.monotonic()
    made = 0
    while True:
        now = time.monotonic()
        if made < count and now >= start + made * interval:
            rel = files[made % len(files)]
            data = edit_data("succession", made)
            pending[made] = (rel, data, write(src, rel, data))
            made += 1
        for i, (rel, data, written) in list(pending.items()):
            if holds(dst / rel, data):
                result[i] = time.monotonic() - written
                del pending[i]
            elif time.monotonic() - written > DEADLINE:
                del pending[i]  # stays None: a timeout
        if made == count and not pending:
            return result
        time.sleep(POLL)


def burst(src: Path, dst: Path, change: trees.Burst, deadline: float = 120.0) -> dict[str, Any]:
    """Apply ``change`` to ``src``; seconds from its end until ``dst`` shows it all."""
    started = time.monotonic()
    change.apply(src)
    applied = time.monotonic()
    while not change.arrived(dst):
        if time.monotonic() - applied > deadline:
            return {"seconds": None, "apply_seconds": applied - started}
        time.sleep(0.002)
    seconds = time.monotonic() - applied
    return {
        "seconds": seconds,
        "apply_seconds": applied - started,
        "created": len(change.created),
        "deleted": len(change.deleted),
    }


def burst_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of several bursts (a failed one counts as slowest), and each run."""
    ordered = sorted(math.inf if r.get("seconds") is None else r["seconds"] for r in runs)
    median = ordered[len(ordered) // 2] if ordered else math.inf
    return {
        "seconds": None if math.isinf(median) else median,
        "identical": all(r.get("identical") for r in runs),
        "runs": runs,
    }


def wait_identical(a: Path, b: Path, deadline: float = 60.0) -> bool:
    """Both trees identical (a full comparison, not timed), within ``deadline`` s."""
    limit = time.monotonic() + deadline
    while time.monotonic() < limit:
        if trees.identical(a, b):
            return True
        time.sleep(0.2)
    return False


@dataclass(frozen=True)
class CpuMark:
    at: float
    seconds: dict[tuple[int, float], float]


def cpu_mark(processes: Callable[[], list[psutil.Process]]) -> CpuMark:
    """CPU seconds so far of every process (key: pid and start time), its own time only.

    Not its waited-for children's: the engine's processes are all listed
    (the process trees), and a child that exits is added to its parent's
    children time whole, the CPU of its whole life.  A unison restarted in
    an idle window (a watchdog restart, ``supervisorctl restart``) made that
    window 15-35% of a core (issue 26).  A process that exits between two
    marks loses what it spent since the first; :func:`idle_cpu` samples
    often so that stays small, and says when processes came and went.
    The one exception: the fsmonitor's children are the drift verifier's
    helper (``native-sync-treesig``, half a second a pass at 400k files),
    born and gone between two marks: their time counts, in the fsmonitor's,
    and not again as their own when a mark finds one running.
    """
    seconds: dict[tuple[int, float], float] = {}
    found = processes()
    fsmonitors = {p.pid for p in found if _is_fsmonitor(p)}
    for proc in found:
        try:
            if proc.ppid() in fsmonitors:
                continue
            with proc.oneshot():
                t = proc.cpu_times()
                key = (proc.pid, proc.create_time())
                helpers = t.children_user + t.children_system if _is_fsmonitor(proc) else 0.0
            seconds[key] = t.user + t.system + helpers
        except psutil.Error:
            pass
    return CpuMark(time.monotonic(), seconds)


def _is_fsmonitor(proc: psutil.Process) -> bool:
    """native-sync's fsmonitor (unison's OCaml one has no children: the same either way)."""
    return proc.name().startswith("unison-fsmonito")  # the kernel keeps 15 characters of a name


def cpu_used(before: CpuMark, after: CpuMark) -> float:
    """CPU seconds spent between two marks (processes born in between count whole)."""
    return sum(s - before.seconds.get(key, 0.0) for key, s in after.seconds.items())


def cpu_percent(before: CpuMark, after: CpuMark) -> float:
    """Percent of one core used between two marks (processes born in between count whole)."""
    return 100.0 * cpu_used(before, after) / (after.at - before.at)


def idle_cpu(
    processes: Callable[[], list[psutil.Process]], seconds: float, every: float = 1.0
) -> dict[str, Any]:
    """CPU of the process trees over ``seconds`` with nothing changing on disk, sampled every ``every`` s.

    ``exited``/``born``: processes that ended or started in the window (a
    restart of unison shows as both).
    """
    marks = [cpu_mark(processes)]
    while (left := seconds - (marks[-1].at - marks[0].at)) > 0:
        time.sleep(min(every, left))
        marks.append(cpu_mark(processes))
    used = sum(cpu_used(a, b) for a, b in itertools.pairwise(marks))
    seen = set().union(*(m.seconds for m in marks))
    return {
        "percent_of_core": 100.0 * used / (marks[-1].at - marks[0].at),
        "window_seconds": marks[-1].at - marks[0].at,
        "processes": len(marks[-1].seconds),
        "exited": len(seen - set(marks[-1].seconds)),
        "born": len(seen - set(marks[0].seconds)),
    }


def rss(processes: list[psutil.Process]) -> dict[str, Any]:
    """RSS (and PSS: shared pages divided among their users) summed and per process."""
    total = total_pss = 0
    each = []
    for proc in processes:
        try:
            with proc.oneshot():
                full = proc.memory_full_info()
                cmd = " ".join(proc.cmdline()[:3])[-80:]
        except psutil.Error:
            continue
        pss = getattr(full, "pss", 0)
        total += full.rss
        total_pss += pss
        each.append(
            {
                "pid": proc.pid,
                "cmd": cmd,
                "rss_mb": round(full.rss / 2**20, 1),
                "pss_mb": round(pss / 2**20, 1),
            }
        )
    return {"rss_mb": round(total / 2**20, 1), "pss_mb": round(total_pss / 2**20, 1), "processes": each}


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    rank = max(1, math.ceil(p / 100 * len(values)))
    return values[rank - 1]


def summary(samples: Sequence[Sample], keep: bool = False) -> dict[str, Any]:
    """p50/p90/p99/max in ms over all samples; a timeout counts as infinitely slow (null).

    With ``keep``, the samples themselves (ms, in order) too.
    """
    ordered = sorted(math.inf if s is None else s for s in samples)
    out: dict[str, Any] = {"n": len(ordered), "failed": sum(1 for s in samples if s is None)}
    for name, p in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100)):
        value = percentile(ordered, p) if ordered else math.inf
        out[f"{name}_ms"] = None if math.isinf(value) else round(value * 1000, 1)
    if keep:
        out["samples_ms"] = [None if s is None else round(s * 1000, 1) for s in samples]
    return out
