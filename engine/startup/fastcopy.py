"""The cold-start copy: HOST_VOLUME into APP_VOLUME the way unison would, only faster.

What unison syncs is what is copied: the type (folders, files, symbolic links,
never followed), the permission bits under unison's default ``-perms 0o1777``
mask, and file contents; special files are skipped (unison skips them too).
Ignores are unison's own (:class:`engine.ignore.IgnoreMatcher`), and unison's
temporary files are never copied.  File modification times are copied as well
(unison does not sync them by default, but a copy that keeps them is ``cp -a``
and lets a resumed copy recognise what is already done).  Contents go through
the kernel (``copy_file_range``, else ``sendfile``, else read/write), written
by :mod:`engine.startup.filecopy`.

A :class:`Copier` remembers the stat of both sides of every file it wrote, so a
second pass (:meth:`Copier.run` again) tells what changed meanwhile and on
which side: host-only changes are copied again, host deletions removed from
the app side, app-only edits of plain files written back to the host (in
place: the host file keeps its owner), and the rest reported
(``app_changed``, ``both_changed``) for unison to settle.  Files it finds
already in place that it did not write (a resumed copy, or the app) are left
alone when they equal the host's (type, size, mtime, mode) and otherwise
reported as ``unknown``, or replaced when the app side is known to hold
nothing but an interrupted copy (``adopt``).
"""

from __future__ import annotations

import os
import stat
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from engine.ignore import IgnoreMatcher
from engine.paths import PERMS, is_unison_temp, lstat
from engine.startup.filecopy import NOFOLLOW, Stopped, Writer, remove

__all__ = ["Copier", "Outcome", "Sig", "Stopped", "sig"]

log = structlog.get_logger("fastcopy")

# inode, size, mtime, ctime, mode: any change shows.  Packed into one bytes
# object (73 bytes against 208 for a tuple of five ints): the copier keeps two
# per file.  Values out of the packed ranges (a time past 2262) keep the tuple,
# so two sigs are equal exactly when their five values are.
Sig = bytes | tuple[int, int, int, int, int]
_PACK = struct.Struct("=QqqqQ").pack


def sig(st: os.stat_result) -> Sig:
    values = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)
    try:
        return _PACK(*values)
    except struct.error:
        return values


@dataclass
class Outcome:
    """What one pass did and found."""

    copied: int = 0
    bytes: int = 0
    skipped: int = 0  # already in place
    copied_back: int = 0  # app edits written to the host (the host had not changed them)
    removed: int = 0  # host deletions carried over, or leftovers of an interrupted copy
    failed: int = 0  # unreadable on the host: unison will report them
    app_changed: list[str] = field(default_factory=list)  # the app changed it, the host did not
    both_changed: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # in place, not ours, differing from the host


class Copier:
    """Copies ``src`` into ``dst``; call :meth:`run` for the copy and again for a catch-up pass.

    ``owner`` (uid, gid) is given to everything written (needs root);
    ``progress(n)`` is called after every file with the count so far (a test
    seam); ``stop`` is checked between files.
    """

    def __init__(
        self,
        src: Path,
        dst: Path,
        matcher: IgnoreMatcher,
        stop: threading.Event,
        owner: tuple[int, int] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.src, self.dst = str(src), str(dst)
        self.matcher = matcher
        self.stop = stop
        self.writer = Writer(stop, owner)
        self.progress = progress
        self.files: dict[str, tuple[Sig, Sig]] = {}  # rel -> (host stat, app stat) when we wrote it
        self.dirs: set[str] = set()  # folders we made or filled
        self.count = 0

    def run(self, adopt: bool = False) -> Outcome:
        """One pass over the host tree; raises :class:`Stopped` when asked to stop.

        ``adopt``: the app side holds only an interrupted copy of ours (its
        volume was never handed out), so whatever differs is replaced and
        whatever the host lacks is removed.
        """
        out = Outcome()
        seen: set[str] = set()
        modes: list[tuple[str, int]] = []
        if self.matcher.ignored(""):
            return out
        stack: list[tuple[str, bool]] = [("", False)]
        while stack:
            rel_dir, fresh = stack.pop()
            self._folder(rel_dir, fresh, adopt, out, seen, stack, modes)
        for path, mode in reversed(modes):  # after the children: a read-only folder is filled first
            os.chmod(path, mode)
        if self.files or self.dirs:
            self._host_deletions(seen, out)
        return out

    def _folder(
        self,
        rel_dir: str,
        fresh: bool,
        adopt: bool,
        out: Outcome,
        seen: set[str],
        stack: list[tuple[str, bool]],
        modes: list[tuple[str, int]],
    ) -> None:
        src_dir = os.path.join(self.src, rel_dir) if rel_dir else self.src
        dst_dir = os.path.join(self.dst, rel_dir) if rel_dir else self.dst
        try:
            entries = list(os.scandir(src_dir))
        except OSError as e:
            log.warning("fastcopy.unreadable", path=src_dir, error=str(e))
            out.failed += 1
            return
        names: set[str] = set()
        for entry in entries:
            name = entry.name
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if is_unison_temp(name) or self.matcher.ignored(rel):
                continue
            names.add(name)
            seen.add(rel)
            if self.stop.is_set():
                raise Stopped(rel)
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            dst = os.path.join(dst_dir, name)
            here = None if fresh else lstat(dst)
            if stat.S_ISDIR(st.st_mode):
                if here is None:
                    os.mkdir(dst, 0o700)
                    self.writer.own(dst, None)
                elif not stat.S_ISDIR(here.st_mode):
                    mine = self.files.get(rel)
                    ours = mine is not None and sig(here) == mine[1]  # the host made it a folder
                    if not (adopt or ours):
                        out.unknown.append(rel)
                        continue
                    self.files.pop(rel, None)
                    remove(dst)
                    os.mkdir(dst, 0o700)
                    self.writer.own(dst, None)
                    here = None
                self.dirs.add(rel)
                modes.append((dst, st.st_mode & PERMS))
                stack.append((rel, here is None))
            elif stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                self._entry(entry.path, dst, rel, st, here, adopt, out)
        if adopt and not fresh:
            self._prune(dst_dir, rel_dir, names, out)

    def _entry(
        self,
        src: str,
        dst: str,
        rel: str,
        st: os.stat_result,
        here: os.stat_result | None,
        adopt: bool,
        out: Outcome,
    ) -> None:
        mine = self.files.get(rel)
        if here is not None:
            if mine is not None and sig(here) == mine[1]:  # the app side is as we left it
                if sig(st) == mine[0]:
                    out.skipped += 1
                    return
            elif mine is not None:
                if sig(st) != mine[0]:
                    out.both_changed.append(rel)
                elif self._copy_back(src, dst, rel, st, here):
                    out.copied_back += 1
                else:
                    out.app_changed.append(rel)
                return
            elif _same(st, here, src, dst):
                self.files[rel] = (sig(st), sig(here))
                out.skipped += 1
                return
            elif not adopt:
                out.unknown.append(rel)
                return
            remove(dst)
        try:
            link = stat.S_ISLNK(st.st_mode)
            written = self.writer.link(src, dst) if link else self.writer.file(src, dst, st)
        except FileNotFoundError:
            return  # gone on the host meanwhile
        except PermissionError as e:
            log.warning("fastcopy.unreadable", path=src, error=str(e))
            out.failed += 1
            return
        self.files[rel] = (sig(st), sig(written))
        out.copied += 1
        out.bytes += st.st_size
        self.count += 1
        if self.progress is not None:
            self.progress(self.count)

    def _copy_back(self, src: str, dst: str, rel: str, st: os.stat_result, here: os.stat_result) -> bool:
        """The app changed a file we wrote, the host did not: write the app's version into the host's file.

        In place, so the host file keeps its owner; False (unison settles it)
        when it is not a plain file on both sides or the host file cannot be
        written.
        """
        if not (stat.S_ISREG(st.st_mode) and stat.S_ISREG(here.st_mode)):
            return False
        try:
            fd_in = os.open(dst, os.O_RDONLY | NOFOLLOW)
        except OSError:
            return False
        try:
            try:
                fd_out = os.open(src, os.O_WRONLY | NOFOLLOW)
            except OSError:
                return False
            try:
                if sig(os.fstat(fd_out)) != sig(st):  # the host changed after all: unison settles it
                    return False
                os.ftruncate(fd_out, 0)
                if here.st_size:
                    self.writer.contents(fd_in, fd_out, here.st_size, "")
                os.fchmod(fd_out, here.st_mode & PERMS)
                os.utime(fd_out, ns=(here.st_atime_ns, here.st_mtime_ns))
                self.files[rel] = (sig(os.fstat(fd_out)), sig(os.fstat(fd_in)))
                return True
            finally:
                os.close(fd_out)
        finally:
            os.close(fd_in)

    def _prune(self, dst_dir: str, rel_dir: str, names: set[str], out: Outcome) -> None:
        """Remove what an interrupted copy left that the host no longer has."""
        with os.scandir(dst_dir) as entries:
            extra = [e for e in entries if e.name not in names]
        for entry in extra:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if not self.matcher.ignored(rel):
                remove(entry.path)
                out.removed += 1

    def _host_deletions(self, seen: set[str], out: Outcome) -> None:
        """What we copied and the host deleted since goes from the app side, unless the app changed it."""
        for rel in [r for r in self.files if r not in seen]:
            app_sig = self.files.pop(rel)[1]
            here = lstat(os.path.join(self.dst, rel))
            if here is not None and sig(here) == app_sig:
                os.unlink(os.path.join(self.dst, rel))
                out.removed += 1
        for rel in sorted((d for d in self.dirs if d not in seen), reverse=True):
            self.dirs.discard(rel)
            try:
                os.rmdir(os.path.join(self.dst, rel))  # only if the app left nothing in it
                out.removed += 1
            except OSError:
                pass


def _same(host: os.stat_result, app: os.stat_result, src: str, dst: str) -> bool:
    """Is the app's entry what a copy of the host's would be (a resumed copy)?"""
    if stat.S_IFMT(host.st_mode) != stat.S_IFMT(app.st_mode):
        return False
    if stat.S_ISLNK(host.st_mode):
        return os.readlink(src) == os.readlink(dst)
    return (host.st_size, host.st_mtime_ns, host.st_mode & PERMS) == (
        app.st_size,
        app.st_mtime_ns,
        app.st_mode & PERMS,
    )
