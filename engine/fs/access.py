"""Can the user unison runs as use both roots?  Said at the edge, checked while running.

Before the initial sync (``run`` and ``precopy``) :func:`check` stops the
start with one line when unison could not list HOST_VOLUME or write either
root: who unison runs as, the folder, its owner and mode, and the fix.  While
watching, ``run`` asks :func:`root_error` every few seconds: a root that
cannot be scanned or written (a full volume included) makes ``health`` fail.
:func:`mount_warnings` names the ``-v`` a root is missing in the image.

unison runs as this process's user (as root it reads and writes both roots,
creating files as their owners: :mod:`engine.fs.owners`), so access is asked
with access(2) here: a FUSE host mount or an ACL answers for itself.
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


def unison_identity() -> Identity:
    """The uid/gid unison runs as: this process's own (supervisord runs it as us)."""
    return Identity(os.geteuid(), os.getegid())


def _access_mode(want: int) -> int:
    return (os.R_OK if want & R else 0) | (os.W_OK if want & W else 0) | (os.X_OK if want & X else 0)


def _first_denied(steps: list[tuple[Path, int]]) -> int | None:
    """Index of the first (path, want) that access(2) denies to this process."""
    for i, (path, want) in enumerate(steps):
        if not os.access(path, _access_mode(want)):
            return i
    return None


def _describe(path: Path) -> str:
    try:
        st = os.stat(path)
    except OSError as e:
        return f"{path} ({e.strerror})"
    return f"{path} (owner {st.st_uid}:{st.st_gid}, mode {stat.S_IMODE(st.st_mode):04o})"


def _who(who: Identity) -> str:
    if who.uid == 0:
        return "root"
    return f"the container's user {who.uid}:{who.gid}"


def _blocked(roots: list[Path]) -> Path | None:
    """The first folder on the way to a root, or a root itself, that unison (this process) cannot use.

    On the way: search (x); a root: list, read and write (rwx).
    """
    steps = [step for root in roots for step in _steps(root)]
    denied = _first_denied(steps)
    return None if denied is None else steps[denied][0]


def _steps(root: Path) -> list[tuple[Path, int]]:
    return [(parent, X) for parent in reversed(root.parents)] + [(root, R | W | X)]


def _root_problem(cfg: Config) -> tuple[str, bool] | None:
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
    blocked = _blocked([root for _, root in named])
    if blocked is None:
        return None
    for name, root in named:
        if blocked == root or blocked in root.parents:
            doing = "reach" if blocked != root else "list and write"
            return f"{name}: {_who(unison_identity())} cannot {doing} {_describe(blocked)}", False
    return None


def root_error(cfg: Config) -> str | None:
    """Why unison cannot scan or write a root now (None: both are fine).

    Cheap (a few access calls, one statvfs per root): ``run`` asks it every
    few seconds.  A volume with no free block counts as not writable.
    """
    found = _root_problem(cfg)
    return None if found is None else found[0]


def check(cfg: Config) -> None:
    """Raise :class:`Misconfigured` (one line with the fix) when a root is unusable for unison."""
    who = unison_identity()
    found = _root_problem(cfg)
    if found is None:
        return
    problem, space = found
    if space:
        raise Misconfigured(f"{problem}: free space on it or mount it writable")
    if who.uid != 0:
        fix = (
            f"run the container as the folder's owner (docker run --user UID:GID) or as root "
            f"with OWNER_UID/GROUP_ID, or give {who.uid}:{who.gid} access (chown/chmod)"
        )
    else:  # root denied: a host mount that maps root to nobody, or an ACL
        fix = "give root access to it on the host (chown/chmod), or mount it without root squashing"
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
