"""engine/supervise/watching.py: the roots' check that ``run`` asks every few seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.fs import access
from engine.supervise.watching import CHECK_EVERY, Watching
from tests.helpers import folders_config

FULL = "APP_VOLUME: /app_sync is full (no space left on its volume)"


def test_a_root_error_is_said_at_once_and_cleared_only_when_it_stays_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full volume that unison's temp file frees for a moment (removed, then the next attempt
    fills it again) must not flip between unusable and usable at every check (issue 26)."""
    found = iter([FULL, None, FULL, None, FULL, None, None, None])
    monkeypatch.setattr(access, "root_error", lambda cfg: next(found))
    now = [0.0]
    observer = Watching(folders_config(tmp_path), clock=lambda: now[0])
    said = []
    for _ in range(8):
        checked, error = observer.check()
        assert checked
        said.append(error)
        now[0] += CHECK_EVERY
    assert said == [FULL, FULL, FULL, FULL, FULL, FULL, None, None]
