"""``native-sync conflicts``: the list, and ``conflicts keep host|app PATH`` to settle one.

The list is :mod:`engine.unison.conflicts`' record (in UNISON, so it survives
restarts).  ``keep`` makes one side's version stand: the winner's (the kept
copy is dropped) or the loser's (written over the file on its side, in place,
and unison carries it across like any edit).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime

from engine import exits
from engine.cli import view
from engine.config import Config
from engine.unison import conflicts


def list_(cfg: Config, as_json: bool, now: datetime | None = None) -> int:
    """The list, for a person (ages from ``now``, default the time) or as JSON."""
    entries = conflicts.Record.load(cfg.unison_dir).current().entries
    if as_json:
        print(json.dumps([asdict(e) for e in entries], indent=2))
        return exits.OK
    if not entries:
        print("No conflicts: nothing to resolve.")
        return exits.OK
    now = datetime.now(UTC) if now is None else now
    print(f"{view.plural(len(entries), 'conflict')} (newest first):")
    for e in entries:
        moment = view.parse_time(e.at)
        age = view.ago((now - moment).total_seconds()) if moment else "at an unknown time"
        print(f"  {e.path}")
        print(f"      {e.winner} won, {age}; {e.loser}'s version is kept in {e.kept}")
    print()
    print("Keep one side's version:  native-sync conflicts keep host|app PATH")
    print("  the winner's: drops the kept copy; the loser's: written back, it syncs like any edit")
    return exits.OK


def keep(cfg: Config, side: str, path: str) -> int:
    try:
        _, done = conflicts.resolve(cfg, path, side)
    except LookupError:
        print(
            f"native-sync: no conflict of {path!r} is listed; `native-sync conflicts` lists them "
            "(give the original path, as listed)",
            file=sys.stderr,
        )
        return exits.FAILED
    except OSError as e:
        print(f"native-sync: could not keep the {side} version of {path}: {e}", file=sys.stderr)
        return exits.FAILED
    print(f"native-sync: {done}")
    return exits.OK
