"""What ``run`` watches while unison runs: its output, its problems, its roots.

One collaborator of :class:`engine.supervise.run.Runner`, so the Runner stays the life
of the process: :meth:`Watching.follow` reads unison's new output
(:mod:`engine.unison.transcript`) into events (:mod:`engine.unison.reports`): each transfer
is one log line (``sync.copied path=... from=host``), each problem and each
conflict too (the losing copy is kept by :mod:`engine.unison.conflicts`); the log
lines of our own processes in that file (the fsmonitor's, the unison
program's) go on to our stdout unchanged, unison's raw text only at
LOG_LEVEL=debug.  :meth:`Watching.check` asks, at most every CHECK_EVERY
seconds, whether unison can still use both roots (:mod:`engine.fs.access`; a
root emptied that is not the folder ``run`` started on: :mod:`engine.unison.emptied`),
which problems still stand, and whether unison left a conflict copy its output
did not name in a folder it wrote into (then kept like any other); after a
unison restart, :meth:`Watching.recover` looks for one everywhere.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable

import structlog

from engine.config import Config
from engine.fs import access, compare, owners, paths
from engine.state import shared
from engine.unison import conflicts, emptied, leftovers, reports, standing, transcript

CHECK_EVERY = 5.0  # seconds between checks of the roots and rechecks of the problems
# a root error clears after this many checks in a row find the root usable: a full volume that
# unison's temp file frees for a moment (it is removed, the next attempt fills it) does not
# flip between roots.unusable and roots.usable every check (issue 26: no noise)
CLEAR_CHECKS = 2
SWEEP_FOR = 60.0  # seconds a folder unison wrote into is looked at for conflict copies
MAX_TRANSFERS_LOGGED = 100  # per batch of output; more are one summary line

# a line one of our own processes logged (console: an ISO time first; LOG_FORMAT=json: an object)
_OURS = re.compile(rb"^(?:\d{4}-\d\d-\d\dT\d\d:\d\d|\{\")")
# unison's text that must not wait for LOG_LEVEL=debug: it stopped, or our fsmonitor crashed
_ALARM = re.compile(r"^(?:Fatal error|Uncaught exception|Traceback|\w*Error: )")
_VERBS = {
    "copied": "sync.copied",
    "updated": "sync.copied",
    "properties": "sync.copied",
    "deleted": "sync.deleted",
}

log = structlog.get_logger("native-sync")


class Watching:
    """unison's output and the roots, watched for ``run``; ``clock`` is monotonic time."""

    def __init__(self, cfg: Config, clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.clock = clock
        self.tracker = standing.Tracker(cfg.runtime_dir, self._still_a_problem, self._special, clock)
        self.reader = reports.Reader((str(cfg.unison_src), str(cfg.unison_dest)))
        self.follower = transcript.Follower(cfg.runtime_dir / transcript.FILE)
        self.checked_at: float | None = None
        self.keeper = conflicts.Keeper(cfg)
        self.owners = owners.Owners.for_config(cfg)  # root: the app side's owner for what the app wrote
        self.written: dict[tuple[str, str], float] = {}  # (side, folder) unison wrote into -> when
        self.root_mode_said = False
        self.restarts_seen = 0  # watch-mode unison's restarts already looked after (recover)
        self.root_error: str | None = None  # the error said, until CLEAR_CHECKS checks find none
        self.clear_checks = 0
        self.debug = cfg.log_level == "debug"

    def take(self, events: list[reports.Event], log_transfers: bool = False) -> None:
        """What a one-shot unison reported (the initial sync, the flush): problems, conflicts."""
        if log_transfers:
            _log_transfers(events)
        self.tracker.take(self._wanted(events))
        self.keeper.take(e for e in events if isinstance(e, reports.Conflict))
        if self.owners is not None:  # a file the app wrote while stopped crosses in watch mode's first scan
            app = self.owners.app_root
            self.owners.copied(
                [(app, e.path) for e in events if isinstance(e, reports.Transfer) and e.source == "app"]
            )
        now = self.clock()
        for e in events:
            if isinstance(e, reports.Transfer):
                self.written[e.target, os.path.dirname(e.path)] = now

    def follow(self, rest: bool = False) -> None:
        """unison's new output: our processes' log lines on to our stdout, unison's text into events.

        In the file's order: the transfers and conflicts unison reported before one of our
        lines (the fsmonitor's ``sync.cycle flush=N`` that ends a ``native-sync flush``) are
        logged before that line goes on.  ``rest``: also a last line without its newline
        (unison has stopped).
        """
        lines = self.follower.rest() if rest else self.follower.lines()
        if not lines:
            return
        out = sys.stdout.buffer
        events: list[reports.Event] = []
        for line in lines:
            if _OURS.match(line):
                if events:  # in the file's order: what unison reported before this line first
                    out.flush()
                    self.take(events, log_transfers=True)
                    events = []
                out.write(line)
                continue
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            events += self.reader.feed(text)
            if _ALARM.match(text):
                log.warning("unison.error", text=text)
            elif self.debug:
                log.debug("unison.output", text=text)
        out.flush()
        self.take(events, log_transfers=True)

    def check(self) -> tuple[bool, str | None]:
        """(checked now, why a root is unusable or None); checks at most every CHECK_EVERY s."""
        now = self.clock()
        if self.checked_at is not None and now - self.checked_at < CHECK_EVERY:
            return False, None
        self.checked_at = now
        error = self._steady(access.root_error(self.cfg) or emptied.refusal(self.cfg))
        self.tracker.recheck()
        unison = shared.UnisonStatus.load(self.cfg.runtime_dir)
        if unison.restarts > self.restarts_seen:  # the unison before may have died mid-conflict
            self.restarts_seen = unison.restarts
            self.recover(before=unison.started_at)
        self.written = {place: at for place, at in self.written.items() if now - at <= SWEEP_FOR}
        self.keeper.sweep(self.written)  # copies unison made but did not name in its output
        self.keeper.prune()
        return True, error

    def _steady(self, error: str | None) -> str | None:
        """``error`` at once; its end only once CLEAR_CHECKS checks in a row found none."""
        self.clear_checks = 0 if error else self.clear_checks + 1
        if error or self.clear_checks >= CLEAR_CHECKS:
            self.root_error = error
        return self.root_error

    def recover(self, before: float | None = None) -> None:
        """Conflict copies a killed unison left with no line said (:mod:`engine.unison.leftovers`),
        made ``before`` then (wall-clock time; None: all), are kept."""
        found = leftovers.find(self.cfg, before)
        if found:
            log.info("conflicts.leftovers", paths=[c.path for c, _ in found][:20])
            self.keeper.keep(found)

    def close(self) -> None:
        self.follower.close()

    def _wanted(self, events: list[reports.Event]) -> list[reports.Event]:
        """All but the one failure that is no problem: ``--user`` on a fresh named volume.

        Docker gives an empty volume the image's ``/app_sync`` (root, 1777: anyone may
        write it); unison then tries to give the app root the host root's mode, which only
        its owner may (``chmod(/app_sync)``: Operation not permitted).  Everything in the
        root syncs; the root keeps its mode.  Said once, not a standing problem.
        """
        wanted = []
        for event in events:
            if isinstance(event, reports.Report) and self._foreign_app_root_mode(event):
                if not self.root_mode_said:
                    self.root_mode_said = True
                    st = os.stat(self.cfg.unison_dest)
                    log.warning(
                        "app_root.mode_kept",
                        folder=str(self.cfg.unison_dest),
                        owner=f"{st.st_uid}:{st.st_gid}",
                        mode=oct(st.st_mode & 0o7777),
                        reason=event.reason,
                    )
                continue
            wanted.append(event)
        return wanted

    def _foreign_app_root_mode(self, report: reports.Report) -> bool:
        if report.path != reports.ROOT or not report.reason.startswith("Error in setting permissions"):
            return False
        try:
            st = os.stat(self.cfg.unison_dest)
        except OSError:
            return False
        return st.st_uid != os.geteuid() and os.access(self.cfg.unison_dest, os.W_OK | os.X_OK)

    def _still_a_problem(self, problem: shared.Problem) -> bool:
        """A root's problem stands while the root is unusable; a path's while it differs,
        or while unison cannot read it on either side (a folder only root can list looks
        the same as its empty copy: issue 18)."""
        if problem.path == reports.ROOT:
            return access.root_error(self.cfg) is not None
        host, app = (os.path.join(root, problem.path) for root in self.cfg.roots)
        perms = 0 if shared.Roots.load(self.cfg.runtime_dir).host.permissions is False else paths.PERMS
        return compare.differs(host, app, perms) or unreadable(host) or unreadable(app)

    def _special(self, rel: str) -> bool:
        """Is ``rel`` still a file unison cannot sync by its nature, on either side?"""
        return any(paths.special(os.path.join(root, rel)) for root in self.cfg.roots)


def unreadable(path: str) -> bool:
    """A folder this process cannot list, or a file it cannot read (a missing one is not)."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            os.listdir(path)
        elif os.path.isfile(path):
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
    except PermissionError:
        return True
    except OSError:
        return False
    return False


def _log_transfers(events: list[reports.Event]) -> None:
    transfers = [e for e in events if isinstance(e, reports.Transfer)]
    for t in transfers[:MAX_TRANSFERS_LOGGED]:
        log.info(_VERBS.get(t.action, "sync.copied"), path=t.path, **{"from": t.source, "to": t.target})
    if len(transfers) > MAX_TRANSFERS_LOGGED:
        log.info("sync.more", paths=len(transfers) - MAX_TRANSFERS_LOGGED)
