"""The drift verifier's cost and reach (issues 9, 26): native-sync with its defaults, host behind bindfs.

Changes made underneath a bindfs mount raise no inotify event on it, so only
the verifier (``SYNC_VERIFY_INTERVAL=auto``; the rescan stays at 300 s)
brings them.  Measured: the verifier's pass (seconds, CPU seconds, paths,
the pause ``auto`` chose), then twice: a new file and a same-size edit made
underneath, how long they took to arrive, and the CPU of the whole engine
(supervisord, run, unison, the fsmonitor with the verifier, the watchdog)
over the 60 s from the change (issue 26: the minute after a found drift is
where the budget broke), split by process, with the passes made in it.
bindfs's own CPU is reported apart: it stands for the host mount.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from bench import engines, metrics, trees

WINDOW = 60.0  # seconds of measured CPU, from each change
CHANGES = 2  # changes made underneath, one window each
ROLES = (("fsmonitor", "unison-fsmonitor"), ("supervisord", "supervisord"), ("run", "entrypoint"))
ARRIVAL_DEADLINE = 900.0  # 100k files: auto waits minutes between passes (the rescan every 300 s may win)
NEW = b"new beneath the mount\n"


def available() -> str | None:
    """Why the section cannot run here, if it cannot."""
    if shutil.which("bindfs") is None or not Path("/dev/fuse").exists():
        return "bindfs and /dev/fuse are needed"
    return None


def _bindfs(mount: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "bindfs" and str(mount) in (proc.info["cmdline"] or []):
            found.append(proc)
    return found


def _verifier(engine: engines.NativeSync) -> dict[str, Any]:
    found = engine.status().get("verifier")
    return found if isinstance(found, dict) else {}


def _wait_passes(engine: engines.NativeSync, passes: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        verifier = _verifier(engine)
        if int(verifier.get("passes", 0)) >= passes:
            return verifier
        if time.monotonic() > deadline:
            raise RuntimeError(f"the verifier made {verifier.get('passes')} passes in {timeout} s")
        time.sleep(0.5)


def _change(below: Path, app: Path, edit_rel: str, new_rel: str) -> float | None:
    """A new file and a same-size edit underneath the mount; seconds until both arrived."""
    edited = bytes(b ^ 1 for b in (below / edit_rel).read_bytes())  # same size, other bytes
    changed_at = time.monotonic()
    (below / new_rel).write_bytes(NEW)
    (below / edit_rel).write_bytes(edited)
    while time.monotonic() - changed_at < ARRIVAL_DEADLINE:
        if metrics.holds(app / new_rel, NEW) and metrics.holds(app / edit_rel, edited):
            return round(time.monotonic() - changed_at, 2)
        time.sleep(0.05)
    return None


def _role(proc: psutil.Process) -> str:
    """Which of the engine's processes ``proc`` is."""
    try:
        cmd = " ".join(proc.cmdline())
    except psutil.Error:
        return "gone"
    for role, mark in ROLES:
        if mark in cmd:
            return role
    return "unison" if "unison" in proc.name() else proc.name()


def _window(
    engine: engines.NativeSync, below: Path, edit_rel: str, new_rel: str, mount_procs: list[psutil.Process]
) -> dict[str, Any]:
    """A change underneath; its arrival and the engine's CPU over the WINDOW s from it."""
    roles = {(p.pid, p.create_time()): _role(p) for p in engine.processes()}
    passes = int(_verifier(engine).get("passes", 0))
    before, mount_before = metrics.cpu_mark(engine.processes), metrics.cpu_mark(lambda: mount_procs)
    arrival = _change(below, engine.app, edit_rel, new_rel)
    time.sleep(max(0.0, WINDOW - (time.monotonic() - before.at)))
    after, mount_after = metrics.cpu_mark(engine.processes), metrics.cpu_mark(lambda: mount_procs)
    roles.update({(p.pid, p.create_time()): _role(p) for p in engine.processes()})
    split: dict[str, float] = {}
    for key, spent in after.seconds.items():
        role = roles.get(key, "other")
        split[role] = split.get(role, 0.0) + spent - before.seconds.get(key, 0.0)
    seconds = after.at - before.at
    by_process = {role: round(100 * cpu / seconds, 3) for role, cpu in sorted(split.items())}
    return {
        "arrival_s": arrival,
        "engine_cpu_percent": round(metrics.cpu_percent(before, after), 3),
        "bindfs_cpu_percent": round(metrics.cpu_percent(mount_before, mount_after), 3),
        "cpu_percent_by_process": by_process,
        "passes": int(_verifier(engine).get("passes", 0)) - passes,
        "window_s": round(seconds, 1),
    }


def run(base: Path, tree: Path, n: int, ready_timeout: float) -> dict[str, Any]:
    """One engine on ``tree`` (copied) behind bindfs; the verifier's figures at ``n`` files."""
    below, mount = base / f"verifier-{n}-below", base / f"verifier-{n}-mount"
    below.mkdir(parents=True)
    mount.mkdir()
    trees.copy(tree, below)
    subprocess.run(["bindfs", "--no-allow-other", str(below), str(mount)], check=True, timeout=30)
    engine = engines.NativeSync(base / f"verifier-{n}")
    engine.engine.env["HOST_VOLUME"] = str(mount)
    out: dict[str, Any] = {}
    try:
        started = time.monotonic()
        engine.start()
        out["ready_s"] = engine.wait_ready(ready_timeout) - started
        verifier = _wait_passes(engine, 1, ready_timeout)  # the first pass: the same walk, costs known
        out["pass"] = {k: verifier.get(k) for k in ("seconds", "cpu_seconds", "paths_checked", "pause")}
        mount_procs = _bindfs(mount)
        files = trees.sample(n, CHANGES, seed=n + 9)
        windows = [_window(engine, below, rel, f"new-{k}.txt", mount_procs) for k, rel in enumerate(files)]
        arrivals = [w["arrival_s"] for w in windows]
        out["windows"] = windows
        out["engine_cpu_percent"] = max(w["engine_cpu_percent"] for w in windows)
        out["bindfs_cpu_percent"] = max(w["bindfs_cpu_percent"] for w in windows)
        out["window_s"] = WINDOW
        out["arrivals_s"] = arrivals
        out["arrival_max_s"] = None if None in arrivals else max(a for a in arrivals if a is not None)
        final = _verifier(engine)
        out["drift_repaired"] = final.get("drift_repaired")
        out["last_pass"] = {k: final.get(k) for k in ("seconds", "cpu_seconds", "paths_checked", "pause")}
    finally:
        engine.cleanup()
        subprocess.run(["fusermount", "-u", "-z", str(mount)], check=False, timeout=30)
        trees.remove(below)
    return out
