"""The fsmonitor process: the ``unison-fsmonitor`` that watch-mode unison runs (:mod:`.main`).

Host and app events are read here (:mod:`.inotify`), settle (:mod:`.settle`),
are filtered to what still differs (:mod:`.differ`) and go to unison in its
protocol (:mod:`.protocol`, :mod:`.commands`, :mod:`.outbox`) from one select
loop, the only writer to stdout (:mod:`.select_loop`); :mod:`.monitor`
coordinates them, its rooms built complete and in order
(:func:`.monitor.build_monitor`; :func:`.main.wire` from the Config).
Full rescans (:mod:`.rescan`, :mod:`.fullsync`), sync cycles and
``fsmonitor.json`` (:mod:`.cycles`). The drift verifier (:mod:`.verifier`,
:mod:`.drift`) runs as a thread of this process; its findings and unison's
litter wait for calm (:mod:`.hygiene`). Uses only the shared ground
(``engine.*``).
"""
