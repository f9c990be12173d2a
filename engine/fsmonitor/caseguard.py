"""The case guard: against a host that folds names, renames cross as renames and clashes stay put.

unison runs with ``-ignorecase true`` against such a host (engine/unison/launch.py),
so names that differ only in case or normalization are one name to it: it
never writes one over the other, but it never carries a case-only rename
either (it updates its archive and leaves the other side's spelling).  This
guard sits between the settled changes and the 'still differs' filter:

- **case-only renames**: a name that changed on one side and is spelled
  otherwise on the other (one fold-equal name on each side) is renamed there
  with ``rename(2)``, so both sides hold the same spelling; unison sees no
  change (its archive follows).  Done only while unison is not syncing
  (:meth:`CaseGuard.screen` with ``may_rename``); otherwise kept for calm
  (:meth:`CaseGuard.deferred`).  The folder then goes to unison
  (:meth:`CaseGuard.folders_to_rescan`), so its archive learns the spelling.
- **clashes**: two or more app-side names in one folder that the host folds
  together (:func:`engine.fs.casefold.clashes`) are never handed to unison; they
  are kept in :attr:`CaseGuard.clashes` (``status.problems`` names every
  path) until one of them is renamed or removed.
- a name that neither side holds exactly (the old name after a rename; the
  host's folder would still answer a lookup of it) is not handed on either.

Listings are injectable (``listdir``), so a test simulates a root that folds
Unicode normalization, which no Linux filesystem here does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import structlog

from engine.fs import casefold
from engine.fs.paths import Key
from engine.state import jsonfile

log = structlog.get_logger("fsmonitor")

Group = tuple[str, ...]  # the replica-relative paths of one clash, sorted


def _listdir(path: str) -> list[str] | None:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return []


def _split(rel: str) -> tuple[str, str]:
    parent, _, name = rel.rpartition("/")
    return parent, name


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


@dataclass
class CaseGuard:
    """Screens settled changes of two replicas, ``host`` being the folder that folds names."""

    roots: Mapping[str, str]  # replica -> root folder (the watcher's, filled as unison starts them)
    host: str  # the host's root folder, as unison names it
    listdir: Callable[[str], list[str] | None] = _listdir
    rename: Callable[[str, str], None] = os.rename
    now: Callable[[], str] = jsonfile.now_iso
    clashes: dict[Group, str] = field(default_factory=dict)  # clash -> since (ISO time)
    _deferred: set[Key] = field(default_factory=set)
    _renamed_in: set[str] = field(default_factory=set)  # folders where a name was respelled

    def sides(self) -> tuple[str, str] | None:
        """(host replica, app replica), once unison has named both."""
        if len(self.roots) != 2:
            return None
        host = [r for r, root in self.roots.items() if os.path.realpath(root) == os.path.realpath(self.host)]
        if len(host) != 1:
            return None
        app = next(r for r in self.roots if r != host[0])
        return host[0], app

    def screen(self, keys: set[Key], may_rename: bool) -> set[Key]:
        """The keys to hand on; case-only renames done (or deferred), clashes recorded."""
        sides = self.sides()
        if sides is None or not keys:
            return keys
        listings: dict[tuple[str, str], list[str] | None] = {}

        def listing(replica: str, parent: str) -> list[str] | None:
            if (replica, parent) not in listings:
                root = self.roots[replica]
                listings[replica, parent] = self.listdir(os.path.join(root, parent) if parent else root)
            return listings[replica, parent]

        renames = _renames(keys, sides, listing)
        passed: set[Key] = set()
        for replica, rel in keys:
            if rel == "":
                passed.add((replica, rel))
                continue
            clash = _clash_at(rel, sides[1], listing)
            if clash is not None:
                self._record(clash)
                continue
            if (replica, rel) in renames:
                if not may_rename:
                    self._deferred.add((replica, rel))
                    continue
                self._rename(replica, rel, renames[replica, rel], sides)
                listings.clear()
            parent, name = _split(rel)
            if any(name in (listing(side, parent) or ()) for side in sides):
                passed.add((replica, rel))
        gone = self.recheck(sides)
        if gone:  # what is left of a clash syncs now (a case-only rename, say)
            passed |= self.screen({(sides[1], path) for path in gone}, may_rename)
        return passed

    def folders_to_rescan(self) -> set[str]:
        """Folders where a name was respelled since the last call: unison must list them.

        unison (``-ignorecase``) keeps an archived name's old spelling until
        it lists the folder, and would write the next change of that file to
        the old spelling on the other side ("destination updated during
        synchronization").  These go to unison whether or not they differ.
        """
        folders, self._renamed_in = self._renamed_in, set()
        return folders

    def deferred(self) -> set[Key]:
        """Renames that waited for unison to finish its sync (call when calm, then :meth:`screen`)."""
        waiting, self._deferred = self._deferred, set()
        return waiting

    def recheck(
        self,
        sides: tuple[str, str] | None = None,
        listing: Callable[[str, str], list[str] | None] | None = None,
    ) -> set[str]:
        """Drop the clashes that no longer stand; the paths of those dropped (to sync now)."""
        sides = sides or self.sides()
        if sides is None or not self.clashes:
            return set()
        app_root = self.roots[sides[1]]

        def fresh(replica: str, parent: str) -> list[str] | None:
            return self.listdir(os.path.join(app_root, parent) if parent else app_root)

        look = listing or fresh
        gone: set[str] = set()
        for group in list(self.clashes):
            parent, _ = _split(group[0])
            names = set(look(sides[1], parent) or ())
            if sum(_split(path)[1] in names for path in group) < 2:
                del self.clashes[group]
                log.info("clash.cleared", paths=list(group))
                gone.update(group)
        return gone

    def found_by_verifier(
        self, groups: set[Group], respelled: set[tuple[str, str]], walked: tuple[str, str]
    ) -> None:
        """The drift verifier's findings (a whole walk of the roots ``walked``, in that order).

        Clashes are recorded like the watcher's.  A name spelled otherwise on
        each side is a case-only rename no event told of (made while the
        fsmonitor did not run): the app gets the host's spelling, at calm.
        """
        for group in groups:
            self._record(group)
        sides = self.sides()
        if sides is None or not respelled:
            return
        host_first = os.path.realpath(walked[0]) == os.path.realpath(self.host)
        self._deferred |= {(sides[0], a if host_first else b) for a, b in respelled}

    def _rename(self, replica: str, rel: str, their_name: str, sides: tuple[str, str]) -> None:
        other = sides[1] if replica == sides[0] else sides[0]
        parent, _ = _split(rel)
        root = self.roots[other]
        source = os.path.join(root, _join(parent, their_name))
        target = os.path.join(root, rel)
        try:
            self.rename(source, target)
        except OSError as e:
            log.warning("case_rename.failed", path=rel, was=_join(parent, their_name), error=str(e))
            return
        self._renamed_in.add(parent)
        log.info(
            "case_rename",
            path=rel,
            was=_join(parent, their_name),
            to="app" if other == sides[1] else "host",
        )

    def _record(self, group: Group) -> None:
        if group not in self.clashes:
            self.clashes[group] = self.now()
            log.warning("clash", paths=list(group), reason=casefold.clash_message(group))


def _clash_at(rel: str, app: str, listing: Callable[[str, str], list[str] | None]) -> Group | None:
    """The clash that ``rel`` or one of its folders is in, on the app side."""
    parts = rel.split("/")
    for depth in range(len(parts)):
        parent, name = "/".join(parts[:depth]), parts[depth]
        names = listing(app, parent)
        if names is None:
            return None
        folded = casefold.key(name)
        group = sorted(n for n in names if casefold.key(n) == folded)
        if len(group) > 1:
            return tuple(_join(parent, n) for n in group)
    return None


def _renames(
    keys: set[Key],
    sides: tuple[str, str],
    listing: Callable[[str, str], list[str] | None],
) -> dict[Key, str]:
    """{changed key: the other side's spelling} for case-only renames; ambiguous ones left out."""
    found: dict[Key, str] = {}
    touched: dict[tuple[str, str], set[str]] = {}  # (parent, folded name) -> replicas with a change
    for replica, rel in keys:
        parent, name = _split(rel)
        touched.setdefault((parent, casefold.key(name)), set()).add(replica)
    for replica, rel in keys:
        parent, name = _split(rel)
        if rel == "" or len(touched[parent, casefold.key(name)]) > 1:
            continue  # both sides changed this name: no side's spelling wins
        other = sides[1] if replica == sides[0] else sides[0]
        mine, theirs = listing(replica, parent), listing(other, parent)
        if mine is None or theirs is None or name not in mine:
            continue
        their = casefold.renamed(mine, theirs)
        spelled = [t for t, m in their.items() if m == name]
        if spelled:
            found[replica, rel] = spelled[0]
    return found
