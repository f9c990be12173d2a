"""unison: its command lines, environment, archive folder and locks.

The watch-mode command is exec'd by :mod:`engine.supervise.unison_program`; one-shot
runs (the initial sync, ``precopy``, the flush at stop) are
:mod:`monit.oneshot`'s.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import psutil
import structlog

from engine.config import BUILTIN_IGNORES, Config
from engine.fs import owners
from engine.state import shared

log = structlog.get_logger("native-sync")


class SyncFailed(Exception):
    """A one-shot unison run failed (unison's exit status 3, or it could not run)."""


class RootEmptied(SyncFailed):
    """unison's ``confirmbigdel`` stopped a one-shot: one root emptied since its archive, the
    other not (engine/startup/safety.py, engine/unison/emptied.py)."""


# Always on: unattended, conflicts resolved by -prefer with the loser kept,
# unison's log in our logs rather than in a file in UNISON.
BASE_ARGS = ("-batch", "-auto", "-copyonconflict", "-log=false", "-ui", "text")


def sync_args(cfg: Config) -> list[str]:
    """Roots and preferences shared by the one-shot sync and watch mode."""
    args = [str(cfg.unison_src), str(cfg.unison_dest), *BASE_ARGS]
    if not any(a == "-prefer" or a.startswith("-prefer=") for a in cfg.unison_args):
        args += ["-prefer", cfg.prefer_root]
    for pattern in (*cfg.excludes, *BUILTIN_IGNORES):
        args += ["-ignore", pattern]
    args += folding_args(shared.Roots.load(cfg.runtime_dir), cfg.unison_args)
    args += cfg.unison_args
    return args


def _given(args: Sequence[str], name: str) -> bool:
    return any(a == name or a.startswith(name + "=") for a in args)


def folding_args(roots: shared.Roots, given: Sequence[str]) -> list[str]:
    """What the roots' probe (engine/fs/casefold.py) asks of unison; never what UNISON_ARGS sets.

    A root that folds case or normalization: ``-ignorecase true`` (unison
    decides by the OS otherwise: Linux, sensitive), so names that root cannot
    hold apart are one name to unison: a clash on the app side is refused
    (skipped), never written over the host's file.  A host that keeps no
    permission bits (exFAT): ``-perms 0``, or every file would cross as 0777
    and every chmod on the app side would be a change that never lands.
    """
    args = []
    if (roots.host.insensitive or roots.app.insensitive) and not _given(given, "-ignorecase"):
        args += ["-ignorecase", "true"]
    if roots.host.permissions is False and not _given(given, "-perms"):
        args += ["-perms", "0"]
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
    """unison's environment: archives in UNISON, our fsmonitor first on PATH, our patches' settings
    (the pause after a sync, the fingerprint cache, the archive journal, who owns what it creates).

    Everything else is passed through from our own environment.
    """
    env = dict(os.environ)
    env["UNISON"] = str(cfg.unison_dir)
    env["PATH"] = f"{fsmonitor_dir(cfg)}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env.setdefault("HOME", str(cfg.unison_dir))
    env["UNISON_WATCH_INTERVAL"] = f"{cfg.watch_interval:g}"  # our patch 0001: the pause after a sync
    env["UNISON_FPCACHE"] = "full-scans"  # patch 0003: an edit does not read the whole fingerprint cache
    env.pop("UNISON_ARCHIVE_JOURNAL", None)  # patch 0004: an edit does not rewrite both archives
    if cfg.archive_journal is not None:
        env["UNISON_ARCHIVE_JOURNAL"] = f"{cfg.archive_journal:g}"
    env.pop("UNISON_WATCH_TRUST_ARCHIVE", None)  # patch 0006: only :func:`trusting` sets it
    env.pop("NATIVE_SYNC_TRUSTED_SINCE", None)
    env.pop("UNISON_OWNERS", None)
    rules = owners.unison_owners(cfg)
    if rules is not None:
        env["UNISON_OWNERS"] = rules  # our patch 0005: what it creates is its owner's from birth
    return env


def trusting(env: dict[str, str], since: float) -> dict[str, str]:
    """``env`` for a watch-mode unison that starts from the archive a one-shot just committed.

    Our patch 0006 (``UNISON_WATCH_TRUST_ARCHIVE=1``): its first update
    detection hands the archive's folders to the fsmonitor and scans nothing.
    What changed after the one-shot began and before the watches were up is
    the fsmonitor's to find (``NATIVE_SYNC_TRUSTED_SINCE``, time.time(): the
    verifier's first pass, :mod:`engine.fsmonitor.walker`).
    """
    return {**env, "UNISON_WATCH_TRUST_ARCHIVE": "1", "NATIVE_SYNC_TRUSTED_SINCE": repr(since)}


# OCaml's runtime for a one-shot unison without archives (issue 13): a 32 MB
# minor heap (s=4M words) and a lazier major GC (o=200).  With the defaults, a
# scan of a big tree without an archive goes superlinear in the GC: a one-shot
# over two identical trees on tmpfs took 39.6 s at 200k files, 14.0 s with
# these (100k: 13.6-15.0 s against 7.1-7.9 s).  It costs ~30 MB of RSS while it
# runs.  A warm one-shot (archives in UNISON: a warm start, the flush at stop)
# keeps OCaml's defaults: it loads the archives and checks every file against
# them, and there the big minor heap costs (issue 24: 400k files, the user and
# system CPU of a warm one-shot at load 18, the least of three runs: 3.74 s with
# these, 3.13-3.22 s with the default 256k-word minor heap).  Watch mode keeps
# the defaults too.  An OCAMLRUNPARAM in our own environment wins.
ONE_SHOT_OCAMLRUNPARAM = "s=4M,o=200"


def one_shot_environment(cfg: Config) -> dict[str, str]:
    """:func:`environment` for a one-shot unison (initial sync, indexing, flush): the GC tuned when
    there is no archive yet."""
    env = environment(cfg)
    if not has_archive(cfg):
        env.setdefault("OCAMLRUNPARAM", ONE_SHOT_OCAMLRUNPARAM)
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


def sweep_litter(cfg: Config) -> None:
    """After a one-shot run: unison's abandoned temp files go (one names-only walk of each root)."""
    from engine.unison import litter

    litter.sweep(cfg.roots, cfg.ignore.ignored)
