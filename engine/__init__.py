"""native-sync's sync engine: one wing per process or phase over a ground of four floors.

The wings (each imports the ground, never another wing, except as said):

- :mod:`engine.startup`: ``run`` and ``precopy`` before watching (the initial
  sync, the cold copy, the runtime folder);
- :mod:`engine.supervise`: ``run`` from start to stop; it drives
  :mod:`engine.startup` as its first phase (the one wing another may import)
  and starts the watchdog thread, :mod:`monit`;
- :mod:`engine.fsmonitor`: the ``unison-fsmonitor`` process watch-mode unison
  runs (host and app events are read there);
- :mod:`engine.cli`: short commands against a running engine.

The ground, lowest floor first (a floor imports only the floors below it):

- :mod:`engine.config`: the environment read into a Config (its converters,
  ignore patterns, the roots' identity check);
- :mod:`engine.fs`: paths, comparing, case and normalization, owners, access;
- :mod:`engine.state`: the files the processes share, typed;
- :mod:`engine.unison`: unison's command lines, output, reports, reasons,
  conflicts and temp files;
- the top, here: :mod:`engine.health` (where health is decided),
  :mod:`engine.status` (the status object, typed, and its JSON),
  :mod:`engine.program` (every process's edge and logging),
  :mod:`engine.supervisord`, :mod:`engine.exits`, :mod:`engine.deadline`,
  :mod:`engine.lean`.

:mod:`monit` (the watchdog, and one-shot runs under it) sits above the ground
and below the wings.  ``tests/test_architecture.py`` holds these rules.
"""

from engine import lean

lean.defer()  # before anything imports structlog: see engine/lean.py
