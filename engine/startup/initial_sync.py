"""The initial sync: APP_VOLUME brought to the host's content, then given its owner.

``run`` does it before watching; ``precopy`` (docker-sync's
``precopy_appsync``) does it alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from engine import exits
from engine.config import Config
from engine.fs import access, chown
from engine.startup import coldstart, fastcopy, probe, runtime, safety
from engine.state import trust
from engine.unison import emptied, launch, reasons, reports, stopmark
from monit import oneshot

OWNER_MARK = "native-sync.owner"  # in UNISON: the owner APP_VOLUME was last given

# What stops a start (one line logged, exits.STARTUP_FAILURE): `run` and `precopy` alike.
START_FAILURES = (
    safety.MassDeletionRefused,
    launch.SyncFailed,
    access.Misconfigured,
    coldstart.ColdStartFailed,
)

log = structlog.get_logger("native-sync")


def initial_sync(
    cfg: Config, stop: threading.Event | None = None, bare_at_start: bool = True
) -> list[reports.Event]:
    """The one-shot initial sync, then ownership of APP_VOLUME.

    Raises :class:`safety.MassDeletionRefused` when unison finds a root emptied
    that its archive knew files in (the mass-deletion guard), unless no root
    was empty when the start looked (``bare_at_start`` False) and the emptied
    one is still the folder it was then: emptied in place since, a deletion
    like any other (engine/unison/emptied.py), and the pass runs again with it.

    The ownership walk runs when the owner is not known to be right already:
    on a cold start (no archive) or after OWNER_UID/GROUP_ID changed.
    Returns what unison reported about single paths (failed, skipped,
    transferred); raises :class:`unison.SyncFailed`, or
    :class:`oneshot.Interrupted` when ``stop`` is set meanwhile (unison is
    killed: the flush at stop runs the same pass, with the changes made since).
    """
    reported: list[reports.Event] = []
    started = time.monotonic()
    cold = not launch.has_archive(cfg)
    said_start(cfg, cold=cold)
    try:
        items = oneshot.sync_once(cfg, "initial_sync.unison", events=reported.extend, stop=stop)
    except launch.RootEmptied as e:  # the mass-deletion guard: unison changed nothing
        confirm = emptied.unison_args(cfg)
        if bare_at_start or not confirm:
            raise safety.refused(cfg) from e
        log.info("initial_sync.emptied_in_place", hint="a root was emptied since the start: carried")
        items = oneshot.sync_once(
            cfg, "initial_sync.unison", events=reported.extend, extra_args=confirm, stop=stop
        )
    owner_file = cfg.unison_dir / OWNER_MARK
    files = 0
    if cold or _read(owner_file) != _owner_mark(cfg):
        files = chown.chown_tree(cfg.unison_dest, *cfg.owner)
        record_owner(cfg)
    log.info(
        "initial_sync.done",
        items=items,
        owner_checked=files,
        seconds=round(time.monotonic() - started, 3),
    )
    return reported


def said_start(cfg: Config, **how: bool) -> None:
    """``initial_sync.start`` with the two roots, and how this start syncs."""
    log.info("initial_sync.start", src=str(cfg.unison_src), dest=str(cfg.unison_dest), **how)


def record_owner(cfg: Config) -> None:
    """Note in UNISON the owner APP_VOLUME has now (the next start skips the walk)."""
    try:
        (cfg.unison_dir / OWNER_MARK).write_text(_owner_mark(cfg), encoding="utf-8")
    except OSError as e:
        log.warning("initial_sync.owner_not_recorded", error=str(e))


def cold_start(cfg: Config, stop: threading.Event, usable: Callable[[], None]) -> list[reports.Event]:
    """Issue 13: a fast copy makes the volume usable, then unison indexes (engine/startup/coldstart.py).

    The copy gives every entry its owner, so no ownership walk follows.
    Returns what unison's indexing run reported about single paths (a file
    neither the copy nor unison could read, say).
    """
    reported: list[reports.Event] = []
    started = time.monotonic()
    said_start(cfg, cold=True, fast_copy=True)
    files = coldstart.run(cfg, stop, usable, reported.extend)
    record_owner(cfg)
    log.info(
        "initial_sync.done",
        items=files,
        owner_checked=files,  # the copy gave each entry its owner as it went
        seconds=round(time.monotonic() - started, 3),
        fast_copy=True,
    )
    return reported


def record_roots(cfg: Config) -> bool:
    """Save which folder each root is now (:func:`emptied.record`); is a root empty now?"""
    emptied.record(cfg)
    return emptied.emptied(cfg) is not None


def left_to_watch_mode(cfg: Config, bare_at_start: bool) -> bool:
    """May this warm start leave its initial sync to watch mode's first cycle (issue 24)?

    A one-shot loads both archives and checks every file; watch-mode unison
    started after it loads them again (a second or two at 400k files).  When
    nothing asks for the one-shot itself, watch mode's first cycle is the
    initial sync: one load, one full scan (stock, no archive trusted), and
    ``watching`` waits for it to end.  The one-shot stays when a root is
    empty now (the mass-deletion guard is its question) or the owner of
    APP_VOLUME must be walked (OWNER_UID/GROUP_ID changed).
    """
    return (
        not bare_at_start
        and launch.has_archive(cfg)
        and _read(cfg.unison_dir / OWNER_MARK) == _owner_mark(cfg)
    )


@dataclass(frozen=True)
class Steps:
    """What :func:`bring_up` runs, in its order; tests give stand-ins (STYLE 9)."""

    check_access: Callable[[Config], None] = access.check
    record_roots: Callable[[Config], bool] = record_roots
    probe_roots: Callable[[Config], object] = probe.probe_roots
    cold_wanted: Callable[[Config], bool] = coldstart.wanted
    cold_start: Callable[[Config, threading.Event, Callable[[], None]], list[reports.Event]] = cold_start
    one_shot: Callable[[Config, threading.Event | None, bool], list[reports.Event]] = initial_sync
    watch_syncs: Callable[[Config, bool], bool] = left_to_watch_mode
    since_stop: Callable[[Config], tuple[float, list[str]] | None] = stopmark.changed_since_stop


STEPS = Steps()


def bring_up(
    cfg: Config,
    stop: threading.Event,
    usable: Callable[[], None],
    checked: Callable[[], None] = lambda: None,
    synced: Callable[[], None] = lambda: None,
    steps: Steps = STEPS,
    deferred: Callable[[], None] | None = None,
) -> list[reports.Event]:
    """The start-up sequence of ``run`` and ``precopy``, after :func:`runtime.prepare`.

    Preflight, then (``checked``) the initial sync: a cold start's fast copy
    when it is wanted (``usable`` once the copy is complete), else unison's
    one-shot run with the mass-deletion guard (``synced`` once it is done).
    Given ``deferred`` (``run``; not ``precopy``, which must sync itself), a
    warm start that :func:`left_to_watch_mode` allows runs no one-shot:
    ``deferred`` is called, and watch mode's first cycle is the initial sync.
    Which folder each root is now is saved first (:func:`emptied.record`):
    what a root emptied later while running is compared with.
    Raises one of START_FAILURES, :class:`fastcopy.Stopped` when ``stop``
    is set during a cold start (what changed during its indexing is carried
    first: engine/startup/carry.py), or :class:`oneshot.Interrupted` when it
    is set during unison's one-shot.
    """
    steps.check_access(cfg)
    bare_at_start = steps.record_roots(cfg)  # the guard's question is asked of this moment
    steps.probe_roots(cfg)  # case and normalization (engine/fs/casefold.py): unison's arguments follow
    checked()
    if steps.cold_wanted(cfg):
        stopmark.discard(cfg)
        return steps.cold_start(cfg, stop, usable)
    if deferred is not None and steps.watch_syncs(cfg, bare_at_start):
        trust.TrustedArchive.take(cfg.runtime_dir)  # an earlier run's: its archive may be older
        since_stop = steps.since_stop(cfg)  # the last stop's signatures: what changed since
        if since_stop is not None:  # watch mode trusts the archive and scans only what changed
            trust.TrustedArchive(since_stop[0], tuple(since_stop[1])).save(cfg.runtime_dir)
        said_start(cfg, cold=False, in_watch_mode=True, since_stop=since_stop is not None)
        deferred()
        return []
    stopmark.discard(cfg)  # this start changes the archive: the last stop's signatures speak for no other
    reported = steps.one_shot(cfg, stop, bare_at_start)
    synced()
    return reported


def _owner_mark(cfg: Config) -> str:
    uid, gid = cfg.owner
    return f"{uid}:{gid} {cfg.unison_dest}"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def precopy(cfg: Config, steps: Steps = STEPS) -> int:
    """docker-sync's ``precopy_appsync``: the initial sync alone (``steps``: :func:`bring_up`'s).
    Returns the exit status."""
    for warning in access.mount_warnings(cfg):
        log.warning("mount.missing", warning=warning)
    try:
        runtime.prepare(cfg)
        reported = bring_up(cfg, threading.Event(), lambda: None, steps=steps)
    except (*START_FAILURES, fastcopy.Stopped) as e:
        log.error("precopy.failed", error=str(e))
        return exits.STARTUP_FAILURE
    failed = [e for e in reported if isinstance(e, reports.Report) and not reasons.special(e.reason)]
    for report in failed:
        log.error("problem", path=report.path, side=report.side, reason=report.reason)
    if failed:
        log.error("precopy.incomplete", paths=sorted({r.path for r in failed}))
        return exits.SYNC_INCOMPLETE
    return exits.OK
