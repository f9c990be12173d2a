"""unison: its command lines, one-shot runs, its archive folder and locks.

The watch-mode command is exec'd by :mod:`engine.unison_program`; one-shot
runs (the initial sync, ``precopy``, the flush at stop) run here through
:func:`sync_once`, which reads unison's summary line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import psutil
import structlog

from engine import ownership
from engine.config import Config

log = structlog.get_logger("native-sync")

# unison's summary: "(3 items transferred, 0 skipped, 1 failed)"
_TRANSFERRED = re.compile(rb"\((\d+) items? transferred, (\d+) skipped, (\d+) failed\)")


class SyncFailed(Exception):
    """A one-shot unison run failed (unison's exit status 3, or it could not run)."""


# Always on: unattended, conflicts resolved by -prefer with the loser kept,
# unison's log in our logs rather than in a file in UNISON.
BASE_ARGS = ("-batch", "-auto", "-copyonconflict", "-log=false", "-ui", "text")


def ignore_patterns(cfg: Config) -> list[str]:
    """Deprecated alias of ``cfg.ignores`` (kept for one merge cycle)."""
    return list(cfg.ignores)


def sync_args(cfg: Config) -> list[str]:
    """Roots and preferences shared by the one-shot sync and watch mode."""
    args = [str(cfg.unison_src), str(cfg.unison_dest), *BASE_ARGS]
    if not any(a == "-prefer" or a.startswith("-prefer=") for a in cfg.unison_args):
        args += ["-prefer", cfg.prefer_root]
    for pattern in cfg.excludes:
        args += ["-ignore", pattern]
    args += cfg.unison_args
    return args


def once_command(cfg: Config) -> list[str]:
    """A one-shot sync (initial sync, precopy, the flush at stop)."""
    return [cfg.unison_bin, *sync_args(cfg)]


def watch_command(cfg: Config) -> list[str]:
    """unison in watch mode (``UNISON_WATCH_ARGS``, default ``-repeat watch``)."""
    return [cfg.unison_bin, *sync_args(cfg), "-terse", *cfg.unison_watch_args]


def fsmonitor_dir(cfg: Config) -> Path:
    """The folder unison finds our ``unison-fsmonitor`` in.

    Normally SYNC_RUNTIME_DIR/bin, where ``run`` writes one for this very
    interpreter.  A runtime folder mounted noexec (docker's plain
    ``--tmpfs /run``) cannot hold it: then the ``unison-fsmonitor`` on the
    PATH is used (the image ships ours in /usr/local/bin).
    """
    own = cfg.runtime_dir / "bin"
    if os.path.isdir(cfg.runtime_dir) and os.statvfs(cfg.runtime_dir).f_flag & os.ST_NOEXEC:
        found = shutil.which("unison-fsmonitor")
        if found:
            return Path(found).parent
    return own


def environment(cfg: Config) -> dict[str, str]:
    """unison's environment: archives in UNISON, our fsmonitor first on PATH.

    Everything else is passed through from our own environment.
    """
    env = dict(os.environ)
    env["UNISON"] = str(cfg.unison_dir)
    env["PATH"] = f"{fsmonitor_dir(cfg)}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env.setdefault("HOME", str(cfg.unison_dir))
    return env


def has_archive(cfg: Config) -> bool:
    """Does UNISON hold archives (a sync of these roots happened before)?"""
    try:
        return any(p.name.startswith("ar") for p in cfg.unison_dir.iterdir())
    except OSError:
        return False


def lock_files(cfg: Config) -> list[Path]:
    """unison's archive locks (``lk*``) in UNISON."""
    try:
        return sorted(p for p in cfg.unison_dir.iterdir() if p.name.startswith("lk"))
    except OSError:
        return []


def unison_running(cfg: Config) -> bool:
    """Is a unison on these two roots alive (other than this process)?"""
    roots = {str(r) for r in cfg.roots}
    name = os.path.basename(cfg.unison_bin)
    for proc in psutil.process_iter(["name", "cmdline", "pid"]):
        if proc.info["pid"] == os.getpid() or proc.info["name"] != name:
            continue
        if roots <= set(proc.info["cmdline"] or ()):
            return True
    return False


def clear_stale_locks(cfg: Config) -> list[str]:
    """Remove unison's lock files when no unison of these roots runs (docker-sync #452)."""
    locks = lock_files(cfg)
    if not locks or unison_running(cfg):
        return []
    removed = []
    for lock in locks:
        try:
            lock.unlink()
            removed.append(lock.name)
        except FileNotFoundError:
            pass
    if removed:
        log.warning("unison.stale_locks_removed", locks=removed)
    return removed


def _sweep_litter(cfg: Config) -> None:
    """After a one-shot run: unison's abandoned temp files go (one names-only walk of each root)."""
    from engine import litter
    from engine.ignore import IgnoreMatcher

    litter.sweep(cfg.roots, IgnoreMatcher(cfg.ignores).ignored)


def sync_once(cfg: Config, purpose: str, timeout: float | None = None) -> int:
    """One unison pass over both roots; returns the number of items transferred.

    Logs ``<purpose>.done``; raises :class:`SyncFailed` when unison fails,
    cannot run, or takes longer than ``timeout`` seconds.
    """
    started = time.monotonic()
    try:
        done = subprocess.run(
            once_command(cfg),
            env=environment(cfg),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            **ownership.subprocess_ids(cfg.owner_uid, cfg.group_id),
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SyncFailed(f"{purpose}: unison did not run: {e}") from e
    output = done.stdout + done.stderr
    _sweep_litter(cfg)
    match = _TRANSFERRED.search(output)
    items = int(match.group(1)) if match else 0
    if done.returncode >= 3 or (done.returncode and not match):
        tail = output.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise SyncFailed(f"{purpose}: unison exited {done.returncode}: {' | '.join(tail)}")
    log.info(
        f"{purpose}.done",
        items=items,
        failed=int(match.group(3)) if match else 0,
        seconds=round(time.monotonic() - started, 3),
        exit=done.returncode,
    )
    return items
