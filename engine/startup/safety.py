"""Refuse, at start, to propagate the deletion of a whole replica.

When one root is empty at start and the other is not, and unison's archive
knew files in the empty one, the likely story is a host mount that did not
come up, not a developer who deleted everything: syncing would empty the
other side too.  unison itself tells that case apart: its ``confirmbigdel``
check (on in the initial sync) aborts exactly when a root the archive knew
files in is now empty and the other is not (src/recon.ml ``dangerousPath``),
before it changes anything; :func:`monit.oneshot.sync_once` raises
:class:`engine.unison.launch.RootEmptied` for it and the start turns that into
:class:`MassDeletionRefused`.  Two empty roots synced once, then a file made on
one side (a new project's first file, a crash before it synced), is no
deletion: unison's archive knew nothing there, and the start goes on.

While running, a root emptied in place is a real deletion and is carried
(:mod:`engine.unison.emptied`).
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.config import Config
from engine.unison.emptied import bare


class MassDeletionRefused(Exception):
    """One root is empty, the other is not, and unison's archive knew files in the empty one."""


def is_empty(path: Path) -> bool:
    with os.scandir(path) as entries:
        return next(entries, None) is None


def refused(cfg: Config) -> MassDeletionRefused:
    """The start's refusal, naming the empty root (unison found one root emptied)."""
    src, dest = cfg.roots
    empty, full = (src, dest) if bare(src, cfg.ignore) else (dest, src)
    return MassDeletionRefused(
        f"{empty} is empty but {full} is not, and unison's archive in {cfg.unison_dir} knew files "
        f"in it: refusing to propagate the deletion of everything (did a volume fail to mount?). "
        f"Nothing was changed. If the deletion is intended, remove the archives "
        f"({cfg.unison_dir}/ar*) and start again."
    )
