"""Problems per path: what unison says it failed or skipped, read from its output.

unison 2.52.1 reports a path it could not sync in three forms (samples in
``tests/data/unison/``), in watch mode (``-terse``) and in one-shot runs alike:

- ``Failed [PATH]: REASON`` (on one-shot runs after a progress bar on the same
  line); a reason ending in ``:`` continues on the next line
  (``Error in readWriteBounded:`` / ``No space left on device``), and so do
  unison's two-line transient reasons (``The source file /host_sync/x`` /
  ``has been modified during synchronization.  Transfer aborted.``,
  ``Current source file /host_sync/x`` / `` not same as transferred file. ...``;
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
  lost, and ``-copyonconflict`` kept its version (:mod:`engine.unison.conflicts`).

Besides problems, the reader turns that text into :class:`Transfer` and
:class:`Conflict` events, so the logs say ``sync.copied path=... from=host``
instead of unison's raw lines (which go to the debug level only).

:class:`Reader` is the pure line parser; :class:`engine.unison.standing.Tracker` keeps
the current problems (``problems.json``), logs each new one once and clears the
ones that synced or are gone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import structlog

ROOT = "."  # the path of a problem with a root itself (unison prints it empty)
MAX_LINES = 6  # a reason longer than this many lines is cut there
MAX_PROBLEMS = (
    1000  # paths remembered per batch of output; problems kept in status (engine/unison/standing.py)
)
GENERIC = "failed (unison gave no reason)"
_TWO_LINES = re.compile(
    r"^(The source file .*|Current source file .*|Destination updated during synchronization)$"
)

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
