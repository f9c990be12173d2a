"""The watchdog, a thread of ``run``: restarts unison on sustained high CPU or a stalled sync.

:mod:`.watchdog` holds the rules (a state machine driven with explicit times),
:mod:`.sampler` measures CPU with psutil, :mod:`.loop` runs them and restarts
unison through supervisord.  Imports only the engine's ground.
"""

import engine  # noqa: F401  (engine/lean.py: before structlog is imported)
