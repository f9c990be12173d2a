"""engine/startup/filecopy.py: one entry written for the cold copy, on tmp_path.

Each kind the Writer makes (file, sparse file, symbolic link, folder) with
its mode, modification time and owner; the kernel pumps falling back one
after the other; a stop between a big file's chunks; the app's version
written back in place.  (FIFOs, sockets and devices never reach the Writer:
the copy skips them, tests/test_fastcopy.py.)
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.startup import filecopy
from engine.startup.filecopy import Writer, data_extents, remove, sig

OWNER = (1234, 5678)
MB = 1 << 20
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving an owner needs root")


def made(path: Path, data: bytes, mode: int, mtime_ns: int = 1_600_000_000_123_456_789) -> os.stat_result:
    path.write_bytes(data)
    path.chmod(mode)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return os.lstat(path)


def sparse(path: Path, size: int, pieces: dict[int, bytes]) -> os.stat_result:
    """A ``size``-byte file with only ``pieces`` allocated; skips where the filesystem keeps no holes."""
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, data in pieces.items():
            f.seek(offset)
            f.write(data)
    st = os.stat(path)
    if st.st_blocks * 512 >= size:
        pytest.skip(f"{path.parent} keeps no holes")
    return st


def test_a_file_gets_the_contents_the_permission_bits_and_the_modification_time(tmp_path: Path) -> None:
    st = made(tmp_path / "src", b"hello\n" * 1000, 0o4751)  # set-user-ID: not a bit unison carries
    written = Writer(threading.Event()).file(str(tmp_path / "src"), str(tmp_path / "dst"), st)
    assert (tmp_path / "dst").read_bytes() == b"hello\n" * 1000
    assert stat.S_IMODE(written.st_mode) == 0o751
    assert written.st_mtime_ns == st.st_mtime_ns
    assert sig(written) == sig(os.lstat(tmp_path / "dst"))  # what it returns is what is there


def test_an_empty_file_and_the_sticky_bit(tmp_path: Path) -> None:
    st = made(tmp_path / "src", b"", 0o1700)
    written = Writer(threading.Event()).file(str(tmp_path / "src"), str(tmp_path / "dst"), st)
    assert written.st_size == 0 and stat.S_IMODE(written.st_mode) == 0o1700


@pytest.mark.parametrize(
    ("mode", "chmods"),
    [(0o644, 0), (0o444, 0), (0o1644, 1), (0o666, 1)],  # 0o666: the umask (022) takes some bits
)
def test_a_file_is_created_with_its_bits_and_chmodded_only_when_they_did_not_take(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int, chmods: int
) -> None:
    """Issue 24: one system call less for each file of the cold copy, the bits still exact."""
    calls: list[int] = []
    real = os.fchmod

    def fchmod(fd: int, m: int) -> None:
        calls.append(m)
        real(fd, m)

    monkeypatch.setattr(os, "fchmod", fchmod)
    st = made(tmp_path / "src", b"data", mode)
    old = os.umask(0o022)
    try:
        written = Writer(threading.Event()).file(str(tmp_path / "src"), str(tmp_path / "dst"), st)
    finally:
        os.umask(old)
    assert stat.S_IMODE(written.st_mode) == mode
    assert (tmp_path / "dst").read_bytes() == b"data"
    assert sig(written) == sig(os.lstat(tmp_path / "dst"))
    assert calls == [mode] * chmods


def test_a_file_there_already_is_never_overwritten(tmp_path: Path) -> None:
    st = made(tmp_path / "src", b"host", 0o644)
    (tmp_path / "dst").write_bytes(b"app")
    with pytest.raises(FileExistsError):
        Writer(threading.Event()).file(str(tmp_path / "src"), str(tmp_path / "dst"), st)
    assert (tmp_path / "dst").read_bytes() == b"app"


@as_root
def test_each_kind_is_given_the_owner(tmp_path: Path) -> None:
    st = made(tmp_path / "src", b"x", 0o644)
    writer = Writer(threading.Event(), owner=OWNER)
    writer.file(str(tmp_path / "src"), str(tmp_path / "file"), st)
    os.symlink("src", tmp_path / "src-link")
    writer.link(str(tmp_path / "src-link"), str(tmp_path / "link"))
    writer.folder(str(tmp_path / "folder"))
    for name in ("file", "link", "folder"):
        st = os.lstat(tmp_path / name)
        assert (st.st_uid, st.st_gid) == OWNER, name
    assert (os.stat(tmp_path / "src").st_uid, os.stat(tmp_path / "src").st_gid) == (0, 0)  # not followed


def test_a_link_keeps_its_target_even_one_that_leads_nowhere(tmp_path: Path) -> None:
    os.symlink("../nowhere/at all", tmp_path / "src")
    written = Writer(threading.Event()).link(str(tmp_path / "src"), str(tmp_path / "dst"))
    assert stat.S_ISLNK(written.st_mode)
    assert os.readlink(tmp_path / "dst") == "../nowhere/at all"


def test_a_folder_is_made_private_until_the_copy_gives_it_its_mode(tmp_path: Path) -> None:
    Writer(threading.Event()).folder(str(tmp_path / "dst"))
    assert stat.S_IMODE(os.stat(tmp_path / "dst").st_mode) == 0o700


def test_a_sparse_file_keeps_its_holes_and_its_size(tmp_path: Path) -> None:
    pieces = {0: b"head", 8 * MB: b"middle" * 1000, 31 * MB: b"end of data"}
    st = sparse(tmp_path / "src", 64 * MB, pieces)  # a hole at the end too
    written = Writer(threading.Event()).file(str(tmp_path / "src"), str(tmp_path / "dst"), st)
    assert written.st_size == 64 * MB
    assert written.st_blocks <= st.st_blocks + 64  # the data, a block or two of slack
    assert (tmp_path / "dst").read_bytes() == (tmp_path / "src").read_bytes()


def test_data_extents_are_the_ranges_that_hold_data(tmp_path: Path) -> None:
    sparse(tmp_path / "f", 16 * MB, {4 * MB: b"a" * 10, 12 * MB: b"b"})
    with open(tmp_path / "f", "rb") as f:
        extents = list(data_extents(f.fileno(), 16 * MB))
    assert len(extents) == 2
    (start1, end1), (start2, end2) = extents
    assert start1 <= 4 * MB < 4 * MB + 10 <= end1 < start2 <= 12 * MB < end2 <= 16 * MB
    with open(tmp_path / "f", "rb") as f:
        assert list(data_extents(f.fileno(), 4 * MB)) == []  # nothing but a hole so far


def copy_two(tmp_path: Path, writer: Writer) -> None:
    for name in ("a", "b"):
        st = made(tmp_path / f"src-{name}", name.encode() * 5000, 0o644)
        writer.file(str(tmp_path / f"src-{name}"), str(tmp_path / f"dst-{name}"), st)
        assert (tmp_path / f"dst-{name}").read_bytes() == name.encode() * 5000


def test_a_refused_copy_file_range_is_not_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EXDEV (another filesystem): sendfile from then on."""
    tried: list[str] = []
    real_sendfile = os.sendfile

    def copy_file_range(*args: object) -> int:
        tried.append("copy_file_range")
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    def sendfile(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        tried.append("sendfile")
        return real_sendfile(out_fd, in_fd, offset, count)

    monkeypatch.setattr(os, "copy_file_range", copy_file_range)
    monkeypatch.setattr(os, "sendfile", sendfile)
    copy_two(tmp_path, Writer(threading.Event()))
    assert tried == ["copy_file_range", "sendfile", "sendfile"]


def test_a_refused_sendfile_falls_back_to_read_and_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried: list[str] = []

    def refused(name: str, code: int) -> Callable[..., int]:
        def pump(*args: object) -> int:
            tried.append(name)
            raise OSError(code, os.strerror(code))

        return pump

    monkeypatch.setattr(os, "copy_file_range", refused("copy_file_range", errno.ENOSYS))
    monkeypatch.setattr(os, "sendfile", refused("sendfile", errno.EINVAL))
    copy_two(tmp_path, Writer(threading.Event()))
    assert tried == ["copy_file_range", "sendfile"]  # the second file went straight to read/write


def test_a_pump_error_that_is_not_a_refusal_is_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "copy_file_range", full)
    st = made(tmp_path / "src", b"x" * 100, 0o644)
    with pytest.raises(OSError) as e:
        Writer(threading.Event()).file(str(tmp_path / "src"), str(tmp_path / "dst"), st)
    assert e.value.errno == errno.ENOSPC


def test_a_stop_between_a_big_files_chunks_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filecopy, "BIG", 4096)
    stop = threading.Event()
    stop.set()
    st = made(tmp_path / "src", os.urandom(3 * 4096), 0o644)
    with pytest.raises(filecopy.Stopped):
        Writer(stop).file(str(tmp_path / "src"), str(tmp_path / "dst"), st)
    assert not (tmp_path / "dst").exists()
    one_chunk = made(tmp_path / "small", b"s" * 4096, 0o644)  # no second chunk: a stop waits for it
    Writer(stop).file(str(tmp_path / "small"), str(tmp_path / "small-copy"), one_chunk)
    assert (tmp_path / "small-copy").read_bytes() == b"s" * 4096


def test_the_apps_version_is_written_back_into_the_hosts_file_in_place(tmp_path: Path) -> None:
    host, app = tmp_path / "host", tmp_path / "app"
    st = made(host, b"host version, longer than the app's", 0o644)
    here = made(app, b"app version", 0o600, mtime_ns=1_700_000_000_000_000_000)
    sigs = Writer(threading.Event()).write_back(str(host), str(app), st, here)
    assert host.read_bytes() == b"app version"
    after = os.stat(host)
    assert after.st_ino == st.st_ino  # in place: the host file keeps its inode and owner
    assert stat.S_IMODE(after.st_mode) == 0o600 and after.st_mtime_ns == here.st_mtime_ns
    assert sigs == (sig(after), sig(os.stat(app)))


def test_nothing_is_written_back_when_the_host_changed_or_it_is_not_two_files(tmp_path: Path) -> None:
    host, app = tmp_path / "host", tmp_path / "app"
    st = made(host, b"host", 0o644)
    here = made(app, b"app", 0o644)
    made(host, b"host again", 0o644, mtime_ns=1_650_000_000_000_000_000)  # after the copy saw it
    writer = Writer(threading.Event())
    assert writer.write_back(str(host), str(app), st, here) is None
    assert host.read_bytes() == b"host again"
    os.symlink("app", tmp_path / "link")
    assert (
        writer.write_back(str(host), str(tmp_path / "link"), os.stat(host), os.lstat(tmp_path / "link"))
        is None
    )
    assert writer.write_back(str(host), str(tmp_path / "gone"), os.stat(host), here) is None


def test_a_sig_shows_any_change_of_a_file(tmp_path: Path) -> None:
    st = made(tmp_path / "f", b"one", 0o644)
    assert sig(st) == sig(os.lstat(tmp_path / "f"))
    assert isinstance(sig(st), bytes)
    os.utime(tmp_path / "f", ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert sig(os.lstat(tmp_path / "f")) != sig(st)
    os.utime(tmp_path / "f", ns=(st.st_atime_ns, st.st_mtime_ns))
    (tmp_path / "f").chmod(0o600)
    assert sig(os.lstat(tmp_path / "f")) != sig(st)


def test_a_time_past_2262_keeps_the_five_values(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    far = 2**63 + 5  # nanoseconds out of a signed 64-bit field
    try:
        os.utime(tmp_path / "f", ns=(far, far))
    except (OSError, OverflowError):
        pytest.skip("this filesystem keeps no such time")
    st = os.lstat(tmp_path / "f")
    if st.st_mtime_ns < 2**63:
        pytest.skip("this filesystem clamps the time")
    assert sig(st) == (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


def test_remove_takes_a_file_a_tree_or_a_link_never_what_it_points_to(tmp_path: Path) -> None:
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "sub" / "f").write_text("f")
    os.symlink("tree", tmp_path / "link")
    remove(str(tmp_path / "link"))
    assert (tmp_path / "tree" / "sub" / "f").exists() and not (tmp_path / "link").is_symlink()
    remove(str(tmp_path / "tree" / "sub" / "f"))
    assert not (tmp_path / "tree" / "sub" / "f").exists()
    remove(str(tmp_path / "tree"))
    assert list(tmp_path.iterdir()) == []
