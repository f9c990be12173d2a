"""The fsmonitor's select loop: unison's commands, inotify, signals and the verifier in one thread.

:func:`serve` waits on unison's stdin, the inotify queue, the signal wake-up
pipe and the drift verifier's pipe until the handler's deadline, hands what
arrived to the handler (the :class:`~engine.fsmonitor.monitor.Monitor`) with
the time it arrived, and writes the answers: it is the only writer to stdout.
It is given each thing it reads from, and uses nothing else of the handler.
"""

from __future__ import annotations

import os
import select
import signal
import time
from typing import Protocol

import structlog

from engine.fsmonitor.inotify import Batch, WatchesExhausted
from engine.fsmonitor.protocol import ProtocolError, quote
from engine.fsmonitor.verifier import Pass

log = structlog.get_logger("fsmonitor")


class Handler(Protocol):
    """What the loop hands its input to (:class:`engine.fsmonitor.monitor.Monitor`)."""

    def deadline(self, now: float) -> float | None: ...
    def command(self, line: str, now: float) -> list[str]: ...
    def events(self, batch: Batch, now: float) -> list[str]: ...
    def verified(self, passes: list[Pass], now: float) -> None: ...
    def tick(self, now: float) -> list[str]: ...
    def request_full_sync(self) -> None: ...
    def publish_changes(self, now: float) -> None: ...
    def publish(self, now: float) -> None: ...


class Events(Protocol):
    """The inotify watcher: a descriptor to wait on, and its events."""

    def fileno(self) -> int: ...
    def read(self) -> Batch: ...


class Passes(Protocol):
    """The drift verifier's thread: a descriptor readable when passes are done, and those passes."""

    def fileno(self) -> int: ...
    def results(self) -> list[Pass]: ...


def serve(
    monitor: Handler, watcher: Events, verifier: Passes | None = None, stdin: int = 0, stdout: int = 1
) -> int:
    """Run until unison closes our stdin. Returns the exit status."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGUSR1, lambda signum, frame: monitor.request_full_sync())
    # tells status (and `flush`) that this unison's fsmonitor runs: only now, a SIGUSR1 is handled
    monitor.publish(time.monotonic())
    buffer = b""
    watcher_fd = watcher.fileno()
    verifier_fd = [] if verifier is None else [verifier.fileno()]
    while True:
        now = time.monotonic()
        deadline = monitor.deadline(now)
        timeout = None if deadline is None else max(0.0, deadline - now)
        readable, _, _ = select.select([stdin, watcher_fd, wake_r, *verifier_fd], [], [], timeout)
        now = time.monotonic()
        out: list[str] = []
        if wake_r in readable:
            os.read(wake_r, 512)
        try:
            if watcher_fd in readable:
                out += monitor.events(watcher.read(), now)
            if stdin in readable:
                chunk = os.read(stdin, 65536)
                if not chunk:
                    monitor.publish(now)  # the last word, a cycle cut short included
                    return 0
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    out += monitor.command(raw.decode("utf-8", "surrogateescape"), now)
            if verifier is not None and verifier.fileno() in readable:
                monitor.verified(verifier.results(), now)
            out += monitor.tick(now)
            monitor.publish_changes(now)
        except WatchesExhausted as e:
            log.error("watches.exhausted", error=str(e))
            write_lines(stdout, [f"ERROR {quote(str(e))}"])
            return 1
        except ProtocolError as e:
            log.error("protocol.error", error=str(e))
            write_lines(stdout, [f"ERROR {quote(str(e))}"])
            return 1
        write_lines(stdout, out)


def write_lines(fd: int, lines: list[str]) -> None:
    """Write ``lines`` to ``fd`` whole, each ending in a newline."""
    if not lines:
        return
    data = "".join(line + "\n" for line in lines).encode("utf-8", "surrogateescape")
    while data:
        written = os.write(fd, data)
        data = data[written:]
