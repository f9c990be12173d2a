"""Conflict copies a killed unison left behind, where ``run`` never heard of them.

``run`` moves a conflict copy into the store when unison's output names it,
or when it shows up in a folder unison just wrote into
(:class:`engine.unison.conflicts.Keeper`).  A unison killed after it made the
copy and before ``run`` read its line (``kill -9``, the OOM killer, a crash of
the container: its output is lost with the runtime folder, and the next
unison finds both sides alike and says nothing) leaves the copy in its tree
for good: unison ignores the name, so the trees differ forever and the app
sees a stray ``f (conflict_on_DATE).txt`` (the fuzzer's kills, seeds 2015 and
2020).  So after such an end, one names-only walk of both trees finds them:

- at the start of ``run`` when the one before did not stop (the
  :data:`MARK` it leaves in UNISON while it runs is still there);
- while running, once after watch-mode unison was started again: only the
  copies made before it started (not one it is writing now).

A clean stop removes the mark: a normal warm start walks nothing (issue 24).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from engine.config import CONFLICT_STORE, Config
from engine.unison.conflicts import original_name
from engine.unison.reports import Conflict

MARK = "native-sync.running"  # in UNISON: a run is going on (or ended without stopping)


def begin(cfg: Config) -> bool:
    """Mark a run as going on; True when the last one did not stop (its mark is still there)."""
    mark = cfg.unison_dir / MARK
    crashed = mark.exists()
    try:
        mark.touch()
    except OSError:
        pass  # an unwritable UNISON is said where it matters (engine/startup/runtime.py)
    return crashed


def ended(cfg: Config) -> None:
    """The run stopped: nothing of it can be left behind."""
    (cfg.unison_dir / MARK).unlink(missing_ok=True)


def find(cfg: Config, before: float | None = None) -> list[tuple[Conflict, Path]]:
    """Every conflict copy in both trees, with the conflict it lost (the side it is on lost).

    ``before`` (wall-clock time): only copies made before then (by the unison that died, not
    one the unison running now is writing).
    """
    found: list[tuple[Conflict, Path]] = []
    for side, root, winner in (("host", cfg.unison_src, "app"), ("app", cfg.unison_dest, "host")):
        for rel, copy in _copies(root, skip=CONFLICT_STORE if side == "host" else None):
            if before is None or _made(copy) < before:
                found.append((Conflict(rel, winner=winner, loser=side), copy))
    return found


def _made(path: Path) -> float:
    try:
        return path.lstat().st_ctime
    except OSError:
        return math.inf  # gone: nothing to keep


def _copies(root: Path, skip: str | None) -> list[tuple[str, Path]]:
    """(the original's relative path, the copy) of unison's conflict copies under ``root``
    (links not followed, the conflict store skipped)."""
    found: list[tuple[str, Path]] = []
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        folder = root / rel_dir
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                    original = original_name(entry.name)
                    if original is not None:
                        found.append((f"{rel_dir}/{original}" if rel_dir else original, folder / entry.name))
                    elif rel != skip and entry.is_dir(follow_symlinks=False):
                        stack.append(rel)
        except OSError:
            continue
    return sorted(found)
