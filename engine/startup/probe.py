"""At start: what each root's folder folds and keeps (engine/fs/casefold.py), logged and saved.

Saved as ``roots.json`` before the first unison runs: unison's command lines
(:func:`engine.unison.launch.folding_args`), the fsmonitor's case guard and
``status`` read it from there.

A warm start takes the answer the last probe of the same two folders gave
(kept in UNISON, ``native-sync.probed.json``, with each folder's identity:
device, inode, mount): a probe makes and removes a folder in each root,
which changes the root folder's stamp, and unison's first cycle would then
write both archives again whole (2 x 28 MB at 400k files, ~0.6 s of a warm
restart; issue 24).  Another folder at a root's path, a mount that changed,
no archive (a cold start) or a probe that could not answer: probed again.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import structlog

from engine.config import Config
from engine.config.roots import identity
from engine.fs import casefold
from engine.state import shared
from engine.state.jsonfile import read_json, write_json
from engine.unison import launch

PROBED_FILE = "native-sync.probed.json"  # in UNISON: the last probe's answer, and of which folders

log = structlog.get_logger("native-sync")


def probe_roots(cfg: Config) -> shared.Roots:
    """Probe ``HOST_VOLUME`` and ``APP_VOLUME`` (or take the answer kept for them); log; save roots.json."""
    marks = {"host": identity(cfg.unison_src), "app": identity(cfg.unison_dest)}
    roots = _kept(cfg, marks)
    if roots is None:
        roots = shared.Roots(
            host=casefold.probe(str(cfg.unison_src)),
            app=casefold.probe(str(cfg.unison_dest)),
        )
        _keep(cfg, roots, marks)
    else:  # a probe killed before its clean-up (a crash at start) left a folder that would sync
        casefold.remove_leftovers(str(cfg.unison_src))
        casefold.remove_leftovers(str(cfg.unison_dest))
    log.info("roots.probed", host=dataclasses.asdict(roots.host), app=dataclasses.asdict(roots.app))
    if roots.host_insensitive:
        log.info(
            "roots.host_insensitive",
            hint="names the host cannot hold apart stay on the app side and are listed as problems",
        )
    roots.save(cfg.runtime_dir)
    return roots


def _kept(cfg: Config, marks: dict[str, str | None]) -> shared.Roots | None:
    """The last probe's answer, when this is a warm start of the same two folders."""
    if None in marks.values() or not launch.has_archive(cfg):
        return None
    data = read_json(cfg.unison_dir / PROBED_FILE)
    if data.get("marks") != marks:
        return None
    try:
        host, app = _folding(data["host"]), _folding(data["app"])
    except (KeyError, TypeError):
        return None
    return shared.Roots(host=host, app=app)


def _folding(data: Any) -> casefold.Folding:
    found = casefold.Folding(**data)
    if not _complete(found):
        raise TypeError("not a complete probe")
    return found


def _complete(found: casefold.Folding) -> bool:
    return all(isinstance(v, bool) for v in dataclasses.astuple(found))


def _keep(cfg: Config, roots: shared.Roots, marks: dict[str, str | None]) -> None:
    """Keep a complete answer for the next start (one that could not probe is asked again)."""
    path = cfg.unison_dir / PROBED_FILE
    try:
        if None in marks.values() or not (_complete(roots.host) and _complete(roots.app)):
            path.unlink(missing_ok=True)
            return
        write_json(path, {"marks": marks, **dataclasses.asdict(roots)})
    except OSError as e:
        log.warning("roots.probe_not_kept", error=str(e))
