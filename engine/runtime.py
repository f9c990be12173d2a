"""The runtime folder and the kernel knobs ``run`` and ``precopy`` prepare first."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import structlog

from engine import ownership, status, supervisord, unison
from engine.config import Config

log = structlog.get_logger("native-sync")


def prepare(cfg: Config) -> None:
    """Runtime folders, the fsmonitor executable, UNISON, owned where they must be.

    Files a previous run left in SYNC_RUNTIME_DIR that would mislead
    ``status`` are removed.
    """
    for folder in (cfg.runtime_dir, cfg.runtime_dir / "bin", cfg.runtime_dir / status.FSMONITOR_DIR):
        folder.mkdir(parents=True, exist_ok=True)
    if cfg.runtime_dir.stat().st_uid == os.geteuid():  # the image's is 1777 for `--user` runs
        os.chmod(cfg.runtime_dir, 0o755)
    wrapper = cfg.runtime_dir / "bin" / "unison-fsmonitor"
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(supervisord.CODE_DIR)!r})\n"
        "from engine.fsmonitor import main\n"
        "sys.exit(main())\n",
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    used = unison.fsmonitor_dir(cfg)
    if used != wrapper.parent:
        log.info("fsmonitor.from_path", reason=f"{cfg.runtime_dir} is mounted noexec", using=str(used))
    cfg.unison_dir.mkdir(parents=True, exist_ok=True)
    if ownership.privileged():  # APP_VOLUME's root is the owner's too (unison runs as root)
        os.lchown(cfg.unison_dest, cfg.owner_uid, cfg.group_id)
    for stale in (status.FSMONITOR_FILE, status.UNISON_FILE, status.RESTART_REASON_FILE, status.HEALTHY_FILE):
        (cfg.runtime_dir / stale).unlink(missing_ok=True)


def set_inotify_limit(cfg: Config) -> None:
    """Raise ``fs.inotify.max_user_watches`` to MAX_INOTIFY_WATCHES if allowed."""
    if cfg.max_inotify_watches is None:
        return
    knob = Path("/proc/sys/fs/inotify/max_user_watches")
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
