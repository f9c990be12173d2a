"""The fuzzer's model (tests/fuzz/model.py) and its race rule's delete, without an engine.

Each case is what a long fuzz run found, as the quiescent point saw it: what
the model must let pass (no sync can do better) and, next to it, what it must
still call a violation.
"""

from __future__ import annotations

from pathlib import Path

from tests.fuzz.races import rm_rf


def test_the_race_rules_delete_of_a_folder_under_a_file_deletes_nothing(tmp_path: Path) -> None:
    """Seed 6003: the app had replaced the file x.txt with a folder the host did not have yet;
    the host's delete of x.txt/a raised NotADirectoryError and the race went unrecorded."""
    (tmp_path / "x.txt").write_bytes(b"the host's file")
    rm_rf(tmp_path / "x.txt" / "a")
    rm_rf(tmp_path / "missing")
    assert (tmp_path / "x.txt").read_bytes() == b"the host's file"
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / "f").write_bytes(b"f")
    rm_rf(tmp_path / "d")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]
