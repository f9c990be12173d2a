"""What the fuzzer reads of the engine at a quiescent point, besides the two trees.

The conflict copies it kept (its record), its log events, the owners of both
trees (:mod:`tests.fuzz.owners`), and for a timeout's message what differs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from engine.unison.conflicts import Entry, Record
from tests.fuzz import owners
from tests.fuzz.rig import in_store, pending
from tests.helpers import Engine, snapshot


def kept_copies(engine: Engine) -> list[Entry]:
    """The conflicts the engine keeps (its record), each with a copy that is there."""
    record = Record.load(Path(engine.env["UNISON"])).current()
    return [e for e in record.entries if os.path.lexists(e.kept)]


def kept_files(path: str, kept: str) -> Iterator[tuple[str, bytes]]:
    """(original path, contents) of each file of a kept conflict copy (a file, or a whole folder)."""
    if not os.path.isdir(kept) or os.path.islink(kept):
        if os.path.isfile(kept):
            yield path, Path(kept).read_bytes()
        return
    for folder, _dirs, files in os.walk(kept):
        for name in files:
            full = os.path.join(folder, name)
            if os.path.isfile(full) and not os.path.islink(full):
                yield f"{path}/{os.path.relpath(full, kept)}", Path(full).read_bytes()


def log_events(engine: Engine, mark: int, names: Iterable[str]) -> list[dict[str, Any]]:
    """The engine's JSON log events called one of ``names``, from byte ``mark`` of its log on."""
    wanted = set(names)
    with open(engine.log, "rb") as f:
        f.seek(mark)
        text = f.read().decode("utf-8", "replace")
    found = []
    for line in text.splitlines():
        if not line.startswith("{") or not any(f'"{n}"' in line for n in wanted):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") in wanted:
            found.append(event)
    return found


def wrong_owners(engine: Engine) -> list[str]:
    """Host paths not the host folder owner's, app paths not OWNER_UID:GROUP_ID's."""
    return [f"host {w}" for w in owners.wrong_owners(engine.host, owners.HOST_OWNER)] + [
        f"app {w}" for w in owners.wrong_owners(engine.app, owners.APP_OWNER)
    ]


def diff(engine: Engine) -> str:
    """What differs between the trees, what is pending, and the log's tail."""
    host = snapshot(engine.host, skip=in_store, keep_temps=True)
    app = snapshot(engine.app, keep_temps=True)
    lines = [f"pending={pending(engine)}"]
    for p in sorted(set(host) | set(app)):
        if host.get(p) != app.get(p):
            lines.append(f"  {p}: host {str(host.get(p))[:80]} app {str(app.get(p))[:80]}")
    return "\n".join(lines[:40]) + "\n" + engine.logs()[-3000:]
