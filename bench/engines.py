"""The engines under test, each on its own pair of folders.

- :class:`NativeSync`: ``entrypoint.py run`` in host mode (through
  ``harness.engine``), watchdog on as in the image;
- :class:`UnisonRepeat`: unison (``unison`` on PATH, or a given build) with
  ``-repeat 1`` (polling) or, with a peer ``unison-fsmonitor`` first on its
  PATH, ``-repeat watch``.

Every engine exposes the same small surface: ``start()``, ``wait_ready()``,
``stop()``, the processes it consists of, and its two folders.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

from bench import trees
from engine.state import jsonfile, shared
from harness.engine import Engine as TestEngine
from harness.engine import kill_leftovers, make_engine

UNISON = "unison"
ONE_SHOT_ARGS = ("-batch", "-auto")


class NotReady(Exception):
    """An engine did not become ready (or died) within its deadline."""


def tree_of(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


class Base:
    """What all engines share: a name, two folders, a base folder for their state."""

    name = "engine"

    def __init__(self, base: Path) -> None:
        self.base = base
        self.host = base / "host"
        self.app = base / "app"
        self.unison_dir = base / "unison"

    def start(self) -> None:
        raise NotImplementedError

    def wait_ready(self, timeout: float) -> float:
        """Block until the engine syncs; returns the monotonic time it was seen ready."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def alive(self) -> bool:
        raise NotImplementedError

    def processes(self) -> list[psutil.Process]:
        raise NotImplementedError

    def python_processes(self) -> list[psutil.Process]:
        found = []
        for proc in self.processes():
            try:
                if "python" in proc.name() or "python" in os.path.basename(proc.exe()):
                    found.append(proc)
            except psutil.Error:
                pass
        return found

    def cleanup(self) -> None:
        trees.remove(self.base)


class NativeSync(Base):
    """native-sync in host mode, with its defaults (watchdog on, rescans every 300 s)."""

    name = "native-sync"

    def __init__(self, base: Path) -> None:
        super().__init__(base)
        self.engine: TestEngine = make_engine(base, MONIT_ENABLE="true")

    def start(self) -> None:
        self.engine.start()

    def wait_ready(self, timeout: float) -> float:
        state_file = self.engine.runtime / shared.STATE_FILE
        deadline = time.monotonic() + timeout
        while True:
            if jsonfile.read_json(state_file).get("state") == "watching":
                return time.monotonic()
            if not self.alive():
                raise NotReady(f"native-sync exited:\n{self.engine.logs()[-2000:]}")
            if time.monotonic() > deadline:
                raise NotReady(f"native-sync not watching after {timeout} s")
            time.sleep(0.005)

    def status(self) -> dict[str, object]:
        return self.engine.status()

    def alive(self) -> bool:
        return self.engine.proc is not None and self.engine.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM (which flushes), then make sure nothing is left."""
        self.engine.close()
        self.engine.proc = None

    def supervisord_pid(self) -> int | None:
        try:
            return int((self.engine.runtime / "supervisord.pid").read_text())
        except (OSError, ValueError):
            return None

    def processes(self) -> list[psutil.Process]:
        found: dict[int, psutil.Process] = {}
        roots = []
        if self.engine.proc is not None:
            roots.append(self.engine.proc.pid)
        supervisor = self.supervisord_pid()
        if supervisor is not None:
            roots.append(supervisor)
        for pid in roots:
            try:
                for proc in tree_of(psutil.Process(pid)):
                    found[proc.pid] = proc
            except psutil.NoSuchProcess:
                pass
        return list(found.values())

    def cleanup(self) -> None:
        self.stop()
        trees.remove(self.engine.runtime)
        super().cleanup()


class UnisonRepeat(Base):
    """unison between the two folders: ``-repeat 1`` or ``-repeat watch``."""

    def __init__(
        self,
        base: Path,
        name: str,
        repeat: str,
        fsmonitor: Path | None = None,
        unison: Path | str = UNISON,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        super().__init__(base)
        self.name = name
        self.repeat = repeat
        self.unison = str(unison)
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = base / f"{name}.log"
        self.env = {**os.environ, "UNISON": str(self.unison_dir), "HOME": str(base), **(env or {})}
        if fsmonitor is not None:
            helper_dir = base / "peer-bin"
            helper_dir.mkdir(parents=True, exist_ok=True)
            link = helper_dir / "unison-fsmonitor"
            link.unlink(missing_ok=True)
            link.symlink_to(fsmonitor.resolve())
            self.env["PATH"] = f"{helper_dir}{os.pathsep}{self.env.get('PATH', '/usr/bin:/bin')}"
        for folder in (self.host, self.app, self.unison_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def one_shot(self) -> float:
        """``unison host app -batch -auto -prefer host``; returns its seconds."""
        command = [self.unison, str(self.host), str(self.app), *ONE_SHOT_ARGS, *self.args]
        command += ["-prefer", str(self.host)]
        started = time.monotonic()
        done = subprocess.run(command, env=self.env, capture_output=True, stdin=subprocess.DEVNULL)
        seconds = time.monotonic() - started
        if done.returncode >= 2:
            raise NotReady(f"one-shot unison exited {done.returncode}: {done.stderr[-1000:]!r}")
        return seconds

    def start(self) -> None:
        command = [self.unison, str(self.host), str(self.app), *ONE_SHOT_ARGS, *self.args]
        command += ["-prefer", str(self.host), "-repeat", self.repeat]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                command, env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def wait_ready(self, timeout: float) -> float:
        """Ready when a probe file written on the host side shows up on the app side."""
        probe = f"bench-probe-{time.monotonic_ns()}"
        (self.host / probe).write_text(probe)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    if (self.app / probe).read_text() == probe:
                        return time.monotonic()
                except OSError:
                    pass
                if not self.alive():
                    raise NotReady(f"{self.name} exited: {self.log.read_text(errors='replace')[-2000:]}")
                if time.monotonic() > deadline:
                    raise NotReady(f"{self.name}: probe not synced after {timeout} s")
                time.sleep(0.005)
        finally:
            (self.host / probe).unlink(missing_ok=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        for proc in reversed(tree_of(psutil.Process(self.proc.pid))):
            try:
                proc.send_signal(signal.SIGTERM)
            except psutil.Error:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def processes(self) -> list[psutil.Process]:
        if self.proc is None:
            return []
        try:
            return tree_of(psutil.Process(self.proc.pid))
        except psutil.NoSuchProcess:
            return []

    def cleanup(self) -> None:
        self.stop()
        super().cleanup()


def stop_all(engines: list[Base]) -> None:
    for engine in engines:
        try:
            engine.cleanup()
        except Exception:  # a benchmark must not leave engines behind
            if isinstance(engine, NativeSync):
                kill_leftovers(engine.engine.runtime)
