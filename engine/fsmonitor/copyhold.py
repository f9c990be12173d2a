"""A conflict copy unison made goes to the store before unison syncs again.

unison's ``-copyonconflict`` keeps the loser next to the original, in the
losing replica, and ``run`` moves it into the conflict store once the cycle
that made it has ended (it reads unison's output every half second:
:mod:`engine.unison.conflicts`).  unison's next cycle must not come first:
a copy kept in a folder that the other side deleted meanwhile goes with the
folder (unison deletes a folder with everything in it, ignored names
included).  The fuzzer's seed 7101: the app saved ``a/a`` while the host
ran ``rm -rf a``; unison saw ``a/a`` deleted in one cycle (a conflict: the
app's save kept as ``a/a (conflict_on_...)`` in the app's ``a``) and the
folder deleted in the next, and the save was lost.

So while a copy unison made (seen in the watcher's events, settled or not)
is still in a replica, what would go to unison is held (:meth:`Outbox.report
<engine.fsmonitor.outbox.Outbox.report>`), at most :data:`HOLD` seconds from
when the copy was first seen: a copy that ``run`` cannot move holds nothing
longer than that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from engine.fsmonitor.cycles import CONFLICT_COPY

HOLD = 3.0  # seconds a conflict copy may hold the next cycle, at most
POLL = 0.05  # seconds between looks at a held copy (its move out is an ignored name's event)


@dataclass
class CopyHold:
    """The conflict copies still in a replica and the changes they hold; ``present(rel)``:
    ``rel`` is in some replica."""

    present: Callable[[str], bool]
    seen: dict[str, float] = field(default_factory=dict)  # copy -> when first seen (monotonic)
    held: set[str] = field(default_factory=set)
    held_always: bool = False  # a rescan's report (of the roots) is among them

    def saw(self, rels: Iterable[str], now: float) -> None:
        """Changed paths (events, settled or not): note the conflict copies among them."""
        for rel in rels:
            if rel not in self.seen and CONFLICT_COPY.search(rel):
                self.seen[rel] = now

    def holding(self, now: float) -> bool:
        """A copy seen less than :data:`HOLD` s ago is still in a replica."""
        self.seen = {rel: t for rel, t in self.seen.items() if now < t + HOLD and self.present(rel)}
        return bool(self.seen)

    def hold(self, paths: Iterable[str], always: bool) -> None:
        self.held |= set(paths)
        self.held_always = self.held_always or always

    def release(self, now: float) -> tuple[set[str], bool] | None:
        """The held paths (and whether a rescan was among them), once nothing holds them."""
        if (not self.held and not self.held_always) or self.holding(now):
            return None
        out, always = self.held, self.held_always
        self.held, self.held_always = set(), False
        return out, always

    def deadline(self, now: float) -> float | None:
        """When to look again while something is held."""
        if not self.held and not self.held_always:
            return None
        if not self.seen:
            return now
        return min(now + POLL, min(t + HOLD for t in self.seen.values()))
