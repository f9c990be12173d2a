"""engine/fs/compare.py: does a path still differ between the two replicas?"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.fs import compare
from engine.fs.compare import differs


@pytest.fixture
def a(tmp_path: Path) -> Path:
    return tmp_path / "a"


@pytest.fixture
def b(tmp_path: Path) -> Path:
    return tmp_path / "b"


def test_missing_on_both_sides_is_equal(a: Path, b: Path) -> None:
    assert not differs(str(a), str(b))


def test_missing_on_one_side_differs(a: Path, b: Path) -> None:
    a.write_text("x")
    assert differs(str(a), str(b))
    assert differs(str(b), str(a))


def test_missing_parent_counts_as_missing(a: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    # "file/child": the parent is a file (ENOTDIR), so the child is simply missing
    assert not differs(str(tmp_path / "file" / "child"), str(tmp_path / "nothing" / "child"))


def test_a_path_through_a_link_to_itself_counts_as_missing(tmp_path: Path) -> None:
    # the fuzzer: "x -> x" on one side, an event for "x/child" pending: ELOOP must not crash the fsmonitor
    os.symlink("x", tmp_path / "x")
    assert not differs(str(tmp_path / "x" / "child"), str(tmp_path / "nothing" / "child"))
    assert differs(str(tmp_path / "x" / "child"), str(tmp_path / "x"))


def test_equal_contents_are_equal(a: Path, b: Path) -> None:
    a.write_bytes(b"same\x00bytes")
    b.write_bytes(b"same\x00bytes")
    assert not differs(str(a), str(b))


def test_empty_files_are_equal(a: Path, b: Path) -> None:
    a.touch()
    b.touch()
    assert not differs(str(a), str(b))


def test_different_sizes_differ(a: Path, b: Path) -> None:
    a.write_text("short")
    b.write_text("longer")
    assert differs(str(a), str(b))


def test_same_size_different_content_differs(a: Path, b: Path) -> None:
    a.write_bytes(b"abcd")
    b.write_bytes(b"abce")
    assert differs(str(a), str(b))


def test_difference_after_the_first_block_is_found(a: Path, b: Path) -> None:
    body = b"x" * (compare.BLOCK * 2 + 10)
    a.write_bytes(body)
    b.write_bytes(body[:-1] + b"y")
    assert differs(str(a), str(b))
    b.write_bytes(body)
    assert not differs(str(a), str(b))


def test_times_and_owner_do_not_count(a: Path, b: Path) -> None:
    a.write_text("x")
    b.write_text("x")
    os.utime(a, (0, 0))
    assert not differs(str(a), str(b))


def test_exec_bit_differs(a: Path, b: Path) -> None:
    a.write_text("x")
    b.write_text("x")
    a.chmod(0o755)
    b.chmod(0o644)
    assert differs(str(a), str(b))
    b.chmod(0o755)
    assert not differs(str(a), str(b))


def test_directory_permissions_differ(a: Path, b: Path) -> None:
    a.mkdir(mode=0o755)
    b.mkdir(mode=0o700)
    a.chmod(0o755)
    b.chmod(0o700)
    assert differs(str(a), str(b))


def test_two_directories_are_equal(a: Path, b: Path) -> None:
    a.mkdir()
    b.mkdir()
    (a / "inside").write_text("contents are not compared: unison reports those paths itself")
    assert not differs(str(a), str(b))


def test_type_change_differs(a: Path, b: Path) -> None:
    a.mkdir()
    b.write_text("")
    assert differs(str(a), str(b))


def test_file_and_symlink_differ(a: Path, b: Path, tmp_path: Path) -> None:
    a.write_text("x")
    (tmp_path / "target").write_text("x")
    b.symlink_to(tmp_path / "target")
    assert differs(str(a), str(b))


def test_symlinks_compare_their_targets_not_what_they_point_to(a: Path, b: Path) -> None:
    a.symlink_to("target-one")
    b.symlink_to("target-one")
    assert not differs(str(a), str(b))  # both dangling, same target
    b.unlink()
    b.symlink_to("target-two")
    assert differs(str(a), str(b))


def test_files_above_the_content_limit_count_as_different(
    a: Path, b: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compare, "CONTENT_LIMIT", 10)
    a.write_bytes(b"y" * 11)
    b.write_bytes(b"y" * 11)
    assert differs(str(a), str(b))
    a.write_bytes(b"y" * 10)
    b.write_bytes(b"y" * 10)
    assert not differs(str(a), str(b))


def test_unreadable_file_counts_as_different(a: Path, b: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    a.write_text("x")
    b.write_text("x")
    a.chmod(0)
    b.chmod(0)
    assert differs(str(a), str(b))


def test_a_path_that_cannot_be_read_counts_as_different(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unreadable path is unison's to report (a problem), never a crash of the fsmonitor."""

    def denied(path: str) -> os.stat_result:
        raise PermissionError(13, "Permission denied", path)  # what lstat says below a closed folder

    monkeypatch.setattr(compare, "lstat", denied)
    assert compare.differs("/host/closed/in.txt", "/app/closed/in.txt")


def test_a_special_file_differs_from_nothing(a: Path, b: Path) -> None:
    """issue 26: unison cannot sync a FIFO (or a socket, a device): skipped by rule, never drift."""
    os.mkfifo(a)
    assert not differs(str(a), str(b))
    b.write_text("a file where the other side has a FIFO")
    assert not differs(str(a), str(b))
