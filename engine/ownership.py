"""Numeric ownership of APP_VOLUME and running unison as OWNER_UID:GROUP_ID.

No user names anywhere: a uid such as 33 may be ``www-data`` in one image and
nobody in another (docker-sync #453).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger("ownership")


def can_switch(uid: int, gid: int) -> bool:
    """True when this process may (and needs to) run children as ``uid:gid``."""
    return os.geteuid() == 0 and (uid, gid) != (0, 0)


def subprocess_ids(uid: int, gid: int) -> dict[str, Any]:
    """``subprocess`` keyword arguments that run a child as ``uid:gid`` (if we can)."""
    if not can_switch(uid, gid):
        return {}
    return {"user": uid, "group": gid, "extra_groups": []}


def become(uid: int, gid: int) -> None:
    """Drop to ``uid:gid`` for good (before exec'ing unison)."""
    if not can_switch(uid, gid):
        return
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def chown_tree(root: Path, uid: int, gid: int) -> int:
    """Give ``root`` and everything below it to ``uid:gid``; returns entries seen.

    Only entries that differ are changed (a second run costs only the walk).
    Without root privileges and for another owner, nothing can be done: a
    warning says so.
    """
    if os.geteuid() != 0 and (uid, gid) != (os.geteuid(), os.getegid()):
        log.warning("ownership.skipped", reason="not root", uid=uid, gid=gid, path=str(root))
        return 0
    seen = 0
    stack = [str(root)]
    _fix(str(root), uid, gid)
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if (st.st_uid, st.st_gid) != (uid, gid):
                _fix(entry.path, uid, gid)
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
    return seen


def _fix(path: str, uid: int, gid: int) -> None:
    try:
        os.lchown(path, uid, gid)
    except OSError as e:
        log.warning("ownership.failed", path=path, error=str(e))
