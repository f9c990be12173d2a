"""Case and normalization (SPEC section 5): what a root's folder can hold apart, and the rule.

A Mac's APFS (and exFAT) is case-insensitive and case-preserving: ``util.js``
and ``Util.js`` are one file, and so are "é" as one code point (NFC) and as
``e`` + accent (NFD) on APFS.  The app volume (ext4) holds them apart.  What a
root does is probed, never assumed from the OS (:func:`probe`): a probe file
is made, looked up under another case and another normalization form, its
mode changed (exFAT keeps no permission bits), and removed.

The rule (:func:`key`): against an insensitive root, two names are the same
name when their keys are equal; the key folds case and normalization, as
unison's ``-ignorecase true`` does (its Unicode case-insensitive mode folds
both).  unison, the fsmonitor's filter, the drift verifier and the cold
start's copy all use it, so they agree on what is a clash
(:func:`clashes`: names that a case-sensitive side holds apart and the host
cannot) and what is a case-only rename (:func:`renamed`).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import structlog

from engine.fs import chown

log = structlog.get_logger("native-sync")

PROBE_PREFIX = ".native-sync-probe-"
_PROBE = re.compile(re.escape(PROBE_PREFIX) + r"[0-9a-f]{8}$")
# "é" composed: its NFD form is two code points, so a lookup under NFD tests normalization
_ACCENTED = "\u00e9"


@dataclass(frozen=True)
class Folding:
    """What one root's folder treats as the same name (None: could not be probed)."""

    case_insensitive: bool | None = None
    normalization_insensitive: bool | None = None
    permissions: bool | None = None  # chmod is kept (exFAT: every file shows one mode)

    @property
    def insensitive(self) -> bool:
        """Does this folder fold names at all (case or normalization)?"""
        return bool(self.case_insensitive or self.normalization_insensitive)


SENSITIVE = Folding(False, False, True)
UNPROBED = Folding()


def key(name: str) -> str:
    """The name as an insensitive root sees it: case and Unicode normalization folded."""
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", name).casefold())


def probe(root: str) -> Folding:
    """Probe ``root``: in a fresh folder, make a name, look it up in another case and form, chmod it.

    The folder holds that one name, so a lookup of another spelling that
    succeeds is the filesystem folding names (inode numbers prove nothing:
    FUSE filesystems such as exFAT's give every lookup a new one).  Leaves
    nothing behind.  A root that cannot be written answers :class:`Folding`
    with ``None`` fields (unknown; treated as sensitive).
    """
    remove_leftovers(root)
    # os.urandom, not secrets: secrets imports hashlib (OpenSSL), 4 MB of RSS in the fsmonitor
    folder = os.path.join(root, f"{PROBE_PREFIX}{os.urandom(4).hex()}")
    name = f"a{_ACCENTED}"
    owner = _owner(root)  # the probe is the root's owner's from birth, as everything we write there
    try:
        chown.created(folder, owner, lambda: os.mkdir(folder, 0o700))
    except OSError as e:
        log.warning("roots.probe_failed", root=root, error=str(e))
        return Folding()
    path = os.path.join(folder, name)
    try:
        os.close(
            chown.created(path, owner, lambda: os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        )
        case = os.path.lexists(os.path.join(folder, name.upper()))
        form = os.path.lexists(os.path.join(folder, unicodedata.normalize("NFD", name)))
        return Folding(case, form, _keeps_mode(path))
    except OSError as e:
        log.warning("roots.probe_failed", root=root, error=str(e))
        return Folding()
    finally:
        for leftover, remove in ((path, os.unlink), (folder, os.rmdir)):
            try:
                remove(leftover)
            except FileNotFoundError:
                pass
            except OSError as e:
                log.warning("roots.probe_left_behind", path=leftover, error=str(e))


def remove_leftovers(root: str) -> None:
    """The folder of a probe killed before its ``finally`` (a crash at start), which would sync."""
    try:
        names = [e.name for e in os.scandir(root) if _PROBE.match(e.name) and e.is_dir(follow_symlinks=False)]
    except OSError:
        return
    for name in names:
        shutil.rmtree(os.path.join(root, name), ignore_errors=True)
        log.info("roots.probe_leftover_removed", path=os.path.join(root, name))


def _owner(root: str) -> chown.Owner | None:
    try:
        return chown.owner_of(os.lstat(root)) if chown.privileged() else None
    except OSError:
        return None


def _keeps_mode(path: str) -> bool:
    try:
        os.chmod(path, 0o640)
        first = stat.S_IMODE(os.lstat(path).st_mode)
        os.chmod(path, 0o604)
        second = stat.S_IMODE(os.lstat(path).st_mode)
    except OSError:
        return False
    return (first, second) == (0o640, 0o604)


def clashes(names: Iterable[str]) -> list[tuple[str, ...]]:
    """Groups (sorted) of two or more ``names`` that an insensitive root cannot hold apart."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(key(name), []).append(name)
    return sorted(tuple(sorted(group)) for group in groups.values() if len(group) > 1)


def renamed(mine: Iterable[str], theirs: Iterable[str]) -> dict[str, str]:
    """Case-only renames: ``{their name: my name}`` where one name of mine matches one of theirs.

    Only unambiguous pairs: a key held once on each side, under different
    spellings (a clash on either side is no rename).
    """
    my_keys: dict[str, list[str]] = {}
    for name in mine:
        my_keys.setdefault(key(name), []).append(name)
    their_keys: dict[str, list[str]] = {}
    for name in theirs:
        their_keys.setdefault(key(name), []).append(name)
    found = {}
    for folded, here in my_keys.items():
        there = their_keys.get(folded)
        if there is not None and len(here) == 1 and len(there) == 1 and here[0] != there[0]:
            found[there[0]] = here[0]
    return found


def clash_message(group: tuple[str, ...]) -> str:
    """The reason a problem gives for a clash: every path of ``group`` named."""
    nfc = {unicodedata.normalize("NFC", path) for path in group}
    what = "only in Unicode normalization" if len(nfc) == 1 else "only in case"
    return (
        f"{' and '.join(group)} differ {what}: the host folder cannot hold them apart; "
        "both stay on the app side and the host's file is left as it is: rename or remove one"
    )
