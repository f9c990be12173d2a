"""Every exit status native-sync's commands and programs return, by name (each value means one thing)."""

from __future__ import annotations

OK = 0
FAILED = 1  # `run`: supervisord died, or the flush at stop failed; `health`: not healthy (docker wants 1)
BAD_CONFIG = 2  # a setting native-sync cannot use (one line on stderr names it)
STARTUP_FAILURE = 3  # `run`/`precopy`: the initial sync or the mass-deletion guard stopped the start
TIMED_OUT = 4  # `flush`: no full sync completed within --timeout
SYNC_INCOMPLETE = 5  # `precopy`: unison could not sync some paths (each logged as a `problem`)
NOT_RUNNING = 6  # `flush`: no fsmonitor to ask (nothing is watching)
