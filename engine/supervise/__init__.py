"""Supervision, in the ``run`` process: start-up, then unison under supervisord until SIGTERM.

:mod:`.run` is ``native-sync run`` (it calls the start-up wing first);
:mod:`.watching` follows unison's output and checks the roots while it runs;
:mod:`.unison_program` is what supervisord starts as the program ``unison``.
The watchdog thread that restarts unison is ``monit``'s.
"""
