"""Can the user unison runs as use both roots?  Said at the edge, checked while running.

Before the initial sync (``run`` and ``precopy``) :func:`check` stops the
start with one line when unison could not list HOST_VOLUME or write either
root: who unison runs as, the folder, its owner and mode, and the fix.  While
watching, ``run`` asks :func:`root_error` every few seconds: a root that
cannot be scanned or written (a full volume included) makes ``health`` fail.
:func:`mount_warnings` names the ``-v`` a root is missing in the image.

Access is asked with access(2) as the uid/gid unison runs as: in this
process when that is us, in a forked child that becomes that user when we
are root (a FUSE mount or an ACL answers for itself), from the mode bits only
when neither is possible.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from engine.config import Config

R, W, X = 4, 2, 1


class Misconfigured(Exception):
    """A root unison cannot use; the message is the one line to print."""


@dataclass(frozen=True)
class Identity:
    """Who unison runs as."""

    uid: int
    gid: int

    @property
    def this_process(self) -> bool:
        return (self.uid, self.gid) == (os.geteuid(), os.getegid())


def unison_identity(cfg: Config) -> Identity:
    """The uid/gid unison will run as: this process's own (as root it reads and
    writes both roots, and :mod:`engine.owners` gives the files their owners)."""
    return Identity(os.geteuid(), os.getegid())


def _access_mode(want: int) -> int:
    return (os.R_OK if want & R else 0) | (os.W_OK if want & W else 0) | (os.X_OK if want & X else 0)


def _by_mode_bits(path: Path, who: Identity, want: int) -> bool:
    """A guess from the mode bits, for when we can neither be ``who`` nor ask as ``who``."""
    if who.uid == 0:
        return True
    st = os.stat(path)
    if st.st_uid == who.uid:
        bits = st.st_mode >> 6
    elif st.st_gid == who.gid:
        bits = st.st_mode >> 3
    else:
        bits = st.st_mode
    return bits & want == want


def _first_denied(steps: list[tuple[Path, int]]) -> int | None:
    """Index of the first (path, want) that access(2) denies to this process."""
    for i, (path, want) in enumerate(steps):
        if not os.access(path, _access_mode(want)):
            return i
    return None


def _first_denied_as(who: Identity, steps: list[tuple[Path, int]]) -> int | None:
    """:func:`_first_denied` asked as ``who`` in a forked child (we are root).

    access(2) as that user, not a reading of mode bits: a FUSE host mount
    (gRPC-FUSE, osxfs) or an ACL answers for itself.
    """
    pid = os.fork()
    if pid == 0:  # the child: become who, ask, exit with the answer
        code = 255
        try:
            os.setgroups([])
            os.setgid(who.gid)
            os.setuid(who.uid)
            denied = _first_denied(steps)
            code = 0 if denied is None else min(denied + 1, 254)
        finally:
            os._exit(code)
    _, wait_status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(wait_status)
    if code == 255:
        raise OSError(f"cannot check access as {who.uid}:{who.gid}")
    return None if code == 0 else code - 1


def _describe(path: Path) -> str:
    try:
        st = os.stat(path)
    except OSError as e:
        return f"{path} ({e.strerror})"
    return f"{path} (owner {st.st_uid}:{st.st_gid}, mode {stat.S_IMODE(st.st_mode):04o})"


def _who(cfg: Config, who: Identity) -> str:
    if who.this_process and os.geteuid() != 0 and cfg.owner != (who.uid, who.gid):
        return f"the container's user {who.uid}:{who.gid}"
    return f"OWNER_UID={who.uid}/GROUP_ID={who.gid}"


def _blocked(roots: list[Path], who: Identity) -> Path | None:
    """The first folder on the way to a root, or a root itself, that ``who`` cannot use.

    On the way: search (x); a root: list, read and write (rwx).  One fork at most.
    """
    steps = [step for root in roots for step in _steps(root)]
    try:
        if who.this_process:
            denied = _first_denied(steps)
        elif os.geteuid() == 0:
            denied = _first_denied_as(who, steps)
        else:
            denied = next((i for i, (p, w) in enumerate(steps) if not _by_mode_bits(p, who, w)), None)
    except OSError:
        return roots[0]
    return None if denied is None else steps[denied][0]


def _steps(root: Path) -> list[tuple[Path, int]]:
    return [(parent, X) for parent in reversed(root.parents)] + [(root, R | W | X)]


def _root_problem(cfg: Config, who: Identity) -> tuple[str, bool] | None:
    """(why a root is unusable, whether it is about space or a read-only mount), or None."""
    named = (("HOST_VOLUME", cfg.unison_src), ("APP_VOLUME", cfg.unison_dest))
    for name, root in named:
        try:
            fs = os.statvfs(root)
        except PermissionError:
            continue  # a folder on the way is closed to us: said below, with its owner and mode
        except OSError as e:
            return f"{name}: {root}: {e.strerror}", False
        if fs.f_flag & os.ST_RDONLY:
            return f"{name}: {root} is mounted read-only", True
        if fs.f_bavail == 0:
            return f"{name}: {root} is full (no space left on its volume)", True
    blocked = _blocked([root for _, root in named], who)
    if blocked is None:
        return None
    for name, root in named:
        if blocked == root or blocked in root.parents:
            doing = "reach" if blocked != root else "list and write"
            return f"{name}: {_who(cfg, who)} cannot {doing} {_describe(blocked)}", False
    return None


def root_error(cfg: Config, who: Identity | None = None) -> str | None:
    """Why unison cannot scan or write a root now (None: both are fine).

    Cheap (a few access calls, at most one fork when unison runs as another
    user, one statvfs per root): ``run`` asks it every few seconds.  A volume
    with no free block counts as not writable.
    """
    found = _root_problem(cfg, who or unison_identity(cfg))
    return None if found is None else found[0]


def check(cfg: Config) -> None:
    """Raise :class:`Misconfigured` (one line with the fix) when a root is unusable for unison."""
    who = unison_identity(cfg)
    found = _root_problem(cfg, who)
    if found is None:
        return
    problem, space = found
    if space:
        raise Misconfigured(f"{problem}: free space on it or mount it writable")
    if who.this_process and os.geteuid() != 0:
        fix = (
            f"run the container as the folder's owner (docker run --user UID:GID) or as root "
            f"with OWNER_UID/GROUP_ID, or give {who.uid}:{who.gid} access (chown/chmod)"
        )
    else:
        fix = (
            f"set OWNER_UID/GROUP_ID to the folder's owner, or give {who.uid}:{who.gid} access (chown/chmod)"
        )
    raise Misconfigured(f"{problem}: {fix}")


def mount_warnings(cfg: Config) -> list[str]:
    """In the image: a root that is not a mount point (a forgotten or mistyped ``-v``)."""
    if not cfg.in_image:
        return []
    found = []
    for root, example in ((cfg.unison_src, "/path/to/project"), (cfg.unison_dest, "app_sync")):
        if not os.path.ismount(root):
            found.append(f"{root} is not a mount: add -v {example}:{root}")
    return found
