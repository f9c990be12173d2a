"""Where a run was made: the machine, and the versions of Python, unison and the engine."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from bench import engines

REPO = Path(__file__).resolve().parent.parent
ENGINE_PATHS = ("engine", "monit", "entrypoint.py")


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "os": platform.platform(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }


def engine_version() -> str:
    """The last commit of the engine's code, ``+dirty`` when it is edited (the tree is shared)."""
    git = subprocess.run(
        ["git", "log", "-1", "--format=%h", "--", *ENGINE_PATHS], capture_output=True, text=True, cwd=REPO
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", *ENGINE_PATHS], capture_output=True, text=True, cwd=REPO
    )
    return git.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def versions(peer: Path | None, peer_label: str | None) -> dict[str, Any]:
    unison = subprocess.run([engines.UNISON, "-version"], capture_output=True, text=True)
    return {
        "python": platform.python_version(),
        "unison": unison.stdout.strip(),
        "native_sync_commit": engine_version(),
        "peer_fsmonitor": str(peer) if peer else None,
        "peer_fsmonitor_label": peer_label,
    }
