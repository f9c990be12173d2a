"""The states ``run`` moves through and the only moves it may make (STYLE 6).

The states are :class:`engine.state.shared.State` (``state.json`` names them);
:data:`ALLOWED` is every move the Runner (:mod:`engine.supervise.run`) makes,
in one table, the way supervisor's ``process.py`` asserts the state it leaves
(``_assertInState``).  A move not in it is a bug in ``run``, not a condition of
the world: :func:`check` raises :class:`RefusedTransition`.

``degraded`` is no state of ``run``: ``status`` derives it from ``watching``
and the problems that stand (:mod:`engine.status`).  ``failed`` is reached
from every state but itself (a start that fails, supervisord gone, the flush
at stop failed, a crash); nothing leaves it, nor ``stopping`` but for ``failed``.
"""

from __future__ import annotations

from engine.state.shared import State

STARTING, INITIAL_SYNC, INDEXING, WATCHING = (
    State.STARTING,
    State.INITIAL_SYNC,
    State.INDEXING,
    State.WATCHING,
)
STOPPING, FAILED = State.STOPPING, State.FAILED

ALLOWED: frozenset[tuple[State, State]] = frozenset(
    {
        (STARTING, INITIAL_SYNC),  # preflight passed: the initial sync begins
        (INITIAL_SYNC, INDEXING),  # a cold start's copy is complete (health passes), unison indexes
        (INITIAL_SYNC, WATCHING),  # a warm start's one-shot done, watch-mode unison runs
        (INDEXING, WATCHING),  # the archive built, changes flow
        *((phase, STOPPING) for phase in (STARTING, INITIAL_SYNC, INDEXING, WATCHING)),  # SIGTERM
        *((phase, FAILED) for phase in (STARTING, INITIAL_SYNC, INDEXING, WATCHING, STOPPING)),
    }
)


class RefusedTransition(Exception):
    """``run`` was asked to move between two states :data:`ALLOWED` does not join."""

    def __init__(self, old: State, new: State) -> None:
        super().__init__(f"run cannot go from {old.value!r} to {new.value!r}")
        self.old = old
        self.new = new


def check(old: State, new: State) -> None:
    """Return if ``old -> new`` is in :data:`ALLOWED`, else raise :class:`RefusedTransition`."""
    if (old, new) not in ALLOWED:
        raise RefusedTransition(old, new)
