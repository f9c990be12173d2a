"""What unison's reason for not syncing a path means: the one place the families are named.

unison says why it failed or skipped a path in words (:mod:`engine.unison.reports`
reads them); what the engine does about it depends only on which family the
words belong to (samples in ``tests/data/unison-2.54/``):

- **needs the user** (:data:`NEEDS_USER`): nothing changes until someone frees
  space, makes a folder writable or readable, renames a file.  A problem at
  once, ``degraded``, and ``health`` fails for as long as the path stays
  unsynced (:mod:`engine.health`), whatever unison printed about it since: its
  next attempt at a path on a full volume often ends with "modified during
  synchronization" instead (issue 26), which must not hide the full volume;
- **transient** (:data:`TRANSIENT`): the next cycle (or the fsmonitor's
  recheck) settles it.  Three members: the source **vanished** (a ``git
  checkout``, an ``rm -rf`` while unison copied), it **changed** during the
  transfer, or the transfer was **stopped** by us (a restart, the stop).
  Retried quietly (a debug line) and a problem only if the path still differs
  after :data:`engine.unison.standing.TRANSIENT_BOUND`;
- **special** (:data:`SPECIAL`): a FIFO, a socket, a device: unison cannot
  sync such a file by its nature.  Skipped by rule, listed as ``skipped`` in
  ``status``, never a problem;
- anything else: a problem at once (``degraded``), health unaffected.

A reason in both "needs the user" and "transient" is the former: unison's
``Error in copying locally: No space left on device`` names the copy, not a
vanished file.
"""

from __future__ import annotations

import re

# each family member: unison's words for it (src/copy.ml, files.ml, update.ml, abort.ml, fileinfo.ml)
NEEDS_USER = {
    "no space": r"No space left on device|Disk quota exceeded|File too large",
    "read-only": r"Read-only file system",
    "permission": r"Permission denied|Operation not permitted",
    # the host cannot hold the name (too long, bytes it refuses, a folding host's clash)
    "name": r"File name too long|Invalid or incomplete multibyte|Illegal byte sequence"
    r"|Invalid argument|the host folder cannot hold them apart",
}
TRANSIENT = {
    "vanished": r"No such file or directory|has disappeared|has been deleted|Not a directory",
    "changed": r"modified during synchronization|Destination updated during synchronization"
    r"|not same as transferred file|fast update detection mechanism",
    "stopped": r"Aborted by user request|Interrupted",
}
SPECIAL = r"has unknown file type"


def _either(words: dict[str, str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?P<{re.sub(r'[^a-z]', '_', k)}>{v})" for k, v in words.items()))


_NEEDS_USER = _either(NEEDS_USER)
_TRANSIENT = _either(TRANSIENT)
_SPECIAL = re.compile(SPECIAL)


def needs_user(reason: str) -> bool:
    """Does ``reason`` say that only the user can make the path sync (space, read-only, ...)?"""
    return _NEEDS_USER.search(reason) is not None


def transient(reason: str) -> str | None:
    """The transient member ``reason`` belongs to (``vanished``, ``changed``, ``stopped``), or None."""
    if needs_user(reason) or special(reason):
        return None
    m = _TRANSIENT.search(reason)
    return m.lastgroup if m is not None else None


def special(reason: str) -> bool:
    """Is ``reason`` unison skipping a file it cannot sync by its nature (FIFO, socket, device)?"""
    return _SPECIAL.search(reason) is not None
