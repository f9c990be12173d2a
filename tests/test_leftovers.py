"""engine/unison/leftovers.py (conflict copies a killed unison left) and engine/state/folders.py."""

from __future__ import annotations

import os
from pathlib import Path

from engine.state.folders import Folders
from engine.unison import leftovers
from engine.unison.reports import Conflict
from tests.helpers import folders_config, write

COPY = "f (conflict_on_2026-12-04).txt"


def test_a_run_that_did_not_stop_is_told_apart_from_one_that_did(tmp_path: Path) -> None:
    cfg = folders_config(tmp_path)
    assert leftovers.begin(cfg) is False  # the first run: nothing before it
    assert leftovers.begin(cfg) is True  # the mark of a run that never reached its stop
    leftovers.ended(cfg)
    assert leftovers.begin(cfg) is False  # a clean stop leaves no mark


def test_copies_are_found_on_both_sides_with_the_side_that_lost(tmp_path: Path) -> None:
    cfg = folders_config(tmp_path)
    write(cfg.unison_dest / "src" / COPY, "the app's version")
    write(cfg.unison_src / COPY, "the host's version")
    write(cfg.unison_src / "src" / "f.txt", "not a copy")
    write(cfg.unison_src / ".native-sync" / COPY, "already kept: the store is not looked at")
    found = leftovers.find(cfg)
    assert found == [
        (Conflict("f.txt", winner="app", loser="host"), cfg.unison_src / COPY),
        (Conflict("src/f.txt", winner="host", loser="app"), cfg.unison_dest / "src" / COPY),
    ]


def test_only_copies_made_before_a_time_are_taken(tmp_path: Path) -> None:
    cfg = folders_config(tmp_path)
    write(cfg.unison_dest / COPY, "left by the unison that died")
    made = (cfg.unison_dest / COPY).lstat().st_ctime
    assert leftovers.find(cfg, before=made) == []  # not before: maybe the running unison's
    assert len(leftovers.find(cfg, before=made + 1)) == 1


def test_folders_round_trip_and_a_missing_file_knows_nothing(tmp_path: Path) -> None:
    assert Folders.load(tmp_path) == Folders()
    marked = Folders(host=f"{os.stat(tmp_path).st_dev}:1", app=None)
    marked.save(tmp_path)
    assert Folders.load(tmp_path) == marked
