"""A root emptied since the start looked (engine/unison/emptied.py, engine/startup/safety.py), with
real unison and real folders: the initial sync carries a deletion made in place after the guard's
look, and refuses one that was there when it looked or that is another folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import Config, load
from engine.startup import runtime, safety
from engine.startup.initial_sync import initial_sync
from engine.unison import emptied


def _synced(tmp_path: Path) -> Config:
    """Both roots hold f.txt, synced once (unison's archive knows it on both sides)."""
    for side in ("host", "app"):
        (tmp_path / side).mkdir()
    (tmp_path / "host" / "f.txt").write_text("synced")
    cfg = load(
        {
            "HOST_VOLUME": str(tmp_path / "host"),
            "APP_VOLUME": str(tmp_path / "app"),
            "SYNC_RUNTIME_DIR": str(tmp_path / "rt"),
            "UNISON": str(tmp_path / "unison"),
        }
    )
    runtime.prepare(cfg)
    initial_sync(cfg)
    assert (tmp_path / "app" / "f.txt").read_text() == "synced"
    emptied.record(cfg)  # as bring_up does: which folders the start looked at
    return cfg


def test_a_root_emptied_in_place_after_the_start_looked_is_carried(tmp_path: Path) -> None:
    cfg = _synced(tmp_path)
    (tmp_path / "app" / "f.txt").unlink()  # the app's last file, deleted after the look
    initial_sync(cfg, bare_at_start=False)
    assert list((tmp_path / "host").iterdir()) == []


def test_a_root_empty_when_the_start_looked_is_refused(tmp_path: Path) -> None:
    cfg = _synced(tmp_path)
    (tmp_path / "app" / "f.txt").unlink()
    with pytest.raises(safety.MassDeletionRefused, match="refusing to propagate the deletion"):
        initial_sync(cfg, bare_at_start=True)
    assert (tmp_path / "host" / "f.txt").read_text() == "synced"


def test_a_root_emptied_that_is_another_folder_is_refused(tmp_path: Path) -> None:
    cfg = _synced(tmp_path)
    (tmp_path / "app").rename(tmp_path / "app-away")
    (tmp_path / "app").mkdir()  # a volume that went away: an empty folder in its place
    with pytest.raises(safety.MassDeletionRefused):
        initial_sync(cfg, bare_at_start=False)
    assert (tmp_path / "host" / "f.txt").read_text() == "synced"


def test_a_root_emptied_in_place_but_for_a_killed_transfers_temp_file_is_carried(tmp_path: Path) -> None:
    """The fuzzer's seed 4307: a kill while unison copied a file into the app root, after the
    app had deleted its last file, left only the copy's temp file there.  unison skips its temp
    files, so it sees the root emptied; the engine must too, or the deletion is never carried
    (watch mode: unison aborted and was started again, forever)."""
    cfg = _synced(tmp_path)
    (tmp_path / "app" / "f.txt").unlink()
    temp = tmp_path / "app" / ".unison.big.0123456789abcdef.unison.tmp"
    temp.write_bytes(b"the first bytes of a transfer")
    assert emptied.unison_args(cfg) == [emptied.CONFIRM]
    initial_sync(cfg, bare_at_start=False)
    assert list((tmp_path / "host").iterdir()) == []
    assert not temp.exists(), "the one-shot that carried the deletion removes unison's litter"
