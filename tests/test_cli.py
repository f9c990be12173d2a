"""engine/cli and engine/exits: each exit status means one thing."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import exits
from engine.cli import flush
from engine.config import load


def test_every_exit_status_has_its_own_value() -> None:
    values = {name: value for name, value in vars(exits).items() if name.isupper()}
    assert len(set(values.values())) == len(values), values


def test_flush_with_nothing_watching_says_so_and_exits_not_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = load({"SYNC_RUNTIME_DIR": str(tmp_path)})
    assert flush.flush(cfg, timeout=0.1) == exits.NOT_RUNNING != exits.FAILED
    assert "nothing to flush: no sync is watching yet" in capsys.readouterr().err
