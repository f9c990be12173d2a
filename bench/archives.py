"""Bytes unison writes into its ``UNISON`` folder (archives, fingerprint caches), watched with inotify.

unison writes an archive whole: into a scratch file (``sc<hash>``), closed,
renamed to ``tm<hash>``, then made the archive ``ar<hash>``.  So an archive's
bytes are counted when its ``tm`` name appears (the size of that file, or of
the ``ar`` it has become); any other file (``fp`` fingerprint caches, locks)
when it is closed after writing, whole.  The archive journal (``jn<hash>``,
patch 0004) is appended to, so it counts only what it grew by since it was
last seen (the size it had when the window opened, or at its last close); a
journal that shrank or was deleted and made again was rewritten, and counts
whole.  A :class:`Counter` runs over a window; its ``result()`` gives bytes,
writes and bytes per second, by kind of file (``ar`` archives and their
journals, ``fp`` fingerprint caches, anything else).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from inotify_simple import INotify
from inotify_simple import flags as iflags

WATCHED = iflags.CLOSE_WRITE | iflags.MOVED_TO | iflags.DELETE | iflags.MOVED_FROM


def kind(name: str) -> str:
    """``ar`` (an archive, by any of its names or its journal), ``fp`` (a fingerprint cache) or ``other``."""
    if name[:2] in ("ar", "sc", "tm", "jn"):
        return "ar"
    return "fp" if name.startswith("fp") else "other"


def written(folder: Path, name: str, moved: bool) -> int | None:
    """The bytes one event stands for, or None when it stands for nothing (or is already gone)."""
    if name.startswith("sc") or (moved and not name.startswith("tm")):
        return None  # a scratch archive is counted once it is renamed; other renames wrote nothing
    for candidate in (name, "ar" + name[2:]) if moved else (name,):
        try:
            return os.lstat(folder / candidate).st_size
        except OSError:
            continue
    return None


def appended(size: int, before: int | None) -> int:
    """The bytes a journal of ``size`` stands for, ``before`` its size when last seen (None: not there)."""
    if before is None or size < before:
        return size  # made anew, or truncated and written again: rewritten whole
    return size - before


def sizes(folder: Path) -> dict[str, int]:
    """The size of each journal in ``folder`` now."""
    found: dict[str, int] = {}
    for entry in os.scandir(folder):
        if entry.name.startswith("jn"):
            try:
                found[entry.name] = entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return found


class Counter(threading.Thread):
    """Counts what is written into one folder until :meth:`finish`."""

    def __init__(self, folder: Path) -> None:
        super().__init__(daemon=True)
        self.folder = folder
        self.inotify = INotify()
        self.inotify.add_watch(str(folder), WATCHED)
        self.stop = threading.Event()
        self.bytes: dict[str, int] = {}
        self.writes: dict[str, int] = {}
        self.journals = sizes(folder)
        self.started = time.monotonic()
        self.ended: float | None = None

    def run(self) -> None:
        while not self.stop.is_set():
            for event in self.inotify.read(timeout=100):
                if event.mask & (iflags.DELETE | iflags.MOVED_FROM):
                    self.journals.pop(event.name, None)
                    continue
                size = written(self.folder, event.name, bool(event.mask & iflags.MOVED_TO))
                if not event.name or size is None:
                    continue
                if event.name.startswith("jn"):
                    size, self.journals[event.name] = appended(size, self.journals.get(event.name)), size
                self.count(kind(event.name), size)

    def count(self, k: str, size: int) -> None:
        self.bytes[k] = self.bytes.get(k, 0) + size
        self.writes[k] = self.writes.get(k, 0) + 1

    def finish(self) -> dict[str, Any]:
        """Stop counting; the totals and rates over the window."""
        self.ended = time.monotonic()
        self.stop.set()
        self.join()
        self.inotify.close()
        return self.result()

    def result(self) -> dict[str, Any]:
        window = (self.ended or time.monotonic()) - self.started
        total = sum(self.bytes.values())
        return {
            "window_s": round(window, 1),
            "bytes": total,
            "bytes_per_s": round(total / window) if window > 0 else None,
            "writes": sum(self.writes.values()),
            "by_kind": {k: {"bytes": self.bytes[k], "writes": self.writes[k]} for k in sorted(self.bytes)},
        }
