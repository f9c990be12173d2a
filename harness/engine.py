"""A running ``entrypoint.py run`` on two folders, and the one wait with a deadline.

Shared by ``tests/`` and ``bench/`` (neither imports the other); not part of
the image.
"""

from __future__ import annotations

import json
import os
import signal
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


def wait_for(
    check: Callable[[], T | None],
    timeout: float,
    what: str,
    interval: float = 0.01,
    detail: Callable[[], str] | None = None,
) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` s.

    The one wait of every test (no fixed sleeps).  ``check`` may itself fail the
    test early (a container that exited); ``detail`` adds to the timeout
    message (a log tail).
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            extra = f"\n{detail()}" if detail is not None else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{extra}")
        time.sleep(interval)


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
        done = self.cli("status", "--json")
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
        """Everything the engine wrote: its JSON events and unison's own lines, as text."""
        return self.log.read_text(errors="replace")

    def events(self, event: str | None = None, **fields: Any) -> list[dict[str, Any]]:
        """The log events so far (``LOG_FORMAT=json``) named ``event`` whose ``fields`` equal these.

        Lines that are not one JSON object (unison's own output, forwarded) are skipped.
        """
        found = []
        for line in self.logs().splitlines():
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            if event is not None and record.get("event") != event:
                continue
            if all(record.get(name) == value for name, value in fields.items()):
                found.append(record)
        return found

    def wait_event(self, event: str, timeout: float = 30, **fields: Any) -> dict[str, Any]:
        """The first log event named ``event`` with these ``fields``, waiting for it up to ``timeout`` s."""
        found = wait_for(
            lambda: self.events(event, **fields),
            timeout,
            f"log event {event} {fields}",
            detail=lambda: self.logs()[-3000:],
        )
        return found[0]

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
        "LOG_FORMAT": "json",  # tests read events with their fields (Engine.events), not rendered text
        **env,
    }
    return Engine(base=base, env=full, log=base / "engine.log")
