"""A root found emptied while ``run`` runs: a deletion to carry, or a folder that is not there.

unison's ``confirmbigdel`` (on by default) aborts a run that finds one replica
emptied since its archive (the archive knew files there) while the other is
not: "The root of one of the replicas has been completely emptied ...
Aborting..." (src/uitext.ml ``checkForDangerousPath``, exit 3).  At start that
is the mass-deletion guard (:mod:`engine.startup.safety`): a volume that did not
come up looks just like it, and the start is refused.  While running it is
not the same question: the app deleting its last file while unison restarts
(a crash, a watchdog restart, docker-sync's ``supervisorctl restart``) is a
deletion like any other, and unison stopping at it, started again by
supervisord, stopped again, forever, helps nobody.  So, while running, the
emptied root is compared with the folder it was when ``run`` started
(:func:`engine.config.roots.identity`, saved in :mod:`engine.state.folders`):

- the same folder: the unison started now gets ``-confirmbigdel=false``
  (:func:`unison_args`) and the deletion is carried to the other side;
- another folder or none (a volume unmounted, a folder replaced or removed):
  unison is not started (:mod:`engine.supervise.unison_program` waits until the
  folder is back), nothing is deleted on the other side, and
  :func:`refusal` is what ``status`` says (``degraded``, health fails).

A ``-confirmbigdel`` in UNISON_ARGS is the user's answer and is left alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.config import Config
from engine.config.ignore import IgnoreMatcher
from engine.config.roots import identity
from engine.fs.paths import is_unison_temp
from engine.state.folders import Folders

CONFIRM = "-confirmbigdel=false"


@dataclass(frozen=True)
class Emptied:
    """``root`` (``name``) holds nothing unison syncs, the other root does."""

    name: str
    root: Path
    then: str | None  # its mark when run started
    now: str | None  # its mark now

    @property
    def same(self) -> bool:
        """Still the folder ``run`` started on."""
        return self.then is not None and self.then == self.now


def bare(root: Path, ignore: IgnoreMatcher) -> bool:
    """Nothing in ``root`` that unison syncs (what it ignores, the conflict store say, aside).

    unison's own temp files count as nothing, as they do for unison (its update detection
    skips them: src/os.ml ``childrenOf``), so a root holding only the temp file of a transfer
    a kill interrupted is emptied for its ``confirmbigdel`` too (the fuzzer's seed 4307: seen
    as not empty here, unison was started without :data:`CONFIRM`, aborted, and was started
    again, forever; the temp file stayed, as no fsmonitor ran to remove it).
    """
    try:
        with os.scandir(root) as entries:
            return all(ignore.ignored(entry.name) or is_unison_temp(entry.name) for entry in entries)
    except OSError:
        return False  # not there or not readable: engine/fs/access.py says so


def record(cfg: Config) -> Folders:
    """Save which folder each root is now (at start, before the initial sync)."""
    folders = Folders(host=identity(cfg.unison_src), app=identity(cfg.unison_dest))
    folders.save(cfg.runtime_dir)
    return folders


def emptied(cfg: Config) -> Emptied | None:
    """The root that holds nothing unison syncs while the other root does, if one does."""
    host_bare, app_bare = (bare(root, cfg.ignore) for root in cfg.roots)
    if host_bare == app_bare:
        return None
    folders = Folders.load(cfg.runtime_dir)
    if host_bare:
        return Emptied("HOST_VOLUME", cfg.unison_src, folders.host, identity(cfg.unison_src))
    return Emptied("APP_VOLUME", cfg.unison_dest, folders.app, identity(cfg.unison_dest))


def unison_args(cfg: Config) -> list[str]:
    """What a unison started while running needs: :data:`CONFIRM` when a root was emptied in place."""
    found = emptied(cfg)
    given = any(a.lstrip("-").startswith("confirmbigdel") for a in cfg.unison_args)
    return [CONFIRM] if found is not None and found.same and not given else []


def refusal(cfg: Config) -> str | None:
    """Why unison must not run now: a root emptied that is not the folder ``run`` started on."""
    found = emptied(cfg)
    if found is None or found.same:
        return None
    now = "it is gone" if found.now is None else f"now {found.now}"
    return (
        f"{found.name}: {found.root} is empty and is not the folder native-sync started on "
        f"(then {found.then}; {now}): a volume unmounted or replaced? Nothing is deleted on the "
        f"other side and unison waits: mount the folder again and the sync goes on; to start over "
        f"on this folder, stop native-sync and remove unison's archives ({cfg.unison_dir}/ar*)"
    )
