"""engine/startup/runtime.py: the runtime folder ``run`` and ``precopy`` prepare first, and the inotify limit.

The limit is written to a file of the test's own (the kernel's knob is the
machine's, shared by every test run on it).
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from engine.fs import access
from engine.startup import runtime
from engine.state import shared
from engine.unison import transcript
from tests.helpers import folders_config

STALE = (
    shared.FSMONITOR_FILE,
    shared.UNISON_FILE,
    shared.RESTART_REASON_FILE,
    shared.HEALTHY_FILE,
    shared.PROBLEMS_FILE,
    transcript.FILE,
    transcript.FILE + ".1",
)


def test_the_folders_and_the_fsmonitor_are_made(tmp_path: Path) -> None:
    cfg = folders_config(tmp_path, SYNC_RUNTIME_DIR=str(tmp_path / "new" / "run"), UNISON=str(tmp_path / "u"))
    runtime.prepare(cfg)
    assert (cfg.runtime_dir / shared.FSMONITOR_DIR).is_dir()
    assert cfg.unison_dir.is_dir()
    assert stat.S_IMODE(cfg.runtime_dir.stat().st_mode) == 0o755
    wrapper = cfg.runtime_dir / "bin" / "unison-fsmonitor"
    assert stat.S_IMODE(wrapper.stat().st_mode) == 0o755
    # it runs our fsmonitor with this interpreter: asked for its version, it answers as unison expects
    done = subprocess.run([wrapper], input="VERSION 1\n", capture_output=True, text=True, timeout=30)
    assert done.stdout.splitlines()[0] == "VERSION 1"


def test_what_a_previous_run_left_that_would_mislead_status_is_removed(tmp_path: Path) -> None:
    cfg = folders_config(tmp_path)
    (cfg.runtime_dir / shared.FSMONITOR_DIR).mkdir()
    for name in (*STALE, shared.ROOTS_FILE, "other"):
        (cfg.runtime_dir / name).write_text("old")
    runtime.prepare(cfg)
    assert not [name for name in STALE if (cfg.runtime_dir / name).exists()]
    assert (cfg.runtime_dir / shared.ROOTS_FILE).read_text() == "old"  # the probe writes it again
    assert (cfg.runtime_dir / "other").read_text() == "old"


def test_a_second_prepare_changes_nothing(tmp_path: Path) -> None:
    cfg = folders_config(tmp_path)
    runtime.prepare(cfg)
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    runtime.prepare(cfg)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


@pytest.mark.skipif(os.geteuid() != 0, reason="giving an owner needs root")
def test_as_root_the_apps_root_is_given_the_owner(tmp_path: Path) -> None:
    cfg = folders_config(tmp_path, OWNER_UID="1234", GROUP_ID="5678")
    (cfg.unison_dest / "inside").write_text("not walked here")
    runtime.prepare(cfg)
    assert (cfg.unison_dest.stat().st_uid, cfg.unison_dest.stat().st_gid) == (1234, 5678)
    assert (cfg.unison_dest / "inside").stat().st_uid == 0  # the initial sync gives the rest


def test_a_runtime_folder_that_cannot_be_made_is_one_line_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    cfg = folders_config(tmp_path, SYNC_RUNTIME_DIR=str(tmp_path / "file" / "run"))
    with pytest.raises(access.Misconfigured) as e:
        runtime.prepare(cfg)
    message = str(e.value)
    assert message.startswith(f"{tmp_path / 'file' / 'run'}: Not a directory")
    assert "point SYNC_RUNTIME_DIR and UNISON at" in message and "\n" not in message


def test_the_fix_said_fits_who_is_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = folders_config(tmp_path, SYNC_RUNTIME_DIR="/run/native-sync", UNISON="/unison")
    denied = OSError(errno.EACCES, "Permission denied", "/run/native-sync")
    read_only = OSError(errno.EROFS, "Read-only file system", "/run/native-sync")
    said = runtime._unwritable(cfg, read_only)
    assert said.startswith(
        "/run/native-sync: Read-only file system: the container's file system is read-only"
    )
    assert "--tmpfs /run --tmpfs /tmp -v native-sync-unison:/unison" in said
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert "for root: point SYNC_RUNTIME_DIR and UNISON at folders root can write" in runtime._unwritable(
        cfg, denied
    )
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(os, "getegid", lambda: 1000)
    said = runtime._unwritable(cfg, denied)
    assert said.startswith(
        "/run/native-sync: Permission denied for user 1000:1000: run the container as root"
    )
    assert "-e SYNC_RUNTIME_DIR=/tmp/native-sync -e UNISON=/tmp/unison" in said


def test_in_the_image_the_public_log_is_a_link_to_the_bounded_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    public = tmp_path / "unison.log"
    public.write_text("an older run's log")
    monkeypatch.setattr(transcript, "PUBLIC", public)
    runtime.prepare(folders_config(tmp_path))
    assert public.read_text() == "an older run's log"  # outside the image: not ours to touch
    cfg = folders_config(tmp_path, NATIVE_SYNC_IMAGE="1")
    runtime.prepare(cfg)
    assert public.is_symlink() and os.readlink(public) == str(cfg.runtime_dir / transcript.FILE)


# --- the inotify limit -------------------------------------------------------------------


def knob(tmp_path: Path, value: str) -> Path:
    path = tmp_path / "max_user_watches"
    path.write_text(value)
    return path


def test_the_limit_is_raised_to_what_is_asked(tmp_path: Path) -> None:
    path = knob(tmp_path, "8192\n")
    with capture_logs() as logs:
        runtime.set_inotify_limit(folders_config(tmp_path, MAX_INOTIFY_WATCHES="524288"), path)
    assert path.read_text() == "524288"
    assert logs == [{"event": "inotify.limit_raised", "before": 8192, "after": 524288, "log_level": "info"}]


@pytest.mark.parametrize("asked", ["8192", "100"])
def test_a_limit_as_high_already_is_left(tmp_path: Path, asked: str) -> None:
    path = knob(tmp_path, "8192\n")
    with capture_logs() as logs:
        runtime.set_inotify_limit(folders_config(tmp_path, MAX_INOTIFY_WATCHES=asked), path)
    assert path.read_text() == "8192\n" and logs == []


def test_no_limit_asked_reads_nothing(tmp_path: Path) -> None:
    with capture_logs() as logs:
        runtime.set_inotify_limit(folders_config(tmp_path), tmp_path / "no such knob")
    assert logs == []


@pytest.mark.parametrize("what", ["missing", "garbage"])
def test_a_limit_that_cannot_be_set_is_a_warning_with_the_hint(tmp_path: Path, what: str) -> None:
    path = knob(tmp_path, "lots") if what == "garbage" else tmp_path / "missing"
    with capture_logs() as logs:
        runtime.set_inotify_limit(folders_config(tmp_path, MAX_INOTIFY_WATCHES="524288"), path)
    assert [(e["event"], e["wanted"], e["log_level"]) for e in logs] == [
        ("inotify.limit_unchanged", 524288, "warning")
    ]
    assert "privileged container" in logs[0]["hint"]


def test_our_runtime_folder_is_ours_alone_one_made_for_anyone_stays_so(tmp_path: Path) -> None:
    cfg = folders_config(tmp_path)
    cfg.runtime_dir.chmod(0o1777)
    runtime.prepare(cfg)
    assert stat.S_IMODE(cfg.runtime_dir.stat().st_mode) == 0o755
    if os.geteuid() == 0:  # the image's, made 1777 by root for `--user` runs
        cfg.runtime_dir.chmod(0o1777)
        os.chown(cfg.runtime_dir, 1234, 1234)
        runtime.prepare(cfg)
        assert stat.S_IMODE(cfg.runtime_dir.stat().st_mode) == 0o1777
