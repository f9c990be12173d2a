"""The runtime folder and the kernel knobs ``run`` and ``precopy`` prepare first."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import structlog

from engine import supervisord
from engine.config import Config
from engine.fs import access, chown
from engine.state import shared
from engine.unison import launch, transcript

log = structlog.get_logger("native-sync")

INOTIFY_WATCHES = Path("/proc/sys/fs/inotify/max_user_watches")


def prepare(cfg: Config) -> None:
    """Runtime folders, the fsmonitor executable, UNISON, owned where they must be.

    Files a previous run left in SYNC_RUNTIME_DIR that would mislead
    ``status`` are removed.  A folder this user cannot write raises
    :class:`preflight.Misconfigured` (one line: which, and how to run).
    """
    try:
        _prepare(cfg)
    except OSError as e:
        raise access.Misconfigured(_unwritable(cfg, e)) from e
    if cfg.in_image:
        _link_public_log(cfg)


def _unwritable(cfg: Config, e: OSError) -> str:
    """The one line for a runtime or UNISON folder this process cannot write, with the fix that works."""
    where = f"{e.filename or cfg.runtime_dir}: {e.strerror}"
    if e.errno == errno.EROFS:  # docker run --read-only: root cannot help, and /tmp is read-only too
        return (
            f"{where}: the container's file system is read-only (docker run --read-only): give native-sync "
            f"writable folders with --tmpfs {cfg.runtime_dir.parent} --tmpfs /tmp "
            f"-v native-sync-unison:{cfg.unison_dir} (or point SYNC_RUNTIME_DIR and UNISON at mounts)"
        )
    who = f"{os.geteuid()}:{os.getegid()}"
    if os.geteuid() == 0:  # root denied: a host mount that squashes root, or an ACL
        return (
            f"{where} for root: point SYNC_RUNTIME_DIR and UNISON at folders root can write "
            f"(a --tmpfs or a volume), or give root access to them"
        )
    return (
        f"{where} for user {who}: run the container as root "
        f"(OWNER_UID/GROUP_ID set the owner of the files), or point SYNC_RUNTIME_DIR and UNISON at "
        f"folders {who} can write (e.g. -e SYNC_RUNTIME_DIR=/tmp/native-sync -e UNISON=/tmp/unison)"
    )


def _link_public_log(cfg: Config) -> None:
    """``/tmp/unison.log`` (docker-sync's log view tails it): a symlink to the bounded file."""
    target = cfg.runtime_dir / transcript.FILE
    try:
        transcript.PUBLIC.unlink(missing_ok=True)
        transcript.PUBLIC.symlink_to(target)
    except OSError as e:
        log.warning("unison_log.unlinked", path=str(transcript.PUBLIC), target=str(target), error=str(e))


def _prepare(cfg: Config) -> None:
    for folder in (cfg.runtime_dir, cfg.runtime_dir / "bin", cfg.runtime_dir / shared.FSMONITOR_DIR):
        folder.mkdir(parents=True, exist_ok=True)
    if cfg.runtime_dir.stat().st_uid == os.geteuid():  # the image's is 1777 for `--user` runs
        os.chmod(cfg.runtime_dir, 0o755)
    wrapper = cfg.runtime_dir / "bin" / "unison-fsmonitor"
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(supervisord.CODE_DIR)!r})\n"
        "from engine.fsmonitor.main import main\n"
        "sys.exit(main())\n",
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    used = launch.fsmonitor_dir(cfg)
    if used != wrapper.parent:
        log.info("fsmonitor.from_path", reason=f"{cfg.runtime_dir} is mounted noexec", using=str(used))
    cfg.unison_dir.mkdir(parents=True, exist_ok=True)
    if chown.privileged():  # APP_VOLUME's root is the owner's too (unison runs as root)
        st = os.lstat(cfg.unison_dest)
        if (st.st_uid, st.st_gid) != tuple(cfg.owner):  # not again: a new ctime is a new stamp that
            os.lchown(cfg.unison_dest, *cfg.owner)  # unison's first cycle writes into both archives
    for stale in (
        shared.FSMONITOR_FILE,
        shared.UNISON_FILE,
        shared.RESTART_REASON_FILE,
        shared.HEALTHY_FILE,
        shared.PROBLEMS_FILE,
        transcript.FILE,
        transcript.FILE + ".1",
    ):
        (cfg.runtime_dir / stale).unlink(missing_ok=True)


def set_inotify_limit(cfg: Config, knob: Path = INOTIFY_WATCHES) -> None:
    """Raise ``fs.inotify.max_user_watches`` (the file ``knob``) to MAX_INOTIFY_WATCHES if allowed."""
    if cfg.max_inotify_watches is None:
        return
    try:
        current = int(knob.read_text())
        if current >= cfg.max_inotify_watches:
            return
        knob.write_text(str(cfg.max_inotify_watches))
        log.info("inotify.limit_raised", before=current, after=cfg.max_inotify_watches)
    except (OSError, ValueError) as e:
        log.warning(
            "inotify.limit_unchanged",
            wanted=cfg.max_inotify_watches,
            error=str(e),
            hint="MAX_INOTIFY_WATCHES needs a privileged container (or set it on the host)",
        )
