"""``entrypoint.py run`` that pauses its cold start where a test asks (``engine.startup.coldstart.HOOK``).

``HOOK_AT`` lists the pauses, e.g. ``copying:300,indexing`` (after the 300th
copied file; before the indexing starts), or ``oneshot`` (after a warm start's
one-shot unison, before what follows it).  At each, this touches
``HOOK_DIR/at-<phase>`` and waits (with a deadline) for the test to create
``HOOK_DIR/go-<phase>``: edits land in a known phase, with no race.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import entrypoint
from engine.startup import coldstart
from monit import oneshot

DEADLINE = 60.0


def main() -> int:
    folder = Path(os.environ["HOOK_DIR"])
    pauses = set(os.environ["HOOK_AT"].split(","))

    def hook(phase: str, files: int) -> None:
        if f"{phase}:{files}" not in pauses and phase not in pauses:
            return
        (folder / f"at-{phase}").touch()
        deadline = time.monotonic() + DEADLINE
        while not (folder / f"go-{phase}").exists() and time.monotonic() < deadline:
            time.sleep(0.01)

    coldstart.HOOK = hook
    if "oneshot" in pauses:
        real = oneshot.sync_once

        def paused(cfg: Any, purpose: str, *args: Any, **kwargs: Any) -> int:
            items = real(cfg, purpose, *args, **kwargs)
            if purpose == "initial_sync.unison":
                hook("oneshot", 0)
            return items

        oneshot.sync_once = paused
    return entrypoint.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
