"""Edits while the tree churns: a log appended every 100 ms on the app side.

A dev server keeps ``var/log/dev.log`` open and appends a line every
``APPEND_EVERY`` seconds (written and flushed, never closed, as Monolog's
stream handler does).  Meanwhile host edits come ``gap`` seconds apart; each
one's host→app latency is measured as in :mod:`bench.metrics`.  Also measured:
the log's own lag (from a line's write until the host copy holds it), the CPU
of the engine over the window, and that both trees converge once the appends
stop.

``python -m bench.churn`` runs this section alone on a fresh 10k tree (for
comparing engine versions: run it from another checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import engines, metrics, trees

LOG = "var/log/dev.log"
APPEND_EVERY = 0.1
WARMUP = 3.0  # appends before the first edit: the engine sees the churn first


class Appender(threading.Thread):
    """Appends a line to ``root/LOG`` every ``APPEND_EVERY`` s; remembers when each line ended."""

    def __init__(self, root: Path, reopen: bool = False) -> None:
        super().__init__(daemon=True)
        self.path = root / LOG
        self.reopen = reopen  # open, append, close for every line (a logger that reopens)
        self.stop = threading.Event()
        self.lines: list[tuple[int, float]] = []  # (file size after the line, when it was flushed)

    def run(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        kept = None if self.reopen else open(self.path, "ab")  # noqa: SIM115 (closed below)
        size = self.path.stat().st_size
        try:
            i = 0
            start = time.monotonic()
            while not self.stop.wait(max(0.0, start + i * APPEND_EVERY - time.monotonic())):
                line = f"[{time.time():.3f}] dev.INFO: request {i} handled\n".encode()
                if kept is None:
                    with open(self.path, "ab") as f:
                        f.write(line)
                else:
                    kept.write(line)
                    kept.flush()
                size += len(line)
                self.lines.append((size, time.monotonic()))
                i += 1
        finally:
            if kept is not None:
                kept.close()


class LagWatcher(threading.Thread):
    """Polls the other side's copy of the log; when its size grows, those lines arrived."""

    def __init__(self, path: Path, appender: Appender) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.appender = appender
        self.stop = threading.Event()
        self.lags: list[float] = []

    def run(self) -> None:
        seen = 0  # lines already arrived
        while not self.stop.wait(0.002):
            try:
                size = self.path.stat().st_size
            except OSError:
                continue
            now = time.monotonic()
            lines = self.appender.lines
            while seen < len(lines) and lines[seen][0] <= size:
                self.lags.append(now - lines[seen][1])
                seen += 1


def same_file(a: Path, b: Path, deadline: float) -> bool:
    """``a`` and ``b`` hold the same bytes within ``deadline`` s."""
    limit = time.monotonic() + deadline
    while time.monotonic() < limit:
        try:
            if a.read_bytes() == b.read_bytes():
                return True
        except OSError:
            pass
        time.sleep(0.005)
    return False


def measure(
    engine: engines.Base,
    files: Sequence[str],
    trials: int,
    gap: float,
    reopen: bool = False,
    jitter: float = 0.0,
) -> dict[str, Any]:
    """Host edits ``gap`` s (plus a random ``[0, jitter)``) apart while the app side's log churns."""
    rng = random.Random(trials)
    appender = Appender(engine.app, reopen)
    watcher = LagWatcher(engine.host / LOG, appender)
    appender.start()
    watcher.start()
    try:
        time.sleep(WARMUP)
        before = metrics.cpu_mark(engine.processes)
        samples: list[metrics.Sample] = []
        next_at = time.monotonic()
        for i in range(trials):
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            next_at = time.monotonic() + gap + rng.uniform(0, jitter)
            rel = files[i % len(files)]
            data = metrics.edit_data("churn", i)
            samples.append(
                metrics.wait_content(engine.app / rel, data, metrics.write(engine.host, rel, data))
            )
        after = metrics.cpu_mark(engine.processes)
    finally:
        appender.stop.set()
        appender.join()
    stopped = time.monotonic()
    converged = same_file(engine.app / LOG, engine.host / LOG, deadline=30.0)
    converged_s = time.monotonic() - stopped
    watcher.stop.set()
    watcher.join()
    return {
        "gap_s": gap,
        "jitter_s": jitter,
        "append_every_s": APPEND_EVERY,
        "log_reopened": reopen,
        "host_to_app": metrics.summary(samples, keep=True),
        "hot_lag": metrics.summary(watcher.lags),
        "cpu_percent_of_core": round(metrics.cpu_percent(before, after), 2),
        "log_converged": converged,
        "log_converged_s": round(converged_s, 3) if converged else None,
        "trees_identical": metrics.wait_identical(engine.host, engine.app),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.churn", description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--gap", type=float, default=1.5)
    parser.add_argument("--polling", action="store_true", help="also polling unison (-repeat 1)")
    parser.add_argument("--reopen", action="store_true", help="the log is closed after every line")
    parser.add_argument("--jitter", type=float, default=0.0, help="random extra gap between edits")

    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="nsb-churn-", dir=os.environ.get("BENCH_TMP") or "/tmp"))
    out: dict[str, Any] = {"load_at_start": os.getloadavg()}
    try:
        tree = trees.generate(work / "tree", args.files)
        files = trees.sample(args.files, args.trials, seed=args.files + 3)
        native = engines.NativeSync(work / "native")

        try:
            trees.copy(tree, native.host)
            native.start()
            native.wait_ready(900.0)
            time.sleep(2.0)
            out["native-sync"] = measure(native, files, args.trials, args.gap, args.reopen, args.jitter)
            out["native-sync"]["rss_python"] = metrics.rss(native.python_processes())
        finally:
            native.cleanup()
        if args.polling:
            polling = engines.UnisonRepeat(work / "polling", "unison -repeat 1", "1")
            try:
                trees.copy(tree, polling.host)
                polling.one_shot()
                polling.start()
                polling.wait_ready(900.0)
                out["unison -repeat 1"] = measure(
                    polling, files, args.trials, args.gap, args.reopen, args.jitter
                )
            finally:
                polling.cleanup()
    finally:
        trees.remove(work)
    out["load_at_end"] = os.getloadavg()
    for entry in out.values():
        if isinstance(entry, dict):
            entry["host_to_app"].pop("samples_ms", None)
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
