"""native-sync's sync engine: one subpackage per process or phase over a shared ground.

- :mod:`engine.startup`: ``run`` and ``precopy`` before watching (preflight,
  the initial sync, the cold copy);
- :mod:`engine.supervise`: ``run`` while watching (supervisord, unison's
  output, the stop sequence); the watchdog thread it starts is :mod:`monit`;
- :mod:`engine.fsmonitor`: the ``unison-fsmonitor`` process watch-mode unison
  runs (host and app events are read there);
- :mod:`engine.cli`: short commands against a running engine;
- the modules here (the ground): config, the shared files (statefiles), the
  health decision (health), paths, ignores, ownership, logging.  They import
  no wing.
"""

from engine import lean

lean.defer()  # before anything imports structlog: see engine/lean.py
