"""``native-sync status`` and ``native-sync monitor`` (``status --watch``): the view, once or live.

Live: the view redrawn every ``interval`` seconds until Ctrl-C, the way
``mutagen sync monitor`` does; on a terminal the screen is cleared between
views, elsewhere (a pipe, a log) views follow each other.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from engine import exits, status
from engine.cli import view
from engine.config import Config

CLEAR = "\033[H\033[2J"


def utc_now() -> datetime:
    return datetime.now(UTC)


def show(cfg: Config, colour: bool, now: datetime | None = None) -> str:
    """The view of the state in ``cfg``'s folders, at ``now`` (default the time)."""
    current = status.collect(cfg.runtime_dir, cfg.unison_dir).json()
    when = utc_now() if now is None else now
    return view.render(current, str(cfg.unison_src), str(cfg.unison_dest), when, colour=colour)


def run(
    cfg: Config,
    live: bool,
    interval: float = 1.0,
    clock: Callable[[], datetime] = utc_now,
    pause: Callable[[float], None] = time.sleep,
) -> int:
    """Print the view once, or (``live``) every ``interval`` s (``pause``) until Ctrl-C."""
    tty = sys.stdout.isatty()
    if not live:
        sys.stdout.write(show(cfg, colour=tty, now=clock()))
        return exits.OK
    try:
        while True:
            now = clock()
            text = show(cfg, colour=tty, now=now)
            stamp = f"{now:%H:%M:%S} UTC, every {interval:g} s; Ctrl-C to leave\n"
            sys.stdout.write((CLEAR if tty else "\n") + text + view.Paint(tty)("dim", stamp))
            sys.stdout.flush()
            pause(interval)  # a person's view: nothing to wait for but the next refresh
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        return exits.OK
