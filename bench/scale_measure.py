"""What the scale section measures on one running engine (:mod:`bench.scale` runs them in order).

- :func:`first_edits`: the first edits after a start, as people work: a new
  file on one side, then saves of it, each waited for before the next;
- :func:`both_ways`: isolated edits in both directions, and edits 0.2 s apart
  in both directions;
- :func:`under_log`: edits next to an app-side log appended every 100 ms
  (:mod:`bench.churn`), with the bytes unison wrote into ``UNISON``
  (:mod:`bench.archives`) and, for native-sync, the watchdog's restarts;
- :func:`idle`: CPU and ``UNISON`` writes with nothing changing (the verifier on).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import archives, churn, engines, metrics, trees

FIRST_EDITS = 6
FIRST_GAP = 1.0  # seconds between the first edits, once the previous one arrived
QUICK_INTERVAL = 0.2


@dataclass(frozen=True)
class Sizes:
    """How many of each: the full run's, or a quick look's."""

    isolated: int = 30
    gap: float = 1.0
    jitter: float = 0.5
    quick_edits: int = 50
    log_edits: int = 30
    idle_seconds: float = 180.0  # over 1.5 verifier cycles at 400k (a pass, then ~120 s of pause)


FULL = Sizes()
QUICK = Sizes(isolated=10, quick_edits=15, log_edits=10, idle_seconds=20.0)


def _ms(samples: list[metrics.Sample]) -> list[float | None]:
    return [None if s is None else round(s * 1000, 1) for s in samples]


def first_edits(src: Path, dst: Path, folder: str, tag: str) -> list[float | None]:
    """A new file in ``folder`` on ``src``, then FIRST_EDITS - 1 saves of it; ms until each arrived."""
    rel = f"{folder}/scale-{tag}.txt"
    samples: list[metrics.Sample] = []
    for i in range(FIRST_EDITS):
        data = metrics.edit_data(tag, i)
        samples.append(metrics.wait_content(dst / rel, data, metrics.write(src, rel, data)))
        time.sleep(FIRST_GAP)
    return _ms(samples)


def first_edits_both(engine: engines.Base, n: int, tag: str) -> dict[str, Any]:
    """Host edits first (as people work), then the app's, then the host's again."""
    folder = trees.rel_path(n // 2).rsplit("/", 1)[0]
    return {
        "host_to_app": first_edits(engine.host, engine.app, folder, f"{tag}-host"),
        "app_to_host": first_edits(engine.app, engine.host, folder, f"{tag}-app"),
        "host_to_app_again": first_edits(engine.host, engine.app, folder, f"{tag}-host2"),
    }


def both_ways(engine: engines.Base, n: int, sizes: Sizes) -> dict[str, Any]:
    """Isolated edits (p50/p99 per direction), then edits 0.2 s apart in each direction."""
    files = trees.sample(n, 2 * sizes.isolated + 2 * sizes.quick_edits, seed=n + 24)
    iso = metrics.isolated(
        engine.host, engine.app, files[: 2 * sizes.isolated], sizes.isolated, sizes.gap, sizes.jitter, seed=n
    )
    out: dict[str, Any] = {"isolated": {d: metrics.summary(s) for d, s in iso.items()}}
    rest = files[2 * sizes.isolated :]
    quick: dict[str, Any] = {"interval_s": QUICK_INTERVAL}
    for k, (direction, src, dst) in enumerate(
        (("host_to_app", engine.host, engine.app), ("app_to_host", engine.app, engine.host))
    ):
        time.sleep(sizes.gap)
        chosen = rest[k * sizes.quick_edits : (k + 1) * sizes.quick_edits]
        samples = metrics.succession(src, dst, chosen, QUICK_INTERVAL, len(chosen))
        quick[direction] = metrics.summary(samples)
    out["quick"] = quick
    return out


def restarts(engine: engines.Base) -> tuple[int, str | None] | None:
    """The watchdog's restarts of unison so far, and the last reason (native-sync only)."""
    if not isinstance(engine, engines.NativeSync):
        return None
    unison = engine.status().get("unison")
    if not isinstance(unison, dict):
        return None
    return int(unison.get("restarts") or 0), unison.get("last_restart_reason")


def under_log(engine: engines.Base, n: int, sizes: Sizes) -> dict[str, Any]:
    """Host edits next to a churning app-side log, with unison's writes into UNISON counted."""
    before = restarts(engine)
    counter = archives.Counter(engine.unison_dir)
    counter.start()
    try:
        files = trees.sample(n, sizes.log_edits, seed=n + 25)
        found = churn.measure(engine, files, sizes.log_edits, sizes.gap, jitter=sizes.jitter)
    finally:
        written = counter.finish()
    found["host_to_app"].pop("samples_ms", None)
    found["unison_dir_writes"] = written
    after = restarts(engine)
    if before is not None and after is not None:
        found["watchdog_restarts"] = after[0] - before[0]
        found["last_restart_reason"] = after[1]
    return found


def idle(engine: engines.Base, seconds: float) -> dict[str, Any]:
    """CPU of the engine and its writes into UNISON over ``seconds`` with nothing changing."""
    counter = archives.Counter(engine.unison_dir)
    counter.start()
    try:
        found = metrics.idle_cpu(engine.processes, seconds)
    finally:
        found["unison_dir_writes"] = counter.finish()
    return found


def timed_start(engine: engines.Base, timeout: float) -> float:
    """Start ``engine`` and wait until it is ready (native-sync: watching); its seconds."""
    started = time.monotonic()
    engine.start()
    return engine.wait_ready(timeout) - started
