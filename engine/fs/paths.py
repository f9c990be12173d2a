"""Replica-relative paths and the entries they name: the helpers every wing shares.

One definition each of what the fsmonitor, the start-up copy, the verifier,
litter removal and ownership all need: unison's temp-file names, its
permission mask, a (replica, path) key, ``lstat``/``readlink`` that say
"not there" instead of raising, and what a special file is.
"""

from __future__ import annotations

import errno
import os
import re
import stat

PERMS = 0o1777  # unison's default -perms mask: the bits a sync carries over

Key = tuple[str, str]  # (replica, path relative to its root)

# unison writes a transfer into ``.unison.NAME[.HASH].unison.tmp`` next to its
# target (src/os.ml: tempFilePrefix, the name, includeInTempNames' string,
# tempFileSuffixFixed), then renames it into place.  NAME is never empty.
_UNISON_TEMP = re.compile(r"^\.unison\..+\.unison\.tmp$", re.S)


def is_unison_temp(name: str) -> bool:
    """Is ``name`` (a file name, not a path) one of unison's temp files?"""
    return _UNISON_TEMP.match(name) is not None


def join(prefix: str, path: str) -> str:
    """Join two replica-relative paths ('' is the root)."""
    if not prefix:
        return path
    if not path:
        return prefix
    return f"{prefix}/{path}"


def lstat(path: str, unreadable: bool = False) -> os.stat_result | None:
    """``os.lstat``, or None when nothing is there (a missing entry or folder on the way, or
    a symbolic link on the way that points at itself: the fuzzer's ``x -> x``).

    ``unreadable``: None for any other error too (else it is raised).
    """
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        if unreadable or e.errno == errno.ELOOP:
            return None
        raise


def readlink(path: str) -> str | None:
    """A link's target, or None when ``path`` is no link or cannot be read."""
    try:
        return os.readlink(path)
    except OSError:
        return None


def special_mode(mode: int) -> bool:
    """A FIFO, socket or device: a file unison cannot sync by its nature (skipped by rule)."""
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode)


def special(path: str) -> bool:
    """Is a special file (:func:`special_mode`) at ``path``?"""
    st = lstat(path, unreadable=True)
    return st is not None and special_mode(st.st_mode)


def special_entry(entry: os.DirEntry[str] | None) -> bool:
    """:func:`special` from a listing's file type (no extra system call)."""
    try:
        return entry is not None and not (
            entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False) or entry.is_symlink()
        )
    except OSError:
        return False
