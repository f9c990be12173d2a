"""Where unison is restarted: the watchdog on sustained high CPU or a stalled sync.

:mod:`.watchdog` holds the rules (a state machine driven with explicit times),
:mod:`.sampler` measures CPU with psutil, :mod:`.loop` runs them as a thread of
``run`` and restarts watch-mode unison through supervisord, and
:mod:`.oneshot` runs unison's one-shot passes (the initial sync, a warm start,
the stop's flush) under the same rules, killing and running again a pass that
is hot or stalled.

Who else restarts unison, and why:

- supervisord (``autorestart``, :mod:`engine.supervisord`): watch-mode unison
  exited (a crash, an error exit); its program
  (:mod:`engine.supervise.unison_program`) counts the restart and backs off
  quick exits;
- nobody else: the engine never kills unison outside these two paths except to
  stop it (:mod:`engine.supervise.stop`).

Imports only the engine's ground.
"""

import engine  # noqa: F401  (engine/lean.py: before structlog is imported)
