"""Recursive inotify watches over unison's replicas (inotify_simple).

Directories are watched when unison scans them (``START``/``DIR``) and, for
folders created later, as soon as they appear, before anything inside them
can be missed.  :meth:`Watcher.read` turns events into replica-relative paths.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass

from inotify_simple import INotify
from inotify_simple import flags as F

from engine.fs import watchmask
from engine.fs.paths import is_unison_temp, join
from engine.fsmonitor.cycles import CONFLICT_COPY

MASK = watchmask.WATCHED  # the recorder's, and each folder's own delete or move: a root gone is reported


WATCHES_EXHAUSTED = (
    "inotify watches exhausted while watching {path}: "
    "set MAX_INOTIFY_WATCHES (run privileged) or raise fs.inotify.max_user_watches on the host"
)


class WatchesExhausted(Exception):
    """The kernel refused another inotify watch (``fs.inotify.max_user_watches``)."""


@dataclass(frozen=True)
class Batch:
    """What one read of the inotify queue found.

    ``writing``: files last seen being written (modified, not yet closed);
    ``written``: files last seen closed after writing, deleted or moved away;
    ``temps``: unison temp files written (absolute paths), for :mod:`engine.unison.litter`;
    ``copies``: conflict copies unison made (ignored names: for :mod:`.copyhold` only).
    """

    changed: set[tuple[str, str]]
    overflow: bool = False
    writing: frozenset[tuple[str, str]] = frozenset()
    written: frozenset[tuple[str, str]] = frozenset()
    temps: frozenset[str] = frozenset()
    copies: frozenset[str] = frozenset()


class Watcher:
    """Watches directories of named replicas and reports changed paths."""

    def __init__(self, ignored: Callable[[str], bool], inotify: INotify | None = None) -> None:
        self.inotify = inotify or INotify()
        self.ignored = ignored
        self.roots: dict[str, str] = {}
        self._by_wd: dict[int, tuple[str, str]] = {}
        self._by_path: dict[tuple[str, str], int] = {}

    def fileno(self) -> int:
        fd: int = self.inotify.fileno()
        return fd

    @property
    def watch_count(self) -> int:
        return len(self._by_wd)

    def add_root(self, replica: str, root: str) -> None:
        self.roots[replica] = root

    def watch(self, replica: str, rel: str, follow: bool = False) -> bool:
        """Watch one directory; False if it is not (or no longer) a directory."""
        if (replica, rel) in self._by_path or (rel and self.ignored(rel)):
            return (replica, rel) in self._by_path
        path = os.path.join(self.roots[replica], rel) if rel else self.roots[replica]
        mask = MASK & ~F.DONT_FOLLOW if follow else MASK
        try:
            wd = self.inotify.add_watch(path, mask)
        except OSError as e:
            if e.errno == errno.ENOSPC:
                raise WatchesExhausted(WATCHES_EXHAUSTED.format(path=path)) from e
            if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.ELOOP):
                return False
            raise
        old = self._by_wd.get(wd)
        if old is not None:
            self._by_path.pop(old, None)
        self._by_wd[wd] = (replica, rel)
        self._by_path[(replica, rel)] = wd
        return True

    def watch_tree(self, replica: str, rel: str) -> None:
        """Watch ``rel`` and every folder below it (not following links)."""
        if not self.watch(replica, rel):
            return
        root = self.roots[replica]
        stack = [rel]
        while stack:
            current = stack.pop()
            path = os.path.join(root, current) if current else root
            try:
                entries = list(os.scandir(path))
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    child = join(current, entry.name)
                    if self.watch(replica, child):
                        stack.append(child)

    def unwatch_tree(self, replica: str, rel: str) -> None:
        """Forget the watches of ``rel`` and below (the folder moved away)."""
        prefix = rel + "/" if rel else ""  # below the root: everything
        for key in [k for k in self._by_path if k[0] == replica and (k[1] == rel or k[1].startswith(prefix))]:
            wd = self._by_path.pop(key)
            self._by_wd.pop(wd, None)
            try:
                self.inotify.rm_watch(wd)
            except OSError:
                pass

    def read(self) -> Batch:
        """Drain the queue without blocking; new folders are watched at once."""
        changed: set[tuple[str, str]] = set()
        writing: dict[tuple[str, str], bool] = {}  # the last word on each file in this read
        overflow = False
        temps: set[str] = set()
        copies: set[str] = set()
        for event in self.inotify.read(timeout=0):
            if event.mask & F.Q_OVERFLOW:
                overflow = True
                continue
            where = self._by_wd.get(event.wd)
            if where is None:
                continue
            replica, folder = where
            if event.mask & F.IGNORED:
                self._by_wd.pop(event.wd, None)
                if self._by_path.get(where) == event.wd:
                    del self._by_path[where]
                continue
            if not event.name:
                changed.add(where)
                continue
            if is_unison_temp(event.name):
                if event.mask & (F.CREATE | F.CLOSE_WRITE | F.MOVED_TO):
                    temps.add(os.path.join(self.roots[replica], folder, event.name))
                continue
            rel = join(folder, event.name)
            if self.ignored(rel):
                if event.mask & (F.CREATE | F.MOVED_TO) and CONFLICT_COPY.search(event.name):
                    copies.add(rel)
                continue
            key = (replica, rel)
            if event.mask & F.ISDIR:
                if event.mask & (F.CREATE | F.MOVED_TO):
                    self.watch_tree(replica, rel)
                elif event.mask & F.MOVED_FROM:
                    self.unwatch_tree(replica, rel)
            if event.mask & F.MODIFY:
                writing[key] = True
            elif event.mask & (F.CLOSE_WRITE | F.DELETE | F.MOVED_FROM):
                writing[key] = False
            changed.add(key)
        return Batch(
            changed,
            overflow,
            writing=frozenset(k for k, open_ in writing.items() if open_),
            written=frozenset(k for k, open_ in writing.items() if not open_),
            temps=frozenset(temps),
            copies=frozenset(copies),
        )
