"""Temp files unison abandoned (``.unison.NAME.HASH.unison.tmp``): found and removed.

unison writes every transfer into such a file next to its target and renames
it into place (a new folder too: it is filled under such a name, then renamed;
one a kill interrupted is removed with what is in it).  A transfer that fails
(the source vanished, the disk is full) or is interrupted (kill -9, a watchdog
restart) leaves it behind, and unison removes it only after 30 days
(``src/os.ml``).  This module removes it as soon as nothing holds it open:
callers offer candidates only while no unison of theirs transfers (the
fsmonitor between cycles, after a one-shot run), and
:func:`held_open` checks every process's open files in ``/proc`` besides.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import structlog

from engine.fs.paths import is_unison_temp, join

log = structlog.get_logger("native-sync")


def held_open(paths: Iterable[str], proc: str = "/proc") -> set[str]:
    """Those of ``paths`` some process has open (per its ``/proc/PID/fd`` links).

    Processes whose descriptors cannot be read count as holding nothing;
    this runs as root in the image, and a unison of ours runs as us or below.
    """
    wanted = {os.path.realpath(p): p for p in paths}
    if not wanted:
        return set()
    found: set[str] = set()
    try:
        pids = [e.name for e in os.scandir(proc) if e.name.isdigit()]
    except OSError:
        return set()
    for pid in pids:
        fd_dir = f"{proc}/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if target in wanted:
                found.add(wanted[target])
    return found


def remove(paths: Iterable[str], proc: str = "/proc") -> list[str]:
    """Remove the temp files of ``paths`` that still exist and nobody holds open.

    Returns what was removed (logged as one ``litter.removed`` event).
    """
    present = [p for p in paths if is_unison_temp(os.path.basename(p)) and os.path.lexists(p)]
    if not present:
        return []
    inside = {p: _files_under(p) for p in present if os.path.isdir(p) and not os.path.islink(p)}
    busy = held_open([*present, *(f for files in inside.values() for f in files)], proc)
    removed = []
    for path in present:
        if path in busy or not busy.isdisjoint(inside.get(path, ())):
            continue
        try:
            if path in inside:
                shutil.rmtree(path)
            else:
                os.unlink(path)
            removed.append(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            log.warning("litter.unremovable", path=path, error=str(e))
    if removed:
        log.info("litter.removed", files=len(removed), paths=removed[:10], held=len(busy))
    return removed


def _files_under(folder: str) -> list[str]:
    """Every file under ``folder`` (links not followed): what a process may hold open there."""
    return [os.path.join(top, name) for top, _dirs, files in os.walk(folder) for name in files]


def find(root: str | Path, ignored: Callable[[str], bool] = lambda rel: False) -> Iterator[str]:
    """Every unison temp file under ``root`` (absolute paths), not following links.

    Names only, from ``os.scandir`` (no ``stat`` per file): about as cheap as
    listing the tree.  Ignored folders are not entered.
    """
    stack = [""]
    while stack:
        rel = stack.pop()
        folder = os.path.join(root, rel) if rel else str(root)
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if is_unison_temp(entry.name):
                        yield entry.path
                        continue
                    child = join(rel, entry.name)
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        continue
                    if is_dir and not ignored(child):
                        stack.append(child)
        except OSError:
            continue


def sweep(roots: Iterable[str | Path], ignored: Callable[[str], bool] = lambda rel: False) -> list[str]:
    """Find and remove the abandoned temp files under ``roots`` (after a one-shot run)."""
    return remove([path for root in roots for path in find(root, ignored)])


class Candidates:
    """Temp files seen (by the watcher, by the verifier's walk) and not yet removed.

    The fsmonitor calls :meth:`sweep` only between unison's cycles (no
    transfer under way); what a process still holds open stays a candidate.
    """

    def __init__(self, proc: str = "/proc") -> None:
        self.paths: set[str] = set()
        self.proc = proc

    def saw(self, paths: Iterable[str]) -> None:
        self.paths.update(paths)

    def sweep(self) -> int:
        """Remove what nobody holds; returns how many files went."""
        paths, self.paths = self.paths, set()
        removed = remove(paths, self.proc)
        gone = set(removed) | {p for p in paths if not os.path.lexists(p)}
        self.paths = paths - gone
        return len(removed)
