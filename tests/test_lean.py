"""engine/lean.py: the long-running processes load no OpenSSL (issue 26: RSS at 10k back under 75 MB);
what is deferred stays out of ``sys.modules`` until used.

Each check imports what one process imports in a fresh interpreter and reads
its ``sys.modules``: ``_hashlib`` and ``_ssl`` map libcrypto and libssl, 3.6
to 4.1 MB of RSS per process, for nothing any of them does.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import lean
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


# --- defer itself, in this process, on a module of the test's own ----------------------

MODULE = """
import pathlib
pathlib.Path(__file__).with_name("loaded").touch()  # the import ran
ANSWER = 42
"""


@pytest.fixture
def own_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module no one has imported (its import touches ``loaded`` beside it); gone afterwards."""
    name = f"lean_probe_{tmp_path.name}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_a_deferred_module_is_a_stand_in_and_not_imported(own_module: str, tmp_path: Path) -> None:
    lean.defer((own_module,))
    assert type(sys.modules[own_module]).__name__ == "_Deferred"
    __import__(own_module)  # an `import` statement finds the stand-in
    assert not (tmp_path / "loaded").exists()


def test_the_first_attribute_read_imports_the_real_module(own_module: str, tmp_path: Path) -> None:
    lean.defer((own_module,))
    stand_in = sys.modules[own_module]
    assert stand_in.ANSWER == 42
    assert (tmp_path / "loaded").exists()
    real = sys.modules[own_module]
    assert real is not stand_in and isinstance(real, types.ModuleType)
    assert type(real).__name__ == "module"


def test_a_module_imported_already_is_left_alone(own_module: str) -> None:
    real = importlib.import_module(own_module)
    lean.defer((own_module,))
    assert sys.modules[own_module] is real


def test_structlog_under_engine_leaves_asyncio_unloaded() -> None:
    found = _imported(("engine", "structlog"))
    assert "asyncio" in found["stand_ins"]
    assert not [name for name in found["loaded"] if name.startswith("asyncio.")]
