"""The drift verifier (``SYNC_VERIFY_INTERVAL``): the two trees compared, differences to unison.

A mount that never announces a change (bindfs, OSXFS on a bad day, WSL2's
``/mnt/c``) leaves the watcher blind; this is the safety net.  A background
thread (:class:`VerifierThread`) walks both replicas side by side (ignores as
the watcher applies them, links not followed) and compares type, permission
bits (:data:`engine.paths.PERMS`), size and link target; contents only for
files whose stat (size, mtime, ctime, inode) changed on either side since the
previous pass.  The first pass only takes that baseline: watch-mode unison
has just scanned everything itself.  What differs is compared again after
:data:`RECHECK_DELAY` (unison may be writing it right now) and posted to the
select loop through a queue and a wake-up pipe; the loop reports it like any
other change (:class:`engine.fsmonitor.drift.Drift` keeps the books).  The walk also finds unison's
temp files for :mod:`engine.litter`.

Pacing: :mod:`engine.fsmonitor.pacing` (``auto``: the verifier's share of
a core held over any minute, the drift bound kept when that allows).
"""

from __future__ import annotations

import os
import queue
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import structlog

from engine import casefold
from engine.compare import CONTENT_LIMIT, differs, same_contents
from engine.fsmonitor.pacing import RECHECK_DELAY, Pacer, Spent
from engine.paths import PERMS, is_unison_temp, join, readlink

log = structlog.get_logger("fsmonitor")


@dataclass(frozen=True)
class Pass:
    """What one walk found: paths that differ (still, after the recheck), temp files, costs."""

    differing: frozenset[str]
    temps: tuple[str, ...]
    checked: int
    seconds: float
    cpu_seconds: float
    pause: float
    at: float  # wall clock at the end of the pass
    baseline: bool = False  # the first pass: no contents compared
    clashes: frozenset[tuple[str, ...]] = frozenset()  # names a folding host cannot hold apart
    respelled: frozenset[tuple[str, str]] = frozenset()  # one name spelled otherwise on each side


_Sig = tuple[int, int, int, int, int]  # mode, size, mtime_ns, ctime_ns, inode


def _sig(st: os.stat_result) -> _Sig:
    return (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _temp(name: str) -> bool:
    return name.startswith(".unison.") and is_unison_temp(name)


@dataclass
class Walker:
    """Compares two trees; remembers the stat of equal files to skip their contents next time.

    ``seen`` holds ``hash`` of the path with both sides' stat: one int per
    file instead of the path and two stat results (100k files: a few MB).
    """

    ignored: Callable[[str], bool]
    seen: set[int] = field(default_factory=set)
    fold: bool = False  # one root folds case and normalization: names compared by casefold.key
    perms: int = PERMS  # permission bits compared (0: the host keeps none)
    clashes: set[tuple[str, ...]] = field(default_factory=set)  # found by the last walk (fold)
    respelled: set[tuple[str, str]] = field(default_factory=set)  # (path in a, path in b) (fold)

    def walk(self, a: str, b: str, contents: bool = True) -> tuple[set[str], list[str], int]:
        """(differing paths, temp files, paths checked) between roots ``a`` and ``b``.

        The loop is the verifier's cost at 10k files beside the stat calls
        themselves (issue 26): each name is looked up once, its path built once.
        """
        differing: set[str] = set()
        temps: list[str] = []
        seen: set[int] = set()
        self.clashes = set()
        self.respelled = set()
        checked = 0
        ignored, compare = self.ignored, self._compare
        stack = [""]
        while stack:
            rel = stack.pop()
            left, right = _entries(a, rel), _entries(b, rel)
            if left is None or right is None:
                if (left is None) != (right is None):
                    differing.add(rel)
                continue
            if self.fold:
                left, right = self._folded(rel, left, right)
            prefix = f"{rel}/" if rel else ""
            for name, ea in left.items():
                eb = right.pop(name, None)  # what stays in ``right`` is on the right only
                if _temp(name):
                    temps += [ea.path] if eb is None else [ea.path, eb.path]
                    continue
                child = prefix + name
                if ignored(child):
                    continue
                checked += 1
                verdict = True if eb is None else compare(child, ea, eb, contents, seen)
                if verdict is None:
                    stack.append(child)
                elif verdict:
                    differing.add(child)
            for name, eb in right.items():
                if _temp(name):
                    temps.append(eb.path)
                elif not ignored(prefix + name):
                    checked += 1
                    differing.add(prefix + name)
        self.seen = seen
        return differing, temps, checked

    def _folded(
        self, rel: str, left: dict[str, os.DirEntry[str]], right: dict[str, os.DirEntry[str]]
    ) -> tuple[dict[str, os.DirEntry[str]], dict[str, os.DirEntry[str]]]:
        """Both listings without the names a folding root makes one.

        A clash (names one side holds apart, the other cannot) is kept in
        :attr:`clashes`: a problem, not drift.  A name spelled otherwise on
        each side is one name to unison (``-ignorecase``): not drift either,
        but kept in :attr:`respelled` (the case guard gives the app the host's
        spelling).
        """
        drop = set()
        for names in (left, right):
            for group in casefold.clashes(names):
                self.clashes.add(tuple(join(rel, n) for n in group))
                drop.add(casefold.key(group[0]))
        spelled_left = {casefold.key(n): n for n in left}
        spelled_right = {casefold.key(n): n for n in right}
        for k in spelled_left.keys() & spelled_right.keys() - drop:
            if spelled_left[k] != spelled_right[k]:  # a case-only rename the watcher missed
                self.respelled.add((join(rel, spelled_left[k]), join(rel, spelled_right[k])))
                drop.add(k)
        return (
            {n: e for n, e in left.items() if casefold.key(n) not in drop},
            {n: e for n, e in right.items() if casefold.key(n) not in drop},
        )

    def _compare(
        self, rel: str, ea: os.DirEntry[str], eb: os.DirEntry[str], contents: bool, seen: set[int]
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
        if key in self.seen or not contents:
            seen.add(key)
            return False
        if _differ(ea.path, eb.path, self.perms):
            return True  # not remembered: compared again next pass
        seen.add(key)
        return False


def _differ(a: str, b: str, perms: int = PERMS) -> bool:
    """:func:`engine.compare.differs`, with big files' contents compared too.

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


class VerifierThread(threading.Thread):
    """Walks the replicas in the background; passes go to :meth:`results` (wakes :meth:`fileno`).

    ``interval``: seconds between passes, None for auto, 0 for off (then one
    walk at start looks for temp files only).
    """

    def __init__(
        self, ignored: Callable[[str], bool], interval: float | None, fold: bool = False, perms: int = PERMS
    ) -> None:
        super().__init__(name="verifier", daemon=True)
        self.walker = Walker(ignored, fold=fold, perms=perms)
        self.interval = interval
        self.roots: tuple[str, str] | None = None  # set by the select loop once unison named both
        self.stop = threading.Event()
        self._queue: queue.SimpleQueue[Pass] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def fileno(self) -> int:
        """Readable when a pass is waiting in :meth:`results`."""
        return self._wake_r

    def results(self) -> list[Pass]:
        """The passes finished since the last call (drains the wake-up pipe)."""
        try:
            os.read(self._wake_r, 4096)
        except BlockingIOError:
            pass
        done = []
        while True:
            try:
                done.append(self._queue.get_nowait())
            except queue.Empty:
                return done

    def run(self) -> None:
        while self.roots is None:
            if self.stop.wait(0.1):
                return
        baseline = True
        pacer = Pacer(self.interval)
        while not self.stop.is_set():
            result = self.one_pass(contents=not baseline)
            ended = time.monotonic()
            pacer.passed(Spent(ended, result.seconds, result.cpu_seconds))
            result = replace(result, baseline=baseline, pause=pacer.pause(ended))
            if self.interval == 0:  # off: this walk looked for temp files only
                result = replace(result, differing=frozenset(), checked=0)
            self._post(result)
            if self.interval == 0:
                return
            baseline = False
            self.stop.wait(result.pause)

    def one_pass(self, contents: bool = True) -> Pass:
        """Walk once (and recheck what differs after RECHECK_DELAY)."""
        assert self.roots is not None
        a, b = self.roots
        started, cpu = time.monotonic(), time.thread_time()
        differing, temps, checked = self.walker.walk(a, b, contents and self.interval != 0)
        if differing and not self.stop.wait(RECHECK_DELAY):
            perms = self.walker.perms
            differing = {r for r in differing if _differ(os.path.join(a, r), os.path.join(b, r), perms)}
        spent = time.thread_time() - cpu
        seconds = time.monotonic() - started
        return Pass(
            frozenset(differing),
            tuple(temps),
            checked,
            seconds - (RECHECK_DELAY if differing else 0.0),
            spent,
            0.0,  # the pacer's, once the pass is counted
            time.time(),
            clashes=frozenset(self.walker.clashes),
            respelled=frozenset(self.walker.respelled),
        )

    def _post(self, result: Pass) -> None:
        self._queue.put(result)
        try:
            os.write(self._wake_w, b"v")
        except BlockingIOError:
            pass  # the pipe is full: the loop is already due to read
