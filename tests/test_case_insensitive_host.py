"""End-to-end against a real case-insensitive host folder (exFAT through FUSE; SPEC section 5).

The host folder is on exFAT (case-insensitive, case-preserving, no
permission bits), the app folder on the usual case-sensitive filesystem:
what Docker Desktop on a Mac gives the container.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Engine, read, wait_for, write

pytestmark = pytest.mark.engine

RENAME = 5.0  # the issue asks for 1 s; the deadline is generous, the measured time is printed
CLASH = 5.0


@pytest.fixture
def mac_engine(exfat_dir: Path, engine_factory: Callable[..., Engine]) -> Engine:
    # exfat_dir first: the engine stops (and flushes) before its host folder is removed
    return engine_factory("e", HOST_VOLUME=str(exfat_dir))


def names(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def clash_problems(engine: Engine) -> dict[str, Any]:
    return {p["path"]: p for p in engine.status()["problems"] if "cannot hold them apart" in p["reason"]}


def test_the_probe_finds_the_host_case_insensitive_and_leaves_nothing(mac_engine: Engine) -> None:
    write(mac_engine.host / "a.txt", "a")
    status = mac_engine.start().wait_watching()
    assert status["roots"]["host"] == {
        "case_insensitive": True,
        "normalization_insensitive": False,  # exFAT compares code points
        "permissions": False,
    }
    assert status["roots"]["app"] == {
        "case_insensitive": False,
        "normalization_insensitive": False,
        "permissions": True,
    }
    assert names(mac_engine.host) == ["a.txt"] and names(mac_engine.app) == ["a.txt"]
    assert "roots.probed" in mac_engine.logs()


def test_host_case_only_rename_arrives_as_a_rename(mac_engine: Engine) -> None:
    write(mac_engine.host / "lib/util.js", "export const x = 1\n")
    mac_engine.start().wait_watching()
    mac_engine.wait_first_watch_cycle()
    started = time.monotonic()
    os.rename(mac_engine.host / "lib/util.js", mac_engine.host / "lib/Util.js")
    wait_for(lambda: names(mac_engine.app / "lib") == ["Util.js"], RENAME, "host rename -> app")
    print(f"host rename arrived in {time.monotonic() - started:.3f} s")
    assert read(mac_engine.app / "lib/Util.js") == "export const x = 1\n"
    assert names(mac_engine.host / "lib") == ["Util.js"]
    # an edit after the rename still flows, and nothing comes back duplicated
    write(mac_engine.host / "lib/Util.js", "v2\n")
    wait_for(lambda: read(mac_engine.app / "lib/Util.js") == "v2\n", RENAME, "edit after rename")
    assert names(mac_engine.app / "lib") == ["Util.js"] and names(mac_engine.host / "lib") == ["Util.js"]


def test_app_case_only_rename_arrives_as_a_rename(mac_engine: Engine) -> None:
    write(mac_engine.host / "docs/Guide.md", "# guide\n")
    mac_engine.start().wait_watching()
    mac_engine.wait_first_watch_cycle()
    started = time.monotonic()
    os.rename(mac_engine.app / "docs/Guide.md", mac_engine.app / "docs/GUIDE.md")
    wait_for(lambda: names(mac_engine.host / "docs") == ["GUIDE.md"], RENAME, "app rename -> host")
    print(f"app rename arrived in {time.monotonic() - started:.3f} s")
    assert read(mac_engine.host / "docs/GUIDE.md") == "# guide\n"
    assert names(mac_engine.app / "docs") == ["GUIDE.md"]


def test_app_clash_changes_nothing_and_is_a_standing_problem(mac_engine: Engine) -> None:
    write(mac_engine.host / "README.md", "host readme\n")
    mac_engine.start().wait_watching()
    mac_engine.wait_first_watch_cycle()
    started = time.monotonic()
    write(mac_engine.app / "readme.md", "app readme\n")
    problems = wait_for(lambda: clash_problems(mac_engine), CLASH, "the clash in status.problems")
    print(f"clash named in {time.monotonic() - started:.3f} s")
    assert set(problems) == {"README.md", "readme.md"}
    for problem in problems.values():
        assert "README.md and readme.md" in problem["reason"]
        assert problem["side"] == "app"
    assert mac_engine.status()["state"] == "degraded"
    # nothing changed on either side, and it stays so: a flush (a full unison sync) included
    flushed = mac_engine.cli("flush")
    assert flushed.returncode == 0, flushed.stderr
    assert names(mac_engine.host) == ["README.md"] and read(mac_engine.host / "README.md") == "host readme\n"
    assert names(mac_engine.app) == ["README.md", "readme.md"]
    assert read(mac_engine.app / "README.md") == "host readme\n"
    assert read(mac_engine.app / "readme.md") == "app readme\n"
    assert set(clash_problems(mac_engine)) == {"README.md", "readme.md"}
    assert mac_engine.status()["unison"]["restarts"] == 0

    (mac_engine.app / "readme.md").unlink()
    wait_for(lambda: not clash_problems(mac_engine), CLASH, "the clash cleared")
    wait_for(lambda: mac_engine.status()["state"] == "watching", CLASH, "watching again")
    assert names(mac_engine.host) == ["README.md"] and read(mac_engine.host / "README.md") == "host readme\n"
