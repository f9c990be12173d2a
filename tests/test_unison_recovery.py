"""Our unison patches for what the fuzzer found (issues 24 and 25): crashes and races.

0008: the start after a kill in the middle of an archive commit (one root's
archive unlinked, the new one not yet linked) finishes the commit, as unison's
crash recovery means to, instead of stopping at "inconsistent state" forever.
0009: with -copyonconflict, a change that wins over a deletion is written at
its own path (stock writes it under a "_was_deleted" conflict name, and the
next sync deletes it from the side it came from). 0010: a folder whose
deletion fails part-way keeps its mode (stock leaves it rwx------, and the
next sync carries that to the other side). 0011 (a speed patch: archives
load from a buffer): a damaged archive is refused, or loaded, as stock does. As in
tests/test_unison_build.py, each test runs against stock unison too, as a
strict xfail.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine.unison.conflicts import COPY_SUFFIX
from tests.helpers import read, same_trees, tree_diff, write
from tests.unison_runs import BOTH, ONESHOT, many_files, oneshot, replicas

pytestmark = pytest.mark.engine


def _names(*roots: Path) -> list[str]:
    return sorted(p.name for root in roots for p in root.rglob("*"))


# --- patch 0008: crash recovery after an unlinked archive -------------------------


@pytest.mark.parametrize("kind", BOTH)
def test_a_commit_killed_between_unlink_and_link_is_finished_at_the_next_run(
    kind: str, unison_of: dict[str, Path], tmp_path: Path
) -> None:
    """The state postCommitArchiveLocal leaves when killed after its unlink of the first root's
    archive: both new archives written ("tm"), one main archive ("ar") gone."""
    a, b, env = replicas(tmp_path)
    write(a / "f", "synced\n")
    oneshot(unison_of[kind], a, b, env)
    state = Path(env["UNISON"])
    archives = sorted(state.glob("ar*"))
    assert len(archives) == 2, archives
    for archive in archives:
        shutil.copyfile(archive, state / f"tm{archive.name[2:]}")
    archives[0].unlink()

    write(b / "f", "edited on b after the crash\n")
    out = oneshot(unison_of[kind], a, b, env)  # stock: exit 3, "inconsistent state"
    assert "inconsistent state" not in out, out
    # the archives were used: an edit on one side is an update, not a conflict
    assert "1 item transferred, 0 skipped, 0 failed" in out, out
    assert read(a / "f") == "edited on b after the crash\n"
    assert sorted(p.name[:2] for p in state.iterdir() if p.name[:2] in ("ar", "tm")) == ["ar", "ar"]
    assert "Nothing to do" in oneshot(unison_of[kind], a, b, env)


# --- patch 0009: a change over a deletion keeps its path ---------------------------


@pytest.mark.parametrize("kind", BOTH)
def test_a_preferred_change_over_a_deletion_stands_at_its_path(
    kind: str, unison_of: dict[str, Path], tmp_path: Path
) -> None:
    """a changes f, b deletes it; -prefer a: the change is written to b as f, and stays."""
    a, b, env = replicas(tmp_path)
    write(a / "d" / "f.txt", "before\n")
    write(a / "d" / "other.txt", "unrelated\n")
    oneshot(unison_of[kind], a, b, env)
    write(a / "d" / "f.txt", "a's change\n")
    (b / "d" / "f.txt").unlink()

    args = ("-prefer", str(a), "-copyonconflict")
    oneshot(unison_of[kind], a, b, env, *args)
    oneshot(unison_of[kind], a, b, env, *args)  # stock: this one deletes a's f.txt
    assert read(a / "d" / "f.txt") == read(b / "d" / "f.txt") == "a's change\n"
    assert [n for n in _names(a, b) if COPY_SUFFIX.search(n)] == []
    assert same_trees(a, b, keep_temps=True), tree_diff(a, b, keep_temps=True)


def test_a_preferred_deletion_over_a_change_still_keeps_a_copy(
    unison_of: dict[str, Path], tmp_path: Path
) -> None:
    """The other way round is unchanged: a deletes f, b changes it; -prefer a deletes it on b
    and keeps b's change as a conflict copy there (the engine moves it to its store)."""
    a, b, env = replicas(tmp_path)
    write(a / "f.txt", "before\n")
    write(a / "other.txt", "unrelated\n")  # not an emptied root (confirmbigdel)
    oneshot(unison_of["ours"], a, b, env)
    (a / "f.txt").unlink()
    write(b / "f.txt", "b's change\n")

    oneshot(unison_of["ours"], a, b, env, "-prefer", str(a), "-copyonconflict")
    assert not (a / "f.txt").exists() and not (b / "f.txt").exists()
    copies = [p for p in b.iterdir() if COPY_SUFFIX.search(p.name)]
    assert [read(p) for p in copies] == ["b's change\n"], _names(a, b)
    assert "_was_deleted" not in copies[0].name


# --- patch 0010: a folder whose deletion fails keeps its mode ------------------------


@contextmanager
def _undeletable(path: Path) -> Iterator[None]:
    """``path`` cannot be removed, even by root (chattr +i), until the block ends."""
    if os.geteuid() != 0:
        pytest.skip("only root can make a file immutable")
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is refused here: {made.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def _mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


@pytest.mark.parametrize("kind", BOTH)
def test_a_folder_whose_deletion_fails_keeps_its_mode(
    kind: str, unison_of: dict[str, Path], tmp_path: Path
) -> None:
    """a deletes d while d on b holds a file unison cannot remove (the fuzzer's race, seed
    6001: a file written into d while unison deleted it): d stays on b, and keeps its 0755.
    Stock made it 0700 to empty it and left it so; the next sync took the mode for b's
    change and carried it to a: the user's folder rwx------ on both sides."""
    a, b, env = replicas(tmp_path)
    for name in ("f.txt", "g.txt"):
        write(a / "d" / name, f"{name}\n")
    write(a / "other.txt", "unrelated\n")  # not an emptied root (confirmbigdel)
    (a / "d").chmod(0o755)
    oneshot(unison_of[kind], a, b, env)
    assert _mode(b / "d") == "0o755"
    shutil.rmtree(a / "d")
    with _undeletable(b / "d" / "g.txt"):
        done = subprocess.run(  # deleting d fails on b: exit 2
            [str(unison_of[kind]), str(a), str(b), *ONESHOT],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "failed: d" in done.stdout + done.stderr, done.stdout + done.stderr
        assert _mode(b / "d") == "0o755"
    assert not (a / "d").exists(), "a's deletion stands"


# --- patch 0011: an archive loads from a buffer ------------------------------------
# A pure speed patch (nothing a stock run could fail): what a load means must not
# change, and reading ahead in chunks changes where a damaged archive's error comes
# from. So each damage is given to stock and to ours, and both must answer alike.


def _damage(archive: Path, kind: str) -> None:
    """Damage the payload (after the three header lines: an 8-byte size, then the data)."""
    data = bytearray(archive.read_bytes())
    start = data.index(b"\n", data.index(b"\n", data.index(b"\n") + 1) + 1) + 1
    size = int.from_bytes(data[start : start + 8], "big")
    payload = start + 8
    if kind == "truncated":
        del data[payload + size // 2 :]
    elif kind == "truncated-size":
        del data[start + 4 :]
    elif kind == "bad-tag":
        data[payload] = 9  # the tree's root: a sum of 4
    elif kind == "garbled":
        data[payload + size // 3 : payload + size // 3 + 8] = b"\xff" * 8
    elif kind in ("size-too-big", "size-too-small"):
        # stock ignores the size; ours bounds its read-ahead by it
        wrong = size + 1000 if kind == "size-too-big" else size - 100
        data[start : start + 8] = wrong.to_bytes(8, "big")
    elif kind == "truncated-paths":
        del data[payload + size + 20 :]  # the "paths" props that follow the payload
    archive.write_bytes(bytes(data))


DAMAGES = ["truncated", "truncated-size", "bad-tag", "garbled"]
DAMAGES += ["size-too-big", "size-too-small", "truncated-paths"]


@pytest.mark.parametrize("kind", DAMAGES)
def test_a_damaged_archive_is_refused_as_stock_refuses_it(
    kind: str, unison_of: dict[str, Path], tmp_path: Path
) -> None:
    """Both start from the same synced tree and the same damage to the first root's archive;
    each answers with its exit status, its errors and transfers, and the file it leaves."""
    answers: dict[str, tuple[int, list[str], str | None]] = {}
    for build in ("stock", "ours"):
        (tmp_path / build).mkdir()
        a, b, env = replicas(tmp_path / build)
        many_files(a)
        oneshot(unison_of["stock"], a, b, env)
        _damage(sorted(Path(env["UNISON"]).glob("ar*"))[0], kind)
        write(b / "d3" / "e3" / "f3.txt", "edited on b\n")
        command = [str(unison_of[build]), str(a), str(b), *ONESHOT]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
        lines = (done.stdout + done.stderr).splitlines()
        said = [line for line in lines if line.startswith(("Error", "Fatal")) or "transferred" in line]
        said = [re.sub(r"\d\d:\d\d:\d\d", "T", line) for line in said]  # a completion's time
        answers[build] = (done.returncode, said, read(a / "d3" / "e3" / "f3.txt"))
    assert answers["ours"] == answers["stock"], answers
