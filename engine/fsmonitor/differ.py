"""The 'still differs' filter: only paths that differ between the replicas go to unison.

unison's own writes into the other replica compare equal afterwards and are
dropped, so they cost no second sync.  Every path that went through the filter
is remembered; after things calm down (``RECHECK_QUIET``) they are compared
once more and reported again if they still differ: a storm of creates and
deletes on both sides can race unison, and this is what makes it converge.
A path unison leaves different is reported ``RECHECK_TRIES`` times, no more;
giving up is said once (``recheck.gave_up``, however often the path is touched
again while it stands) and its end once (``recheck.resolved``).

A path that changed in both replicas within one batch is reported even when
the two are equal: that is no echo (unison writes a replica only after we
reported the other one, so its echo comes in a later batch) but the same
change made on both sides (a tree deleted here and there at once, the same
file generated on both).  unison must see it to record it; otherwise its
archive keeps the old state and the next save of that path on one side is a
conflict against the "other side's" stale change (the fuzzer's first find,
issue 18: a file created after both sides deleted it went to a conflict
copy).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import structlog

from engine.fs.paths import Key, special

RECHECK_QUIET = 1.5  # calm after which recently touched paths are compared again
RECHECK_LIMIT = 20_000  # more recent paths than this: a full rescan instead
RECHECK_TRIES = 3  # a path unison leaves different is reported this often, no more

log = structlog.get_logger("fsmonitor")


class TooManyToRecheck(Exception):
    """More than ``RECHECK_LIMIT`` recent paths: a full rescan is cheaper."""


@dataclass
class StillDiffers:
    """Compares a replica's path with the other replica's; remembers what to recheck."""

    roots: Mapping[str, str]  # replica -> root folder (the watcher's, kept up to date)
    differs: Callable[[str, str], bool]
    recent: set[Key] = field(default_factory=set)
    tries: dict[str, int] = field(default_factory=dict)

    def filter(self, paths: set[Key]) -> set[str]:
        """The paths (relative) of ``paths`` that differ from the other replica.

        A special file (FIFO, socket, device) that changed differs from nothing
        (:func:`engine.fs.compare.differs`) but is reported once, so that unison
        says it skips it and ``status`` lists it; rechecks leave it alone.
        """
        self.recent |= paths
        both = self.both_sides(paths)
        return both | {
            rel
            for replica, rel in paths
            if rel not in both
            and (self.differs_now(replica, rel) or special(os.path.join(self.roots[replica], rel)))
        }

    @staticmethod
    def both_sides(paths: set[Key]) -> set[str]:
        """The paths of ``paths`` that changed on both replicas (reported even when equal)."""
        seen: dict[str, str] = {}
        return {rel for replica, rel in paths if seen.setdefault(rel, replica) != replica}

    def recheck_at(self, quiet_since: float) -> float | None:
        """When the recent paths are due again, after calm since ``quiet_since``."""
        return quiet_since + RECHECK_QUIET if self.recent else None

    def recheck(self) -> set[str]:
        """Compare the recent paths again; those that still differ (raises TooManyToRecheck)."""
        recent, self.recent = self.recent, set()
        if len(recent) > RECHECK_LIMIT:
            raise TooManyToRecheck(f"{len(recent)} recent paths")
        differing = set()
        for replica, rel in recent:
            if not self.differs_now(replica, rel):
                if self.tries.pop(rel, 0) > RECHECK_TRIES:
                    log.info("recheck.resolved", path=rel)
                continue
            tries = self.tries.get(rel, 0) + 1
            if tries > RECHECK_TRIES + 1:
                continue  # given up and said so: a problem that stands is said once (issue 26)
            self.tries[rel] = tries
            if tries > RECHECK_TRIES:
                log.warning("recheck.gave_up", path=rel, tries=RECHECK_TRIES)
                continue
            differing.add(rel)
        if differing:
            log.info("recheck.still_differs", paths=len(differing))
        return differing

    def differs_now(self, replica: str, rel: str) -> bool:
        """Does ``rel`` differ between ``replica`` and the other one (True unless exactly two)?"""
        others = [r for r in self.roots if r != replica]
        if len(others) != 1:
            return True
        mine = os.path.join(self.roots[replica], rel)
        theirs = os.path.join(self.roots[others[0]], rel)
        return self.differs(mine, theirs)
