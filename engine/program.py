"""The edge of every native-sync process: the Config or one line and exit 2, then logging.

Every entry point (``entrypoint.py``, supervisord's programs, the fsmonitor)
gets its Config here, so a bad setting is reported the same way everywhere.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable

from engine import config as config_mod
from engine import exits


def _to_stderr(message: str) -> None:
    print(f"native-sync: {message}", file=sys.stderr)


def load_config(*, volumes: bool = False, say: Callable[[str], None] = _to_stderr) -> config_mod.Config:
    """The Config, or ``say`` the one-line reason and exit with BAD_CONFIG.

    ``volumes``: also require both roots to be existing folders, apart, and
    UNISON_ARGS to be arguments unison accepts (a dry run: :mod:`engine.dryrun`).  ``say``
    gets the message (default: ``native-sync: ...`` on stderr; the fsmonitor
    answers unison with it instead).
    """
    try:
        cfg = config_mod.load()
        if volumes:
            config_mod.check_volumes(cfg)
            _check_unison_args(cfg)
    except config_mod.ConfigError as e:
        say(str(e))
        raise SystemExit(exits.BAD_CONFIG) from e
    return cfg


def _check_unison_args(cfg: config_mod.Config) -> None:
    from engine import dryrun  # unison runs: only for `run` and `precopy`

    try:
        dryrun.check_args(cfg)
    except dryrun.BadArgs as e:
        raise config_mod.ConfigError("UNISON_ARGS", shlex.join(cfg.unison_args), str(e)) from e


def start(
    process: str, *, volumes: bool = False, say: Callable[[str], None] = _to_stderr
) -> config_mod.Config:
    """:func:`load_config`, then structlog set up for ``process``."""
    cfg = load_config(volumes=volumes, say=say)
    from engine import log as log_mod  # not needed by `status`/`health`, which stay light

    log_mod.setup(cfg.log_format, cfg.tz, process=process, level=cfg.log_level)
    return cfg
