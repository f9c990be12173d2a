"""``native-sync.stopped.json`` (in UNISON): every folder of both trees as the last clean stop left them.

A warm start with no one-shot leaves the initial sync to watch mode's first
cycle, a full scan of both trees: 2.2 s of a 4 s warm restart at 400k files
(tmpfs, 2 cores; issue 24).  A clean stop's flush leaves the archive holding
both trees; just before it, the stop signs every folder of both
(:mod:`engine.fs.treesig`: each entry's name and stat, 0.5 s a tree at 400k
files, the two at once).  A warm start that finds the same archives, the same
two folders and the same unison command line signs them again and keeps
only the folders whose signature changed: unison trusts its archive for the
rest (patch 0006, :mod:`engine.state.trust`) and scans those, each with all
below it, in the cycle right after; ``watching`` waits for that cycle.

Why nothing is missed: a folder signed the same has no entry whose name or
stat changed since the stop signed it, before the flush scanned it, so the
archive holds it as it is.  What changed while the stop signed is in the
signature or after it, where the flush or the start's signing sees it; what
changes after the start's signing and before the watches, the verifier's
first pass reads (``since``: when the start's signing began).  A coarse
clock (a change in the same tick leaves the stat as it was) is met by
leaving unsigned a folder with an entry changed within :data:`FRESH` s of
the stop's signing: it counts as changed.  The record is taken (read and
removed) at every start, so a start after a crash, or after a start that
did not use it, scans in full; it is not written when the flush failed or
left a path unsynced, or with the verifier off (it finds what the
signatures cannot).  A changed root folder means a full scan anyway: then
the record is not used.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from engine.config import Config
from engine.config.roots import identity
from engine.fs.treesig import Signer, folders
from engine.state.jsonfile import take_json, write_json
from engine.unison import launch

STOPPED_FILE = "native-sync.stopped.json"  # in UNISON, beside the archives it speaks for
FRESH = 2.0  # s: a folder with an entry changed this close before the stop's signing is not trusted
_ARCHIVE_FILES = ("ar", "jn", "fp")  # unison's archives, their journals (patch 0004), fingerprint caches

Signatures = dict[str, int | None]

log = structlog.get_logger("native-sync")


@dataclass(frozen=True)
class Signed:
    """Both trees signed: when the signing began (time.time()), each side's folders."""

    at: float
    host: Signatures
    app: Signatures


def sign(cfg: Config, timeout: float, signer: Signer | None = None) -> Signed | None:
    """A stop's: every folder of both roots signed (both at once), a folder with an entry changed
    within FRESH s before now left unsigned; None without the helper, when it failed or took more
    than ``timeout`` s (a slow mount: the flush after it must keep its time)."""
    signer = signer or Signer.found()
    if signer is None or cfg.verify_interval == 0 or timeout <= 0:
        return None
    at, deadline = time.time(), time.monotonic() + timeout
    fresh_ns = int((at - FRESH) * 1e9)
    ignored = cfg.ignore.ignored

    def one(side: str, root: str) -> Signatures | None:
        found = folders(root, ignored, deadline)
        left = deadline - time.monotonic()
        return None if found is None or left <= 0 else signer.sign(root, found, fresh_ns, left)

    host, app = _both(cfg, one)
    if host is None or app is None:
        log.info(
            "stopmark.unsigned", hint="no helper, or signing took too long: the next start scans in full"
        )
        return None
    return Signed(at, host, app)


def save(cfg: Config, signed: Signed) -> None:
    """Keep ``signed`` for the next start, with what it holds for (call it after a clean flush)."""
    data = {"at": signed.at, "key": key(cfg), "host": _hex(signed.host), "app": _hex(signed.app)}
    try:
        write_json(cfg.unison_dir / STOPPED_FILE, data)
    except OSError as e:
        log.warning("stopmark.unwritten", error=str(e))
        return
    log.info(
        "stopmark.saved",
        folders=len(signed.host) + len(signed.app),
        seconds=round(time.time() - signed.at, 3),
    )


def changed_since_stop(cfg: Config, signer: Signer | None = None) -> tuple[float, list[str]] | None:
    """(when this signing began, the folders changed since the last stop), or None: scan in full.

    The record is taken whatever the answer.
    """
    try:
        data = take_json(cfg.unison_dir / STOPPED_FILE)
    except OSError as e:  # UNISON read-only: unison's archives cannot be written either
        log.warning("stopmark.untaken", error=str(e))
        return None
    if not data:
        return None
    if data.get("key") != key(cfg):
        log.info("stopmark.stale", hint="the archives, folders or unison's arguments changed since the stop")
        return None
    old = {side: _signatures(data.get(side)) for side in ("host", "app")}
    signer = signer or Signer.found()
    if signer is None or None in old.values() or cfg.verify_interval == 0:
        return None
    at = time.time()
    now = dict(zip(old, _both(cfg, lambda side, root: signer.sign(root, list(old[side] or ()))), strict=True))
    changed: set[str] = set()
    for side, kept in old.items():
        signed = now[side]
        if signed is None or kept is None:
            return None
        changed |= {rel for rel, sig in signed.items() if sig is None or sig != kept.get(rel)}
    if "" in changed:
        log.info("stopmark.root_changed", hint="an entry of a root folder itself changed: a full scan")
        return None
    log.info("stopmark.compared", changed=len(changed), seconds=round(time.time() - at, 3))
    return at, sorted(changed)


def discard(cfg: Config) -> None:
    """This start does not use the record: it goes (a later start must not find it)."""
    try:
        (cfg.unison_dir / STOPPED_FILE).unlink(missing_ok=True)
    except OSError as e:
        log.warning("stopmark.untaken", error=str(e))


def key(cfg: Config) -> dict[str, Any]:
    """What must be the same at start: unison's command line, the owner, both folders, the archives
    (kept as they are, in JSON's shapes: a digest would load hashlib's OpenSSL into ``run``)."""
    parts = {
        "command": launch.watch_command(cfg),
        "owner": list(cfg.owner),
        "roots": [identity(cfg.unison_src), identity(cfg.unison_dest)],
        "archives": _archives(cfg),
    }
    found: dict[str, Any] = json.loads(json.dumps(parts))
    return found


def _both(
    cfg: Config, work: Callable[[str, str], Signatures | None]
) -> tuple[Signatures | None, Signatures | None]:
    """``work(side, root)`` for the host and the app at once (each runs the helper: 2 cores)."""
    found: dict[str, Signatures | None] = {}
    sides = (("host", str(cfg.unison_src)), ("app", str(cfg.unison_dest)))
    threads = [threading.Thread(target=lambda s=s, r=r: found.update({s: work(s, r)})) for s, r in sides]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return found.get("host"), found.get("app")


def _archives(cfg: Config) -> list[list[object]]:
    """Each archive file's name and stat (a later unison run changes one)."""
    found: list[list[object]] = []
    try:
        for path in sorted(cfg.unison_dir.iterdir()):
            if path.name.startswith(_ARCHIVE_FILES):
                st = path.stat()
                found.append([path.name, st.st_size, st.st_mtime_ns, st.st_ino])
    except OSError:
        return [["unreadable"]]
    return found


def _hex(signatures: Signatures) -> dict[str, str | None]:
    return {rel: None if sig is None else f"{sig:016x}" for rel, sig in signatures.items()}


def _signatures(value: object) -> Signatures | None:
    if not isinstance(value, dict):
        return None
    try:
        return {str(rel): None if sig is None else int(sig, 16) for rel, sig in value.items()}
    except (TypeError, ValueError):
        return None
