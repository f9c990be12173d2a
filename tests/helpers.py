"""Shared test helpers: waiting with deadlines, tree snapshots, a running engine."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parent.parent
ENTRYPOINT = REPO / "entrypoint.py"

T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout: float, what: str, interval: float = 0.01) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def snapshot(root: Path, skip: Callable[[str], bool] = lambda rel: False) -> dict[str, Any]:
    """Everything unison syncs about a tree: type, exec bits, contents, link targets.

    unison's own temporary files are left out, and so is whatever vanishes
    while the tree is read (a tree that is still changing differs anyway).
    """
    found: dict[str, Any] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            if skip(rel) or (name.startswith(".unison.") and name.endswith(".unison.tmp")):
                continue
            try:
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode):
                    found[rel] = ("link", os.readlink(path))
                elif stat.S_ISDIR(st.st_mode):
                    found[rel] = ("dir", st.st_mode & 0o777)
                else:
                    found[rel] = ("file", st.st_mode & 0o777, Path(path).read_bytes())
            except FileNotFoundError:
                found[rel] = ("vanished",)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
    return found


def same_trees(a: Path, b: Path) -> bool:
    return snapshot(a) == snapshot(b)


@dataclass
class Engine:
    """``entrypoint.py run`` on two folders, as a test drives it."""

    base: Path
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def host(self) -> Path:
        return Path(self.env["HOST_VOLUME"])

    @property
    def app(self) -> Path:
        return Path(self.env["APP_VOLUME"])

    @property
    def runtime(self) -> Path:
        return Path(self.env["SYNC_RUNTIME_DIR"])

    def start(self, script: Path = ENTRYPOINT, **extra: str) -> Engine:
        """``script run`` (the entrypoint, or a test wrapper around it)."""
        env = {**self.env, **extra}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(script), "run"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
            )
        return self

    def cli(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ENTRYPOINT), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
        )

    def status(self) -> dict[str, Any]:
        done = self.cli("status")
        assert done.returncode == 0, done.stderr
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def wait_watching(self, timeout: float = 60) -> dict[str, Any]:
        def watching() -> dict[str, Any] | None:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"engine exited {self.proc.returncode}:\n{self.logs()}")
            current = self.status()
            return current if current["state"] == "watching" else None

        return wait_for(watching, timeout, "state watching")

    def wait_first_watch_cycle(self, timeout: float = 30) -> None:
        """Until watch-mode unison has finished its first pass (the fsmonitor saw it)."""
        monitor = self.runtime / "fsmonitor" / "fsmonitor.json"

        def done() -> bool:
            try:
                return bool(json.loads(monitor.read_text()).get("first_sync_at"))
            except (OSError, ValueError):
                return False

        wait_for(done, timeout, "the first watch cycle")

    def terminate(self, timeout: float = 15) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        kill_leftovers(self.runtime)


def kill_leftovers(runtime: Path) -> None:
    """Kill a supervisord (and its group) that a failed test left behind."""
    pidfile = runtime / "supervisord.pid"
    try:
        pid = int(pidfile.read_text())
        os.killpg(pid, signal.SIGKILL)
    except (OSError, ValueError):
        pass


def make_engine(base: Path, **env: str) -> Engine:
    """Folders and environment for one engine; the runtime dir is short (unix socket)."""
    host, app, unison = base / "host", base / "app", base / "unison"
    for folder in (host, app, unison):
        folder.mkdir(parents=True, exist_ok=True)
    runtime = Path(tempfile.mkdtemp(prefix="ns-rt-"))
    full = {
        "PATH": os.environ["PATH"],
        "HOME": str(base),
        "HOST_VOLUME": str(host),
        "APP_VOLUME": str(app),
        "UNISON": str(unison),
        "SYNC_RUNTIME_DIR": str(runtime),
        "MONIT_ENABLE": "false",
        **env,
    }
    return Engine(base=base, env=full, log=base / "engine.log")
