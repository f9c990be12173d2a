"""Supervision, in the ``run`` process: start-up, then unison under supervisord until SIGTERM.

:mod:`.run` is ``native-sync run`` (it calls the start-up wing first, then
starts supervisord and the watchdog thread, :mod:`monit.loop`, which restarts
unison when it misbehaves), moving between its states only as
:mod:`.transitions` allows; :mod:`.readiness` says when unison watches;
:mod:`.watching` follows unison's output and checks the roots while it runs;
:mod:`.stop` is the SIGTERM sequence; :mod:`.unison_program` is what
supervisord starts as the program ``unison``.  Health is decided in the
ground (:mod:`engine.health`), which ``run``'s marker and ``native-sync
health`` share.
"""
