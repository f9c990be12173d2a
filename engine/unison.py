"""unison: its command lines, one-shot runs, its archive folder and locks.

The watch-mode command is exec'd by :mod:`engine.unison_program`; one-shot
runs (the initial sync, ``precopy``, the flush at stop) run here through
:func:`sync_once`, which reads unison's summary line.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil
import structlog

from engine import owners, problems
from engine.config import Config
from monit.sampler import TreeCpu
from monit.watchdog import Sample, Watchdog

log = structlog.get_logger("native-sync")

STOP_POLL = 0.05  # how often a stoppable one-shot looks at its stop event

# unison's summary: "(3 items transferred, 0 skipped, 1 failed)"
_TRANSFERRED = re.compile(rb"\((\d+) items? transferred, (\d+) skipped, (\d+) failed\)")


class SyncFailed(Exception):
    """A one-shot unison run failed (unison's exit status 3, or it could not run)."""


# Always on: unattended, conflicts resolved by -prefer with the loser kept,
# unison's log in our logs rather than in a file in UNISON.
BASE_ARGS = ("-batch", "-auto", "-copyonconflict", "-log=false", "-ui", "text")


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


# OCaml's runtime for one-shot unison (issue 13): a 32 MB minor heap (s=4M
# words) and a lazier major GC (o=200).  With the defaults, a scan of a big
# tree without an archive goes superlinear in the GC: a one-shot over two
# identical trees on tmpfs took 39.6 s at 200k files, 14.0 s with these
# (100k: 13.6-15.0 s against 7.1-7.9 s).  It costs ~30 MB of RSS while it
# runs, and gains nothing on a warm scan, so watch mode keeps the defaults.
# An OCAMLRUNPARAM in our own environment wins.
ONE_SHOT_OCAMLRUNPARAM = "s=4M,o=200"


def one_shot_environment(cfg: Config) -> dict[str, str]:
    """:func:`environment` for a one-shot unison (initial sync, indexing, flush): GC tuned."""
    env = environment(cfg)
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
    from engine import litter
    from engine.ignore import IgnoreMatcher

    litter.sweep(cfg.roots, IgnoreMatcher(cfg.ignores).ignored)


class Interrupted(Exception):
    """A one-shot run was stopped by its ``stop`` event (SIGTERM): unison was killed."""


def sync_once(
    cfg: Config,
    purpose: str,
    timeout: float | None = None,
    events: Callable[[list[problems.Event]], None] | None = None,
    extra_args: Sequence[str] = (),
    stop: threading.Event | None = None,
) -> int:
    """One unison pass over both roots; returns the number of items transferred.

    Logs ``<purpose>.done``; raises :class:`SyncFailed` when unison fails,
    cannot run, or takes longer than ``timeout`` seconds.  What unison failed,
    skipped or transferred goes to ``events`` (:mod:`engine.problems`).  With
    the watchdog on, a unison that burns CPU is restarted by its rules
    (docker-sync #497).  ``extra_args`` go after the usual ones; a set
    ``stop`` kills unison and raises :class:`Interrupted`.
    """
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    dog = Watchdog.for_config(cfg, stall_after=math.inf)  # a one-shot reports no pending changes
    while True:
        output, returncode = _run_watched(
            cfg, purpose, deadline, dog, [*once_command(cfg), *extra_args], stop
        )
        if returncode is not None:
            break
        dog.restarted(time.monotonic())
    sweep_litter(cfg)
    text = output.decode("utf-8", "replace")
    owners.after_one_shot(cfg, output.decode("utf-8", "surrogateescape"))  # what it copied gets its owner
    reader = problems.Reader((str(cfg.unison_src), str(cfg.unison_dest)))
    reported = problems.merge(reader.feed_all(text))
    if events is not None:
        events(reported)
    match = _TRANSFERRED.search(output)
    items = int(match.group(1)) if match else 0
    if returncode >= 3 or (returncode and not match):
        tail = text.strip().splitlines()[-5:]
        raise SyncFailed(f"{purpose}: unison exited {returncode}: {' | '.join(tail)}")
    failed = sorted({e.path for e in reported if isinstance(e, problems.Report)})
    (log.warning if failed else log.info)(
        f"{purpose}.done",
        items=items,
        failed=int(match.group(3)) if match else 0,
        skipped=int(match.group(2)) if match else 0,
        paths=failed[:20],
        seconds=round(time.monotonic() - started, 3),
        exit=returncode,
    )
    return items


def _run_watched(
    cfg: Config,
    purpose: str,
    deadline: float | None,
    dog: Watchdog,
    command: list[str],
    stop: threading.Event | None,
) -> tuple[bytes, int | None]:
    """One one-shot unison: (stdout + stderr, exit status), or (b"", None) after a restart for CPU."""
    try:
        proc = subprocess.Popen(
            command,
            env=one_shot_environment(cfg),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # killed with its whole group on a restart
        )
    except OSError as e:
        raise SyncFailed(f"{purpose}: unison did not run: {e}") from e
    cpu = TreeCpu()
    cpu.measure(proc.pid)
    next_sample = time.monotonic() + cfg.monit_interval
    while True:
        waits = [STOP_POLL] if stop is not None else []
        if cfg.monit_enable:
            waits.append(max(0.0, next_sample - time.monotonic()))
        if deadline is not None:
            waits.append(max(0.0, deadline - time.monotonic()))
        try:
            out, err = proc.communicate(timeout=min(waits) if waits else None)
            # stderr first: its [BGN] lines tell the side of stdout's `Failed [path]` lines
            return err + b"\n" + out, proc.returncode
        except subprocess.TimeoutExpired:
            pass
        if stop is not None and stop.is_set():
            _kill(proc)
            raise Interrupted(f"{purpose}: stopped")
        if deadline is not None and time.monotonic() >= deadline:
            _kill(proc)
            raise SyncFailed(f"{purpose}: unison did not finish in time (killed)")
        if not cfg.monit_enable or time.monotonic() < next_sample:
            continue
        next_sample = time.monotonic() + cfg.monit_interval
        verdict = dog.step(time.monotonic(), Sample(cpu=cpu.measure(proc.pid)))
        if verdict is not None:
            log.warning(
                "unison.restarted",
                reason=verdict.reason,
                during=purpose,
                samples=[round(x, 1) for x in verdict.samples],
                pid=proc.pid,
            )
            _kill(proc)
            clear_stale_locks(cfg)
            return b"", None


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()
