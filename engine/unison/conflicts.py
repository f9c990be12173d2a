"""Conflicts: where the losing version goes, and the list that survives restarts.

Only truly concurrent edits conflict; unison (``-prefer``) lets the preferred
side win, and ``-copyonconflict`` keeps the loser's version next to the
original, in the losing root, as ``name (conflict_on_DATE).ext`` (then
``name (conflict #1_on_DATE).ext``, ...).  Left there, unison would carry that
copy to the other side in its next cycle: into the project tree, into ``git
status``, into the app's container.

So unison and the fsmonitor ignore those names (:data:`IGNORES`, always
passed to unison), the copy never travels, and ``run`` moves it, once the
cycle that made it has ended (the fsmonitor holds unison's next cycle until
then: :mod:`engine.fsmonitor.copyhold`), into the **conflict store**
``HOST_VOLUME/.native-sync/conflicts/<UTC time>/<original path>`` (the
original name and extension, so an editor opens it and ``diff`` compares it).
The store is on the host, where the person who edits finds it (``ls
.native-sync/conflicts``), is ignored by unison (``Path .native-sync``) and
holds a ``.gitignore`` of ``*``: git shows nothing of it.  A host folder we
cannot write keeps the store in ``UNISON/conflicts`` instead.

The list (:class:`Record`, ``UNISON/native-sync/conflicts.json``: UNISON is
the persistent folder, SYNC_RUNTIME_DIR may be a tmpfs) names each conflict
by its original path, where the kept copy is, when, and which side won; a
conflict whose kept copy is gone (resolved with ``native-sync conflicts
keep``, or deleted by hand) drops out of it.  ``run`` is its only writer.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog

from engine import config
from engine.config import Config
from engine.fs import chown
from engine.state import jsonfile
from engine.state.jsonfile import read_json, write_json
from engine.unison.reports import Conflict

STORE = config.CONFLICT_STORE  # in HOST_VOLUME; ignored by unison, hidden from git
STORE_CONFLICTS = "conflicts"
NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
GITIGNORE = "# native-sync's conflict store: nothing here belongs in git\n*\n"
RECORD = "native-sync/conflicts.json"  # in UNISON
MAX_LISTED = 1000

# unison's Path.addToFinalName: "name (conflict #2_on_2026-11-25).ext", "(..._was_deleted)" too
COPY_SUFFIX = re.compile(r" \(conflict(?: #\d+)?_on_\d{4}-\d{2}-\d{2}(?:_was_deleted)?\)")

# unison ignores its conflict copies (they stay where it made them until moved) and the store
IGNORES = config.BUILTIN_IGNORES

log = structlog.get_logger("native-sync")


@dataclass(frozen=True)
class Entry:
    """One conflict: ``path`` (relative to the roots) lost ``loser``'s version, kept at ``kept``."""

    path: str
    kept: str  # absolute path of the losing version (in the store, or where unison left it)
    at: str  # ISO time
    winner: str  # host | app
    loser: str


@dataclass(frozen=True)
class Record:
    """``UNISON/native-sync/conflicts.json``: the conflicts whose losing copy is kept, newest first."""

    entries: tuple[Entry, ...] = ()

    @classmethod
    def load(cls, unison_dir: Path) -> Record:
        raw = read_json(unison_dir / RECORD).get("conflicts", [])
        keys = ("path", "kept", "at", "winner", "loser")
        entries = [
            Entry(*(e[k] for k in keys))
            for e in raw
            if isinstance(raw, list) and isinstance(e, dict)
            if all(isinstance(e.get(k), str) for k in keys)
        ]
        return cls(tuple(entries))

    def save(self, unison_dir: Path) -> None:
        (unison_dir / RECORD).parent.mkdir(exist_ok=True)
        write_json(unison_dir / RECORD, {"conflicts": [asdict(e) for e in self.entries]})

    def current(self) -> Record:
        """Only the conflicts whose kept copy still exists."""
        return Record(tuple(e for e in self.entries if os.path.lexists(e.kept)))

    def find(self, path: str) -> Entry | None:
        """The newest conflict of ``path`` (an original path, or a kept copy's)."""
        wanted = path.strip("/")
        for entry in self.entries:
            if wanted in (entry.path, entry.kept.strip("/")) or entry.kept.endswith("/" + wanted):
                return entry
        return None


def original_name(name: str) -> str | None:
    """``f.txt`` for unison's ``f (conflict_on_DATE).txt``; None for any other name."""
    stripped = COPY_SUFFIX.sub("", name, count=1)
    return stripped if stripped != name else None


def store_owner(cfg: Config) -> chown.Owner | None:
    """Who owns the store and what is kept in it: HOST_VOLUME's root's owner (None: as we are)."""
    if not chown.privileged():
        return None
    try:
        return chown.owner_of(cfg.unison_src.lstat())
    except OSError:
        return None


def store_root(cfg: Config) -> Path:
    """The conflict store: in HOST_VOLUME when it can be written there, else in UNISON.

    Its folders and its .gitignore belong to HOST_VOLUME's owner from their first moment.
    """
    store = cfg.unison_src / STORE
    owner = store_owner(cfg)
    try:
        if not store.is_dir():
            chown.created(store, owner, lambda: store.mkdir())
        gitignore = store / ".gitignore"
        if not gitignore.exists():
            fd = chown.created(gitignore, owner, lambda: os.open(gitignore, NEW_FILE, 0o644))
            with open(fd, "w", encoding="utf-8") as out:
                out.write(GITIGNORE)
        return store / STORE_CONFLICTS
    except OSError:
        return cfg.unison_dir / STORE_CONFLICTS


def _folders(path: Path, owner: chown.Owner | None) -> None:
    """``path`` and the folders above it that are missing, each created as ``owner``."""
    if path.is_dir():
        return
    _folders(path.parent, owner)
    try:
        chown.created(path, owner, lambda: path.mkdir())
    except FileExistsError:
        pass


class Keeper:
    """Moves the losing copies of settled conflicts into the store and keeps the list (``run``)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.record = Record.load(cfg.unison_dir).current()

    @property
    def roots(self) -> dict[str, Path]:
        return {"host": self.cfg.unison_src, "app": self.cfg.unison_dest}

    def take(self, conflicts: Iterable[Conflict]) -> list[Entry]:
        """Keep the losing copy of each conflict (its unison cycle has ended); returns the new entries."""
        found = []
        for conflict in conflicts:
            root = self.roots.get(conflict.loser)
            if root is not None:
                found += [(conflict, copy) for copy in _copies(root, conflict.path)]
        return self.keep(found)

    def keep(self, copies: Iterable[tuple[Conflict, Path]]) -> list[Entry]:
        """Keep these copies, each the losing version of its conflict; returns the new entries."""
        added: list[Entry] = []
        for conflict, copy in copies:
            entry = self._keep(conflict, copy)
            added.append(entry)
            log.warning(
                "conflict", path=conflict.path, kept=entry.kept, winner=conflict.winner, loser=conflict.loser
            )
        if added:
            self.record = Record((*reversed(added), *self.record.entries)[:MAX_LISTED])
            self.save()
        return added

    def sweep(self, places: Iterable[tuple[str, str]]) -> list[Entry]:
        """Conflict copies in these ``(side, folder)`` places that no conflict line named: kept too.

        unison makes a copy on the side it overwrites whenever ``-prefer``
        settles a conflict, but its output does not always say so (a storm of
        edits on both sides); so every folder it wrote into is looked at once
        more (``run``: a few seconds later).  The copy's side lost.
        """
        found: dict[str, Conflict] = {}
        for side, folder in set(places):
            root = self.roots.get(side)
            if root is None:
                continue
            try:
                names = os.listdir(root / folder)
            except OSError:
                continue
            winner = "app" if side == "host" else "host"
            for name in names:
                original = original_name(name)
                if original is not None:
                    path = os.path.join(folder, original) if folder else original
                    found[path] = Conflict(path, winner=winner, loser=side)
        return self.take(found.values())

    def prune(self) -> None:
        """Drop the conflicts whose kept copy is gone (resolved)."""
        current = self.record.current()
        if current != self.record:
            for entry in set(self.record.entries) - set(current.entries):
                log.info("conflict.resolved", path=entry.path, kept=entry.kept)
            self.record = current
            self.save()

    def save(self) -> None:
        try:
            self.record.save(self.cfg.unison_dir)
        except OSError as e:
            log.warning("conflicts.unwritable", folder=str(self.cfg.unison_dir), error=str(e))

    def _keep(self, conflict: Conflict, copy: Path) -> Entry:
        when = time.gmtime()
        at = jsonfile.now_iso()
        target = store_root(self.cfg) / time.strftime("%Y-%m-%dT%H.%M.%SZ", when) / conflict.path
        n = 1
        while os.path.lexists(target):
            n += 1
            target = target.with_name(f"{target.name}.{n}")
        try:
            owner = store_owner(self.cfg)
            _folders(target.parent, owner)
            chown.copy_as(copy, target, owner)  # the host owner's from birth, whichever side lost
            _remove_copy(copy)
        except OSError as e:
            log.warning("conflict.not_moved", copy=str(copy), store=str(target), error=str(e))
            target = copy  # left where unison made it: ignored by unison, still listed
        return Entry(conflict.path, str(target), at, conflict.winner, conflict.loser)


def _remove_copy(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _copies(root: Path, rel: str) -> list[Path]:
    """unison's conflict copies of ``rel`` in ``root`` (next to where ``rel`` is)."""
    folder = (root / rel).parent
    name = os.path.basename(rel)
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return []
    return [folder / e for e in entries if original_name(e) == name]


def resolve(cfg: Config, path: str, side: str) -> tuple[Entry, str]:
    """``native-sync conflicts keep SIDE PATH``: make ``side``'s version stand; (entry, what was done).

    Keeping the winner's version drops the kept copy; keeping the loser's
    writes it over the file on its own side (in place, as an editor saves:
    unison then carries it across like any edit) and drops the kept copy.
    Raises LookupError when no conflict of ``path`` is listed.
    """
    entry = Record.load(cfg.unison_dir).current().find(path)
    if entry is None:
        raise LookupError(path)
    kept = Path(entry.kept)
    if side == entry.winner:
        _remove(kept)
        return entry, f"kept the {side} version of {entry.path} (it already stands); removed {kept}"
    target = (cfg.unison_src if side == "host" else cfg.unison_dest) / entry.path
    # a new path belongs to its side's owner from birth; a replaced file keeps its owner
    owner = store_owner(cfg) if side == "host" else cfg.owner if chown.privileged() else None
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    if _plain_file(target) and _plain_file(kept):
        shutil.copyfile(kept, target)  # in place: the file keeps its owner
    else:
        target.unlink(missing_ok=True)
        _folders(target.parent, owner)
        chown.copy_as(kept, target, owner)
    _remove(kept)
    return entry, f"restored the {side} version of {entry.path} from {kept}; it syncs like any edit"


def _plain_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    # empty folders of the store go too
    parent = path.parent
    while parent.name and parent.name != STORE_CONFLICTS:
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent
