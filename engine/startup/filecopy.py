"""One entry written for the cold-start copy (:mod:`engine.startup.fastcopy`): contents through the kernel.

A :class:`Writer` creates a file or symbolic link on the app side with the
host's permission bits (under unison's default ``-perms 0o1777`` mask), its
modification time and the configured owner (from its first moment:
:func:`engine.fs.chown.created`).  Contents go through the kernel
(``copy_file_range``, else ``sendfile``, else read/write: the first call the
kernel refuses is not tried again).  A sparse file stays sparse: only its
data (``SEEK_DATA``/``SEEK_HOLE``) is copied, the holes are left unwritten
(``copy_file_range`` itself writes zeros for them on ext4: 1 GB of nothing
became 1 GB allocated).  Also the small path helpers the copy shares
(:func:`remove`).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import struct
import threading
from collections.abc import Iterator

from engine.fs import chown
from engine.fs.paths import PERMS

BIG = 8 << 20  # files above this are copied in chunks, checking for a stop between them
NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC

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


class Stopped(Exception):
    """The copy was asked to stop (SIGTERM); what is done stays, nothing is half-written."""


class Writer:
    """Writes files and links; ``owner`` (uid, gid) is given to each (needs root).

    ``stop`` is checked between the chunks of a big file.
    """

    def __init__(self, stop: threading.Event, owner: tuple[int, int] | None = None) -> None:
        self.stop = stop
        self.owner = owner
        self._pump = self._copy_file_range

    def link(self, src: str, dst: str) -> os.stat_result:
        target = os.readlink(src)
        chown.created(dst, self.owner, lambda: os.symlink(target, dst))
        return os.lstat(dst)

    def folder(self, dst: str) -> None:
        chown.created(dst, self.owner, lambda: os.mkdir(dst, 0o700))

    def file(self, src: str, dst: str, st: os.stat_result) -> os.stat_result:
        fd_in = os.open(src, os.O_RDONLY | NOFOLLOW)
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW
            mode = st.st_mode & PERMS
            # created with its bits (the umask or a default ACL may take some): one chmod less a file
            fd_out = chown.created(dst, self.owner, lambda: os.open(dst, flags, mode & 0o777))
            try:
                if st.st_size:
                    self.contents(fd_in, fd_out, st.st_size, dst, _holey(st))
                os.utime(fd_out, ns=(st.st_atime_ns, st.st_mtime_ns))
                written = os.fstat(fd_out)
                if written.st_mode & PERMS == mode:
                    return written
                os.fchmod(fd_out, mode)
                return os.fstat(fd_out)
            finally:
                os.close(fd_out)
        finally:
            os.close(fd_in)

    def contents(self, fd_in: int, fd_out: int, size: int, dst: str, holey: bool = False) -> None:
        """Copy ``size`` bytes (only the data of a ``holey`` file, the holes kept); a stop between
        chunks removes ``dst`` (if named), raising :class:`Stopped`."""
        chunks = 0
        end = 0
        for start, end in data_extents(fd_in, size) if holey else [(0, size)]:
            if holey:  # data_extents moved fd_in's offset
                os.lseek(fd_in, start, os.SEEK_SET)
                os.lseek(fd_out, start, os.SEEK_SET)
            done = start
            while done < end:
                if chunks and self.stop.is_set() and dst:  # only big files get here twice
                    os.unlink(dst)
                    raise Stopped(dst)
                n = self._pump(fd_in, fd_out, min(end - done, BIG))
                if n == 0:
                    return  # the host file shrank meanwhile: the catch-up pass sees it
                done += n
                chunks += 1
        if end < size:
            os.ftruncate(fd_out, size)  # a hole at the end: the size without the writing

    def write_back(
        self, src: str, dst: str, st: os.stat_result, here: os.stat_result
    ) -> tuple[Sig, Sig] | None:
        """The app changed a file we wrote, the host did not: write the app's version into the host's file.

        In place, so the host file keeps its owner; returns the new (host, app)
        signatures, or None (unison settles it) when it is not a plain file on
        both sides or the host file cannot be written.
        """
        if not (stat.S_ISREG(st.st_mode) and stat.S_ISREG(here.st_mode)):
            return None
        try:
            fd_in = os.open(dst, os.O_RDONLY | NOFOLLOW)
        except OSError:
            return None
        try:
            try:
                fd_out = os.open(src, os.O_WRONLY | NOFOLLOW)
            except OSError:
                return None
            try:
                if sig(os.fstat(fd_out)) != sig(st):  # the host changed after all: unison settles it
                    return None
                os.ftruncate(fd_out, 0)
                if here.st_size:
                    self.contents(fd_in, fd_out, here.st_size, "", _holey(here))
                os.fchmod(fd_out, here.st_mode & PERMS)
                os.utime(fd_out, ns=(here.st_atime_ns, here.st_mtime_ns))
                return (sig(os.fstat(fd_out)), sig(os.fstat(fd_in)))
            finally:
                os.close(fd_out)
        finally:
            os.close(fd_in)

    def _copy_file_range(self, fd_in: int, fd_out: int, count: int) -> int:
        try:
            return os.copy_file_range(fd_in, fd_out, count)
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
        self._pump = self._sendfile
        return self._sendfile(fd_in, fd_out, count)

    def _sendfile(self, fd_in: int, fd_out: int, count: int) -> int:
        try:
            return os.sendfile(fd_out, fd_in, None, count)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.ENOSYS):
                raise
        self._pump = _read_write
        return _read_write(fd_in, fd_out, count)


def _holey(st: os.stat_result) -> bool:
    """Can the file have holes (fewer blocks allocated than its size needs)?"""
    return st.st_blocks * 512 < st.st_size


def data_extents(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """The (start, end) byte ranges of ``fd``'s first ``size`` bytes that hold data.

    The whole file where the filesystem cannot tell (no ``SEEK_DATA``); a
    filesystem without holes answers one range too.
    """
    at = 0
    while at < size:
        try:
            start = os.lseek(fd, at, os.SEEK_DATA)
        except OSError as e:
            if e.errno != errno.ENXIO:  # ENXIO: nothing but a hole from here to the end
                yield at, size
            return
        if start >= size:
            return
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        yield start, end
        at = end


def _read_write(fd_in: int, fd_out: int, count: int) -> int:
    data = os.read(fd_in, count)
    view = memoryview(data)
    while view:
        view = view[os.write(fd_out, view) :]
    return len(data)


def remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)
