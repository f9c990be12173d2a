"""engine/fsmonitor/hygiene.py: when unison's abandoned temp files go, and which drift is reported.

Real temp files on ``tmp_path``; a file this test holds open stands for one
unison still writes (the sweep reads ``/proc``).  Times are arguments.
"""

from __future__ import annotations

from pathlib import Path

from engine.fsmonitor.hygiene import LITTER_RETRY, Hygiene
from engine.fsmonitor.verifier import Pass
from engine.state.shared import FsmonitorStatus

T = 1000.0


def temp(folder: Path, name: str) -> Path:
    """A unison temp file (``.unison.NAME.HASH.unison.tmp``) next to ``name``."""
    path = folder / f".unison.{name}.8f2e.unison.tmp"
    path.write_text("partial")
    return path


def a_pass(*differing: str, temps: tuple[str, ...] = (), checked: int = 10) -> Pass:
    return Pass(("/h", "/a"), frozenset(differing), temps, checked, 0.1, 0.05, 30.0, 1_800_000_000.0)


def test_nothing_seen_nothing_to_do() -> None:
    hygiene = Hygiene()
    assert hygiene.deadline(T) is None
    assert hygiene.sweep(T) == 0
    assert hygiene.drift_to_report(lambda rel: True) == set()


def test_an_abandoned_temp_file_goes_at_the_first_sweep(tmp_path: Path) -> None:
    hygiene = Hygiene()
    left = temp(tmp_path, "a.txt")
    (tmp_path / "a.txt").write_text("the user's")
    hygiene.saw_temps([str(left)])
    assert hygiene.sweep(T) == 1
    assert not left.exists() and (tmp_path / "a.txt").exists()
    assert hygiene.deadline(T) is None


def test_a_temp_file_held_open_is_looked_at_again_after_the_retry_time(tmp_path: Path) -> None:
    hygiene = Hygiene()
    held = temp(tmp_path, "big.bin")
    hygiene.saw_temps([str(held)])
    with open(held, "rb"):
        assert hygiene.sweep(T) == 0
    assert held.exists()
    assert hygiene.deadline(T) == T + LITTER_RETRY  # wakes the loop for the retry
    assert hygiene.sweep(T + LITTER_RETRY / 2) == 0  # not before
    assert held.exists()
    assert hygiene.sweep(T + LITTER_RETRY) == 1
    assert not held.exists()
    assert hygiene.deadline(T + LITTER_RETRY) is None


def test_a_temp_file_gone_by_itself_is_forgotten(tmp_path: Path) -> None:
    hygiene = Hygiene()
    renamed = temp(tmp_path, "done.txt")
    hygiene.saw_temps([str(renamed)])
    renamed.rename(tmp_path / "done.txt")  # unison finished the transfer
    assert hygiene.sweep(T) == 0
    assert hygiene.deadline(T) is None
    assert (tmp_path / "done.txt").exists()


def test_a_pass_brings_its_temp_files_and_its_drift(tmp_path: Path) -> None:
    hygiene = Hygiene()
    left = temp(tmp_path, "x")
    hygiene.passed(a_pass("drifted.txt", "fixed-meanwhile.txt", temps=(str(left),), checked=42))
    assert hygiene.drift_to_report(lambda rel: rel != "fixed-meanwhile.txt") == {"drifted.txt"}
    assert hygiene.drift_to_report(lambda rel: True) == set()  # taken once
    assert hygiene.sweep(T) == 1 and not left.exists()
    assert hygiene.stamp(FsmonitorStatus(syncs=2)).verify_checked == 42
    assert hygiene.stamp(FsmonitorStatus(syncs=2)).syncs == 2


def test_an_abandoned_temp_folder_goes_with_what_is_in_it(tmp_path: Path) -> None:
    """A new folder unison was filling under a temp name when it was killed (the fuzzer, on
    main: 'Is a directory', litter.unremovable every 5 s for good, the trees never equal)."""
    hygiene = Hygiene()
    folder = tmp_path / ".unison.b.4fc9.unison.tmp"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "y.md").write_text("copied")
    (folder / "X.txt").write_text("copied")
    hygiene.saw_temps([str(folder)])
    assert hygiene.sweep(T) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_temp_folder_with_a_file_held_open_is_looked_at_again(tmp_path: Path) -> None:
    hygiene = Hygiene()
    folder = tmp_path / ".unison.b.4fc9.unison.tmp"
    folder.mkdir()
    (folder / "big.bin").write_text("partial")
    hygiene.saw_temps([str(folder)])
    with open(folder / "big.bin", "rb"):
        assert hygiene.sweep(T) == 0
    assert (folder / "big.bin").exists()
    assert hygiene.sweep(T + LITTER_RETRY) == 1
    assert not folder.exists()
