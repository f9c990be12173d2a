"""Hot paths: a path that keeps changing waits to ride along with the next sync.

unison sleeps 1 s after every sync (``watchinterval`` in ``src/uitext.ml``)
before it asks for changes again, so a sync that carries only a churning log
puts that second in front of the next real edit.  A path is *hot* once it
changed again soon (``HOT_SOON``) after unison took it, ``HOT_STREAK`` times
in a row; a hot path that settles while nothing else waits for unison is held
for up to ``delay`` seconds (``SYNC_HOT_DELAY``).  It is released:

- with the next report that carries a cold change (it rides along: no extra
  sync, no extra sleep);
- when its delay is up (it goes alone);
- by a rescan (the full-sync request, an overflow): the root covers it.

A path that stays quiet for ``HOT_SOON`` after unison took it is cold again.
Times are arguments (monotonic seconds); nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.paths import Key

HOT_SOON = 1.5  # changed again this soon after unison took it: one more in the streak
HOT_STREAK = 2  # that many takes in a row, each followed soon by a change, make a path hot
TRACK_LIMIT = 256  # a bigger take (a branch switch) is not churn: it is not tracked


@dataclass(slots=True)
class _Taken:
    at: float  # when unison last took the path
    streak: int  # takes in a row that were followed soon by a change
    again: bool = False  # changed soon after the last take


@dataclass
class HotPaths:
    """Which paths are hot, and the hot paths held back (``delay`` 0: nothing is ever held)."""

    delay: float
    taken: dict[str, _Taken] = field(default_factory=dict)
    held: dict[Key, float] = field(default_factory=dict)  # key -> held since

    def classify(self, rel: str, now: float) -> bool:
        """A change of ``rel`` settled at ``now``: is the path hot?"""
        seen = self.taken.get(rel)
        if self.delay <= 0 or seen is None:
            return False
        if now - seen.at <= HOT_SOON:
            seen.again = True
        return seen.again and seen.streak + 1 >= HOT_STREAK

    def split(self, batch: set[Key], now: float) -> tuple[set[Key], set[Key]]:
        """The settled ``batch`` as (cold, hot) paths."""
        hot = {k for k in batch if self.classify(k[1], now)}
        return batch - hot, hot

    def hold(self, keys: set[Key], now: float) -> int:
        """Hold hot ``keys`` back from ``now`` (a path already held keeps its first time);
        how many were not held before."""
        before = len(self.held)
        for key in keys:
            self.held.setdefault(key, now)
        return len(self.held) - before

    def release_all(self) -> set[Key]:
        """Every held path (they ride along with a cold report, or a rescan covers them)."""
        held, self.held = set(self.held), {}
        return held

    def release_due(self, now: float) -> set[Key]:
        """The held paths whose delay is up at ``now``."""
        due = {k for k, since in self.held.items() if now >= since + self.delay}
        for key in due:
            del self.held[key]
        return due

    def deadline(self) -> float | None:
        """When the next held path is due."""
        return min(self.held.values()) + self.delay if self.held else None

    def taken_by_unison(self, paths: list[str], now: float) -> None:
        """unison took ``paths`` at ``now`` (one ``CHANGES``; the other replica's may follow)."""
        if self.delay <= 0 or len(paths) > TRACK_LIMIT:
            return
        for rel in paths:
            seen = self.taken.get(rel)
            if seen is None or (not seen.again and now - seen.at > HOT_SOON):
                self.taken[rel] = _Taken(now, 0)
            elif seen.again:  # it changed soon after the last take: the streak goes on
                self.taken[rel] = _Taken(now, seen.streak + 1)
            # else: the same cycle's other replica took it: nothing new
        horizon = HOT_SOON + self.delay + 2.0  # held, released, then one cycle
        if any(now - t.at > horizon for t in self.taken.values()):
            self.taken = {rel: t for rel, t in self.taken.items() if now - t.at <= horizon}

    def __len__(self) -> int:
        return len(self.held)
