"""The cold start of a big tree: a usable volume first, unison's archive after.

With no unison archive in UNISON and an empty ``APP_VOLUME`` (nothing there
that unison would sync), unison's one-shot would copy the tree file by file
and hash it on the way, minutes for a few hundred thousand files.  Instead:

1. **copying**: :mod:`engine.startup.fastcopy` fills ``APP_VOLUME`` from the host
   (ignores, permission bits, links, owner as unison would);
2. **indexing**: the volume is complete and ``health`` passes (``state`` is
   ``indexing``); a catch-up pass carries what changed on either side during
   the copy, and a one-shot unison builds its archive over the two trees.
   unison, with no archive, calls any difference a conflict, so what only
   the app changed meanwhile must not reach it as one: the catch-up writes
   app-only edits back to the host, and what it cannot (a file that became a
   folder, a host file we may not write) goes to unison with
   ``-preferpartial 'Path p -> APP'``.  Where both sides changed, the
   preferred side wins and the loser is kept (``-copyonconflict``), as in
   watch mode.  New files on either side are no conflict.  A file the app
   deleted during the cold start is copied again (the host's stays);
3. watch mode starts (``engine.supervise.run``): anything changed during the indexing
   is in its first scan.

A marker in UNISON (``native-sync.coldstart``) says a cold start is under way
and in which phase, so a start after a stop (SIGTERM is honoured between
files) resumes instead of mistaking the half-filled volume for the user's
content: an interrupted *copying* phase is adopted (the app never had the
volume: what differs is replaced, what the host lacks removed), an
interrupted *indexing* phase keeps what the app did (it had the volume).
"""

from __future__ import annotations

import json
import os
import resource
import threading
import time
from collections.abc import Callable
from enum import StrEnum

import structlog

from engine import lean
from engine.config import Config
from engine.fs import chown
from engine.fs.paths import is_unison_temp
from engine.startup import carry, fastcopy
from engine.startup.carry import path_pattern
from engine.startup.recorder import APP, HOST, Recorder
from engine.state import progress
from engine.unison import launch, reports
from monit import oneshot

MARK = "native-sync.coldstart"  # in UNISON

log = structlog.get_logger("coldstart")

PROGRESS_EVERY = progress.EVERY  # seconds between progress lines (a test seam)

# A test seam: called as hook(phase, files_copied) after every copied file
# ("copying") and once when the indexing is about to start ("indexing").
Hook = Callable[[str, int], None]
HOOK: Hook | None = None


class Phase(StrEnum):
    COPYING = "copying"
    INDEXING = "indexing"


class ColdStartFailed(Exception):
    """The indexing unison failed, or a resumed cold start finds the host empty."""


def pending(cfg: Config) -> Phase | None:
    """The phase of an interrupted cold start, if one is recorded in UNISON."""
    try:
        data = json.loads((cfg.unison_dir / MARK).read_text(encoding="utf-8"))
        return Phase(data["phase"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def wanted(cfg: Config) -> bool:
    """Should this start be a cold start (fresh, or resuming one)?"""
    if pending(cfg) is not None:
        return True
    if launch.has_archive(cfg):
        return False
    matcher = cfg.ignore
    with os.scandir(cfg.unison_dest) as entries:
        return all(matcher.ignored(e.name) or is_unison_temp(e.name) for e in entries)


def _mark(cfg: Config, phase: Phase | None) -> None:
    path = cfg.unison_dir / MARK
    if phase is None:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(f".{MARK}.tmp")
    tmp.write_text(json.dumps({"phase": phase.value}), encoding="utf-8")
    os.replace(tmp, path)


def owner_for(cfg: Config) -> tuple[int, int] | None:
    """The owner the copy gives its files, or None when they are already right (or cannot be)."""
    wanted_ids = cfg.owner
    if wanted_ids == (os.geteuid(), os.getegid()):
        return None
    if os.geteuid() != 0:
        log.warning("ownership.skipped", **chown.skipped_fields(cfg.owner_uid, cfg.group_id))
        return None
    return wanted_ids


def run(
    cfg: Config,
    stop: threading.Event,
    usable: Callable[[], None],
    events: Callable[[list[reports.Event]], None] | None = None,
) -> int:
    """Copy, call ``usable()`` (the volume is complete), index; returns the files copied.

    Raises :class:`fastcopy.Stopped` on a stop.
    """
    started, cpu = time.monotonic(), _thread_cpu()
    resumed = pending(cfg)
    if resumed is not None and not any(os.scandir(cfg.unison_src)):
        raise ColdStartFailed(
            f"{cfg.unison_src} is empty, and a cold start from it was interrupted: is the host "
            f"folder mounted? Nothing was changed. To start over, empty {cfg.unison_dest} and "
            f"remove {cfg.unison_dir / MARK}."
        )
    hook = HOOK
    shown = progress.Progress(cfg.runtime_dir, every=PROGRESS_EVERY)

    def tick(files: int, done_bytes: int) -> None:
        shown.tick(files, done_bytes)
        if hook is not None:
            hook(Phase.COPYING, files)

    owner = owner_for(cfg)
    copier = fastcopy.Copier(cfg.unison_src, cfg.unison_dest, cfg.ignore, stop, owner=owner, progress=tick)
    if resumed != Phase.INDEXING:
        _mark(cfg, Phase.COPYING)
    log.info("coldstart.copy", resumed=resumed)
    shown.count_in_background(cfg.unison_src, cfg.ignore, stop)
    shown.start()
    try:
        copied = copier.run(adopt=resumed == Phase.COPYING)
    except fastcopy.Stopped:
        shown.stop()
        # the volume was not handed out yet (health fails until the copy is complete): edits of
        # files already copied, made all the same, cross; the next start resumes the copy
        carried, complete = fastcopy.carry_back(copier)
        (log.info if complete else log.warning)(
            "coldstart.stopped",
            phase=Phase.COPYING,
            files=copier.count,
            carried=carried,
            all_checked=complete,
            next_start="resumes the copy",
        )
        raise
    except BaseException:
        shown.stop()
        raise
    if resumed != Phase.INDEXING:
        _mark(cfg, Phase.INDEXING)
    log.info(
        "coldstart.usable",
        files=copied.copied,
        bytes=copied.bytes,
        already_there=copied.skipped,
        removed=copied.removed,
        seconds=round(time.monotonic() - started, 3),
        **_cpu_since(cpu),
    )
    # from now on the app may write: what changes is recorded, for a stop (engine/startup/carry.py)
    roots = {HOST: str(cfg.unison_src), APP: str(cfg.unison_dest)}
    recorder = Recorder.watching(roots, copier.dirs, cfg.ignore.ignored)
    usable()
    shown.phase = Phase.INDEXING  # progress lines go on through the catch-up and unison's indexing
    try:
        if hook is not None:
            hook(Phase.INDEXING, copier.count)
        # the catch-up: what changed on each side during the copy, just before unison's scan
        final = copier.run()
        count = copier.count
        # the copier remembers every file (a few hundred bytes each: 70 MB at 100k);
        # drop it before unison indexes, and give the memory back (engine/lean.py)
        del copier
        lean.release()
        app_wins = final.app_changed
        log.info(
            "coldstart.index",
            caught_up=final.copied,
            copied_back=final.copied_back,
            removed=final.removed,
            app_changed=len(app_wins),
            both_changed=len(final.both_changed),
            unknown=len(set(copied.unknown + final.unknown)),
            seconds=round(time.monotonic() - started, 3),
        )
        index(cfg, stop, app_wins, events)
        # unison's first run over a new archive allocates twice what later runs do
        # (400k files: 613 MB against 280 MB), and OCaml keeps its heap: a second,
        # short-lived one-shot (a warm scan, ~4 s at 400k) takes that first run,
        # so the long-lived watch-mode unison starts lean.
        index(cfg, stop, [])
        _mark(cfg, None)
        log.info("coldstart.done", seconds=round(time.monotonic() - started, 3))
        return count
    except fastcopy.Stopped:
        shown.stop()
        log.info("coldstart.stopped", phase=Phase.INDEXING, next_start="resumes the indexing")
        carry.at_stop(cfg, recorder.changes(), events)
        raise
    finally:
        recorder.close()
        shown.stop()


def _thread_cpu() -> tuple[float, float]:
    """This thread's CPU seconds so far: (user, system)."""
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime, usage.ru_stime


def _cpu_since(before: tuple[float, float]) -> dict[str, float]:
    """The copy's CPU (its thread's): in our code (user) and in the kernel's file system calls
    (system), which is where a machine that makes new files dearer as they grow in number shows."""
    user, system = _thread_cpu()
    return {"cpu_user_s": round(user - before[0], 3), "cpu_system_s": round(system - before[1], 3)}


def index(
    cfg: Config,
    stop: threading.Event,
    app_wins: list[str],
    events: Callable[[list[reports.Event]], None] | None = None,
) -> None:
    """unison's one-shot over the two trees (building its archive): stoppable, and
    watched like every one-shot (:func:`oneshot.sync_once`: the watchdog's rules,
    owners, no litter)."""
    extra: list[str] = []
    for rel in app_wins:
        extra += ["-preferpartial", f"{path_pattern(rel)} -> {cfg.unison_dest}"]
    try:
        oneshot.sync_once(cfg, "coldstart.index", events=events, extra_args=extra, stop=stop)
    except oneshot.Interrupted as e:
        raise fastcopy.Stopped("indexing") from e
    except launch.SyncFailed as e:
        raise ColdStartFailed(str(e)) from e
