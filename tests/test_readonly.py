"""``docker run --read-only`` (issue 25), simulated in host mode: SYNC_RUNTIME_DIR and UNISON on a
read-only file system.  The one line gives the flags that work, not "run as root" or "use /tmp"."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Engine, make_engine

pytestmark = [
    pytest.mark.engine,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only tmpfs needs root"),
]


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A read-only file system (a tmpfs mounted ro), as the image's / is under --read-only."""
    point = tmp_path / "ro"
    point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(point)], check=True, timeout=20)
    yield point
    subprocess.run(["umount", "-l", str(point)], check=False, timeout=20)


@pytest.mark.parametrize("folder", ["SYNC_RUNTIME_DIR", "UNISON"])
def test_a_read_only_file_system_names_the_flags_that_work(
    tmp_path: Path, read_only: Path, folder: str
) -> None:
    engine: Engine = make_engine(tmp_path / "e", **{folder: str(read_only / "native-sync")})
    (engine.host / "a.txt").write_text("host\n")
    engine.start()
    assert engine.proc is not None
    assert engine.proc.wait(timeout=60) == 3
    (failed,) = engine.events("start.failed")
    error = failed["error"]
    assert "read-only" in error and "--read-only" in error
    assert "--tmpfs" in error and "-v " in error
    assert "as root" not in error and "/tmp/unison" not in error
    assert "\n" not in error
    assert list(engine.app.iterdir()) == []
