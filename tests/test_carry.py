"""The recorder and the carry at a stop during the indexing (engine/startup/recorder.py, carry.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from structlog.testing import capture_logs

from engine import config
from engine.startup import carry
from engine.startup.recorder import APP, HOST, Changes, Recorder
from tests.helpers import read, write


def trees(tmp_path: Path) -> tuple[Path, Path]:
    host, app = tmp_path / "host", tmp_path / "app"
    for root in (host, app):
        write(root / "d" / "f.txt", "same\n")
        write(root / "g.txt", "same\n")
    return host, app


def test_the_recorder_tells_what_changed_on_which_side(tmp_path: Path) -> None:
    host, app = trees(tmp_path)
    recorder = Recorder.watching({HOST: str(host), APP: str(app)}, ["d"], lambda rel: rel == "ignored")
    try:
        write(app / "d" / "f.txt", "app\n")
        write(host / "g.txt", "host\n")
        write(app / "g.txt", "app too\n")
        write(app / "new" / "deep" / "x.txt", "new\n")  # a new folder: one path, carried whole
        write(app / "ignored", "not synced\n")
        write(app / ".unison.g.txt.123.unison.tmp", "unison's\n")
        os.chmod(app / "d", 0o700)  # what the copy does to every folder: not a change to carry
        changes = recorder.changes()
    finally:
        recorder.close()
    assert changes.sides == {"d/f.txt": {APP}, "g.txt": {HOST, APP}, "new": {APP}}
    assert changes.one_sided(APP) == ["d/f.txt", "new"]
    assert changes.both() == ["g.txt"]
    assert changes.lost is None


def test_a_watched_folder_deleted_or_moved_is_recorded_through_its_parent(tmp_path: Path) -> None:
    """Why the recorder does not ask for a folder's own DELETE_SELF/MOVE_SELF (engine/fs/watchmask.py)."""
    host, app = trees(tmp_path)
    write(host / "e" / "h.txt", "same\n")
    recorder = Recorder.watching({HOST: str(host), APP: str(app)}, ["d", "e"], lambda rel: False)
    try:
        shutil.rmtree(host / "d")
        (host / "e").rename(host / "e2")
        changes = recorder.changes()
    finally:
        recorder.close()
    assert changes.sides == {"d": {HOST}, "d/f.txt": {HOST}, "e": {HOST}, "e2": {HOST}}


def test_what_cannot_be_carried_is_said_and_the_rest_still_crosses(tmp_path: Path) -> None:
    host, app = trees(tmp_path)
    (tmp_path / "unison").mkdir()
    cfg = config.load(
        {"HOST_VOLUME": str(host), "APP_VOLUME": str(app), "UNISON": str(tmp_path / "unison"),
         "SYNC_RUNTIME_DIR": str(tmp_path / "rt"), "MONIT_ENABLE": "false"}
    )  # fmt: skip
    write(app / "d" / "f.txt", "app edit\n")
    changes = Changes({"d/f.txt": {APP}}, lost="more changes than inotify's queue holds")
    with capture_logs() as logs:
        assert carry.at_stop(cfg, changes) is False
    assert read(host / "d" / "f.txt") == "app edit\n"
    (said,) = [e for e in logs if e["event"] == "stop.not_carried"]
    assert said["reason"] == "more changes than inotify's queue holds"
    assert "resumes" in said["next_start"]
    assert list((tmp_path / "unison").iterdir()) == []  # the throwaway archive is gone
