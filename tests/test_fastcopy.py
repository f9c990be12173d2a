"""engine/startup/fastcopy.py, filecopy.py: the cold-start copy carries what unison carries, and no more."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from engine.config.ignore import IgnoreMatcher
from engine.startup.carry import path_pattern
from engine.startup.fastcopy import Copier, Stopped
from tests.births import Births, reachable_folder
from tests.helpers import snapshot, write
from tests.test_ignore import CASES, IDS

needs_unison = pytest.mark.skipif(shutil.which("unison") is None, reason="unison is not installed")


def unison_copy(base: Path, src: Path, *args: str) -> Path:
    """unison's one-shot of ``src`` into a new empty folder."""
    dst, state = base / "by-unison", base / "unison-state"
    dst.mkdir()
    state.mkdir()
    done = subprocess.run(
        ["unison", str(src), str(dst), "-batch", "-auto", "-log=false", "-ui", "text", *args],
        env={"PATH": os.environ["PATH"], "HOME": str(base), "UNISON": str(state)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: something skipped (a fifo)
    return dst


def fast_copy(base: Path, src: Path, patterns: list[str], **kw: object) -> Path:
    dst = base / "by-fastcopy"
    dst.mkdir()
    Copier(src, dst, IgnoreMatcher(patterns), threading.Event(), **kw).run()  # type: ignore[arg-type]
    return dst


@needs_unison
@pytest.mark.parametrize(("pattern", "path", "ignored"), CASES, ids=IDS)
def test_ignores_as_unison_does(tmp_path: Path, pattern: str, path: str, ignored: bool) -> None:
    src = tmp_path / "src"
    write(src / path, "x")
    write(src / "always/here.txt", "y")
    by_unison = unison_copy(tmp_path, src, "-ignore", pattern)
    by_us = fast_copy(tmp_path, src, [pattern])
    assert snapshot(by_us) == snapshot(by_unison)
    assert os.path.lexists(by_us / path) is not ignored


def odd_tree(src: Path) -> None:
    write(src / "plain.txt", "plain")
    write(src / "big.bin", "")
    (src / "big.bin").write_bytes(os.urandom(9 << 20))  # more than one chunk
    write(src / "setuid", "#!/bin/sh\n")
    (src / "setuid").chmod(0o4755)  # unison's -perms 0o1777 drops the setuid bit
    write(src / "private/secret", "s")
    (src / "private/secret").chmod(0o600)
    (src / "sticky").mkdir()
    (src / "sticky").chmod(0o1777)
    write(src / "readonly/inside.txt", "r")
    (src / "readonly").chmod(0o555)
    os.symlink("plain.txt", src / "link")
    os.symlink("private", src / "dirlink")  # copied as a link, never followed
    os.symlink("nowhere", src / "dangling")
    os.mkfifo(src / "fifo")  # unison skips special files
    write(src / ".unison.x.123.unison.tmp", "unison's own temp file")
    (src / "empty").mkdir()


@needs_unison
def test_the_tree_equals_what_unison_makes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    odd_tree(src)
    by_us = fast_copy(tmp_path, src, [])
    by_unison = unison_copy(tmp_path, src)
    assert snapshot(by_us) == snapshot(by_unison)
    assert os.lstat(by_us / "sticky").st_mode & 0o7777 == os.lstat(by_unison / "sticky").st_mode & 0o7777
    assert os.lstat(by_us / "setuid").st_mode & 0o7777 == 0o755
    assert os.readlink(by_us / "dirlink") == "private"
    assert not (by_us / "fifo").exists()
    assert os.stat(by_us / "plain.txt").st_mtime_ns == os.stat(src / "plain.txt").st_mtime_ns
    (src / "readonly").chmod(0o755)


GB = 1 << 30


def sparse_file(path: Path, pieces: dict[int, bytes]) -> None:
    """A 1 GB file with nothing allocated but ``pieces`` (offset: bytes); skips where holes are not kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(GB)
        for offset, data in pieces.items():
            f.seek(offset)
            f.write(data)
    if os.stat(path).st_blocks * 512 >= GB:
        pytest.skip(f"{path.parent} keeps no holes")


def same_bytes(a: Path, b: Path) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            chunk = fa.read(16 << 20)
            if chunk != fb.read(16 << 20):
                return False
            if not chunk:
                return True


def test_a_sparse_file_stays_sparse(tmp_path: Path) -> None:
    src = tmp_path / "src"
    sparse_file(src / "nothing.img", {})
    dst = fast_copy(tmp_path, src, [])
    copied = os.stat(dst / "nothing.img")
    assert (copied.st_size, copied.st_blocks) == (GB, 0)


def test_a_sparse_file_keeps_its_data_and_its_holes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    big = os.urandom(9 << 20)  # more than one chunk (filecopy.BIG), in the middle of the file
    sparse_file(src / "disk.img", {0: b"head", GB // 2: big, GB - 4096: b"tail" * 1024})
    sparse_file(src / "open-end.img", {4096: b"data, then a hole to the end"})
    dst = fast_copy(tmp_path, src, [])
    for name in ("disk.img", "open-end.img"):
        made, copied = os.stat(src / name), os.stat(dst / name)
        assert copied.st_size == GB
        assert copied.st_blocks <= made.st_blocks + 64  # the data, no more (a block or two of slack)
        assert same_bytes(src / name, dst / name)


def test_owner_is_given_to_every_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    write(src / "a/b/c.txt", "c")
    write(src / "top.txt", "t")
    os.symlink("top.txt", src / "link")
    (src / "empty").mkdir()
    given: dict[str, tuple[int, int]] = {}

    def by_fd(fd: int, uid: int, gid: int) -> None:
        given[os.readlink(f"/proc/self/fd/{fd}")] = (uid, gid)

    def by_path(path: str, uid: int, gid: int) -> None:
        given[str(path)] = (uid, gid)

    monkeypatch.setattr(os, "fchown", by_fd)
    monkeypatch.setattr(os, "lchown", by_path)
    dst = fast_copy(tmp_path, src, [], owner=(1234, 5678))
    entries = {str(p) for p in dst.rglob("*")}
    assert entries == {str(dst / r) for r in ("a", "a/b", "a/b/c.txt", "top.txt", "link", "empty")}
    assert given == {e: (1234, 5678) for e in entries}


@pytest.mark.skipif(os.geteuid() != 0, reason="real ownership needs root")
def test_owner_for_real_as_root_from_the_first_moment(tmp_path: Path) -> None:
    """Each entry is created as its owner (issue 25): a poller from its inotify event on never sees root."""
    src = tmp_path / "src"
    for i in range(40):
        write(src / f"d{i % 4}/sub/f{i}.txt", "c" * i)
    os.symlink("d0", src / "link")
    base = reachable_folder("ns-fastcopy-")  # the owner must reach the copy's folder to create in it
    try:
        (base / "by-fastcopy").mkdir()
        os.chown(base / "by-fastcopy", 4321, 8765)
        with Births(base / "by-fastcopy") as births:
            Copier(src, base / "by-fastcopy", IgnoreMatcher([]), threading.Event(), owner=(4321, 8765)).run()
        assert len(births.seen) == 4 * 2 + 40 + 1
        assert births.wrong(lambda rel: {(4321, 8765)}) == {}
    finally:
        shutil.rmtree(base)


def test_a_second_pass_sees_what_changed_on_which_side(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    for name in ("same", "host", "app", "both", "gone", "readd", "to-dir"):
        write(src / "d" / name, f"v1 {name}")
    dst.mkdir()
    copier = Copier(src, dst, IgnoreMatcher([]), threading.Event())
    assert copier.run().copied == 7
    write(src / "d/host", "v2 host")
    write(dst / "d/app", "v2 app")
    write(src / "d/both", "v2 host")
    write(dst / "d/both", "v2 app")
    (src / "d/gone").unlink()
    write(src / "d/new", "new on host")
    write(dst / "d/made-in-app", "new in app")
    (dst / "d/readd").unlink()
    (src / "d/to-dir").unlink()
    write(src / "d/to-dir/inside", "a file became a folder on the host")

    second = copier.run()
    assert (second.copied, second.copied_back, second.removed) == (4, 1, 1)  # host, new, readd, inside
    assert second.both_changed == ["d/both"]
    assert (dst / "d/host").read_text() == "v2 host"
    assert (src / "d/app").read_text() == "v2 app"  # written back, in place
    assert (src / "d/both").read_text() == "v2 host" and (dst / "d/both").read_text() == "v2 app"
    assert not (dst / "d/gone").exists()
    assert (dst / "d/new").read_text() == "new on host"
    assert (dst / "d/made-in-app").exists() and not (src / "d/made-in-app").exists()  # unison's job
    assert (dst / "d/to-dir/inside").read_text() == "a file became a folder on the host"
    assert copier.run().copied == 0


def test_a_stop_leaves_only_whole_files_and_a_resumed_copy_adopts_the_rest(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    for i in range(50):
        write(src / f"d{i % 5}/f{i}", f"content {i}")
    dst.mkdir()
    stop = threading.Event()
    told: list[tuple[int, int]] = []

    def progress(copied: int, done_bytes: int) -> None:
        told.append((copied, done_bytes))
        if copied == 20:
            stop.set()

    copier = Copier(src, dst, IgnoreMatcher([]), stop, progress=progress)
    with pytest.raises(Stopped):
        copier.run()
    done = [p for p in dst.rglob("*") if p.is_file()]
    assert len(done) == 20
    assert told[-1] == (20, sum(p.stat().st_size for p in done))  # the counts so far, bytes too
    assert all(p.read_bytes() == (src / p.relative_to(dst)).read_bytes() for p in done)
    write(dst / "d0/leftover", "not on the host")
    (dst / done[0]).write_text("half-written")
    resumed = Copier(src, dst, IgnoreMatcher([]), threading.Event())
    outcome = resumed.run(adopt=True)
    assert outcome.skipped == 19 and outcome.copied == 31 and outcome.removed == 1
    assert snapshot(dst) == snapshot(src)


@needs_unison
@pytest.mark.parametrize("rel", ["plain.txt", "we*ird [x]{a,b}\\?.txt", "sp ace/a,b.txt"])
def test_path_pattern_matches_exactly_that_path(tmp_path: Path, rel: str) -> None:
    src = tmp_path / "src"
    write(src / rel, "x")
    write(src / "other.txt", "y")
    dst = unison_copy(tmp_path, src, "-ignore", path_pattern(rel))
    assert not (dst / rel).exists() and (dst / "other.txt").exists()
