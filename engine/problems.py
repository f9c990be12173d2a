"""Problems per path: what unison says it failed or skipped, read from its output.

unison 2.52.1 reports a path it could not sync in three forms (samples in
``tests/data/unison/``), in watch mode (``-terse``) and in one-shot runs alike:

- ``Failed [PATH]: REASON`` (on one-shot runs after a progress bar on the same
  line); a reason ending in ``:`` continues on the next line
  (``Error in readWriteBounded:`` / ``No space left on device``), and so do
  unison's two-line transient reasons (``The source file /host_sync/x`` /
  ``has been modified during synchronization.  Transfer aborted.``;
  ``Destination updated during synchronization`` / ``The file x has been
  created``: unison's copy.ml and update.ml);
- the summary after ``Synchronization (in)complete at ...``:
  ``  failed: PATH`` and ``  skipped: PATH (REASON)``, the reason running over
  lines until its parenthesis closes; an unreadable root is ``skipped:  (...)``;
- ``[END] Copying PATH`` / ``[END] Updating file PATH`` (one-shot runs only):
  the path was transferred; its ``[BGN] ... from ROOT to ROOT`` line (watch
  mode too) tells which side a failure without a path in its reason (a full
  volume) happened on: the side written to.  In watch mode, where no
  ``[END]`` comes, a ``[BGN]`` path that did not fail was transferred once
  ``Synchronization complete`` (or ``incomplete``) ends the cycle;
- an arrow line of ``-terse`` (``changed  ====> changed    PATH``) with a
  double arrow is a conflict that ``-prefer`` settled: the side written to
  lost, and ``-copyonconflict`` kept its version (:mod:`engine.conflicts`).

Besides problems, the reader turns that text into :class:`Transfer` and
:class:`Conflict` events, so the logs say ``sync.copied path=... from=host``
instead of unison's raw lines (which go to the debug level only).

:class:`Reader` is the pure line parser; :class:`Tracker` keeps the current
problems (``problems.json``, :class:`engine.statefiles.Problems`), logs each new
one once and clears the ones that synced or are gone.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import structlog

from engine import jsonfile, statefiles
from engine.statefiles import Problem

ROOT = "."  # the path of a problem with a root itself (unison prints it empty)
MAX_LINES = 6  # a reason longer than this many lines is cut there
MAX_PROBLEMS = 1000  # problems kept in status; more are logged but not listed
GENERIC = "failed (unison gave no reason)"
HOLD = 2.0  # seconds after unison reported a path before a recheck may clear it
# unison retries a path that changed while it copied it ("modified during synchronization");
# such a report becomes a problem only when the path still differs this long after the first
# one (checked every few seconds by ``recheck``): SPEC 5, a retry that succeeds is no problem
TRANSIENT_BOUND = 10.0
_TRANSIENT = re.compile(
    r"modified during synchronization|Destination updated during synchronization"
    r"|^Error in digesting .*: No such file or directory$"  # deleted while unison read it (the fuzzer)
)
_TWO_LINES = re.compile(r"^(The source file .*|Destination updated during synchronization)$")

_FAILED = re.compile(r"Failed \[(.*)\]: (.*)$")
_SUMMARY_FAILED = re.compile(r"^  failed: (.*)$")
_SUMMARY_SKIPPED = re.compile(r"^  skipped: (.*?) \((.*)$")
_VERB = r"(?:Copying properties for|Updating file|Copying) ?"
_TRANSFERRED = re.compile(r"^\[END\] " + _VERB + r"(.*)$")
_BEGIN = re.compile(r"^\[BGN\] " + _VERB + r"(.*) from (.+) to (.+)$")
_DELETING = re.compile(r"^\[BGN\] Deleting (.*) from (.+)$")
_DELETED = re.compile(r"^\[END\] Deleting (.*)$")
_CYCLE_END = re.compile(r"^Synchronization (?:in)?complete at ")
# -terse's arrow lines: "changed  ====> changed    f.txt  " (a double arrow: a conflict -prefer settled)
# (one-shot runs print them on stdout, after a progress bar on the same line)
_LABEL = r"(?:[a-z]+(?: [a-z]+)?)?"
_CONFLICT_ARROW = re.compile(r"(?:^|ETA\s+)" + _LABEL + r"\s+(?:====>|<====)\s+" + _LABEL + r"\s+(.*?)\s*$")

log = structlog.get_logger("native-sync")


@dataclass(frozen=True)
class Report:
    """unison could not sync ``path`` (``failed`` or ``skipped``)."""

    path: str
    side: str  # host | app | both
    reason: str


@dataclass(frozen=True)
class Synced:
    """unison transferred ``path``."""

    path: str


@dataclass(frozen=True)
class Transfer:
    """unison carried ``path`` from one side to the other (``action``: copied, updated, deleted)."""

    path: str
    action: str
    source: str  # host | app
    target: str  # host | app


@dataclass(frozen=True)
class Conflict:
    """Both sides changed ``path``; ``winner``'s version now stands, ``loser``'s was kept as a copy."""

    path: str
    winner: str  # host | app
    loser: str


Event = Report | Synced | Transfer | Conflict

_ACTIONS = {"Copying properties for": "properties", "Updating file": "updated", "Copying": "copied"}


def side_of(reason: str, roots: tuple[str, str]) -> str:
    """``host``/``app`` when unison's reason names a path in that root, else ``both``."""
    named = [
        side
        for side, root in zip(("host", "app"), roots, strict=True)
        if re.search(re.escape(root.rstrip("/")) + r"(?=[/)\]:\s]|$)", reason)
    ]
    return named[0] if len(named) == 1 else "both"


def _path(raw: str) -> str:
    return raw.strip() or ROOT


class Reader:
    """Turns unison's output, line by line, into :data:`Event` s.

    ``roots`` are unison's two roots as it was given them, host side first.
    """

    def __init__(self, roots: tuple[str, str]) -> None:
        self.roots = roots
        self._open: tuple[str, str, list[str]] | None = None  # (kind, path, reason lines)
        self._reasons: dict[str, str] = {}  # path -> reason of its `Failed [path]` line
        self._writing: dict[str, str] = {}  # path -> the side its [BGN] transfer writes to
        self._begun: dict[str, Transfer] = {}  # this cycle's transfers not yet ended (watch mode)
        self._failed: set[str] = set()  # this cycle's paths that failed
        self._conflicted: set[str] = set()  # this cycle's paths with a double arrow

    def feed(self, line: str) -> list[Event]:
        """The events that ``line`` (without its newline) completes."""
        line = line.rstrip("\r\n")
        events: list[Event] = []
        if self._open is not None:
            kind, path, lines = self._open
            if self._continues(kind, lines):
                lines.append(line.strip())
                if not self._continues(kind, lines) or len(lines) >= MAX_LINES:
                    events.append(self._close())
                return events
            events.append(self._close())
        if (m := _FAILED.search(line)) is not None:
            self._failed.add(_path(m.group(1)))
            self._start("failed", m.group(1), m.group(2), events)
        elif (m := _SUMMARY_SKIPPED.match(line)) is not None:
            self._start("skipped", m.group(1), m.group(2), events)
        elif (m := _SUMMARY_FAILED.match(line)) is not None:
            path = _path(m.group(1))
            reason = self._reasons.get(path, GENERIC)
            events.append(Report(path, self._side(path, reason), reason))
        elif (m := _TRANSFERRED.match(line)) is not None or (m := _DELETED.match(line)) is not None:
            path = _path(m.group(1))
            events.append(Synced(path))
            events += self._ended(path)
        elif (m := _BEGIN.match(line)) is not None:
            path = _path(m.group(1))
            if len(self._writing) >= MAX_PROBLEMS:
                self._writing.clear()
            target = side_of(m.group(3), self.roots)
            self._writing[path] = target
            action = next(a for verb, a in _ACTIONS.items() if line.startswith("[BGN] " + verb))
            self._begin(Transfer(path, action, side_of(m.group(2), self.roots), target))
        elif (m := _DELETING.match(line)) is not None:
            target = side_of(m.group(2), self.roots)
            source = {"host": "app", "app": "host"}.get(target, "both")
            self._begin(Transfer(_path(m.group(1)), "deleted", source, target))
        elif _CYCLE_END.match(line):
            for path in list(self._begun):
                if path not in self._failed:
                    events.append(Synced(path))
                    events += self._ended(path)
            self._begun.clear()
            self._failed.clear()
            self._conflicted.clear()
        elif (m := _CONFLICT_ARROW.search(line)) is not None and len(self._conflicted) < MAX_PROBLEMS:
            self._conflicted.add(_path(m.group(1)))
        return events

    def _begin(self, transfer: Transfer) -> None:
        if len(self._begun) >= MAX_PROBLEMS:
            self._begun.clear()
        self._begun[transfer.path] = transfer

    def _ended(self, path: str) -> list[Event]:
        """The events of a transfer that completed: itself, and the conflict it settled."""
        transfer = self._begun.pop(path, None)
        if transfer is None:
            return []
        done: list[Event] = [transfer]
        if path in self._conflicted:
            self._conflicted.discard(path)
            done.append(Conflict(path, winner=transfer.source, loser=transfer.target))
        return done

    def feed_all(self, text: str) -> list[Event]:
        """Every event in ``text`` (a whole output), the last one included."""
        lines = text.splitlines()
        # a one-shot's arrow lines (stdout) come after its [BGN]/[END] lines (stderr)
        self._conflicted.update(_path(m.group(1)) for x in lines if (m := _CONFLICT_ARROW.search(x)))
        events: list[Event] = []
        for line in lines:
            events += self.feed(line)
        return events + self.flush()

    def flush(self) -> list[Event]:
        """The event still open (its reason may have had a continuation to come)."""
        return [self._close()] if self._open is not None else []

    def _start(self, kind: str, raw_path: str, first: str, events: list[Event]) -> None:
        self._open = (kind, _path(raw_path), [first.strip()])
        if not self._continues(kind, self._open[2]):
            events.append(self._close())

    @staticmethod
    def _continues(kind: str, lines: list[str]) -> bool:
        text = " ".join(lines)
        if kind == "skipped":  # until the parenthesis that opened the reason closes
            return text.count("(") + 1 > text.count(")")
        return text.endswith(":") or _TWO_LINES.match(lines[-1]) is not None

    def _close(self) -> Report:
        assert self._open is not None
        kind, path, lines = self._open
        self._open = None
        reason = " ".join(lines)
        if kind == "skipped" and reason.endswith(")"):
            reason = reason[:-1]
        if kind == "failed":
            if len(self._reasons) >= MAX_PROBLEMS:
                self._reasons.clear()
            self._reasons[path] = reason
        return Report(path, self._side(path, reason), reason)

    def _side(self, path: str, reason: str) -> str:
        side = side_of(reason, self.roots)
        return self._writing.get(path, side) if side == "both" else side


def merge(events: Iterable[Event]) -> list[Event]:
    """One report per path (unison names a failed path twice; a reason beats none), in order."""
    merged: dict[tuple[str, str], Event] = {}
    for event in events:
        key = (type(event).__name__, event.path)
        known = merged.get(key)
        if isinstance(known, Report) and isinstance(event, Report) and event.reason.startswith(GENERIC):
            continue
        merged.pop(key, None)
        merged[key] = event
    return list(merged.values())


class Tracker:
    """The current problems: added from unison's reports, cleared when gone or synced.

    ``still`` tells whether a problem still stands (the path still differs
    between the roots, or the root still cannot be scanned); it is asked for
    each problem at most every ``recheck`` call, once ``HOLD`` seconds have
    passed since unison last reported it.  Every change is saved to
    ``runtime_dir/problems.json`` (this tracker is its only writer).
    """

    def __init__(
        self,
        runtime_dir: Path | None,
        still: Callable[[Problem], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runtime_dir = runtime_dir
        self.still = still
        self.clock = clock
        self.problems: dict[str, Problem] = {}
        self._reported: dict[str, float] = {}
        self._retrying: dict[str, tuple[float, Report]] = {}  # transient reports: since when

    def take(self, events: Iterable[Event]) -> None:
        """Add what unison reported; a transferred path's problem is cleared."""
        changed = False
        for event in events:
            if isinstance(event, Synced):
                self._retrying.pop(event.path, None)
                changed |= self._clear(event.path, "synced")
                continue
            if not isinstance(event, Report):
                continue
            self._reported[event.path] = self.clock()
            known = self.problems.get(event.path)
            if known is None and _TRANSIENT.search(event.reason):
                first = self._retrying.get(event.path, (self.clock(), event))[0]
                self._retrying[event.path] = (first, event)
                log.debug("problem.retrying", path=event.path, reason=event.reason)
                continue
            if known is not None:
                if known.reason != event.reason and not event.reason.startswith(GENERIC):
                    self.problems[event.path] = replace(known, reason=event.reason, side=event.side)
                    changed = True
                continue
            changed |= self._add(event)
        if changed:
            self.save()

    def recheck(self) -> None:
        """Clear every problem that no longer stands."""
        now = self.clock()
        changed = False
        for path, (first, report) in list(self._retrying.items()):
            if not self.still(Problem(path, report.side, report.reason, "")):
                del self._retrying[path]
            elif now - first >= TRANSIENT_BOUND:
                del self._retrying[path]
                self._reported[path] = now
                changed |= self._add(report)  # a retry that keeps failing: a problem after all
        for problem in list(self.problems.values()):
            if now - self._reported.get(problem.path, 0.0) < HOLD:
                continue
            if not self.still(problem):
                changed |= self._clear(problem.path, "resolved")
        if changed:
            self.save()

    def _add(self, event: Report) -> bool:
        if len(self.problems) >= MAX_PROBLEMS:
            log.warning("problem", path=event.path, side=event.side, reason=event.reason, listed=False)
            return False
        self.problems[event.path] = Problem(event.path, event.side, event.reason, jsonfile.now_iso())
        log.warning("problem", path=event.path, side=event.side, reason=event.reason)
        return True

    def _clear(self, path: str, why: str) -> bool:
        problem = self.problems.pop(path, None)
        self._reported.pop(path, None)
        if problem is None:
            return False
        log.info("problem.cleared", path=path, side=problem.side, why=why)
        return True

    def save(self) -> None:
        if self.runtime_dir is not None:
            statefiles.Problems(tuple(self.problems.values())).save(self.runtime_dir)
