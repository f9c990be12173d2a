"""When the drift verifier's next pass starts (``SYNC_VERIFY_INTERVAL``): a number, or ``auto``.

``auto`` keeps two promises of the SPEC (section 5) at 10k files: drift the
mount never announced arrives within :data:`DRIFT_BOUND` (:func:`drift_bound`
grows it with the tree: 120 s at 400k files, issue 24), and the engine uses
no more than 1% of a core, the verifier :data:`BUDGET` of it, over any
:data:`WINDOW` (issue 26: an average was not enough; the minute after a
found drift held three passes, 2.58% of a core on a loaded machine).

The pause after a pass aims at ``cost / BUDGET`` (``cost``: the median of
the last :data:`COST_PASSES` passes' CPU time, the dearer one of two: a pass
that found drift reads contents and rechecks, and its price is not the next
walk's), cut to what keeps the drift bound for every pass: a change made
just after the walk passed it waits the rest of that pass, the pause, the
next pass up to it, the recheck and a unison cycle (issue 18: pauses of 28.6
and 37.3 s let a change arrive after 29.7 s).  Never below :data:`FLOOR` (a
small tree is not walked all the time).  Then the window: the next pass
starts only when the CPU of the passes that ended within the last
:data:`WINDOW` before it, and its own, fit in ``BUDGET * WINDOW``; when they
do not, it waits until the oldest of them leaves the window.  When that wait
would break the bound (passes of 0.13-0.14 s on a loaded machine: three do
not fit BUDGET's minute), the pass starts at the latest moment that keeps
the bound if it and the passes around it fit :data:`LIMIT` (the engine's 1%
less what the rest of it uses), now and when passes keep coming at that
pace (issue 26: a 0.196 s pass at load 9.4, taken for the price of the next
three, let drift arrive after 38.4 s).  Past that, the budget wins over the
bound: a pass dearer than about ``LIMIT * WINDOW / 3`` (~0.14 s; 10k files
cost 0.08-0.13 s unloaded) makes passes rarer, and drift slower, on a slow
mount or a bigger tree.  A single pass dearer than the whole window's budget
(400k files: 0.5 s) runs alone in its window, as rarely as the drift bound
allows and at least ``cost / BUDGET`` apart: spent at ``cost / BUDGET``
(88 s apart at 400k), a 180 s window held three passes and the engine 1.05%
of a core at idle (issue 24); 116 s apart, it holds two.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field

BUDGET = 0.006  # auto: the verifier's CPU share of one core (the whole engine's budget is 1%)
# auto: what keeping the drift bound may take, over any WINDOW, when BUDGET cannot keep it (the
# rest of the engine, measured in the minute after a found drift at 10k: 0.2-0.25% of a core)
LIMIT = 0.007
WINDOW = 60.0  # auto: seconds over which BUDGET (or LIMIT) holds, wherever the window is put
FLOOR = 10.0  # auto: seconds between passes at the least
COST_PASSES = 3  # auto: the next pass is expected to cost the dearest of this many recent passes
RECHECK_DELAY = 1.0  # a difference must still be there this much later (unison may be writing it)
DRIFT_BOUND = 30.0  # auto: seconds within which unannounced drift arrives (SPEC 5, at 10k files)
BIG_BOUND = 120.0  # ... and at 400k files (issue 24); in between it grows with the paths checked
SMALL_TREE, BIG_TREE = 10_000, 400_000
SYNC_CYCLE = 1.5  # a unison cycle after the report (stock 2.52.1 sleeps 1 s in watch mode)


def drift_bound(paths: int) -> float:
    """Seconds within which drift arrives in a tree of ``paths``: 30 s up to 10k, 120 s at 400k."""
    grown = (paths - SMALL_TREE) / (BIG_TREE - SMALL_TREE) * (BIG_BOUND - DRIFT_BOUND)
    return min(BIG_BOUND, DRIFT_BOUND + max(0.0, grown))


@dataclass(frozen=True)
class Spent:
    """One pass: when it ended (monotonic seconds), its wall time without the recheck, its CPU time,
    the paths it checked."""

    ended: float
    seconds: float
    cpu_seconds: float
    paths: int = 0


@dataclass
class Pacer:
    """The pause before each pass; ``interval`` None is ``auto``, a number is that many seconds."""

    interval: float | None
    recent: deque[Spent] = field(default_factory=lambda: deque(maxlen=16))

    def passed(self, spent: Spent) -> None:
        """A pass ended: its cost counts for the window and for what the next is expected to cost."""
        self.recent.append(spent)

    def pause(self, now: float) -> float:
        """Seconds from ``now`` (the end of the last pass) until the next one starts."""
        if self.interval is not None:
            return self.interval
        if not self.recent:
            return FLOOR
        last = list(self.recent)[-COST_PASSES:]
        cost = statistics.median_high(p.cpu_seconds for p in last)  # one dear pass is no trend
        wall = max(p.seconds for p in last)
        ceiling = drift_bound(max(p.paths for p in last)) - 2 * wall - RECHECK_DELAY - SYNC_CYCLE
        latest = max(FLOOR, ceiling)  # the latest start that keeps the drift bound
        if cost >= BUDGET * WINDOW:  # alone in any window: as rarely as the bound allows, within the budget
            return max(latest, cost / BUDGET)
        at_budget = self._at_budget(now + max(FLOOR, min(cost / BUDGET, ceiling)), cost) - now
        if at_budget <= latest:
            return at_budget
        # the budget would break the bound: LIMIT may keep it, for this pass and for good
        steady = 1 + math.ceil((WINDOW - latest) / (latest + wall))  # passes ending within a window
        if max(self._spent(now + latest) + cost, steady * cost) <= LIMIT * WINDOW:
            return latest
        return at_budget  # not even LIMIT keeps it (a slow mount, a big tree): the budget wins

    def _at_budget(self, start: float, cost: float) -> float:
        """The first start from ``start`` at which the window holds BUDGET, this pass included."""
        allowed = BUDGET * WINDOW
        if cost >= allowed:  # alone in its window, and at BUDGET on average
            return max(start, self.recent[-1].ended + cost / BUDGET, self.recent[-1].ended + WINDOW)
        while self._spent(start) + cost > allowed:  # wait until the oldest leaves the window
            start = min(p.ended for p in self.recent if p.ended + WINDOW > start) + WINDOW
        return start

    def _spent(self, start: float) -> float:
        """The CPU of the passes that ended within WINDOW before ``start``."""
        return sum(p.cpu_seconds for p in self.recent if p.ended + WINDOW > start)
