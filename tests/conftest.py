from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import Engine, make_engine
from tests.unison_runs import Watch, unison_bin


@pytest.fixture
def engine_factory(tmp_path: Path) -> Iterator[Callable[..., Engine]]:
    """Make engines on fresh folders; all are stopped at the end of the test."""
    made: list[Engine] = []

    # NATIVE_SYNC_TEST_HOST_DIR: every engine's host folder is made below it (the
    # suite run with the host on a case-insensitive mount, issue 19)
    host_below = os.environ.get("NATIVE_SYNC_TEST_HOST_DIR")

    def factory(name: str = "e", **env: str) -> Engine:
        if host_below and "HOST_VOLUME" not in env:
            env["HOST_VOLUME"] = tempfile.mkdtemp(prefix="host-", dir=host_below)
        engine = make_engine(tmp_path / name, **env)
        made.append(engine)
        return engine

    yield factory
    for engine in made:
        engine.close()
        if host_below and engine.host.parent == Path(host_below):
            shutil.rmtree(engine.host, ignore_errors=True)


@pytest.fixture
def engine(engine_factory: Callable[..., Engine]) -> Engine:
    return engine_factory()


@pytest.fixture
def bindfs_host(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(below, mount): a bindfs view of ``below``; changes made below raise no event on it."""
    if shutil.which("bindfs") is None or not os.path.exists("/dev/fuse"):
        pytest.skip("bindfs and /dev/fuse are needed (make system-deps installs bindfs)")
    below, mount = tmp_path / "below", tmp_path / "mount"
    below.mkdir()
    mount.mkdir()
    subprocess.run(["bindfs", "--no-allow-other", str(below), str(mount)], check=True, timeout=20)
    try:
        yield below, mount
    finally:
        subprocess.run(["fusermount", "-u", "-z", str(mount)], check=False, timeout=20)


EXFAT_IMAGE = Path(tempfile.gettempdir()) / "native-sync-exfat.img"
EXFAT_MOUNT = Path(tempfile.gettempdir()) / "native-sync-exfat"


def _unavailable(why: str) -> None:
    """Skip; in CI (CI=true) fail instead: the case-insensitive tests must run there."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"case-insensitive folder unavailable in CI: {why}")
    pytest.skip(f"case-insensitive folder unavailable: {why}")


def _mounted(path: Path) -> bool:
    with open("/proc/mounts", encoding="utf-8") as mounts:
        return any(line.split()[1] == str(path) for line in mounts)


def _answers(path: Path) -> bool:
    """False for a FUSE mount whose daemon is gone ("Transport endpoint is not connected")."""
    try:
        os.listdir(path)
    except OSError:
        return False
    return True


def _drop_stale_exfat() -> None:
    """Unmount a mount left by a killed session and detach its loop devices."""
    subprocess.run(["umount", "-l", str(EXFAT_MOUNT)], check=False, capture_output=True, timeout=60)
    attached = subprocess.run(
        ["losetup", "-j", str(EXFAT_IMAGE)], check=False, capture_output=True, text=True, timeout=30
    ).stdout
    for line in attached.splitlines():
        subprocess.run(["losetup", "-d", line.split(":")[0]], check=False, capture_output=True, timeout=30)


@pytest.fixture(scope="session")
def exfat_mount() -> Iterator[Path]:
    """A real case-insensitive, case-preserving folder: exFAT through FUSE on a loop device.

    Root only (losetup, mount); idempotent (an earlier session's mount is
    reused); unmounted and detached at the end of the session when this one
    mounted it.  Needs exfat-fuse and exfatprogs (make system-deps).
    """
    if os.geteuid() != 0:
        _unavailable("needs root (losetup, mount)")
    tools = ("mkfs.exfat", "mount.exfat-fuse", "losetup")
    missing = [t for t in tools if shutil.which(t) is None]
    if missing or not os.path.exists("/dev/fuse"):
        _unavailable(f"needs {', '.join(missing) or '/dev/fuse'} (apt-get install exfat-fuse exfatprogs)")
    if _mounted(EXFAT_MOUNT) and _answers(EXFAT_MOUNT):
        yield EXFAT_MOUNT
        return
    if _mounted(EXFAT_MOUNT):
        _drop_stale_exfat()
    EXFAT_MOUNT.mkdir(exist_ok=True)
    try:
        with open(EXFAT_IMAGE, "wb") as image:
            image.truncate(256 * 1024 * 1024)
        subprocess.run(["mkfs.exfat", str(EXFAT_IMAGE)], check=True, capture_output=True, timeout=60)
        dev = subprocess.run(
            ["losetup", "-f", "--show", str(EXFAT_IMAGE)],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        _unavailable(f"could not make the exFAT image: {e}")
    try:
        subprocess.run(
            ["mount.exfat-fuse", dev, str(EXFAT_MOUNT)],
            check=True,
            capture_output=True,
            timeout=30,
            # its own session: the daemon outlives a kill of this run's process group,
            # so a later session finds the mount answering rather than disconnected
            start_new_session=True,
        )
    except (OSError, subprocess.SubprocessError) as e:
        subprocess.run(["losetup", "-d", dev], check=False, timeout=30)
        _unavailable(f"could not mount exFAT: {e}")
    try:
        yield EXFAT_MOUNT
    finally:
        subprocess.run(["umount", str(EXFAT_MOUNT)], check=False, capture_output=True, timeout=60)
        subprocess.run(["losetup", "-d", dev], check=False, capture_output=True, timeout=30)
        EXFAT_IMAGE.unlink(missing_ok=True)


@pytest.fixture
def exfat_dir(exfat_mount: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A fresh folder on the case-insensitive mount for one test, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="t-", dir=exfat_mount))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- unison builds (tests/test_unison_build.py, tests/test_unison_scale.py) ---------------


@pytest.fixture(scope="session")
def binaries() -> dict[str, Path]:
    return {}


@pytest.fixture
def unison_of(binaries: dict[str, Path]) -> Iterator[dict[str, Path]]:
    """kind -> binary, built on first use in the session."""

    class Lazy(dict[str, Path]):
        def __missing__(self, kind: str) -> Path:
            path = binaries.get(kind) or unison_bin(kind)
            binaries[kind] = path
            return path

    yield Lazy()


@pytest.fixture
def watches() -> Iterator[list[Watch]]:
    made: list[Watch] = []
    yield made
    for watch in made:
        watch.close()
