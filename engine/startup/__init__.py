"""Start-up, in the ``run`` process (and ``precopy``) before watching begins.

Preflight checks and the runtime folder (:mod:`.preflight`, :mod:`.runtime`),
the mass-deletion guard (:mod:`.safety`), the initial sync (:mod:`.initial_sync`)
with its one-shot unison runs (:mod:`.oneshot`), and a big tree's cold start:
the fast copy (:mod:`.coldstart`, :mod:`.fastcopy`, :mod:`.filecopy`).
Uses the shared ground and the watchdog's rules (``monit``).
"""
