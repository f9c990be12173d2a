"""What ``run`` watches while unison runs: its output, its problems, its roots.

One collaborator of :class:`engine.supervise.run.Runner`, so the Runner stays the life
of the process: :meth:`Watching.follow` forwards unison's new output
(:mod:`engine.unisonlog`) to our stdout and reads the problems it names
(:mod:`engine.problems`); :meth:`Watching.check` asks, at most every
CHECK_EVERY seconds, whether unison can still use both roots
(:mod:`engine.startup.preflight`) and which problems still stand.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from engine import compare, problems, statefiles, unisonlog
from engine.config import Config
from engine.startup import preflight

CHECK_EVERY = 5.0  # seconds between checks of the roots and rechecks of the problems


class Watching:
    """unison's output and the roots, watched for ``run``; ``clock`` is monotonic time."""

    def __init__(self, cfg: Config, clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.clock = clock
        self.tracker = problems.Tracker(cfg.runtime_dir, self._still_a_problem, clock)
        self.reader = problems.Reader((str(cfg.unison_src), str(cfg.unison_dest)))
        self.follower = unisonlog.Follower(cfg.runtime_dir / unisonlog.FILE)
        self.checked_at: float | None = None

    def take(self, events: list[problems.Event]) -> None:
        """What a one-shot unison reported (the initial sync, the flush)."""
        self.tracker.take(events)

    def follow(self, rest: bool = False) -> None:
        """unison's new output: on to our stdout unchanged, and into the problems it names.

        ``rest``: also a last line without its newline (unison has stopped).
        """
        lines = self.follower.rest() if rest else self.follower.lines()
        if not lines:
            return
        out = sys.stdout.buffer
        events: list[problems.Event] = []
        for line in lines:
            out.write(line)
            events += self.reader.feed(line.decode("utf-8", "replace"))
        out.flush()
        self.tracker.take(events)

    def check(self) -> tuple[bool, str | None]:
        """(checked now, why a root is unusable or None); checks at most every CHECK_EVERY s."""
        now = self.clock()
        if self.checked_at is not None and now - self.checked_at < CHECK_EVERY:
            return False, None
        self.checked_at = now
        error = preflight.root_error(self.cfg)
        self.tracker.recheck()
        return True, error

    def close(self) -> None:
        self.follower.close()

    def _still_a_problem(self, problem: statefiles.Problem) -> bool:
        """A root's problem stands while the root is unusable; a path's while it differs."""
        if problem.path == problems.ROOT:
            return preflight.root_error(self.cfg) is not None
        host, app = (os.path.join(root, problem.path) for root in self.cfg.roots)
        perms = 0 if statefiles.Roots.load(self.cfg.runtime_dir).host.permissions is False else compare.PERMS
        return compare.differs(host, app, perms)
