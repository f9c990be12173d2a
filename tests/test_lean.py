"""The long-running processes load no OpenSSL (engine/lean.py, issue 26: RSS at 10k back under 75 MB).

Each check imports what one process imports in a fresh interpreter and reads
its ``sys.modules``: ``_hashlib`` and ``_ssl`` map libcrypto and libssl, 3.6
to 4.1 MB of RSS per process, for nothing any of them does.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness.engine import REPO

HEAVY = ("_hashlib", "_ssl")

PROCESSES = {
    "fsmonitor": ("engine.fsmonitor.main",),
    "run": ("entrypoint", "engine.supervise.run", "monit.loop"),
}

PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps({
    "loaded": sorted(sys.modules),
    "stand_ins": sorted(n for n, m in sys.modules.items() if type(m).__name__ == "_Deferred"),
}))
"""


def _python(*args: str) -> str:
    """The output of a fresh interpreter in the repository."""
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def _imported(modules: tuple[str, ...]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = json.loads(_python("-c", PROBE, *modules))
    return found


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_a_long_running_process_loads_no_openssl(process: str) -> None:
    found = _imported(PROCESSES[process])
    assert not [name for name in HEAVY if name in found["loaded"]]
    assert "hashlib" not in found["loaded"]


def test_ssl_is_a_stand_in_until_used() -> None:
    found = _imported(("engine.supervise.run",))
    assert "ssl" in found["stand_ins"]  # http.client imported it; nothing used it


def test_a_stand_in_loads_the_real_module_when_used() -> None:
    used = _python("-c", "import engine, ssl; print(ssl.PROTOCOL_TLS_CLIENT.name)")
    assert used.strip() == "PROTOCOL_TLS_CLIENT"
