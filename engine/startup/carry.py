"""A stop during a cold start's indexing: what changed meanwhile crosses before ``run`` exits.

The indexing unison is killed at the stop (its archive is not written; the
next start resumes the indexing), and a full one-shot would be another
indexing run, far longer than docker stop's 10 s.  The
:class:`~engine.startup.recorder.Recorder` knows what changed since the volume
was handed out, and on which side, so a one-shot over those paths alone
(``-path``) carries them, in milliseconds:

- a path changed on one side only is that side's (``-forcepartial``): the
  other side's version is the copy's, which nobody changed, so no conflict
  copy is kept (``-copyonconflict=false``);
- a path changed on both sides is a conflict, settled as in watch mode (the
  preferred side wins, the loser is kept).

Its archive is a throwaway (a folder in UNISON, removed after), so the
resumed indexing starts as it would have.  What cannot be carried (too many
changes for inotify's queue, no watches left, unison failing or out of time)
is said in the log; the next start's resumed cold start carries it.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import structlog

from engine.config import Config
from engine.deadline import Deadline
from engine.startup.recorder import APP, HOST, Changes
from engine.unison import launch, reports
from monit import oneshot

log = structlog.get_logger("native-sync")

TIMEOUT = 6.0  # of docker stop's 10 s, as the flush at stop in watch mode (engine/supervise/stop.py)
MOST_PATHS = 5000  # on one command line

_GLOB_SPECIAL = re.compile(r"([*?\[\]{}\\,])")


def path_pattern(rel: str) -> str:
    """unison's ``Path`` pattern that matches exactly ``rel``."""
    return "Path " + _GLOB_SPECIAL.sub(r"\\\1", rel)


def at_stop(
    cfg: Config,
    changes: Changes,
    events: Callable[[list[reports.Event]], None] | None = None,
    timeout: float = TIMEOUT,
) -> bool:
    """Carry ``changes`` across; True when everything recorded crossed (and nothing was lost)."""
    roots = {HOST: str(cfg.unison_src), APP: str(cfg.unison_dest)}
    forced = [(rel, side) for side in (HOST, APP) for rel in changes.one_sided(side)]
    both = changes.both()
    if len(forced) + len(both) > MOST_PATHS:
        changes.lost = f"{len(forced) + len(both)} paths changed, more than one stop carries"
        forced, both = [], []
    deadline = Deadline(timeout)
    carried = True
    if forced:
        extra = [word for rel, _ in forced for word in ("-path", rel)]
        for rel, side in forced:
            extra += ["-forcepartial", f"{path_pattern(rel)} -> {roots[side]}"]
        carried &= _one_shot(cfg, [*extra, "-copyonconflict=false"], deadline.remaining(), events)
    if both:
        extra = [word for rel in both for word in ("-path", rel)]
        carried &= _one_shot(cfg, extra, deadline.remaining(), events)
    paths = sorted([rel for rel, _ in forced] + both)
    if carried and changes.lost is None:
        log.info("stop.carried", paths=len(paths), first=paths[:20], conflicts=len(both))
        return True
    log.warning(
        "stop.not_carried",
        reason=changes.lost or "unison did not carry them in time",
        carried=len(paths) if carried else 0,
        next_start="resumes the cold start: it carries what is left",
    )
    return False


def _one_shot(
    cfg: Config, extra: list[str], timeout: float, events: Callable[[list[reports.Event]], None] | None
) -> bool:
    """One unison over some paths, with a throwaway archive folder; False when it failed."""
    scratch = Path(tempfile.mkdtemp(prefix=".carry-", dir=cfg.unison_dir))
    try:
        dry = dataclasses.replace(cfg, unison_dir=scratch)
        oneshot.sync_once(dry, "stop.carry", timeout=timeout, events=events, extra_args=extra)
    except launch.SyncFailed as e:
        log.error("stop.carry_failed", error=str(e))
        return False
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return True
