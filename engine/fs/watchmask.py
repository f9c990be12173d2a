"""What an inotify watch on a synced folder asks the kernel for: one definition for both watchers.

Two processes watch the trees: the cold start's recorder
(:mod:`engine.startup.recorder`, what changed while unison indexes) and the
fsmonitor (:mod:`engine.fsmonitor.inotify`, what unison is told).  Both need
every change to a name inside a watched folder (:data:`CONTENTS`).  The
fsmonitor also asks for the folder's own deletion or move (:data:`WATCHED`):
a root has no watched parent, so that nameless event is the only word that the
root itself went (it reports the root as changed and unison finds out).  The
recorder does not: it carries paths inside the roots and drops nameless events;
a folder below a root that is deleted or moved is its parent's ``DELETE`` or
``MOVED_FROM``, which it has.
"""

from __future__ import annotations

from inotify_simple import flags as F

# a name in the folder made, gone, written, closed after writing, its mode/owner/times, moved out or in
CHANGED = F.CREATE | F.DELETE | F.MODIFY | F.CLOSE_WRITE | F.ATTRIB | F.MOVED_FROM | F.MOVED_TO
# how: a link is not followed (the caller drops DONT_FOLLOW for a root that is one), a name
# unlinked while open sends nothing more, and only a folder is watched
HOW = F.DONT_FOLLOW | F.EXCL_UNLINK | F.ONLYDIR
SELF = F.DELETE_SELF | F.MOVE_SELF  # the watched folder itself deleted or moved (a nameless event)

CONTENTS = CHANGED | HOW  # the recorder's
WATCHED = CONTENTS | SELF  # the fsmonitor's
