"""The edge of every native-sync process: the Config or one line and exit 2, then logging.

Logging is structlog: console lines by default, JSON with ``LOG_FORMAT=json``.

Every entry point (``entrypoint.py``, supervisord's programs, the fsmonitor)
gets its Config here, so a bad setting is reported the same way everywhere.
"""

from __future__ import annotations

import logging
import shlex
import sys
import time
from collections.abc import Callable, Mapping

import structlog

from engine import config as config_mod
from engine import exits


def _to_stderr(message: str) -> None:
    print(f"native-sync: {message}", file=sys.stderr)


def load_config(
    *,
    volumes: bool = False,
    say: Callable[[str], None] = _to_stderr,
    environ: Mapping[str, str] | None = None,
) -> config_mod.Config:
    """The Config (from ``environ``, default the process's), or ``say`` the one-line reason and
    exit with BAD_CONFIG.

    ``volumes``: also require both roots to be existing folders, apart, and
    UNISON_ARGS to be arguments unison accepts (a dry run: :mod:`engine.unison.dryrun`).  ``say``
    gets the message (default: ``native-sync: ...`` on stderr; the fsmonitor
    answers unison with it instead).
    """
    try:
        cfg = config_mod.load(environ)
        if volumes:
            config_mod.check_volumes(cfg)
            _check_unison_args(cfg)
    except config_mod.ConfigError as e:
        say(str(e))
        raise SystemExit(exits.BAD_CONFIG) from e
    return cfg


def _check_unison_args(cfg: config_mod.Config) -> None:
    from engine.unison import dryrun  # unison runs: only for `run` and `precopy`

    try:
        dryrun.check_args(cfg)
    except dryrun.BadArgs as e:
        raise config_mod.ConfigError("UNISON_ARGS", shlex.join(cfg.unison_args), str(e)) from e


def start(
    process: str,
    *,
    volumes: bool = False,
    say: Callable[[str], None] = _to_stderr,
    environ: Mapping[str, str] | None = None,
) -> config_mod.Config:
    """:func:`load_config`, then structlog set up for ``process``."""
    cfg = load_config(volumes=volumes, say=say, environ=environ)
    setup(cfg.log_format, cfg.tz, process=process, level=cfg.log_level)
    return cfg


LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


def setup(
    log_format: str = "console", tz: str | None = None, process: str = "native-sync", level: str = "info"
) -> None:
    """Configure structlog for this process; logs go to stderr, from ``level`` up (LOG_LEVEL)."""
    if tz:
        time.tzset()
    renderer: structlog.typing.Processor
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=not tz),
            _bind_process(process),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )


def _bind_process(name: str) -> structlog.typing.Processor:
    def add(_: object, __: str, event: structlog.typing.EventDict) -> structlog.typing.EventDict:
        event.setdefault("process", name)
        return event

    return add
