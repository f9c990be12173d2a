"""The drift verifier (``SYNC_VERIFY_INTERVAL``): the two trees compared, differences to unison.

A mount that never announces a change (bindfs, OSXFS on a bad day, WSL2's
``/mnt/c``) leaves the watcher blind; this is the safety net.  A background
thread (:class:`VerifierThread`) walks both replicas side by side
(:mod:`engine.fsmonitor.walker`: ignores as the watcher applies them, links
not followed) and compares type, permission bits (:data:`engine.fs.paths.PERMS`),
size and link target; contents only for files whose stat (size, mtime, ctime,
inode) changed on either side since the previous pass; a folder unchanged on
the host since a pass that found it equal is not compared again.  The first
pass only takes that baseline: watch-mode unison has just scanned everything
itself, unless it started from the archive a one-shot had just committed
(``since``, our unison patch 0006: :mod:`engine.state.trust`): then the
first pass also compares the contents of every file whose ctime, on either
side, is not older than the one-shot's start (less :data:`CLOCK_SLACK`), so
a same-size edit made before the watches were up is found too (presence,
type, permissions and size are compared in every pass).  It starts once
unison's first cycle is over (every folder is watched by then).  What differs is compared again after
:data:`RECHECK_DELAY` (unison may be writing it right now) and posted to the
select loop through a queue and a wake-up pipe; the loop reports it like any
other change (:class:`engine.fsmonitor.drift.Drift` keeps the books).  The walk also finds unison's
temp files for :mod:`engine.unison.litter`.

Pacing: :mod:`engine.fsmonitor.pacing` (``auto``: the verifier's share of
a core held over any minute, the drift bound of the tree's size kept when
that allows; the first walk, which compares both trees in full, does not set
the pace).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import structlog

from engine.fs.paths import PERMS
from engine.fs.treesig import Signer
from engine.fsmonitor.pacing import RECHECK_DELAY, Pacer, Spent
from engine.fsmonitor.walker import Walker, differ

__all__ = ["Pass", "VerifierThread", "Walker"]

log = structlog.get_logger("fsmonitor")

# The one-shot's start is read from time.time(); a file's ctime from the clock of the
# filesystem that holds it (the kernel's coarse clock, or the host's through a VM's mount):
# files changed this much before it are compared too (a few more files, read once).
CLOCK_SLACK = 2.0


@dataclass(frozen=True)
class Pass:
    """What one walk found: paths that differ (still, after the recheck), temp files, costs."""

    walked: tuple[str, str]  # the two roots, in the order walked (the host's first)
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


class VerifierThread(threading.Thread):
    """Walks the replicas in the background; passes go to :meth:`results` (wakes :meth:`fileno`).

    ``interval``: seconds between passes, None for auto, 0 for off (then one
    walk at start looks for temp files only).
    """

    def __init__(
        self,
        ignored: Callable[[str], bool],
        interval: float | None,
        fold: bool = False,
        perms: int = PERMS,
        host: str | None = None,
        since: float | None = None,
    ) -> None:
        super().__init__(name="verifier", daemon=True)
        self.walker = Walker(ignored, fold=fold, perms=perms, signer=Signer.found())
        self.interval = interval
        self.host = host  # HOST_VOLUME: the side whose folders are listed every pass
        self.roots: tuple[str, str] | None = None  # set by the select loop after unison's first cycle
        self.since = since  # a trusted start: the one-shot's time.time() (the first pass looks from then)
        self.stop = threading.Event()
        self._queue: queue.SimpleQueue[Pass] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def host_first(self, first: str, second: str) -> tuple[str, str]:
        """unison's two roots, the host's first (the walker lists it in full, the other where it changed)."""
        if self.host is not None and os.path.realpath(second) == os.path.realpath(self.host):
            return second, first
        return first, second

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
        while (roots := self.roots) is None:  # until unison named both (its START commands)
            if self.stop.wait(0.1):
                return
        signer = self.walker.signer
        log.info("verifier.started", interval=self.interval, treesig=signer.helper if signer else None)
        baseline = True
        pacer = Pacer(self.interval)
        while not self.stop.is_set():
            result = self.one_pass(roots, contents=not baseline)
            ended = time.monotonic()
            if not baseline:  # the first walk compares both trees in full: not what a pass costs
                pacer.passed(Spent(ended, result.seconds, result.cpu_seconds, result.checked))
            result = replace(result, baseline=baseline, pause=pacer.pause(ended))
            if self.interval == 0:  # off: this walk looked for temp files only
                result = replace(result, differing=frozenset(), checked=0)
            self._post(result)
            if self.interval == 0:
                return
            baseline = False
            self.stop.wait(result.pause)

    def one_pass(self, roots: tuple[str, str], contents: bool = True) -> Pass:
        """Walk ``roots`` once (and recheck what differs after RECHECK_DELAY); the baseline (not
        ``contents``) reads the files changed ``since`` a trusted start (the module says why)."""
        a, b = roots
        started, cpu = time.monotonic(), time.thread_time()
        since = None if contents or self.since is None else self.since - CLOCK_SLACK
        since_ns = None if since is None else int(since * 1e9)
        differing, temps, checked = self.walker.walk(a, b, contents and self.interval != 0, since_ns)
        if differing and not self.stop.wait(RECHECK_DELAY):
            perms = self.walker.perms
            differing = {r for r in differing if differ(os.path.join(a, r), os.path.join(b, r), perms)}
        spent = time.thread_time() - cpu + (self.walker.signer.take_cpu() if self.walker.signer else 0.0)
        seconds = time.monotonic() - started
        return Pass(
            roots,
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
