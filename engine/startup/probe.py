"""At start: what each root's folder folds and keeps (engine/fs/casefold.py), logged and saved.

Saved as ``roots.json`` before the first unison runs: unison's command lines
(:func:`engine.unison.launch.folding_args`), the fsmonitor's case guard and
``status`` read it from there.
"""

from __future__ import annotations

import dataclasses

import structlog

from engine.config import Config
from engine.fs import casefold
from engine.state import shared

log = structlog.get_logger("native-sync")


def probe_roots(cfg: Config) -> shared.Roots:
    """Probe ``HOST_VOLUME`` and ``APP_VOLUME``; log the result and save ``roots.json``."""
    roots = shared.Roots(
        host=casefold.probe(str(cfg.unison_src)),
        app=casefold.probe(str(cfg.unison_dest)),
    )
    log.info("roots.probed", host=dataclasses.asdict(roots.host), app=dataclasses.asdict(roots.app))
    if roots.host_insensitive:
        log.info(
            "roots.host_insensitive",
            hint="names the host cannot hold apart stay on the app side and are listed as problems",
        )
    roots.save(cfg.runtime_dir)
    return roots
