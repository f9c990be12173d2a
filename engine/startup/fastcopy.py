"""The cold-start copy: HOST_VOLUME into APP_VOLUME the way unison would, only faster.

What unison syncs is what is copied: the type (folders, files, symbolic links,
never followed), the permission bits under unison's default ``-perms 0o1777``
mask, and file contents; special files are skipped (unison skips them too).
Ignores are unison's own (:class:`engine.config.ignore.IgnoreMatcher`), and unison's
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
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import structlog

from engine.config.ignore import IgnoreMatcher
from engine.deadline import Deadline
from engine.fs.paths import PERMS, is_unison_temp, lstat
from engine.startup.filecopy import Sig, Stopped, Writer, remove, sig

__all__ = ["Copier", "Outcome", "Sig", "Stopped", "carry_back", "sig"]

log = structlog.get_logger("fastcopy")

CARRY_SECONDS = 5.0  # of docker stop's 10 s, for edits made during the copy (carry_back)


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


@dataclass
class _Pass:
    """One pass over the host tree: what it found, what it still has to walk."""

    adopt: bool
    out: Outcome = field(default_factory=Outcome)
    seen: set[str] = field(default_factory=set)  # host paths met
    stack: list[tuple[str, bool]] = field(default_factory=lambda: [("", False)])  # (folder, made by us)
    modes: list[tuple[str, int]] = field(default_factory=list)  # folder modes, set after their children


class _Item(NamedTuple):
    """A host entry to copy: its host path, app path, relative path, stat, and the app's stat."""

    src: str
    dst: str
    rel: str
    st: os.stat_result
    here: os.stat_result | None


class Copier:
    """Copies ``src`` into ``dst``; call :meth:`run` for the copy and again for a catch-up pass.

    ``owner`` (uid, gid) is given to everything written (needs root);
    ``progress(files, bytes)`` is called after every file with the counts so
    far (the cold start's progress lines; a test seam); ``stop`` is checked
    between files.
    """

    def __init__(
        self,
        src: Path,
        dst: Path,
        matcher: IgnoreMatcher,
        stop: threading.Event,
        owner: tuple[int, int] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.src, self.dst = str(src), str(dst)
        self.matcher = matcher
        self.stop = stop
        self.writer = Writer(stop, owner)
        self.progress = progress
        self.files: dict[str, tuple[Sig, Sig]] = {}  # rel -> (host stat, app stat) when we wrote it
        self.dirs: set[str] = set()  # folders we made or filled
        self.count = 0
        self.bytes = 0  # bytes of the files written (progress)

    def run(self, adopt: bool = False) -> Outcome:
        """One pass over the host tree; raises :class:`Stopped` when asked to stop.

        ``adopt``: the app side holds only an interrupted copy of ours (its
        volume was never handed out), so whatever differs is replaced and
        whatever the host lacks is removed.
        """
        run = _Pass(adopt)
        if self.matcher.ignored(""):
            return run.out
        while run.stack:
            rel_dir, fresh = run.stack.pop()
            self._folder(run, rel_dir, fresh)
        for path, mode in reversed(run.modes):  # after the children: a read-only folder is filled first
            os.chmod(path, mode)
        if self.files or self.dirs:
            run.out.removed += _host_deletions(self.dst, self.files, self.dirs, run.seen)
        return run.out

    def _folder(self, run: _Pass, rel_dir: str, fresh: bool) -> None:
        """Copy one host folder's entries; its subfolders go on ``run.stack``."""
        src_dir = os.path.join(self.src, rel_dir) if rel_dir else self.src
        dst_dir = os.path.join(self.dst, rel_dir) if rel_dir else self.dst
        try:
            entries = list(os.scandir(src_dir))
        except OSError as e:
            log.warning("fastcopy.unreadable", path=src_dir, error=str(e))
            run.out.failed += 1
            return
        names: set[str] = set()
        for entry in entries:
            name = entry.name
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if is_unison_temp(name) or self.matcher.ignored_below(rel):  # folders ignored are not entered
                continue
            names.add(name)
            run.seen.add(rel)
            if self.stop.is_set():
                raise Stopped(rel)
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            dst = os.path.join(dst_dir, name)
            item = _Item(entry.path, dst, rel, st, None if fresh else lstat(dst))
            if stat.S_ISDIR(st.st_mode):
                self._subfolder(run, item)
            elif stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                self._entry(run, item)
        if run.adopt and not fresh:
            run.out.removed += _prune(dst_dir, rel_dir, names, self.matcher.ignored)

    def _subfolder(self, run: _Pass, item: _Item) -> None:
        """A host folder: made on the app side (unless it is there), its contents walked later."""
        here = item.here
        if here is None:
            self.writer.folder(item.dst)
        elif not stat.S_ISDIR(here.st_mode):
            mine = self.files.get(item.rel)
            ours = mine is not None and sig(here) == mine[1]  # the host made it a folder
            if not (run.adopt or ours):
                run.out.unknown.append(item.rel)
                return
            self.files.pop(item.rel, None)
            remove(item.dst)
            self.writer.folder(item.dst)
            here = None
        self.dirs.add(item.rel)
        run.modes.append((item.dst, item.st.st_mode & PERMS))
        run.stack.append((item.rel, here is None))

    def _entry(self, run: _Pass, item: _Item) -> None:
        """A host file or link: copied, left alone, written back, or reported."""
        src, dst, rel, st, here = item
        out = run.out
        mine = self.files.get(rel)
        if here is not None:
            if mine is not None and sig(here) == mine[1]:  # the app side is as we left it
                if sig(st) == mine[0]:
                    out.skipped += 1
                    return
            elif mine is not None:
                if sig(st) != mine[0]:
                    out.both_changed.append(rel)
                elif (sigs := self.writer.write_back(src, dst, st, here)) is not None:
                    self.files[rel] = sigs
                    out.copied_back += 1
                else:
                    out.app_changed.append(rel)
                return
            elif _same(st, here, src, dst):
                self.files[rel] = (sig(st), sig(here))
                out.skipped += 1
                return
            elif not run.adopt:
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
        self.bytes += st.st_size
        self.count += 1
        if self.progress is not None:
            self.progress(self.count, self.bytes)


def carry_back(copier: Copier, seconds: float = CARRY_SECONDS) -> tuple[int, bool]:
    """At a stop during the copy: edits made since to files already copied cross, one way each.

    After :meth:`Copier.run` was stopped: an app edit goes to the host (in
    place: the host file keeps its owner) and a host edit to the app, for
    files the copier wrote that only one side changed since; the resumed
    copy replaces anything else the app did to a volume it was not handed
    yet.  Returns how many crossed, and whether every file was looked at
    within ``seconds`` (what was not is the resumed copy's).
    """
    crossed = 0
    deadline = Deadline(seconds)
    for n, (rel, (host_sig, app_sig)) in enumerate(list(copier.files.items())):
        if n % 1000 == 999 and not deadline.remaining():
            return crossed, False
        src, dst = os.path.join(copier.src, rel), os.path.join(copier.dst, rel)
        st, here = lstat(src), lstat(dst)
        if st is None or here is None:
            continue
        app_changed, host_changed = sig(here) != app_sig, sig(st) != host_sig
        try:
            if app_changed and not host_changed:
                sigs = copier.writer.write_back(src, dst, st, here)
            elif host_changed and not app_changed and stat.S_ISREG(st.st_mode):
                os.unlink(dst)
                sigs = (sig(st), sig(copier.writer.file(src, dst, st)))
            else:
                continue
        except (OSError, Stopped):  # gone meanwhile, or too big to finish now: the resumed copy
            continue
        if sigs is not None:
            copier.files[rel] = sigs
            crossed += 1
    return crossed, True


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


def _prune(dst_dir: str, rel_dir: str, names: set[str], ignored: Callable[[str], bool]) -> int:
    """Remove what an interrupted copy left that the host no longer has; how many went."""
    with os.scandir(dst_dir) as entries:
        extra = [e for e in entries if e.name not in names]
    removed = 0
    for entry in extra:
        rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
        if not ignored(rel):
            remove(entry.path)
            removed += 1
    return removed


def _host_deletions(dst: str, files: dict[str, tuple[Sig, Sig]], dirs: set[str], seen: set[str]) -> int:
    """What we copied and the host deleted since goes from the app side, unless the app changed it."""
    removed = 0
    for rel in [r for r in files if r not in seen]:
        app_sig = files.pop(rel)[1]
        here = lstat(os.path.join(dst, rel))
        if here is not None and sig(here) == app_sig:
            os.unlink(os.path.join(dst, rel))
            removed += 1
    for rel in sorted((d for d in dirs if d not in seen), reverse=True):
        dirs.discard(rel)
        try:
            os.rmdir(os.path.join(dst, rel))  # only if the app left nothing in it
            removed += 1
        except OSError:
            pass
    return removed
