"""structlog set-up: console lines by default, JSON with ``LOG_FORMAT=json``."""

from __future__ import annotations

import logging
import sys
import time

import structlog

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
