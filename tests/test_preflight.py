"""engine/startup/preflight.py: roots unison cannot use, said in one line; mount warnings."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config import Config, load
from engine.startup import preflight
from engine.startup.preflight import Identity


def config(tmp_path: Path, **env: str) -> Config:
    for name in ("host", "app"):
        (tmp_path / name).mkdir(exist_ok=True)
    return load(
        {
            "HOST_VOLUME": str(tmp_path / "host"),
            "APP_VOLUME": str(tmp_path / "app"),
            "SYNC_RUNTIME_DIR": str(tmp_path / "rt"),
            **env,
        }
    )


OTHER = Identity(65534, 65534)  # never this process's own ids in these tests


@pytest.fixture
def open_base() -> Iterator[Path]:
    """A folder OTHER can reach (pytest's own base is 0700)."""
    base = Path(tempfile.mkdtemp(prefix="ns-preflight-"))
    os.chmod(base, 0o755)
    if not all(os.stat(p).st_mode & 0o001 for p in base.parents):
        pytest.skip(f"{base.parent} is not reachable for other users")
    yield base
    shutil.rmtree(base)


def test_usable_roots_pass(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    assert preflight.root_error(cfg) is None
    preflight.check(cfg)


def test_a_host_root_closed_to_the_sync_user_is_one_line_with_owner_mode_and_fix(open_base: Path) -> None:
    cfg = config(open_base)
    for name in ("host", "app"):
        os.chmod(open_base / name, 0o777)
    os.chmod(open_base / "host", 0o700)
    error = preflight.root_error(cfg, OTHER)
    assert error is not None
    st = os.stat(open_base / "host")
    assert error.startswith("HOST_VOLUME: OWNER_UID=65534/GROUP_ID=65534 cannot list and write")
    assert f"owner {st.st_uid}:{st.st_gid}, mode 0700" in error
    assert "\n" not in error


def test_check_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config(tmp_path)
    monkeypatch.setattr(
        preflight, "_root_problem", lambda cfg, who: ("APP_VOLUME: x cannot list and write y", False)
    )
    with pytest.raises(preflight.Misconfigured, match=r"set OWNER_UID/GROUP_ID to the folder's owner"):
        preflight.check(cfg)
    monkeypatch.setattr(preflight, "_root_problem", lambda cfg, who: ("APP_VOLUME: /a is full", True))
    with pytest.raises(preflight.Misconfigured, match=r"/a is full: free space on it"):
        preflight.check(cfg)


def test_a_parent_the_sync_user_cannot_enter_is_named(open_base: Path) -> None:
    inner = open_base / "closed"
    inner.mkdir(mode=0o700)
    (inner / "host").mkdir()
    cfg = config(open_base, HOST_VOLUME=str(inner / "host"))
    error = preflight.root_error(cfg, OTHER)
    assert error is not None and "cannot reach" in error and str(inner) in error


def test_mount_warnings_only_in_the_image(tmp_path: Path) -> None:
    assert preflight.mount_warnings(config(tmp_path)) == []
    warnings = preflight.mount_warnings(config(tmp_path, NATIVE_SYNC_IMAGE="1"))
    assert warnings == [
        f"{tmp_path / 'host'} is not a mount: add -v /path/to/project:{tmp_path / 'host'}",
        f"{tmp_path / 'app'} is not a mount: add -v app_sync:{tmp_path / 'app'}",
    ]
