"""engine/fs/access.py: roots unison cannot use, said in one line; mount warnings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.config import Config, load
from engine.fs import access
from engine.fs.access import Identity


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


def deny(monkeypatch: pytest.MonkeyPatch, *closed: Path) -> None:
    """access(2) says no for ``closed`` (as a host mount that maps root to nobody would)."""
    real = os.access

    def access(path: Path, mode: int) -> bool:
        return Path(path) not in closed and real(path, mode)

    monkeypatch.setattr(os, "access", access)


def who() -> str:
    return "root" if os.geteuid() == 0 else f"the container's user {os.geteuid()}:{os.getegid()}"


def test_usable_roots_pass(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    assert access.root_error(cfg) is None
    access.check(cfg)


def test_unison_runs_as_this_process() -> None:
    assert access.unison_identity() == Identity(os.geteuid(), os.getegid())


def test_a_host_root_closed_to_unison_is_one_line_with_owner_mode_and_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config(tmp_path)
    os.chmod(tmp_path / "host", 0o700)
    deny(monkeypatch, tmp_path / "host")
    error = access.root_error(cfg)
    assert error is not None
    st = os.stat(tmp_path / "host")
    assert error.startswith(f"HOST_VOLUME: {who()} cannot list and write")
    assert f"owner {st.st_uid}:{st.st_gid}, mode 0700" in error
    assert "\n" not in error
    with pytest.raises(access.Misconfigured) as failed:
        access.check(cfg)
    assert str(failed.value).startswith(error + ": ")
    fix = "mount it without root squashing" if os.geteuid() == 0 else "docker run --user UID:GID"
    assert fix in str(failed.value)


def test_check_names_the_fix_for_a_full_volume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config(tmp_path)
    monkeypatch.setattr(access, "_root_problem", lambda cfg: ("APP_VOLUME: /a is full", True))
    with pytest.raises(access.Misconfigured, match=r"/a is full: free space on it"):
        access.check(cfg)


def test_a_parent_unison_cannot_enter_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inner = tmp_path / "closed"
    inner.mkdir(mode=0o700)
    (inner / "host").mkdir()
    cfg = config(tmp_path, HOST_VOLUME=str(inner / "host"))
    deny(monkeypatch, inner)
    error = access.root_error(cfg)
    assert error is not None and "cannot reach" in error and str(inner) in error


def test_mount_warnings_only_in_the_image(tmp_path: Path) -> None:
    assert access.mount_warnings(config(tmp_path)) == []
    warnings = access.mount_warnings(config(tmp_path, NATIVE_SYNC_IMAGE="1"))
    assert warnings == [
        f"{tmp_path / 'host'} is not a mount: add -v /path/to/project:{tmp_path / 'host'}",
        f"{tmp_path / 'app'} is not a mount: add -v app_sync:{tmp_path / 'app'}",
    ]
