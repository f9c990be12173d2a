"""Who owns what the sync writes (``OWNER_UID`` / ``GROUP_ID``).

- everything in ``APP_VOLUME`` belongs to ``OWNER_UID:GROUP_ID``, whoever
  wrote it;
- what unison writes into ``HOST_VOLUME`` belongs to the owner of
  ``HOST_VOLUME``'s root, or keeps the owner of the file it replaces.

unison does it itself, from birth (our patch 0005, :func:`unison_owners`):
each file, folder and link it creates is created as its owner (``setfsuid``),
its temp file too, and a replacing file takes the replaced one's owner before
it is renamed into place; nothing it writes is ever seen with another owner,
nor left so by an interrupted transfer.

What remains here is the safety net for what unison does not create: files
the app writes into ``APP_VOLUME`` as another user (an app container running
as root) are given ``OWNER_UID:GROUP_ID`` when the fsmonitor sees them settle
(:meth:`Owners.settled`), after a one-shot run (:func:`after_one_shot`), when
watch-mode unison reports copying them to the host (a file written while the
sync was stopped, found by a warm start's first cycle: ``run`` calls
:meth:`Owners.copied`) and by a walk after lost events.  Host files are never chowned afterwards: whatever
owner a host file has, the host user (or unison, rightly) gave it.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import structlog

from engine.config import Config
from engine.fs import chown
from engine.fs.chown import Owner
from engine.fs.paths import Key, lstat

log = structlog.get_logger("owners")


def unison_owners(cfg: Config) -> str | None:
    """``UNISON_OWNERS`` for our unison (patch 0005): who owns what it creates in each root.

    The host root's owner for new host paths (a replaced one keeps its
    owner), ``OWNER_UID:GROUP_ID`` for every app path.  None (unison's stock
    behaviour) when we may not give files away (not root) or a root cannot
    be named on one line.
    """
    if not chown.privileged():
        return None
    host = lstat(str(cfg.unison_src), unreadable=True)
    roots = [os.path.realpath(cfg.unison_src), os.path.realpath(cfg.unison_dest)]
    if host is None or any("\n" in root for root in roots):
        return None
    uid, gid = cfg.owner
    return f"{host.st_uid}:{host.st_gid}:keep:{roots[0]}\n{uid}:{gid}:set:{roots[1]}"


@dataclass
class Owners:
    """The fsmonitor's ownership hook: the app side's paths get OWNER_UID:GROUP_ID."""

    host_root: str
    app_root: str
    owner: Owner  # OWNER_UID:GROUP_ID
    _replicas: tuple[tuple[tuple[str, str], ...], str | None] | None = None

    @classmethod
    def for_config(cls, cfg: Config) -> Owners | None:
        """The hook, when we may change owners (root); None otherwise."""
        if not chown.privileged():
            return None
        return cls(str(cfg.unison_src), str(cfg.unison_dest), cfg.owner)

    def settled(self, roots: Mapping[str, str], batch: AbstractSet[Key]) -> int:
        """A settled batch: every app path in it gets OWNER_UID:GROUP_ID; returns entries changed."""
        app = self.app_replica(roots)
        return sum(self._app(rel) for replica, rel in batch if app is not None and replica == app)

    def copied(self, written: list[tuple[str, str]]) -> int:
        """(root, path) unison copied in a one-shot run: the app side's copy gets its owner.

        Whichever way it went: a file the app wrote while the sync was stopped came from there.
        """
        return sum(self._app(rel) for root, rel in written if root in (self.app_root, self.host_root))

    def events_lost(self) -> int:
        """The inotify queue overflowed: what the app wrote may have gone unseen; walk APP_VOLUME."""
        changed = chown.fix(self.app_root, "", self._app_wanted, tree=True)
        log.info("owners.walked", reason="overflow", changed=changed)
        return changed

    def app_replica(self, roots: Mapping[str, str]) -> str | None:
        """The name unison gave the app replica."""
        items = tuple(sorted(roots.items()))
        if self._replicas is None or self._replicas[0] != items:
            app_real = os.path.realpath(self.app_root)
            app = next((replica for replica, root in items if os.path.realpath(root) == app_real), None)
            self._replicas = (items, app)
        return self._replicas[1]

    def _app(self, rel: str) -> int:
        st = lstat(os.path.join(self.app_root, rel), unreadable=True)
        if st is None or chown.owner_of(st) == self.owner:
            return 0
        return chown.fix(self.app_root, rel, self._app_wanted, tree=stat.S_ISDIR(st.st_mode))

    def _app_wanted(self, st: os.stat_result) -> Owner:
        return self.owner


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
    """The app side's paths a one-shot unison run copied get OWNER_UID:GROUP_ID; returns entries changed."""
    owners = Owners.for_config(cfg)
    if owners is None:
        return 0
    changed = owners.copied(written_paths(output, str(cfg.unison_src), str(cfg.unison_dest)))
    if changed:
        log.info("owners.fixed", entries=changed)
    return changed
