"""The drift verifier's walk (:mod:`engine.fsmonitor.verifier`): two trees compared side by side.

The first root is the side that may not announce its changes (the host
mount); the second is watched by inotify and read by unison's rescans.  Each
walk lists and stats every folder of the first root and keeps a signature
of it (every entry's name and stat): a folder whose signature is unchanged
since the last walk, and that had no difference then, is not compared again
(its seen files carry over, the second root's copy is not read).  At 400k
files that halves the walk's system calls and skips most of its Python work
(issue 24: 3.3 s of CPU a pass, then ~1.2 s on a loaded 2-core machine).
The signatures come from one run of ``native-sync-treesig`` over the
folders the last walk went through (:mod:`engine.fs.treesig`:
0.5 s at 400k files), taken before any folder is compared; a folder it
did not sign (new since) is compared, and signed from the next walk on.
Without the helper the walk signs each folder in Python as it lists it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.fs import casefold
from engine.fs.compare import CONTENT_LIMIT, differs, same_contents
from engine.fs.paths import PERMS, is_unison_temp, join, readlink, special_entry
from engine.fs.treesig import Signer, folders


@dataclass(frozen=True)
class Memo:
    """What the last walk kept of one folder: its signature on the first root, and its results."""

    signature: int
    seen: frozenset[int]  # files whose contents compared equal (hash of path and both stats)
    checked: int
    folders: tuple[str, ...]  # the subfolders walked into


@dataclass
class Folder:
    """One folder compared: what differs, unison's temp files, and what to remember of it."""

    differing: set[str] = field(default_factory=set)
    temps: list[str] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    folders: list[str] = field(default_factory=list)
    checked: int = 0
    folded: bool = False  # a clash or a name spelled otherwise (a folding host) was found here

    def clean(self) -> bool:
        """Nothing to look at again next walk: no difference, temp file or clash here."""
        return not (self.differing or self.temps or self.folded)


def signature(entries: dict[str, os.DirEntry[str]]) -> int | None:
    """A hash of every entry's name and stat; None when one cannot be read (then it is compared)."""
    items = []
    try:
        for name, entry in entries.items():
            st = entry.stat(follow_symlinks=False)
            items.append((name, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    except OSError:
        return None
    return hash(frozenset(items))


_Sig = tuple[int, int, int, int, int]  # mode, size, mtime_ns, ctime_ns, inode


def _sig(st: os.stat_result) -> _Sig:
    return (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@dataclass
class Walker:
    """Compares two trees; remembers, per folder, its signature and the files found equal.

    A file's memory is ``hash`` of its path with both sides' stat (one int per
    file): its contents are compared again only when that changes.
    """

    ignored: Callable[[str], bool]
    memos: dict[str, Memo] = field(default_factory=dict)  # by folder, from the last walk
    fold: bool = False  # one root folds case and normalization: names compared by casefold.key
    perms: int = PERMS  # permission bits compared (0: the host keeps none)
    clashes: set[tuple[str, ...]] = field(default_factory=set)  # found by the last walk (fold)
    respelled: set[tuple[str, str]] = field(default_factory=set)  # (path in a, path in b) (fold)
    since_ns: int | None = None  # this walk: files with a ctime from then on are read even if not contents
    signer: Signer | None = None  # signs the host's folders in one go (None: in Python, as each is listed)
    walked: list[str] = field(default_factory=list)  # the folders the last walk went through

    def walk(
        self, a: str, b: str, contents: bool = True, since_ns: int | None = None
    ) -> tuple[set[str], list[str], int]:
        """(differing paths, temp files, paths checked) between roots ``a`` (the host) and ``b``."""
        self.since_ns = since_ns
        differing: set[str] = set()
        temps: list[str] = []
        memos: dict[str, Memo] = {}
        self.clashes = set()
        self.respelled = set()
        checked = 0
        signed = self._signed(a)
        walked: list[str] = []
        stack = [""]
        while stack:
            rel = stack.pop()
            walked.append(rel)
            left: dict[str, os.DirEntry[str]] | None = None
            if signed is None:
                left = _entries(a, rel)
                sig = None if left is None else signature(left)
            else:
                sig = signed.get(rel)
            memo = self.memos.get(rel)
            if sig is not None and memo is not None and memo.signature == sig:
                memos[rel] = memo  # unchanged on the host, and equal last time: not compared again
                checked += memo.checked
                stack.extend(memo.folders)
                continue
            if signed is not None:
                left = _entries(a, rel)
            right = _entries(b, rel)
            if left is None or right is None:
                if (left is None) != (right is None):
                    differing.add(rel)
                continue
            found = self._folder(rel, left, right, contents, memo.seen if memo else frozenset())
            checked += found.checked
            stack.extend(found.folders)
            if sig is not None and found.clean():
                memos[rel] = Memo(sig, frozenset(found.seen), found.checked, tuple(found.folders))
            differing |= found.differing
            temps += found.temps
        self.walked = walked
        self.memos = memos
        return differing, temps, checked

    def _signed(self, root: str) -> dict[str, int | None] | None:
        """The helper's signature of every folder the last walk went through (all of them at first)."""
        if self.signer is None:
            return None
        return self.signer.sign(root, self.walked or folders(root, self.ignored) or [""])

    def _folder(
        self,
        rel: str,
        left: dict[str, os.DirEntry[str]],
        right: dict[str, os.DirEntry[str]],
        contents: bool,
        known: frozenset[int],
    ) -> Folder:
        """One folder's entries compared on both sides."""
        found = Folder()
        clashes = len(self.clashes) + len(self.respelled)
        if self.fold:
            left, right = _folded(rel, left, right, self.clashes, self.respelled)
        found.folded = len(self.clashes) + len(self.respelled) > clashes
        for name in left.keys() | right.keys():
            if is_unison_temp(name):
                found.temps += [e.path for e in (left.get(name), right.get(name)) if e is not None]
                continue
            child = join(rel, name)
            if self.ignored(child):
                continue
            found.checked += 1
            ea, eb = left.get(name), right.get(name)
            if special_entry(ea) or special_entry(eb):
                continue  # skipped by rule, never drift (engine.fs.compare.differs)
            if ea is None or eb is None:
                found.differing.add(child)
                continue
            verdict = self._compare(child, ea, eb, contents, known, found.seen)
            if verdict is None:
                found.folders.append(child)
            elif verdict:
                found.differing.add(child)
        return found

    def _compare(
        self,
        rel: str,
        ea: os.DirEntry[str],
        eb: os.DirEntry[str],
        contents: bool,
        known: frozenset[int],
        seen: set[int],
    ) -> bool | None:
        """True if different, False if the same, None for two folders to descend into."""
        try:
            sa, sb = ea.stat(follow_symlinks=False), eb.stat(follow_symlinks=False)
        except OSError:
            return True
        if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode):
            return True
        if stat.S_ISLNK(sa.st_mode):
            return readlink(ea.path) != readlink(eb.path)
        if (sa.st_mode & self.perms) != (sb.st_mode & self.perms):
            return True
        if stat.S_ISDIR(sa.st_mode):
            return None
        if not stat.S_ISREG(sa.st_mode):
            return False
        if sa.st_size != sb.st_size:
            return True
        key = hash((rel, _sig(sa), _sig(sb)))
        recent = self.since_ns is not None and max(sa.st_ctime_ns, sb.st_ctime_ns) >= self.since_ns
        if key in known or not (contents or recent):
            seen.add(key)
            return False
        if differ(ea.path, eb.path, self.perms):
            return True  # not remembered: compared again next pass
        seen.add(key)
        return False


def _folded(
    rel: str,
    left: dict[str, os.DirEntry[str]],
    right: dict[str, os.DirEntry[str]],
    clashes: set[tuple[str, ...]],
    respelled: set[tuple[str, str]],
) -> tuple[dict[str, os.DirEntry[str]], dict[str, os.DirEntry[str]]]:
    """Both listings without the names a folding root makes one.

    A clash (names one side holds apart, the other cannot) is kept in
    ``clashes``: a problem, not drift.  A name spelled otherwise on
    each side is one name to unison (``-ignorecase``): not drift either,
    but kept in ``respelled`` (the case guard gives the app the host's
    spelling).
    """
    drop = set()
    for names in (left, right):
        for group in casefold.clashes(names):
            clashes.add(tuple(join(rel, n) for n in group))
            drop.add(casefold.key(group[0]))
    spelled_left = {casefold.key(n): n for n in left}
    spelled_right = {casefold.key(n): n for n in right}
    for k in spelled_left.keys() & spelled_right.keys() - drop:
        if spelled_left[k] != spelled_right[k]:  # a case-only rename the watcher missed
            respelled.add((join(rel, spelled_left[k]), join(rel, spelled_right[k])))
            drop.add(k)
    return (
        {n: e for n, e in left.items() if casefold.key(n) not in drop},
        {n: e for n, e in right.items() if casefold.key(n) not in drop},
    )


def differ(a: str, b: str, perms: int = PERMS) -> bool:
    """:func:`engine.fs.compare.differs`, with big files' contents compared too.

    The fsmonitor's filter calls files above ``CONTENT_LIMIT`` different to
    stay fast; the verifier compares them only when their stat changed, and
    must not call two equal big files drift on every pass.
    """
    if not differs(a, b, perms):
        return False
    try:
        sa, sb = os.lstat(a), os.lstat(b)
    except OSError:
        return True
    big = stat.S_ISREG(sa.st_mode) and stat.S_ISREG(sb.st_mode) and sa.st_size == sb.st_size > CONTENT_LIMIT
    return not (big and (sa.st_mode & perms) == (sb.st_mode & perms) and same_contents(a, b))


def _entries(root: str, rel: str) -> dict[str, os.DirEntry[str]] | None:
    try:
        with os.scandir(os.path.join(root, rel) if rel else root) as it:
            return {e.name: e for e in it}
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return {}  # unreadable: the problems view names it (unison fails it too)
