"""Who owns what the sync writes (``OWNER_UID`` / ``GROUP_ID``).

unison runs as root and writes root-owned files on both sides; this module
gives them their owners:

- everything in ``APP_VOLUME`` belongs to ``OWNER_UID:GROUP_ID``, whoever
  wrote it;
- what unison wrote into ``HOST_VOLUME`` gets the owner of the file it
  replaced, or for a new path the owner of ``HOST_VOLUME``'s root.  A host
  path is only changed when it is owned by the uid unison runs as (root) and
  already holds what the app side holds (it is unison's copy, an "echo"):
  what the host user writes stays as they wrote it.

In watch mode the fsmonitor calls :meth:`Owners.settled` with each settled
batch (every path unison writes comes back as an inotify event there).
One-shot runs (initial sync, ``precopy``, the stop flush) have no fsmonitor:
:func:`after_one_shot` fixes the paths unison's output says it copied.

A replaced host file's owner is known when the fsmonitor saw the change
before unison did (the usual case); a file replaced by a one-shot run or by
a full scan (unison's first watch pass, a rescan after a queue overflow)
gets the owner of ``HOST_VOLUME``'s root instead.
"""

from __future__ import annotations

import os
import re
import stat
from collections import OrderedDict
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

import structlog

from engine import ownership
from engine.compare import CONTENT_LIMIT, same_contents
from engine.config import Config
from engine.ownership import Owner
from engine.paths import PERMS, Key, lstat

log = structlog.get_logger("owners")

REMEMBER_LIMIT = 20_000  # host owners other than the root's remembered, least recent dropped first


@dataclass
class Owners:
    """The fsmonitor's ownership hook: fixes owners of the paths unison wrote."""

    host_root: str
    app_root: str
    owner: Owner  # OWNER_UID:GROUP_ID
    writer: int = field(default_factory=os.geteuid)  # the uid unison writes as
    limit: int = REMEMBER_LIMIT
    remembered: OrderedDict[str, Owner] = field(
        default_factory=OrderedDict
    )  # only the root's owner's exceptions
    _root_owner: Owner | None = None  # HOST_VOLUME's root's owner, as of the batch at hand
    _replicas: tuple[tuple[tuple[str, str], ...], tuple[str | None, str | None]] | None = None

    @classmethod
    def for_config(cls, cfg: Config) -> Owners | None:
        """The hook, when we may change owners (root); None otherwise."""
        if not ownership.privileged():
            return None
        return cls(str(cfg.unison_src), str(cfg.unison_dest), cfg.owner)

    def settled(self, roots: Mapping[str, str], batch: AbstractSet[Key], differing: set[str]) -> int:
        """A settled batch: ``differing`` are the paths that still differ between the replicas.

        Host owners of differing paths are remembered (unison is about to
        replace them); unison's copies on the host side get the remembered
        owner back; every app path gets OWNER_UID:GROUP_ID. Returns entries changed.
        """
        host, app = self.replicas(roots)
        self._root_owner = self.host_owner()
        changed = 0
        for replica, rel in batch:
            if replica == host and host is not None:
                changed += self._host(rel, rel in differing)
            elif replica == app and app is not None:
                changed += self._app(rel)
                if rel in differing and (host, rel) not in batch:
                    self._remember(rel)
        return changed

    def copied(self, written: list[tuple[str, str]]) -> int:
        """(root, path) unison copied in a one-shot run: give them their owners.

        The app side's copy is checked whichever way it went: a file the app
        wrote while the sync was stopped came from there.
        """
        self._root_owner = self.host_owner()
        changed = 0
        for root, rel in written:
            if root == self.host_root:
                changed += self._host(rel, differs=False)
            if root in (self.app_root, self.host_root):
                changed += self._app(rel)
        return changed

    def events_lost(self) -> int:
        """The inotify queue overflowed: unison's copies may have gone unseen; walk APP_VOLUME.

        The host side is left as it is: without an event there is no telling
        unison's copy from the user's own root-owned file.
        """
        changed = ownership.fix(self.app_root, "", self._app_wanted, tree=True)
        log.info("owners.walked", reason="overflow", changed=changed)
        return changed

    def replicas(self, roots: Mapping[str, str]) -> tuple[str | None, str | None]:
        """The names unison gave the (host, app) replicas."""
        items = tuple(sorted(roots.items()))
        if self._replicas is None or self._replicas[0] != items:
            host_real, app_real = os.path.realpath(self.host_root), os.path.realpath(self.app_root)
            host = app = None
            for replica, root in items:
                real = os.path.realpath(root)
                if real == host_real:
                    host = replica
                elif real == app_real:
                    app = replica
            self._replicas = (items, (host, app))
        return self._replicas[1]

    def _app(self, rel: str) -> int:
        st = lstat(os.path.join(self.app_root, rel), unreadable=True)
        if st is None or ownership.owner_of(st) == self.owner:
            return 0
        return ownership.fix(self.app_root, rel, self._app_wanted, tree=stat.S_ISDIR(st.st_mode))

    def _app_wanted(self, st: os.stat_result) -> Owner:
        return self.owner

    def _host(self, rel: str, differs: bool) -> int:
        st = lstat(os.path.join(self.host_root, rel), unreadable=True)
        if st is None:
            self.remembered.pop(rel, None)
            return 0
        if differs and not self._big_copy(rel, st):
            self._remember(rel, st)
            return 0
        fallback = self._root_owner
        want = self.remembered.get(rel) or fallback
        if want is None or not self._written_by_us(st) or ownership.owner_of(st) == want:
            return 0

        def wanted(entry: os.stat_result) -> Owner | None:
            if not self._written_by_us(entry):
                return None
            return want if entry is st or entry.st_ino == st.st_ino else fallback

        return ownership.fix(self.host_root, rel, wanted, tree=stat.S_ISDIR(st.st_mode))

    def _big_copy(self, rel: str, st: os.stat_result) -> bool:
        """A file above CONTENT_LIMIT that unison may have just copied: the still-differs
        filter does not read such files and calls them different, so their echo is told here,
        by reading both (just written: in the page cache), and only for a root-owned file of
        the app's size and mode (issue 18: a 100 MB file the app wrote stayed root's)."""
        if not (stat.S_ISREG(st.st_mode) and st.st_size > CONTENT_LIMIT and self._written_by_us(st)):
            return False
        theirs = lstat(os.path.join(self.app_root, rel), unreadable=True)
        if theirs is None or not stat.S_ISREG(theirs.st_mode) or theirs.st_size != st.st_size:
            return False
        if (theirs.st_mode & PERMS) != (st.st_mode & PERMS):
            return False
        return same_contents(os.path.join(self.host_root, rel), os.path.join(self.app_root, rel))

    def _written_by_us(self, st: os.stat_result) -> bool:
        """Owned by the uid unison writes as, and not a hard link to something else."""
        return st.st_uid == self.writer and (stat.S_ISDIR(st.st_mode) or st.st_nlink == 1)

    def _remember(self, rel: str, st: os.stat_result | None = None) -> None:
        """Remember the owner of the host's ``rel`` before unison replaces it."""
        if st is None:
            st = lstat(os.path.join(self.host_root, rel), unreadable=True)
        if st is None or st.st_uid == self.writer:
            return  # nothing there, or maybe unison's own copy: it says nothing about the user
        if ownership.owner_of(st) == self._root_owner:
            self.remembered.pop(rel, None)  # the fallback says the same
            return
        self.remembered[rel] = ownership.owner_of(st)
        self.remembered.move_to_end(rel)
        while len(self.remembered) > self.limit:
            self.remembered.popitem(last=False)

    def host_owner(self) -> Owner | None:
        """The owner and group of HOST_VOLUME's root: the owner of new host paths."""
        st = lstat(self.host_root, unreadable=True)
        return None if st is None else ownership.owner_of(st)


# --- one-shot runs ---------------------------------------------------------------------

_ACTION = r"\[BGN\] (?:Copying|Updating file) (?!properties for )(.+) from ({roots}) to ({roots})$"


def written_paths(output: str, src: str, dest: str) -> list[tuple[str, str]]:
    """(root, path) for each path unison's output says it copied into ``src`` or ``dest``.

    Reads unison's ``[BGN] Copying PATH from ROOT to ROOT`` and ``[BGN]
    Updating file PATH from ROOT to ROOT`` lines; lines are split at carriage
    returns too (unison's progress display).  The roots are matched as the
    command line gave them, at the end of the line, so a `` from `` inside a
    file name does not confuse the split.
    """
    roots = "|".join(re.escape(root) for root in sorted({src, dest}, key=len, reverse=True))
    action = re.compile(_ACTION.format(roots=roots))
    found = []
    for line in re.split(r"[\r\n]", output):
        match = action.search(line)
        if match is not None and match.group(2) != match.group(3):
            found.append((match.group(3), match.group(1)))
    return found


def after_one_shot(cfg: Config, output: str) -> int:
    """Give the paths a one-shot unison run copied their owners; returns entries changed.

    On the host side the replaced file's owner is gone by now: unison's
    copies get the owner of HOST_VOLUME's root.
    """
    owners = Owners.for_config(cfg)
    if owners is None:
        return 0
    changed = owners.copied(written_paths(output, str(cfg.unison_src), str(cfg.unison_dest)))
    if changed:
        log.info("owners.fixed", entries=changed)
    return changed
