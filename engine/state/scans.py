"""``fsmonitor/scans.PID``: the full scans unison ``PID`` has begun and ended, as the file's size.

A full scan is unison's first cycle (from its first ``START`` to its first
``WAIT``: the warm start's initial sync) or a cycle that took a root
(a rescan: from the ``CHANGES`` answer that reported it to the next
``WAIT``).  It may rightly keep a core busy for longer than the watchdog's
``MONIT_HIGH_CPU_CYCLES`` samples on a loaded machine (issue 24: 400k files,
~3.4 s of CPU unloaded); the watchdog reads this file to know that one is
under way (:mod:`monit.sampler`).  The size goes up by one when a scan
begins and by one when it ends: odd while one is under way, and the size
names the scan.  ``ftruncate`` twice a full scan: no data, no rename, no
write per event or per ordinary cycle.  Named by unison's pid, which the
watchdog knows from supervisord; a file per fsmonitor process.
"""

from __future__ import annotations

import os
from pathlib import Path

PREFIX = "scans."


def path(folder: Path, unison_pid: int) -> Path:
    return folder / f"{PREFIX}{unison_pid}"


def under_way(folder: Path, unison_pid: int) -> int | None:
    """The full scan unison ``unison_pid`` is in (its file's odd size); None: none is."""
    try:
        size = os.stat(path(folder, unison_pid)).st_size
    except OSError:
        return None
    return size if size % 2 else None


class Marker:
    """The fsmonitor's side: the files of fsmonitors before it removed, its own created empty.

    ``folder`` None (no status folder) or a file that cannot be written: nothing is said.
    """

    def __init__(self, folder: Path | None, unison_pid: int) -> None:
        self.size = 0
        self.fd: int | None = None
        if folder is None:
            return
        mine = path(folder, unison_pid)
        try:
            for old in folder.glob(f"{PREFIX}*"):
                if old.name != mine.name:
                    old.unlink(missing_ok=True)
            self.fd = os.open(mine, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        except OSError:
            self.fd = None

    @property
    def scanning(self) -> bool:
        return self.size % 2 == 1

    def began(self) -> None:
        """A full scan begins (nothing if one is under way)."""
        if not self.scanning:
            self._grow()

    def ended(self) -> None:
        """unison waits again: the full scan under way, if any, is over."""
        if self.scanning:
            self._grow()

    def _grow(self) -> None:
        self.size += 1
        if self.fd is not None:
            try:
                os.ftruncate(self.fd, self.size)
            except OSError:
                self.fd = None
