"""Does a path still differ between the two replicas?

The fsmonitor reports only paths that do: unison's own writes into the other
replica then compare equal and are not echoed back, which would cost the next
edit a second sync and unison's one-second sleep.  The check must stay cheap:
metadata first, contents only for regular files of equal size, read in blocks
with an early exit, and files above :data:`CONTENT_LIMIT` count as different
(reporting too much costs one extra sync; reporting too little loses an edit).
"""

from __future__ import annotations

import stat

from engine.fs.paths import PERMS, lstat, readlink, special_mode

CONTENT_LIMIT = 8 * 1024 * 1024
BLOCK = 256 * 1024


def differs(a: str, b: str, perms: int = PERMS) -> bool:
    """True unless ``a`` and ``b`` hold the same thing as unison would sync it.

    Both missing is the same; type, permission bits (``perms``: unison's
    ``-perms`` mask, 0 against a host that keeps none), link target and file
    contents are compared. Owners and times are not: unison (without
    ``-owner``/``-times``) does not copy them.  A special file (FIFO, socket,
    device) on either side differs from nothing: unison cannot sync it, so it
    is skipped by rule (listed in ``status``), never drift.
    """
    try:
        sa, sb = lstat(a), lstat(b)
    except OSError:
        return True  # unreadable here: unison will say what it makes of it (reporting too much is safe)
    if (sa is not None and special_mode(sa.st_mode)) or (sb is not None and special_mode(sb.st_mode)):
        return False
    if sa is None or sb is None:
        return (sa is None) != (sb is None)
    if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode):
        return True
    if stat.S_ISLNK(sa.st_mode):
        return readlink(a) != readlink(b)
    if (sa.st_mode & perms) != (sb.st_mode & perms):
        return True
    if stat.S_ISREG(sa.st_mode):
        if sa.st_size != sb.st_size:
            return True
        if sa.st_size > CONTENT_LIMIT:
            return True
        return not _same_contents(a, b)
    return False


def same_contents(a: str, b: str) -> bool:
    """Byte for byte equal, however big (False if either cannot be read)."""
    return _same_contents(a, b)


def _same_contents(a: str, b: str) -> bool:
    try:
        with open(a, "rb") as fa, open(b, "rb") as fb:
            while True:
                block_a = fa.read(BLOCK)
                if block_a != fb.read(BLOCK):
                    return False
                if not block_a:
                    return True
    except OSError:
        return False
