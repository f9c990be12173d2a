"""The watchdog: restarts unison on sustained high CPU or a stalled sync."""

import engine  # noqa: F401  (engine/lean.py: before structlog is imported)
