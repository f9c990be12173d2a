"""unison, the program we run: how it is launched and what it says.

:mod:`~engine.unison.launch` builds its command lines, environment and archive
folder; :mod:`~engine.unison.dryrun` checks UNISON_ARGS before anything is
copied; :mod:`~engine.unison.transcript` is its own output, which
:mod:`~engine.unison.reports` reads into reports per path,
:mod:`~engine.unison.reasons` sorts by what they need,
:mod:`~engine.unison.standing` keeps while they stand, and
:mod:`~engine.unison.conflicts` turns into kept copies (those a killed
unison left: :mod:`~engine.unison.leftovers`).  A root found emptied while
running is :mod:`~engine.unison.emptied`'s.  Its abandoned temp
files are :mod:`~engine.unison.litter`.  Who restarts unison is said in
:mod:`monit`.
"""
