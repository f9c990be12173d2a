"""Refuse to propagate the deletion of a whole replica.

If unison's archive says the roots were in sync and now exactly one of them is
empty, the likely story is a host mount that did not come up, not a developer
who deleted everything: syncing would empty the other side too.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.config import Config
from engine.unison.launch import has_archive


class MassDeletionRefused(Exception):
    """One root is empty, the other is not, and they were in sync before."""


def is_empty(path: Path) -> bool:
    with os.scandir(path) as entries:
        return next(entries, None) is None


def check(cfg: Config) -> None:
    """Raise :class:`MassDeletionRefused` when a sync would empty a root."""
    if not has_archive(cfg):
        return
    src, dest = cfg.roots
    src_empty, dest_empty = is_empty(src), is_empty(dest)
    if src_empty == dest_empty:
        return
    empty, full = (src, dest) if src_empty else (dest, src)
    raise MassDeletionRefused(
        f"{empty} is empty but {full} is not, and unison's archive in {cfg.unison_dir} says "
        f"they were in sync: refusing to propagate the deletion of everything "
        f"(did a volume fail to mount?). Nothing was changed. If the deletion is "
        f"intended, remove the archives ({cfg.unison_dir}/ar*) and start again."
    )
