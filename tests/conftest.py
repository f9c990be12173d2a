from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import Engine, make_engine


@pytest.fixture
def engine_factory(tmp_path: Path) -> Iterator[Callable[..., Engine]]:
    """Make engines on fresh folders; all are stopped at the end of the test."""
    made: list[Engine] = []

    def factory(name: str = "e", **env: str) -> Engine:
        engine = make_engine(tmp_path / name, **env)
        made.append(engine)
        return engine

    yield factory
    for engine in made:
        engine.close()


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
