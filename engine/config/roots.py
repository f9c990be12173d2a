"""HOST_VOLUME and APP_VOLUME must be two folders apart (SPEC 5 Roots): by name and by identity.

unison over one folder given twice, or over a folder and one inside it, syncs
a tree into itself (``HOST_VOLUME=/`` grew app_sync/app_sync/... 40 levels
deep), and the ownership walk of APP_VOLUME chowns the user's own tree.  Names
alone do not tell: ``-v /tmp/same:/host_sync -v /tmp/same:/app_sync`` gives two
paths to one folder.  So the check is by identity as well:

- each root's own folder and its parents, walked up through ``..`` by
  (device, inode), which sees through symbolic links, a folder mounted twice
  and one named volume mounted at both roots;
- for a root that is (inside) a bind mount of a subfolder, whose ``..`` leads
  to the mount point's parent instead, the folder it is on its file system
  (``/proc/self/mountinfo``: the device and the mount's own root).

:func:`identity` is one root's folder by the same marks, so ``run`` can tell
later whether a root is still the folder it synced at start (a root emptied
while running: :mod:`engine.unison.emptied`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")


@dataclass(frozen=True)
class Clash:
    """Why the roots are not apart: ``holder`` (a variable) is, or contains, the other root."""

    holder: str
    how: str


def by_name(src: Path, dest: Path, norm: Callable[[Path], Path]) -> Clash | None:
    """The roots' paths (after ``norm``) are equal or one lies below the other."""
    host, app = norm(src), norm(dest)
    if host != app and host in app.parents:
        return Clash("HOST_VOLUME", "")
    if host == app or app in host.parents:
        return Clash("APP_VOLUME", "")
    return None


def by_identity(src: Path, dest: Path) -> Clash | None:
    """The roots are one folder, or one contains the other, as the file systems see them.

    Both must exist.  The variable named is the root that holds the other
    (APP_VOLUME when they are one folder).
    """
    host, app = _chain(src), _chain(dest)
    if host[0] == app[0]:
        return Clash("APP_VOLUME", f"they are one folder (device {host[0][0]}, inode {host[0][1]})")
    if host[0] in app[1:]:
        return Clash("HOST_VOLUME", "it contains the other (by device and inode)")
    if app[0] in host[1:]:
        return Clash("APP_VOLUME", "it contains the other (by device and inode)")
    mounts = _mounts()
    host_fs, app_fs = _on_fs(src, mounts), _on_fs(dest, mounts)
    if host_fs is None or app_fs is None or host_fs[0] != app_fs[0]:
        return None
    how = f"both are {{}} on device {host_fs[0]} (bind mounts of {host_fs[1]} and {app_fs[1]})"
    if host_fs[1] == app_fs[1]:
        return Clash("APP_VOLUME", how.format("one folder"))
    if host_fs[1] in app_fs[1].parents:
        return Clash("HOST_VOLUME", how.format("nested folders"))
    if app_fs[1] in host_fs[1].parents:
        return Clash("APP_VOLUME", how.format("nested folders"))
    return None


def identity(path: Path) -> str | None:
    """The folder ``path`` is, as a comparable mark: device, inode and what is mounted there.

    None when it cannot be told or is gone (removed, its last link unlinked while a mount
    still shows it).  Another folder put in its place, a mount that went away or came
    back as another volume: another mark.
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    if st.st_nlink == 0:
        return None
    on_fs = _on_fs(path, _mounts())
    mount = "" if on_fs is None else f" on {on_fs[0]}:{on_fs[1]}"
    return f"device {st.st_dev}, inode {st.st_ino}{mount}"


def _chain(path: Path) -> list[tuple[int, int]]:
    """(device, inode) of ``path`` and of each folder above it, through ``..``, up to ``/``."""
    found: list[tuple[int, int]] = []
    current = os.fspath(path)
    while True:
        try:
            st = os.stat(current)
        except PermissionError:
            # `..` of a folder this user may not pass through (no x bit, a --user run): its parent by name
            current = os.path.realpath(current)
            st = os.stat(current)
        key = (st.st_dev, st.st_ino)
        if key in found:  # `/..` is `/`
            return found
        found.append(key)
        current = os.path.join(current, "..")


@dataclass(frozen=True)
class _Mount:
    device: str  # major:minor
    root: str  # the folder of its file system that is mounted
    point: str


def _mounts() -> list[_Mount]:
    """This process's mounts (empty where /proc/self/mountinfo is not there)."""
    try:
        lines = MOUNTINFO.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 5:
            found.append(_Mount(fields[2], _unescape(fields[3]), _unescape(fields[4])))
    return found


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (``\\040``)."""
    return field.encode("latin-1", "surrogateescape").decode("unicode_escape")


def _on_fs(path: Path, mounts: list[_Mount]) -> tuple[str, Path] | None:
    """(device, the folder on that device's file system) that ``path`` is."""
    real = os.path.realpath(path)
    best: _Mount | None = None
    for mount in mounts:  # the last one at the deepest point is the one on top
        inside = real == mount.point or real.startswith(mount.point.rstrip("/") + "/")
        if inside and (best is None or len(mount.point) >= len(best.point)):
            best = mount
    if best is None:
        return None
    rel = os.path.relpath(real, best.point)
    return best.device, Path(os.path.normpath(os.path.join(best.root, rel)))
