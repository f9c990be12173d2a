"""Cold-start progress: files and bytes done, rate and ETA, every few seconds (SPEC section 5).

:class:`Progress` is told about every file the copy wrote (:meth:`Progress.tick`)
and every :data:`EVERY` seconds logs ``coldstart.progress`` and
writes ``progress.json`` in SYNC_RUNTIME_DIR for ``status``.  The totals come
from :func:`count`, a names-and-sizes walk of the host tree in a child process
(:func:`count_apart`, started with the copy, so the copy never waits for it,
nor takes turns with it for the interpreter's lock): until it is done, the ETA
is unknown.  Lines come from a thread of their own, so a big file or
unison's indexing (``phase=indexing``) does not silence them.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog

from engine.config.ignore import IgnoreMatcher
from engine.state import jsonfile
from engine.state.jsonfile import read_json, write_json

EVERY = 2.0  # seconds between progress lines
STOP_POLL = 0.1  # seconds between looks at the stop while a child counts
COUNT_NICENESS = 19  # the child's: its totals only make an ETA, the copy is what the user waits for
FILE = "progress.json"  # in SYNC_RUNTIME_DIR

log = structlog.get_logger("coldstart")


@dataclass(frozen=True)
class Totals:
    files: int
    bytes: int


def count(root: Path, matcher: IgnoreMatcher, stop: threading.Event) -> Totals | None:
    """Files (and links) and their bytes under ``root`` that the copy will write; None if stopped."""
    files = size = 0
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            with os.scandir(os.path.join(root, rel_dir)) as entries:
                for entry in entries:
                    if stop.is_set():
                        return None
                    rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                    if matcher.ignored_below(rel):  # ignored folders are not entered
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(rel)
                        elif entry.is_file(follow_symlinks=False) or entry.is_symlink():
                            files += 1
                            size += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return Totals(files, size)


def count_apart(root: Path, matcher: IgnoreMatcher, stop: threading.Event) -> Totals | None:
    """:func:`count` in a forked child process; None if stopped (the child is killed) or if it failed.

    Issue 24: a thread walking beside the copy takes turns with it for the
    interpreter's lock at every system call of either (a stat of each file
    here, ten calls per file there); a child walks on the other core, at the
    lowest priority (:data:`COUNT_NICENESS`): on a busy machine it waits, not
    the copy.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: count, say it, and leave without the parent's cleanups
        code = 1
        try:
            os.close(read_end)
            for signum in (signal.SIGTERM, signal.SIGINT):  # the parent's handlers only set its event
                signal.signal(signum, signal.SIG_DFL)
            os.nice(COUNT_NICENESS)  # capped at 19 by the kernel
            totals = count(root, matcher, threading.Event())
            if totals is not None:
                os.write(write_end, f"{totals.files} {totals.bytes}".encode())  # < PIPE_BUF: one write
                code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        while not select.select([read_end], [], [], STOP_POLL)[0]:
            if stop.is_set():
                os.kill(pid, signal.SIGKILL)
                return None
        answer = os.read(read_end, 64)  # empty if the child failed
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    try:
        files, size = (int(word) for word in answer.split())
    except ValueError:
        return None
    return Totals(files, size)


class Progress:
    """The copy's counts (:meth:`tick`), logged and published every ``every`` seconds by a thread
    (:meth:`start`), whatever the copy does meanwhile: a big file, unison's indexing."""

    def __init__(
        self, runtime_dir: Path | None, clock: Callable[[], float] = time.monotonic, every: float = EVERY
    ) -> None:
        self.runtime_dir = runtime_dir
        self.clock = clock
        self.every = every
        self.started = clock()
        self.totals: Totals | None = None
        self.phase = "copying"
        self.files = 0
        self.bytes = 0
        self._over = threading.Event()
        self._thread: threading.Thread | None = None

    def count_in_background(self, root: Path, matcher: IgnoreMatcher, stop: threading.Event) -> None:
        def run() -> None:
            self.totals = count_apart(root, matcher, stop)

        threading.Thread(target=run, name="coldstart-count", daemon=True).start()

    def tick(self, files: int, done_bytes: int) -> None:
        """Called after every file written: ``files`` and ``done_bytes`` so far."""
        self.files, self.bytes = files, done_bytes

    def start(self) -> None:
        def beat() -> None:
            while not self._over.wait(self.every):
                self.report(self.files, self.bytes, phase=self.phase)

        self._thread = threading.Thread(target=beat, name="coldstart-progress", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """The cold start is over (or stopped): no more lines, and ``status`` shows none."""
        self._over.set()
        if self._thread is not None:
            self._thread.join(timeout=self.every)
        if self.runtime_dir is not None:
            (self.runtime_dir / FILE).unlink(missing_ok=True)

    def report(self, files: int, done_bytes: int, now: float | None = None, phase: str = "copying") -> None:
        now = self.clock() if now is None else now
        seconds = max(now - self.started, 1e-9)
        totals = self.totals
        rate = files / seconds
        byte_rate = done_bytes / seconds
        eta: float | None = None
        if phase != "copying":
            pass  # unison's indexing: nothing to count it by
        elif totals is not None and totals.bytes and byte_rate > 0:
            eta = max(totals.bytes - done_bytes, 0) / byte_rate
        elif totals is not None and rate > 0:
            eta = max(totals.files - files, 0) / rate
        said = Report(
            phase=phase,
            files=files,
            files_total=None if totals is None else totals.files,
            bytes=done_bytes,
            bytes_total=None if totals is None else totals.bytes,
            files_per_second=round(rate, 1),
            mb_per_second=round(byte_rate / 1e6, 1),
            eta_seconds=None if eta is None else round(eta, 1),
            seconds=round(seconds, 1),
            at=jsonfile.now_iso(),
        )
        log.info("coldstart.progress", **{k: v for k, v in asdict(said).items() if k != "at"})
        if self.runtime_dir is not None:
            try:
                said.save(self.runtime_dir)
            except OSError:
                self.runtime_dir = None


@dataclass(frozen=True)
class Report:
    """``progress.json``: the copy's last report (:meth:`Progress.report` writes it), for ``status``."""

    phase: str
    files: int
    files_total: int | None
    bytes: int
    bytes_total: int | None
    files_per_second: float
    mb_per_second: float
    eta_seconds: float | None
    seconds: float
    at: str | None

    @classmethod
    def load(cls, runtime_dir: Path) -> Report | None:
        """The last report (None when no cold start copies); fields unreadable take their zeros."""
        data = read_json(runtime_dir / FILE)
        if not data:
            return None
        return cls(
            phase=jsonfile.text(data, "phase") or "copying",
            files=jsonfile.typed(data, "files", int, 0),
            files_total=jsonfile.typed(data, "files_total", int, None),
            bytes=jsonfile.typed(data, "bytes", int, 0),
            bytes_total=jsonfile.typed(data, "bytes_total", int, None),
            files_per_second=jsonfile.number(data, "files_per_second", 0.0),
            mb_per_second=jsonfile.number(data, "mb_per_second", 0.0),
            eta_seconds=jsonfile.real(data, "eta_seconds"),
            seconds=jsonfile.number(data, "seconds", 0.0),
            at=jsonfile.text(data, "at"),
        )

    def save(self, runtime_dir: Path) -> None:
        write_json(runtime_dir / FILE, asdict(self))
