"""``folders.json``: which folder each root was when ``run`` started on it.

Saved at start, before the initial sync (:func:`engine.startup.initial_sync.bring_up`),
as :func:`engine.config.roots.identity` marks it; read by
:mod:`engine.unison.emptied` when a root is found emptied while running, to
tell the app's last file deleted from a volume that went away.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from engine.state.jsonfile import read_json, typed, write_json

FILE = "folders.json"  # in SYNC_RUNTIME_DIR


@dataclass(frozen=True)
class Folders:
    """Each root's mark at start (None: not known)."""

    host: str | None = None
    app: str | None = None

    @classmethod
    def load(cls, runtime_dir: Path) -> Folders:
        data = read_json(runtime_dir / FILE)
        return cls(host=typed(data, "host", str, None), app=typed(data, "app", str, None))

    def save(self, runtime_dir: Path) -> None:
        write_json(runtime_dir / FILE, asdict(self))
