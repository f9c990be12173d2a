"""The fakes tests share (STYLE.md 14): one home, one block per faked thing."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.supervisord import SupervisorError

# --- supervisord: the XML-RPC client, the process, a stop event -------------------------


@dataclass
class FakeSupervisorClient:
    """supervisord's client (engine/supervisord.Client) over programs held in memory.

    Every command (stop/start/restart) is appended to ``calls`` (share one list
    with :class:`FakeSupervisord` to see the order of everything); ``before``
    runs just before a command takes effect (to look at files at that moment);
    a method named in ``failing`` raises SupervisorError.
    """

    programs: dict[str, dict[str, object]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    before: Callable[[str, str], None] | None = None
    failing: set[str] = field(default_factory=set)

    def running(self, name: str, pid: int) -> FakeSupervisorClient:
        self.programs[name] = {"name": name, "statename": "RUNNING", "pid": pid}
        return self

    def _command(self, method: str, name: str) -> None:
        if self.before is not None:
            self.before(method, name)
        self.calls.append((method, name))
        if method in self.failing:
            raise SupervisorError(f"{method} {name}: supervisord not answering (fake)")

    def info(self, name: str) -> dict[str, object]:
        if "info" in self.failing:
            raise SupervisorError(f"getProcessInfo({name}): supervisord not answering (fake)")
        return dict(self.programs.get(name, {"name": name, "statename": "STOPPED", "pid": 0}))

    def stop(self, name: str) -> None:
        self._command("stop", name)
        self.programs.setdefault(name, {"name": name}).update(statename="STOPPED", pid=0)

    def start(self, name: str) -> None:
        self._command("start", name)
        self.programs.setdefault(name, {"name": name})["statename"] = "RUNNING"

    def restart(self, name: str) -> None:
        self._command("restart", name)
        self.programs.setdefault(name, {"name": name})["statename"] = "RUNNING"


@dataclass
class FakeSupervisord:
    """The supervisord process (a ``subprocess.Popen``) as ``run`` drives it at stop.

    ``exits_on_term``: False plays a supervisord that ignores SIGTERM (its
    ``wait`` times out, so it gets killed).
    """

    calls: list[tuple[str, str]] = field(default_factory=list)
    exits_on_term: bool = True
    returncode: int | None = None
    waited: list[float | None] = field(default_factory=list)
    on_wait: Callable[[float | None], None] | None = None

    def poll(self) -> int | None:
        return self.returncode

    def send_signal(self, signum: int) -> None:
        self.calls.append(("signal", signal.Signals(signum).name))
        if signum == signal.SIGTERM and self.exits_on_term:
            self.returncode = 0

    def wait(self, timeout: float | None = None) -> int:
        self.calls.append(("wait", "supervisord"))
        self.waited.append(timeout)
        if self.on_wait is not None:
            self.on_wait(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired("supervisord", timeout or 0.0)
        return self.returncode

    def kill(self) -> None:
        self.calls.append(("signal", "SIGKILL"))
        self.returncode = -9


class StopAfter:
    """A stop event (``threading.Event``'s ``wait``/``set``/``is_set``) set after ``waits`` waits.

    Loops written as ``while not stop.wait(interval)`` run exactly ``waits``
    times, without sleeping.
    """

    def __init__(self, waits: int) -> None:
        self.left = waits
        self.intervals: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.intervals.append(timeout)
        self.left -= 1
        return self.left < 0

    def set(self) -> None:
        self.left = -1

    def is_set(self) -> bool:
        return self.left < 0
