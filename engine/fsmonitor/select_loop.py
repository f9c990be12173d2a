"""The fsmonitor's select loop: unison's commands, inotify, signals and the verifier in one thread.

:func:`serve` waits on unison's stdin, the inotify queue, the signal wake-up
pipe and the drift verifier's pipe until :meth:`engine.fsmonitor.monitor.Monitor.deadline`,
hands what arrived to the :class:`~engine.fsmonitor.monitor.Monitor` with the time it
arrived, and writes the answers: it is the only writer to stdout.
"""

from __future__ import annotations

import os
import select
import signal
import time
from typing import TYPE_CHECKING

import structlog

from engine.fsmonitor.inotify import WatchesExhausted
from engine.fsmonitor.protocol import ProtocolError, quote

if TYPE_CHECKING:
    from engine.fsmonitor.monitor import Monitor

log = structlog.get_logger("fsmonitor")


def serve(monitor: Monitor, stdin: int = 0, stdout: int = 1) -> int:
    """Run until unison closes our stdin. Returns the exit status."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGUSR1, lambda signum, frame: monitor.request_full_sync())
    buffer = b""
    while True:
        now = time.monotonic()
        deadline = monitor.deadline(now)
        timeout = None if deadline is None else max(0.0, deadline - now)
        verifier = [] if monitor.verifier is None else [monitor.verifier.fileno()]
        readable, _, _ = select.select([stdin, monitor.watcher.fileno(), wake_r, *verifier], [], [], timeout)
        now = time.monotonic()
        out: list[str] = []
        if wake_r in readable:
            os.read(wake_r, 512)
        try:
            if monitor.watcher.fileno() in readable:
                out += monitor.events(monitor.watcher.read(), now)
            if stdin in readable:
                chunk = os.read(stdin, 65536)
                if not chunk:
                    return 0
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    out += monitor.command(raw.decode("utf-8", "surrogateescape"), now)
            if verifier and verifier[0] in readable:
                monitor.verified(now)
            out += monitor.tick(now)
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
