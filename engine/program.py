"""The start of each of native-sync's supervised programs: config, then logging."""

from __future__ import annotations

import sys

from engine import config as config_mod
from engine import log as log_mod

BAD_CONFIG = 2


def start(process: str) -> config_mod.Config:
    """The Config, with structlog set up for ``process``.

    A bad setting is reported here, at the edge: one line, exit status 2.
    """
    try:
        cfg = config_mod.load()
    except config_mod.ConfigError as e:
        print(f"native-sync: {e}", file=sys.stderr)
        raise SystemExit(BAD_CONFIG) from e
    log_mod.setup(cfg.log_format, cfg.tz, process=process)
    return cfg
