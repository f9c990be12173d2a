"""Who owned each new entry of a tree from its first moment (issue 25's owner tests).

:class:`Births` watches every folder of a tree with inotify (``IN_CREATE``,
``IN_MOVED_TO``; a new folder is watched as it appears and what it already
holds is looked at), ``lstat()``s each new entry as soon as its event is read,
then again every ``POLL`` seconds for ``YOUNG`` seconds, and once more when it
stops.  It records every owner each path was seen with, unison's temp files
(``.unison.NAME.HASH.unison.tmp``) and what is inside them included.
"""

from __future__ import annotations

import os
import select
import stat
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from inotify_simple import INotify, flags

Owner = tuple[int, int]
POLL = 0.0005  # seconds between two looks at a young entry
YOUNG = 0.25  # seconds an entry is looked at again after it appeared
WATCHED = flags.CREATE | flags.MOVED_TO | flags.ONLYDIR | flags.DONT_FOLLOW


class Births:
    """``with Births(root) as births:``; then ``births.seen``: path (relative) -> owners seen."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen: dict[str, set[Owner]] = defaultdict(set)
        self.looks = 0
        self.overflowed = False
        self._inotify = INotify()
        self._folders: dict[int, Path] = {}
        self._young: dict[Path, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="births", daemon=True)

    def __enter__(self) -> Births:
        self._watch(self.root)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for folder, dirs, files in os.walk(self.root):
            for name in dirs + files:
                self._look(Path(folder, name))
        self._inotify.close()

    def wrong(self, allowed: Callable[[str], set[Owner]]) -> dict[str, set[Owner]]:
        """The paths seen, at any moment, with an owner ``allowed(path)`` does not hold."""
        return {rel: owners for rel, owners in self.seen.items() if owners - allowed(rel)}

    def _run(self) -> None:
        fd = self._inotify.fileno()
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], POLL)
            if ready:
                for event in self._inotify.read(timeout=0):
                    if event.mask & flags.Q_OVERFLOW:
                        self.overflowed = True
                    folder = self._folders.get(event.wd)
                    if folder is not None and event.name:
                        self._born(folder / event.name)
            now = time.monotonic()
            for path, since in list(self._young.items()):
                if now - since > YOUNG or not self._look(path):
                    del self._young[path]

    def _born(self, path: Path) -> None:
        self._young[path] = time.monotonic()
        st = self._look(path)
        if st is not None and stat.S_ISDIR(st.st_mode):
            self._watch(path)

    def _watch(self, folder: Path) -> None:
        try:
            self._folders[self._inotify.add_watch(folder, WATCHED)] = folder  # a moved folder: the new name
            names = os.listdir(folder)
        except OSError:
            return  # gone (a temp folder renamed meanwhile: its new name has its own event)
        for name in names:
            self._born(folder / name)

    def _look(self, path: Path) -> os.stat_result | None:
        try:
            st = os.lstat(path)
        except OSError:
            return None
        self.looks += 1
        self.seen[str(path.relative_to(self.root))].add((st.st_uid, st.st_gid))
        return st


def reachable_folder(prefix: str) -> Path:
    """A new folder every user can pass through (mode 0755 below the temp folder), unlike pytest's
    tmp_path: a root that unison creates in as its owner (patch 0005) must be reachable by them."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder
