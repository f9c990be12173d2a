"""What changed on each side while a cold start indexes: inotify on both trees, read at a stop.

From the moment the copied volume is handed out (``usable``) until watch mode
starts, nothing else follows changes: unison's indexing run builds its archive
over the two trees and watch mode finds the rest in its first scan.  A stop
in between (docker stop) kills that run, and a change made meanwhile would
wait for the next start (or be gone with the volume: ``docker compose down
-v``).  A :class:`Recorder` watches every folder of both trees (the copy knows
them, so nothing is walked), and :meth:`Recorder.changes` tells, at the stop,
which paths changed on which side, so :mod:`engine.startup.carry` carries
exactly those.  Nothing reads the queue before then: the kernel keeps the
events (a folder made meanwhile is one event, and carried whole).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import structlog
from inotify_simple import INotify
from inotify_simple import flags as F

from engine.fs import watchmask
from engine.fs.paths import is_unison_temp

log = structlog.get_logger("coldstart")

MASK = watchmask.CONTENTS  # names inside the folders; not the folders' own delete or move

HOST, APP = "host", "app"


@dataclass
class Changes:
    """Paths changed since the recorder started, by side; ``lost``: why some may be missing."""

    sides: dict[str, set[str]] = field(default_factory=dict)  # relative path -> {"host", "app"}
    lost: str | None = None

    def one_sided(self, side: str) -> list[str]:
        return sorted(rel for rel, by in self.sides.items() if by == {side})

    def both(self) -> list[str]:
        return sorted(rel for rel, by in self.sides.items() if len(by) == 2)


class Recorder:
    """inotify watches on the same folders of both roots; :meth:`changes` reads what they saw."""

    def __init__(self, roots: dict[str, str], ignored: Callable[[str], bool]) -> None:
        self.ignored = ignored
        self._by_wd: dict[int, tuple[str, str]] = {}  # wd -> (side, folder relative to its root)
        self.watched: set[str] = set()  # folders watched on both sides
        self.lost: str | None = None
        self.roots = roots
        self.inotify: INotify | None = None
        try:
            self.inotify = INotify(nonblocking=True)
        except OSError as e:  # fs.inotify.max_user_instances
            self.lost = f"no inotify instance: {e.strerror}"

    @classmethod
    def watching(
        cls, roots: dict[str, str], folders: Iterable[str], ignored: Callable[[str], bool]
    ) -> Recorder:
        """Watch the roots and ``folders`` (relative) under each."""
        recorder = cls(roots, ignored)
        for rel in ("", *folders):
            for side in roots:
                recorder._watch(side, rel)
                if recorder.lost:
                    return recorder
            recorder.watched.add(rel)
        return recorder

    def _watch(self, side: str, rel: str) -> None:
        if self.inotify is None:
            return
        path = os.path.join(self.roots[side], rel) if rel else self.roots[side]
        try:
            wd = self.inotify.add_watch(path, MASK)
        except OSError as e:
            if e.errno == errno.ENOSPC:
                self.lost = "inotify watches exhausted (MAX_INOTIFY_WATCHES)"
            return  # a folder gone meanwhile: its parent's event says so
        self._by_wd[wd] = (side, rel)

    def changes(self) -> Changes:
        """Every change the kernel queued since the watches were made (never blocks)."""
        found = Changes(lost=self.lost)
        if self.inotify is None:
            return found
        try:
            events = self.inotify.read(timeout=0)
        except OSError as e:
            found.lost = f"inotify: {e.strerror}"
            return found
        for event in events:
            if event.mask & F.Q_OVERFLOW:
                found.lost = "more changes than inotify's queue holds"
                continue
            where = self._by_wd.get(event.wd)
            if where is None or not event.name or is_unison_temp(event.name):
                continue
            side, folder = where
            rel = f"{folder}/{event.name}" if folder else event.name
            if event.mask & F.ISDIR and event.mask & F.ATTRIB and rel in self.watched:
                continue  # the copy setting a folder's mode; what happens inside it has events of its own
            if not self.ignored(rel):
                found.sides.setdefault(rel, set()).add(side)
        return found

    def close(self) -> None:
        if self.inotify is not None:
            self.inotify.close()
