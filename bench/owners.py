"""How long a path the sync wrote keeps the wrong owner: ``python -m bench.owners`` (as root).

unison runs as root and writes root-owned files; the fsmonitor gives each one
its owner once its event settles (engine/fs/owners.py). This starts the engine
in host mode with ``OWNER_UID=GROUP_ID=33`` on a host folder of 1000's, makes
bursts of changes on one side and polls the other side's tree as fast as it
can: for every path, the time from the first pass that sees it under its
final name to the first pass that sees it with its right owner. The window is
measured to within one polling pass (``pass_ms``, reported too).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from harness.engine import make_engine

APP = (33, 33)
USER = (1000, 1000)
DEADLINE = 120.0


def scan(root: Path) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = {}
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            found[entry.path] = (st.st_uid, st.st_gid)
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
    return found


def watch(root: Path, expected: set[str], owner: tuple[int, int]) -> dict[str, float]:
    """Poll ``root`` until every expected path has ``owner``; the windows and the pass time."""
    seen: dict[str, float] = {}
    right: dict[str, float] = {}
    passes = 0
    started = time.monotonic()
    slowest = 0.0
    while len(right) < len(expected):
        before = time.monotonic()
        if before - started > DEADLINE:
            raise SystemExit(f"timed out: {len(right)}/{len(expected)} paths with their owner")
        for path, who in scan(root).items():
            if path not in expected:
                continue
            seen.setdefault(path, before)
            if who == owner:
                right.setdefault(path, before)
        passes += 1
        slowest = max(slowest, time.monotonic() - before)
    windows = sorted(right[p] - seen[p] for p in expected)
    return {
        "paths": len(expected),
        "max_ms": round(windows[-1] * 1000, 1),
        "p50_ms": round(windows[len(windows) // 2] * 1000, 1),
        "wrong_at_first_sight": sum(1 for w in windows if w > 0),
        "pass_ms": round(slowest * 1000, 1),
        "passes": passes,
    }


def files(root: Path, names: list[str], size: int = 16) -> set[str]:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    return {str(root / n) for n in names}


def main() -> int:
    if os.geteuid() != 0:
        print("bench.owners needs root (it changes owners)", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="ns-bench-owners-"))
    engine = make_engine(base, OWNER_UID="33", GROUP_ID="33")
    os.chown(engine.host, *USER)
    results: dict[str, dict[str, float]] = {}
    try:
        engine.start().wait_watching()
        engine.wait_first_watch_cycle()
        host, app = engine.host, engine.app

        def mirror(names: set[str], src: Path, dest: Path) -> set[str]:
            return {str(dest / Path(n).relative_to(src)) for n in names}

        made = files(host, ["one.txt"])
        results["host->app 1 file"] = watch(app, mirror(made, host, app), APP)
        made = files(host, [f"d{i % 20}/f{i}.txt" for i in range(2000)])
        results["host->app 2000 files in 20 folders"] = watch(app, mirror(made, host, app), APP)
        made = files(host, [f"tree/s{i % 10}/f{i}.txt" for i in range(1000)])
        made |= {str(host / "tree")} | {str(host / f"tree/s{i}") for i in range(10)}
        results["host->app new folder, 1010 entries"] = watch(app, mirror(made, host, app), APP)
        made = files(host, ["big.bin"], size=64 * 1024 * 1024)
        results["host->app 64 MB file"] = watch(app, mirror(made, host, app), APP)
        made = files(app, [f"a{i % 20}/f{i}.txt" for i in range(2000)])
        results["app->host 2000 files in 20 folders"] = watch(host, mirror(made, app, host), USER)
        made = files(app, ["atree/x/y.txt"])
        made |= {str(app / "atree"), str(app / "atree/x")}
        results["app->host new folder"] = watch(host, mirror(made, app, host), USER)
    finally:
        engine.close()
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
