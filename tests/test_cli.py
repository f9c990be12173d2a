"""engine/cli and engine/exits: each exit status means one thing."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from engine import exits
from engine.cli import flush
from engine.config import load
from engine.state import shared


def test_every_exit_status_has_its_own_value() -> None:
    values = {name: value for name, value in vars(exits).items() if name.isupper()}
    assert len(set(values.values())) == len(values), values


def test_flush_with_nothing_watching_says_so_and_exits_not_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = load({"SYNC_RUNTIME_DIR": str(tmp_path)})
    assert flush.flush(cfg, timeout=0.1) == exits.NOT_RUNNING != exits.FAILED
    assert "nothing to flush: no sync is watching yet" in capsys.readouterr().err


def test_flush_during_the_indexing_waits_for_the_watch_and_flushes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cold start is healthy while unison indexes: a flush right after `healthy` said
    "nothing to flush: no sync is watching yet", exit 6 (tests/docker/test_cli_image.py under
    load, issue 26).  It waits for the watch within its timeout instead."""
    cfg = load({"SYNC_RUNTIME_DIR": str(tmp_path)})
    status_file = tmp_path / shared.FSMONITOR_FILE
    status_file.parent.mkdir()
    shared.RunState(state=shared.State.INDEXING, pid=os.getpid()).save(tmp_path)
    waited = []

    def the_watch_starts(seconds: float) -> None:  # flush's wait: the fsmonitor comes up meanwhile
        waited.append(seconds)
        shared.FsmonitorStatus(pid=os.getpid()).save(status_file)

    def full_sync(signum: int, frame: object) -> None:  # the fsmonitor's SIGUSR1, done at once
        shared.FsmonitorStatus(pid=os.getpid(), flushes=1).save(status_file)

    monkeypatch.setattr("engine.cli.flush.time.sleep", the_watch_starts)
    previous = signal.signal(signal.SIGUSR1, full_sync)
    try:
        assert flush.flush(cfg, timeout=30) == exits.OK
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert waited and "native-sync: flushed: " in capsys.readouterr().out


def test_flush_while_still_indexing_at_its_timeout_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = load({"SYNC_RUNTIME_DIR": str(tmp_path)})
    shared.RunState(state=shared.State.INDEXING, pid=os.getpid()).save(tmp_path)
    assert flush.flush(cfg, timeout=0.1) == exits.TIMED_OUT
    assert "the sync is still indexing" in capsys.readouterr().err
