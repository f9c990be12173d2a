"""``native-sync status`` and ``native-sync monitor`` (``status --watch``): the view, once or live.

Live: the view redrawn every ``interval`` seconds until Ctrl-C, the way
``mutagen sync monitor`` does; on a terminal the screen is cleared between
views, elsewhere (a pipe, a log) views follow each other.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

from engine import exits, status
from engine.cli import view
from engine.config import Config

CLEAR = "\033[H\033[2J"


def show(cfg: Config, colour: bool) -> str:
    current = status.collect(cfg.runtime_dir, cfg.unison_dir).json()
    return view.render(current, str(cfg.unison_src), str(cfg.unison_dest), datetime.now(UTC), colour=colour)


def run(cfg: Config, live: bool, interval: float = 1.0) -> int:
    tty = sys.stdout.isatty()
    if not live:
        sys.stdout.write(show(cfg, colour=tty))
        return exits.OK
    try:
        while True:
            text = show(cfg, colour=tty)
            stamp = f"{datetime.now(UTC):%H:%M:%S} UTC, every {interval:g} s; Ctrl-C to leave\n"
            sys.stdout.write((CLEAR if tty else "\n") + text + view.Paint(tty)("dim", stamp))
            sys.stdout.flush()
            time.sleep(interval)  # a person's view: nothing to wait for but the next refresh
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        return exits.OK
