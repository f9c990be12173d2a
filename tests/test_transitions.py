"""engine/supervise/transitions.py: the moves ``run`` may make, and the Runner held to them."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from engine.config import load
from engine.state import shared
from engine.supervise import run, transitions
from engine.supervise.transitions import ALLOWED, RefusedTransition

S = shared.State

REAL_PATHS = {
    "warm start, stop": [S.STARTING, S.INITIAL_SYNC, S.WATCHING, S.STOPPING],
    "cold start, stop": [S.STARTING, S.INITIAL_SYNC, S.INDEXING, S.WATCHING, S.STOPPING],
    "stop while copying or in the one-shot": [S.STARTING, S.INITIAL_SYNC, S.STOPPING],
    "stop while indexing": [S.STARTING, S.INITIAL_SYNC, S.INDEXING, S.STOPPING],
    "the flush at stop failed": [S.STARTING, S.INITIAL_SYNC, S.WATCHING, S.STOPPING, S.FAILED],
    "a root missing at start": [S.STARTING, S.FAILED],
    "the initial sync failed": [S.STARTING, S.INITIAL_SYNC, S.FAILED],
    "the indexing failed": [S.STARTING, S.INITIAL_SYNC, S.INDEXING, S.FAILED],
    "supervisord exited": [S.STARTING, S.INITIAL_SYNC, S.WATCHING, S.FAILED],
}


@pytest.mark.parametrize("path", REAL_PATHS.values(), ids=REAL_PATHS.keys())
def test_every_path_run_takes_is_allowed(path: list[shared.State]) -> None:
    for old, new in itertools.pairwise(path):
        transitions.check(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (S.STARTING, S.WATCHING),  # watching without an initial sync
        (S.STARTING, S.INDEXING),
        (S.WATCHING, S.INITIAL_SYNC),  # back to an earlier phase
        (S.INDEXING, S.INITIAL_SYNC),
        (S.STOPPING, S.WATCHING),  # a stop is not undone
        (S.FAILED, S.WATCHING),  # nothing leaves failed
        (S.FAILED, S.FAILED),
        (S.WATCHING, S.DEGRADED),  # status derives it; run never says it
        (S.WATCHING, S.WATCHING),  # a field changes with note(), not a move
    ],
)
def test_a_move_not_in_the_table_is_refused(old: shared.State, new: shared.State) -> None:
    with pytest.raises(RefusedTransition, match=f"from '{old.value}' to '{new.value}'"):
        transitions.check(old, new)


def test_degraded_is_never_a_state_of_run() -> None:
    assert not [move for move in ALLOWED if S.DEGRADED in move]


def test_the_runner_refuses_a_move_and_keeps_state_json(tmp_path: Path) -> None:
    runner = run.Runner(load({"SYNC_RUNTIME_DIR": str(tmp_path), "UNISON": str(tmp_path / "u")}))
    runner.set_state(S.INITIAL_SYNC)
    with pytest.raises(RefusedTransition):
        runner.set_state(S.STARTING)
    assert runner.state.state is S.INITIAL_SYNC
    assert shared.RunState.load(tmp_path).state is S.INITIAL_SYNC
    runner.note(roots_error="APP_VOLUME: gone")  # a root gone and back: fields, no move
    runner.note(roots_error=None)
    assert shared.RunState.load(tmp_path) == runner.state
