"""unison's own output: a bounded file that ``run`` follows.

supervisord writes the ``unison`` program's output (unison, its fsmonitor,
the program's own log lines) to ``SYNC_RUNTIME_DIR/unison.log``, at most
:data:`MAX_BYTES` plus one backup (docker-sync's log view
tails ``/tmp/unison.log``; in the image ``run`` makes that a symlink to this
file).  ``run`` follows it with :class:`Follower`: every line goes on to
``run``'s own stdout unchanged (so ``docker logs`` shows it as before) and
to the problems reader (:mod:`engine.unison.reports`).  No extra process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

FILE = "unison.log"
MAX_BYTES = 1024 * 1024  # supervisord's stdout_logfile_maxbytes; one backup (unison.log.1)
READ_LIMIT = 1024 * 1024  # read at most this much per poll
PUBLIC = Path("/tmp/unison.log")  # in the image: a symlink to the file in SYNC_RUNTIME_DIR


class Follower:
    """Complete lines appended to ``path`` since the last :meth:`lines`, across rotations."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO | None = None
        self._inode: int | None = None
        self._partial = b""

    def lines(self) -> list[bytes]:
        """New complete lines (each with its newline)."""
        self._reopen_if_rotated()
        if self._file is None:
            return []
        data = self._partial + self._file.read(READ_LIMIT)
        *complete, self._partial = data.split(b"\n")
        return [line + b"\n" for line in complete]

    def rest(self) -> list[bytes]:
        """Everything left, a last line without its newline included (at the end)."""
        found = self.lines()
        if self._partial:
            found.append(self._partial + b"\n")
            self._partial = b""
        return found

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _reopen_if_rotated(self) -> None:
        try:
            st = os.stat(self.path)
        except OSError:
            return
        if self._file is not None and st.st_ino == self._inode and st.st_size >= self._file.tell():
            return
        self.close()  # supervisord rotated it (a new file) or it was truncated: read the new one
        try:
            self._file = open(self.path, "rb")  # noqa: SIM115 - kept open between polls
        except OSError:
            return
        self._inode = st.st_ino
