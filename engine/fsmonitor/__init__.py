"""The fsmonitor process: the ``unison-fsmonitor`` that watch-mode unison runs.

Host and app events are read here (:mod:`.inotify`), settle (:mod:`.settle`),
are filtered to what still differs (:mod:`.differ`) and answered to unison in
its protocol (:mod:`.protocol`, :mod:`.select_loop`); :mod:`.monitor`
coordinates them.  The drift verifier (:mod:`.verifier`, :mod:`.drift`) runs
as a thread of this process.  Uses only the shared ground (``engine.*``).
"""
