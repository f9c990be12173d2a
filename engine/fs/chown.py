"""Numeric owners changed inside a root, never through a symbolic link.

No user names anywhere: a uid such as 33 may be ``www-data`` in one image and
nobody in another (docker-sync #453).  Every change here starts from a root
folder and opens each folder below it with ``O_NOFOLLOW``, then changes the
entry itself (``follow_symlinks=False``): a link in a replica (to ``/etc``,
say) is given an owner as a link and nothing it points to is touched, even
if a folder is swapped for a link while we look.  Which owner a path should
have is :mod:`engine.fs.owners`' business.

What we create ourselves (the cold start's copy, the conflict store) is
created as its owner from its first moment (:func:`created`: Linux's
``setfsuid``, for the calling thread only), as our unison does (patch 0005).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import structlog

log = structlog.get_logger("ownership")

Owner = tuple[int, int]  # (uid, gid)
# Given an entry's lstat, the owner it should have (None: leave it alone).
Wanted = Callable[[os.stat_result], "Owner | None"]

T = TypeVar("T")

_failed: set[int | None] = set()  # errnos already warned about
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def privileged() -> bool:
    """May this process give files to other users (it runs as root)?"""
    return os.geteuid() == 0


def skipped_fields(uid: int, gid: int) -> dict[str, object]:
    """What ``ownership.skipped`` says: who runs, what was asked, why it cannot be done, the fix."""
    return {
        "reason": (
            f"native-sync runs as uid {os.geteuid()} (not root, e.g. docker run --user), and only root "
            f"may give files to another owner: files are created as uid {os.geteuid()}:{os.getegid()}"
        ),
        "running_uid": os.geteuid(),
        "running_gid": os.getegid(),
        "wanted_uid": uid,
        "wanted_gid": gid,
        "fix": f"run as root, or set OWNER_UID={os.geteuid()} GROUP_ID={os.getegid()} to match --user",
    }


_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _set_fs_ids(uid: int, gid: int) -> bool:
    """This thread's filesystem uid and gid (Linux); True when they are now ``uid:gid``."""
    if _libc is None:
        return False
    _libc.setfsgid(gid)
    _libc.setfsuid(uid)
    return bool(_libc.setfsuid(-1) == uid and _libc.setfsgid(-1) == gid)  # -1: only asks


def created(path: str | Path, owner: Owner | None, make: Callable[[], T]) -> T:
    """``make()`` creates ``path``: owned by ``owner`` from its first moment.

    The calling thread creates it with ``owner`` as its filesystem uid and
    gid.  Where that is refused (not root, not Linux, a folder ``owner`` may
    not write), it is created as we are and given to ``owner`` at once.
    ``owner`` None: created as we are.
    """
    if owner is None:
        return make()
    try:
        if not _set_fs_ids(*owner):
            raise PermissionError(f"cannot create files as {owner[0]}:{owner[1]}")
        result = make()
    except PermissionError:
        _set_fs_ids(os.geteuid(), os.getegid())
        result = make()
    finally:
        _set_fs_ids(os.geteuid(), os.getegid())
    try:
        os.lchown(path, *owner)  # the fallback's; the group a set-group-ID folder gave it
    except OSError:
        pass
    return result


def copy_as(src: Path, dst: Path, owner: Owner | None) -> None:
    """Copy ``src`` (a file, link or folder tree; links not followed) to the new ``dst``,
    each entry created as ``owner`` (see :func:`created`)."""
    if src.is_symlink():
        created(dst, owner, lambda: os.symlink(os.readlink(src), dst))
    elif src.is_dir():
        created(dst, owner, lambda: os.mkdir(dst, 0o700))
        for child in sorted(os.listdir(src)):
            copy_as(src / child, dst / child, owner)
        shutil.copystat(src, dst, follow_symlinks=False)
    else:
        fd = created(
            dst, owner, lambda: os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        )
        with open(fd, "wb") as out, open(src, "rb") as source:
            shutil.copyfileobj(source, out)
        shutil.copystat(src, dst, follow_symlinks=False)


def owner_of(st: os.stat_result) -> Owner:
    return (st.st_uid, st.st_gid)


def fix(root: str | Path, rel: str, wanted: Wanted, tree: bool = False) -> int:
    """Give ``root/rel`` (and with ``tree`` everything below it) the owner ``wanted`` names.

    ``rel`` is relative to ``root`` ("" is the root itself); no folder on the
    way is followed if it is a link.  Returns how many entries were changed;
    a path that vanished or runs through a link changes nothing.
    """
    try:
        parent, name = _open_parent(str(root), rel)
    except OSError:
        return 0
    try:
        return _fix_at(parent, name, wanted, tree)
    finally:
        os.close(parent)


def chown_tree(root: Path, uid: int, gid: int) -> int:
    """Give ``root`` and everything below it to ``uid:gid``; returns entries seen.

    Only entries that differ are changed (a second run costs only the walk).
    Without root privileges and for another owner, nothing can be done: a
    warning says so.
    """
    if not privileged() and (uid, gid) != (os.geteuid(), os.getegid()):
        log.warning("ownership.skipped", path=str(root), **skipped_fields(uid, gid))
        return 0
    seen = 0

    def to_owner(st: os.stat_result) -> Owner | None:
        nonlocal seen
        seen += 1
        return (uid, gid)

    fix(root, "", to_owner, tree=True)
    return seen


def _open_parent(root: str, rel: str) -> tuple[int, str]:
    """An fd of ``rel``'s folder, each step opened without following links, and its name."""
    parts = rel.split("/") if rel else []
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            if part in ("", ".", ".."):
                raise OSError(f"not a plain relative path: {rel!r}")
            inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = inner
        if parts and parts[-1] in ("", ".", ".."):
            raise OSError(f"not a plain relative path: {rel!r}")
    except OSError:
        os.close(fd)
        raise
    return fd, parts[-1] if parts else "."


def _fix_at(folder: int, name: str, wanted: Wanted, tree: bool) -> int:
    try:
        st = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except OSError:
        return 0
    changed = _apply(folder, name, st, wanted)
    if not (tree and stat.S_ISDIR(st.st_mode)):
        return changed
    for _, dirnames, filenames, inner in os.fwalk(name, dir_fd=folder, follow_symlinks=False):
        for entry in dirnames + filenames:
            try:
                est = os.stat(entry, dir_fd=inner, follow_symlinks=False)
            except OSError:
                continue
            changed += _apply(inner, entry, est, wanted)
    return changed


def _apply(folder: int, name: str, st: os.stat_result, wanted: Wanted) -> int:
    want = wanted(st)
    if want is None or want == owner_of(st):
        return 0
    try:
        os.chown(name, want[0], want[1], dir_fd=folder, follow_symlinks=False)
    except OSError as e:
        # Once per kind of failure (a mount that refuses owners would say it for every file).
        level = log.debug if e.errno in _failed else log.warning
        _failed.add(e.errno)
        level("ownership.failed", path=name, uid=want[0], gid=want[1], error=str(e))
        return 0
    return 1
