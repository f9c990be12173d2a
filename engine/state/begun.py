"""``fsmonitor/begun.PID``: how many sync cycles the fsmonitor ``PID`` has begun, as the file's size.

The fsmonitor says that a cycle began before unison hears the answer that
starts it, so whoever sees what the cycle did (a file arrived) also sees that
it began, and can wait for its end (``syncs`` in ``fsmonitor.json``).  It said
so by replacing ``fsmonitor.json`` before every answer that began a cycle: a
file replacement per sync, next to a log appended every 100 ms ~3.5 a second,
each one (on ext4) a flush of the new file's data, ~2 ms before unison heard
its answer.  Growing this file's size instead (``ftruncate``: no data, no
rename) takes microseconds, and a reader gets the size in one ``stat``:
:meth:`engine.state.shared.FsmonitorStatus.load` takes the larger of the two
counts.  A file per fsmonitor process, so the size only grows.
"""

from __future__ import annotations

import os
from pathlib import Path

PREFIX = "begun."


def path(folder: Path, pid: int) -> Path:
    return folder / f"{PREFIX}{pid}"


def read(folder: Path, pid: int | None) -> int:
    """The cycles fsmonitor ``pid`` has begun, as its file says (0: no such file)."""
    if pid is None:
        return 0
    try:
        return os.stat(path(folder, pid)).st_size
    except OSError:
        return 0


class Counter:
    """The fsmonitor's own file, created empty; the files of fsmonitors before it removed."""

    def __init__(self, folder: Path, pid: int) -> None:
        for old in folder.glob(f"{PREFIX}*"):
            if old.name != path(folder, pid).name:
                old.unlink(missing_ok=True)
        self.fd = os.open(path(folder, pid), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)

    def grow(self, count: int) -> None:
        """``count`` cycles have begun (visible to every reader when this returns)."""
        os.ftruncate(self.fd, count)
